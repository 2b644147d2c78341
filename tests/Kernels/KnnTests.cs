using GpuNet.Kernels;
using ILGPU;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// The k-NN ops on both devices: distances against float64 references on odd sizes, top-k against a sort (with ties,
/// NaN and an excluded index), merging block after block against one call, votes on hand-made lists, every host SIMD
/// width, and the same bits on 1 and 2 host threads.
/// </summary>
[Collection("devices")]
public class KnnTests(DeviceFixture devices)
{
    public static TheoryData<string> Specs() => new(DeviceFixture.Specs);

    private static readonly (int M, int N, int Dim)[] Shapes =
        [(1, 1, 1), (3, 17, 3), (17, 3, 17), (33, 35, 33), (7, 127, 257), (13, 70, 784)];

    // ----- references (float64) ---------------------------------------------------------------------------------

    internal static double[] SquaredL2(float[] q, float[] r, int m, int n, int dim)
    {
        var d = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < dim; p++)
                {
                    double t = (double)q[i * dim + p] - r[j * dim + p];
                    s += t * t;
                }
                d[i * n + j] = s;
            }
        return d;
    }

    private static double[] L1(float[] q, float[] r, int m, int n, int dim)
    {
        var d = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < dim; p++) s += Math.Abs((double)q[i * dim + p] - r[j * dim + p]);
                d[i * n + j] = s;
            }
        return d;
    }

    /// <summary>The first k (distance, index) pairs of a row by a full sort: ascending distance, then index; NaN and the excluded index left out; (+inf, -1) past the end.</summary>
    private static (float[] D, int[] I) TopKBySort(float[] block, int rows, int cols, int offset, int k, int[]? exclude)
    {
        var d = new float[rows * k];
        var idx = new int[rows * k];
        for (int r = 0; r < rows; r++)
        {
            var sorted = Enumerable.Range(0, cols)
                .Select(j => (D: block[r * cols + j], I: offset + j))
                .Where(c => !float.IsNaN(c.D) && (exclude is null || c.I != exclude[r]))
                .OrderBy(c => c.D).ThenBy(c => c.I).Take(k).ToList();
            for (int t = 0; t < k; t++)
            {
                d[r * k + t] = t < sorted.Count ? sorted[t].D : float.PositiveInfinity;
                idx[r * k + t] = t < sorted.Count ? sorted[t].I : -1;
            }
        }
        return (d, idx);
    }

    // ----- norms and distances ------------------------------------------------------------------------------------

    // ilgpu-cpu:nvidia: the L1 kernel with a GPU's 16×16 groups (64×64 tiles of distances, panels 16 deep), at shapes
    // just past one tile and one panel, so only a few groups run (each barrier costs milliseconds there).
    [Fact]
    public void Kernels_at_gpu_launch_shapes_match_float64_references()
    {
        var device = devices.Nvidia;
        foreach (var (m, n, dim) in new[] { (65, 3, 17), (3, 65, 33), (1, 1, 1) })
        {
            var q = Data.Uniform(m * dim, 40 + m + 3 * dim);
            var r = Data.Uniform(n * dim, 41 + n + 5 * dim);
            Array.Copy(q, r, dim);
            Close.All(L1Distances(device, q, r, m, n, dim), L1(q, r, m, n, dim), 1e-6 * dim, 1e-5, $"{device.Spec} L1 {m}x{n}x{dim}");
            Close.All(SquaredL2Distances(device, q, r, m, n, dim), SquaredL2(q, r, m, n, dim), 2e-6 * dim, 1e-5,
                $"{device.Spec} squared L2 {m}x{n}x{dim}");
        }
        var block = TiedBlock(3, 257, 5);
        foreach (int k in new[] { 1, 17, 300 })
        {
            var (d, i) = SelectTopK(device, block, 3, 257, k, null);
            var (ed, ei) = TopKBySort(block, 3, 257, 0, k, null);
            Assert.Equal(ei, i);
            Close.All(d, ed, 0, 0, $"{device.Spec} top-{k} of 3x257");
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Row_squared_norms_match_a_float64_reference(string spec)
    {
        var device = devices.Get(spec);
        foreach (int rows in new[] { 1, 3, 17, 33 })
            foreach (int cols in new[] { 1, 3, 17, 33, 127, 257, 784 })
            {
                var x = Data.Uniform(rows * cols, rows * 1000 + cols);
                using var tx = Tensor.FromArray(device, x, rows * cols);
                using var norms = Tensor.Zeros(device, rows);
                Knn.RowSquaredNorms(device, tx.View, rows, cols, norms.View);
                var expected = Enumerable.Range(0, rows).Select(r => x.Skip(r * cols).Take(cols).Sum(v => (double)v * v)).ToArray();
                Close.All(norms.ToArray(), expected, 1e-6, 2e-6, $"{spec} norms {rows}x{cols}");
            }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Squared_l2_distances_match_a_float64_reference_and_are_never_negative(string spec)
    {
        var device = devices.Get(spec);
        foreach (var (m, n, dim) in Shapes)
        {
            var q = Data.Uniform(m * dim, m + 7 * dim);
            var r = Data.Uniform(n * dim, n + 11 * dim);
            // Reference 0 is query 0: a distance of exactly 0 that rounding could push below 0.
            Array.Copy(q, r, dim);
            var actual = SquaredL2Distances(device, q, r, m, n, dim);
            // |a|² + |b|² − 2ab in float32 loses about (|a|² + |b|²)·2⁻²³·few to cancellation; |x|² <= dim here.
            Close.All(actual, SquaredL2(q, r, m, n, dim), 2e-6 * dim, 1e-5, $"{spec} squared L2 {m}x{n}x{dim}");
            Assert.All(actual, v => Assert.True(v >= 0, $"negative distance {v}"));
        }
    }

    private static float[] SquaredL2Distances(Device device, float[] q, float[] r, int m, int n, int dim, int width = -1)
    {
        using var tq = Tensor.FromArray(device, q, q.Length);
        using var tr = Tensor.FromArray(device, r, r.Length);
        using var qn = Tensor.Zeros(device, m);
        using var rn = Tensor.Zeros(device, n);
        using var d = Tensor.FromArray(device, Enumerable.Repeat(float.NaN, m * n).ToArray(), m * n);
        Knn.RowSquaredNorms(device, tq.View, m, dim, qn.View);
        Knn.RowSquaredNorms(device, tr.View, n, dim, rn.View);
        if (width < 0) Knn.SquaredL2Distances(device, tq.View, qn.View, m, tr.View, rn.View, n, dim, d.View);
        else Knn.SquaredL2DistancesHostAt(device, tq.View, qn.View, m, tr.View, rn.View, n, dim, d.View, width);
        return d.ToArray();
    }

    private static float[] L1Distances(Device device, float[] q, float[] r, int m, int n, int dim, int width = -1)
    {
        using var tq = Tensor.FromArray(device, q, q.Length);
        using var tr = Tensor.FromArray(device, r, r.Length);
        using var d = Tensor.FromArray(device, Enumerable.Repeat(float.NaN, m * n).ToArray(), m * n);
        if (width < 0) Knn.L1Distances(device, tq.View, m, tr.View, n, dim, d.View);
        else Knn.L1HostAt(device, tq.View, m, tr.View, n, dim, d.View, width);
        return d.ToArray();
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void L1_distances_match_a_float64_reference(string spec)
    {
        var device = devices.Get(spec);
        foreach (var (m, n, dim) in Shapes)
        {
            var q = Data.Uniform(m * dim, m + 3 * dim);
            var r = Data.Uniform(n * dim, n + 5 * dim);
            Array.Copy(q, r, dim);
            var actual = L1Distances(device, q, r, m, n, dim);
            // Sums of dim terms up to 2 (the host adds max(q, r) <= 1, then subtracts the row sums): float32 rounding.
            Close.All(actual, L1(q, r, m, n, dim), 1e-6 * dim, 1e-5, $"{spec} L1 {m}x{n}x{dim}");
            Assert.All(actual, v => Assert.True(v >= 0, $"negative distance {v}"));
        }
    }

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    [HostWidthData(2)]
    public void Host_distances_at_every_width_match_the_reference(int width)
    {
        var device = devices.Host;
        // Every tail of a two-vector panel (1..33 references) and of the six-row micro-kernel (1..13 queries).
        foreach (int n in Enumerable.Range(1, 33).Concat([64, 65, 257]))
            foreach (int m in new[] { 1, 5, 6, 7, 13, 49 })
            {
                const int dim = 19;
                var q = Data.Uniform(m * dim, m * 100 + n);
                var r = Data.Uniform(n * dim, n * 100 + m);
                Close.All(L1Distances(device, q, r, m, n, dim, width), L1(q, r, m, n, dim), 1e-6 * dim, 1e-5, $"width {width} L1 {m}x{n}");
                Close.All(SquaredL2Distances(device, q, r, m, n, dim, width), SquaredL2(q, r, m, n, dim), 2e-6 * dim, 1e-5, $"width {width} L2 {m}x{n}");
            }
    }

    [Fact]
    public void Distances_of_integer_data_are_exact_on_both_devices()
    {
        // Small integers: every product, sum and row sum is exact in float32, so both formulas give the exact distance.
        const int m = 9, n = 41, dim = 50;
        var rng = new Random(3);
        var q = Enumerable.Range(0, m * dim).Select(_ => (float)rng.Next(8)).ToArray();
        var r = Enumerable.Range(0, n * dim).Select(_ => (float)rng.Next(8)).ToArray();
        foreach (var device in new[] { devices.Ilgpu, devices.Host })
        {
            Close.All(L1Distances(device, q, r, m, n, dim), L1(q, r, m, n, dim), 0, 0, $"{device.Spec} exact L1");
            Close.All(SquaredL2Distances(device, q, r, m, n, dim), SquaredL2(q, r, m, n, dim), 0, 0, $"{device.Spec} exact L2");
        }
    }

    // ----- top-k ---------------------------------------------------------------------------------------------------

    /// <summary>Distances with many ties (quarter steps), a NaN and infinities.</summary>
    private static float[] TiedBlock(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var block = new float[rows * cols];
        for (int i = 0; i < block.Length; i++) block[i] = rng.Next(40) / 4f;
        if (block.Length > 2)
        {
            block[1] = float.NaN;
            block[2] = float.PositiveInfinity;
        }
        return block;
    }

    private static (float[] D, int[] I) SelectTopK(Device device, float[] block, int rows, int cols, int k, int[]? exclude,
        int chunk = int.MaxValue, int width = -1)
    {
        using var tb = Tensor.FromArray(device, block, block.Length);
        using var bd = Tensor.FromArray(device, Enumerable.Repeat(-7f, rows * k).ToArray(), rows * k); // garbage a fresh call ignores
        using var bi = IntBuffers.Filled(device, rows * k, 12345);
        using var ex = exclude is null ? null : IntBuffers.Upload(device, exclude);
        // Column blocks [c0, c0 + nc) of each row, copied into a block of their own, merged in order.
        for (int c0 = 0; c0 < Math.Max(cols, 1); c0 += chunk)
        {
            int nc = Math.Min(chunk, cols - c0);
            var part = new float[rows * nc];
            for (int r = 0; r < rows; r++) Array.Copy(block, r * cols + c0, part, r * nc, nc);
            using var tp = Tensor.FromArray(device, part, part.Length);
            var view = tp.View;
            var exView = ex is null ? default : ex.View;
            if (width < 0) Knn.SelectTopK(device, view, rows, nc, c0, k, bd.View, bi.View, merge: c0 > 0, exView);
            else Knn.SelectTopKHostAt(device, view, rows, nc, c0, k, bd.View, bi.View, c0 > 0, exView, width);
        }
        return (bd.ToArray(), IntBuffers.Download(device, bi));
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Top_k_equals_a_sort_with_ties_by_index_and_skips_nan(string spec)
    {
        var device = devices.Get(spec);
        foreach (int rows in new[] { 1, 3, 17 })
            foreach (int cols in new[] { 1, 3, 17, 33, 127, 257 })
                foreach (int k in new[] { 1, 3, 16, 17, 40, 300 })
                {
                    var block = TiedBlock(rows, cols, rows * 1000 + cols + k);
                    var (d, i) = SelectTopK(device, block, rows, cols, k, null);
                    var (ed, ei) = TopKBySort(block, rows, cols, 0, k, null);
                    Assert.Equal(ei, i);
                    Close.All(d, ed, 0, 0, $"{spec} top-{k} of {rows}x{cols}");
                }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Merging_block_after_block_equals_one_call_and_exclusion_works(string spec)
    {
        var device = devices.Get(spec);
        const int rows = 11, cols = 300;
        var block = TiedBlock(rows, cols, 77);
        var exclude = Enumerable.Range(0, rows).Select(r => r % 3 == 0 ? -1 : (r * 37) % cols).ToArray();
        foreach (int k in new[] { 1, 5, 50, 299, 301 })
        {
            var (ed, ei) = TopKBySort(block, rows, cols, 0, k, exclude);
            var one = SelectTopK(device, block, rows, cols, k, exclude);
            Assert.Equal(ei, one.I);
            Close.All(one.D, ed, 0, 0, $"{spec} one call, k={k}");
            foreach (int chunk in new[] { 1, 7, 64, 100 })
            {
                var merged = SelectTopK(device, block, rows, cols, k, exclude, chunk);
                Assert.Equal(one.I, merged.I);
                Close.All(merged.D, one.D, 0, 0, $"{spec} chunks of {chunk}, k={k}");
            }
        }
        // An excluded index is never selected, even when it is the nearest.
        var zeros = new float[rows * cols];
        var (_, idx) = SelectTopK(device, zeros, rows, cols, 3, exclude);
        for (int r = 0; r < rows; r++)
            Assert.Equal(Enumerable.Range(0, cols).Where(j => j != exclude[r]).Take(3).ToArray(), idx.Skip(3 * r).Take(3).ToArray());
    }

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    [HostWidthData(2)]
    public void Host_top_k_at_every_width_equals_the_sort(int width)
    {
        var device = devices.Host;
        foreach (int cols in Enumerable.Range(1, 40).Concat([257, 1000]))
            foreach (int k in new[] { 1, 4, 33 })
            {
                var block = TiedBlock(5, cols, cols * 10 + k);
                var exclude = new[] { -1, 0, cols - 1, cols / 2, 3 };
                var (ed, ei) = TopKBySort(block, 5, cols, 0, k, exclude);
                var (d, i) = SelectTopK(device, block, 5, cols, k, exclude, chunk: 23, width: width);
                Assert.Equal(ei, i);
                Close.All(d, ed, 0, 0, $"width {width} top-{k} of {cols}");
            }
    }

    [Fact]
    public void Host_results_have_the_same_bits_on_1_and_2_threads()
    {
        using var one = Device.Open("cpu", new DeviceOptions { Threads = 1 });
        using var two = Device.Open("cpu", new DeviceOptions { Threads = 2 });
        const int m = 101, n = 333, dim = 70;
        var q = Data.Uniform(m * dim, 1, 0f, 1f);
        var r = Data.Uniform(n * dim, 2, 0f, 1f);
        var l1 = new[] { one, two }.Select(d => L1Distances(d, q, r, m, n, dim)).ToList();
        HostSimdTestData.SameBits(l1[0], l1[1], "L1 on 1 and 2 threads");
        var l2 = new[] { one, two }.Select(d => SquaredL2Distances(d, q, r, m, n, dim)).ToList();
        HostSimdTestData.SameBits(l2[0], l2[1], "squared L2 on 1 and 2 threads");
        var top = new[] { one, two }.Select(d => SelectTopK(d, l1[0], m, n, 20, null, chunk: 100)).ToList();
        Assert.Equal(top[0].I, top[1].I);
        HostSimdTestData.SameBits(top[0].D, top[1].D, "top-k on 1 and 2 threads");
    }

    [Fact]
    public void Host_and_ilgpu_agree_on_distances_and_neighbours()
    {
        const int m = 21, n = 90, dim = 37;
        var q = Data.Uniform(m * dim, 5, 0f, 1f);
        var r = Data.Uniform(n * dim, 6, 0f, 1f);
        Close.All(L1Distances(devices.Host, q, r, m, n, dim), L1Distances(devices.Ilgpu, q, r, m, n, dim), 1e-5, 1e-5, "L1 parity");
        Close.All(SquaredL2Distances(devices.Host, q, r, m, n, dim), SquaredL2Distances(devices.Ilgpu, q, r, m, n, dim), 1e-5, 1e-5, "L2 parity");
        var block = TiedBlock(m, n, 9);
        var host = SelectTopK(devices.Host, block, m, n, 12, null, chunk: 31);
        var ilgpu = SelectTopK(devices.Ilgpu, block, m, n, 12, null, chunk: 31);
        Assert.Equal(host.I, ilgpu.I);
        HostSimdTestData.SameBits(host.D, ilgpu.D, "top-k parity");
    }

    // ----- votes ---------------------------------------------------------------------------------------------------

    private static int[] Vote(Device device, float[] d, int[] idx, int rows, int kMax, int k, int[] labels, int classes,
        KnnWeights weights, bool squared)
    {
        using var td = Tensor.FromArray(device, d, d.Length);
        using var ti = IntBuffers.Upload(device, idx);
        using var tl = IntBuffers.Upload(device, labels);
        using var p = IntBuffers.Filled(device, rows, 99);
        Knn.Vote(device, td.View, ti.View, rows, kMax, k, tl.View, classes, weights, squared, p.View);
        return IntBuffers.Download(device, p);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Votes_follow_scikit_learns_rules_on_hand_made_lists(string spec)
    {
        var device = devices.Get(spec);
        // Reference labels: index -> class.
        int[] labels = [2, 1, 1, 0, 3, 2, 0, 1];
        const int kMax = 5, classes = 4;
        // Row 0: labels 2, 1, 1, 0, 3 at distances 1, 2, 3, 4, 5.
        // Row 1: labels 1, 2, 0, 2, 1 (a 2–2 tie between classes 1 and 2 at k = 4: the smaller class wins).
        // Row 2: labels 3, 0, 0, 3 and an empty slot (-1).
        // Row 3: a neighbour at distance 0 (label 1) among others of label 0.
        // Row 4: no neighbour at all.
        float[] d =
        [
            1f, 2f, 3f, 4f, 5f,
            1f, 1f, 2f, 9f, 9f,
            4f, 1f, 1f, 4f, float.PositiveInfinity,
            0f, 0.5f, 0.5f, 0.5f, 0.5f,
            float.PositiveInfinity, float.PositiveInfinity, float.PositiveInfinity, float.PositiveInfinity, float.PositiveInfinity,
        ];
        int[] idx =
        [
            0, 1, 2, 3, 4,
            1, 0, 3, 5, 7,
            4, 3, 6, 4, -1,
            7, 3, 6, 3, 6,
            -1, -1, -1, -1, -1,
        ];
        int[] Uniform(int k) => Vote(device, d, idx, 5, kMax, k, labels, classes, KnnWeights.Uniform, squared: false);
        int[] Distance(int k, bool squared = false) => Vote(device, d, idx, 5, kMax, k, labels, classes, KnnWeights.Distance, squared);

        Assert.Equal([2, 1, 3, 1, -1], Uniform(1));
        // k = 3: row 0 votes 2, 1, 1 -> 1; row 1 votes 1, 2, 0 -> three-way tie -> 0; row 2: 3, 0, 0 -> 0; row 3: 1, 0, 0 -> 0.
        Assert.Equal([1, 0, 0, 0, -1], Uniform(3));
        // k = 4: row 1 votes 1, 2, 0, 2 -> 2; row 2: 3, 0, 0, 3 -> tie 0/3 -> 0.
        Assert.Equal([1, 2, 0, 0, -1], Uniform(4));
        // k = 5: row 0 votes 2, 1, 1, 0, 3 -> 1; row 1: 1, 2, 0, 2, 1 -> tie 1/2 -> 1; row 2 has four votes (3, 0, 0, 3) -> 0.
        Assert.Equal([1, 1, 0, 0, -1], Uniform(5));

        // Distance weights 1/d. Row 0 at k = 3: class 2 weighs 1, class 1 weighs 1/2 + 1/3 = 0.83 -> 2.
        // Row 1 at k = 4: class 1: 1, class 2: 1 + 1/9, class 0: 1/2 -> 2. Row 2 at k = 4: class 3: 1/4 + 1/4, class 0: 2 -> 0.
        // Row 3: the neighbour at distance 0 decides, whatever the others weigh.
        Assert.Equal([2, 2, 0, 1, -1], Distance(4));
        Assert.Equal([2, 1, 3, 1, -1], Distance(1));
        // Squared distances vote by their square root: row 0 at k = 5 weighs class 2: 1, class 1: 1/√2 + 1/√3 = 1.28 -> 1,
        // where 1/d² would give class 2 (1 against 1/2 + 1/3).
        Assert.Equal(1, Distance(5, squared: true)[0]);
        Assert.Equal(2, Distance(5)[0]);
    }

    [Fact]
    public void Arguments_are_checked()
    {
        var device = devices.Host;
        using var a = Tensor.Zeros(device, 12);
        using var b = Tensor.Zeros(device, 12);
        using var i = IntBuffers.Filled(device, 12, 0);
        Assert.Throws<ArgumentException>(() => Knn.L1Distances(device, a.View, 3, a.View, 3, 4, b.View.SubView(0, 8)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Knn.L1Distances(device, a.View, 3, a.View, 3, 0, b.View));
        Assert.Throws<ArgumentException>(() => Knn.RowSquaredNorms(device, a.View, 3, 5, b.View.SubView(0, 3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Knn.SelectTopK(device, a.View, 3, 4, 0, 0, b.View, i.View, false));
        Assert.Throws<ArgumentException>(() => Knn.SelectTopK(device, a.View, 3, 4, 0, 4, b.View, i.View.SubView(0, 11), false));
        Assert.Throws<ArgumentOutOfRangeException>(() => Knn.SelectTopK(device, a.View, 3, 4, int.MaxValue - 2, 4, b.View, i.View, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => Knn.Vote(device, a.View, i.View, 3, 4, 5, i.View, 10, KnnWeights.Uniform, false, i.View.SubView(0, 3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Knn.Vote(device, a.View, i.View, 3, 4, 4, i.View, 0, KnnWeights.Uniform, false, i.View.SubView(0, 3)));
    }
}
