using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

[Collection("devices")]
public class ReduceTests(DeviceFixture devices)
{
    public static TheoryData<string> Specs() => new(DeviceFixture.Specs);

    // Odd sizes, plus sizes that need several groups (and so the atomic combination) on every group size.
    private static readonly int[] SumSizes = [.. Data.OddSizes, 1000, 100_003];

    private const double Eps = 5.96e-8; // float32 unit roundoff (2^-24)

    // Tolerance for a float32 sum against the float64 sum: |got - exact| <= 16·eps·Σ|terms|. The worst-case bound of a
    // recursive float sum is (n-1)·eps·Σ|terms|; a tree of per-thread partials does far better, and 16·eps leaves room
    // for the per-thread serial parts (up to ~1600 terms here) without hiding a missing or doubled element, which would
    // be off by a whole term.
    private static void CheckSum(float got, double exact, double absSum, string what) =>
        Close.Scalar(got, exact, 16 * Eps * absSum + 1e-30, 0, what);

    private static (double Sum, double Squares, double Abs) Reference(float[] x)
    {
        double sum = 0, squares = 0, abs = 0;
        foreach (float v in x)
        {
            sum += v;
            squares += (double)v * v;
            abs += Math.Abs(v);
        }
        return (sum, squares, abs);
    }

    private static void CheckSums(Device device, string what, int[]? sizes = null)
    {
        foreach (int n in sizes ?? SumSizes)
        {
            var x = Data.Uniform(n, n, -2f, 3f);
            var (sum, squares, abs) = Reference(x);
            using var tx = Tensor.FromArray(device, x, n);
            using var result = Tensor.FromArray(device, [123f], 1);
            Reduce.Sum(device, tx.View, result.View);
            CheckSum(result.ToArray()[0], sum, abs, $"{what} sum n={n}");
            Reduce.SumOfSquares(device, tx.View, result.View);
            CheckSum(result.ToArray()[0], squares, squares, $"{what} sum of squares n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Sum_and_sum_of_squares_match_reference(string spec) =>
        CheckSums(devices.Get(spec), spec);

    [Fact]
    public void Sums_do_not_depend_on_group_size()
    {
        foreach (int g in IntBuffers.GroupSizes)
        {
            using var device = Device.Open("ilgpu-cpu", new DeviceOptions { GroupSize = g });
            CheckSums(device, $"group {g}");
        }
    }

    // ilgpu-cpu:nvidia runs the kernels with a GPU's groups (256 threads, warp 32), where every barrier of the group
    // folds costs milliseconds: just past one group (257) and just past one group's 256·16 items (4097: two groups, whose
    // partials a second launch adds); two rows just past one warp (33 columns) and just past one group (257).
    [Fact]
    public void Reductions_at_gpu_launch_shapes_match_reference()
    {
        var device = devices.Nvidia;
        Assert.Equal(256, device.GroupSize);
        CheckSums(device, device.Spec, [1, 257, 4097]);
        CheckArgmax(device, device.Spec, [2], [33, 257]);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Sum_overwrites_and_an_empty_input_sums_to_zero(string spec)
    {
        var device = devices.Get(spec);
        using var x = Tensor.FromArray(device, [1f, 2f, 3f], 3);
        using var result = Tensor.FromArray(device, [100f], 1);
        Reduce.Sum(device, x.View, result.View);
        Reduce.Sum(device, x.View, result.View);
        Assert.Equal(6f, result.ToArray()[0]);
        Reduce.SumOfSquares(device, x.View.SubView(0, 0), result.View);
        Assert.Equal(0f, result.ToArray()[0]);
    }

    private static int ReferenceArgmax(ReadOnlySpan<float> row)
    {
        // NumPy/PyTorch semantics: the first NaN if any, else the first maximum.
        for (int c = 0; c < row.Length; c++)
            if (float.IsNaN(row[c])) return c;
        int best = 0;
        for (int c = 1; c < row.Length; c++)
            if (row[c] > row[best]) best = c;
        return best;
    }

    private static void CheckArgmax(Device device, string what, int[]? rowSizes = null, int[]? colSizes = null)
    {
        foreach (int rows in rowSizes ?? Data.OddSizes)
            foreach (int cols in colSizes ?? [1, 10, 33, 257])
            {
                // Coarse values so that ties are common.
                var x = Data.Uniform(rows * cols, rows + 31 * cols, -4f, 4f).Select(v => MathF.Round(v)).ToArray();
                using var tx = Tensor.FromArray(device, x, rows, cols);
                using var result = IntBuffers.Filled(device, rows, -7);
                Reduce.RowArgmax(device, tx.View, rows, cols, result.View);
                var got = IntBuffers.Download(device, result);
                for (int r = 0; r < rows; r++)
                    Assert.True(ReferenceArgmax(x.AsSpan(r * cols, cols)) == got[r], $"{what} argmax {rows}x{cols} row {r}: got {got[r]}");

                var labels = Data.Labels(rows, cols, rows * cols);
                for (int r = 0; r < rows; r += 2) labels[r] = ReferenceArgmax(x.AsSpan(r * cols, cols)); // make about half right
                int expected = Enumerable.Range(0, rows).Count(r => ReferenceArgmax(x.AsSpan(r * cols, cols)) == labels[r]);
                using var tl = IntBuffers.Upload(device, labels);
                using var count = IntBuffers.Filled(device, 1, 999);
                Reduce.CountCorrect(device, tx.View, tl.View, rows, cols, count.View);
                Assert.Equal(expected, IntBuffers.Download(device, count)[0]);
            }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void RowArgmax_and_CountCorrect_match_reference(string spec) =>
        CheckArgmax(devices.Get(spec), spec);

    [Fact]
    public void RowArgmax_and_CountCorrect_do_not_depend_on_group_size()
    {
        foreach (int g in IntBuffers.GroupSizes)
        {
            using var device = Device.Open("ilgpu-cpu", new DeviceOptions { GroupSize = g });
            CheckArgmax(device, $"group {g}");
            CheckTies(device, $"group {g}");
        }
    }

    private static void CheckTies(Device device, string what)
    {
        const int cols = 40;
        float ninf = float.NegativeInfinity, nan = float.NaN;
        var rows = new List<(float[] Row, int Expected)>
        {
            (Row(cols, (3, 5f), (20, 5f), (37, 5f)), 3),        // equal maxima in columns that different threads scan
            (Row(cols, (37, 5f), (20, 5f)), 20),
            (Row(cols, (0, 1f), (39, 1f)), 0),
            (Row(cols, (21, nan), (5, 100f), (30, nan)), 21),    // NaN beats numbers; the first NaN wins
            (Enumerable.Repeat(ninf, cols).ToArray(), 0),        // all -inf: the first column
            (Row(cols, (17, -0f), (9, 0f)), 9),                  // -0 == +0: the first one
            (Row(cols, (5, -0f), (9, 0f)), 5),
        };
        foreach (var (row, _) in rows) Assert.Equal(cols, row.Length);
        var x = rows.SelectMany(t => t.Row).ToArray();
        using var tx = Tensor.FromArray(device, x, rows.Count, cols);
        using var result = IntBuffers.Filled(device, rows.Count, -7);
        Reduce.RowArgmax(device, tx.View, rows.Count, cols, result.View);
        Assert.True(rows.Select(t => t.Expected).SequenceEqual(IntBuffers.Download(device, result)),
            $"{what}: argmax ties got [{string.Join(", ", IntBuffers.Download(device, result))}]");
    }

    // A row of -1 with the given (column, value) entries.
    private static float[] Row(int cols, params (int Column, float Value)[] entries)
    {
        var row = Enumerable.Repeat(-1f, cols).ToArray();
        foreach (var (c, v) in entries) row[c] = v;
        return row;
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void RowArgmax_breaks_ties_like_numpy(string spec) => CheckTies(devices.Get(spec), spec);

    [Theory]
    [MemberData(nameof(Specs))]
    public void CountCorrect_never_matches_out_of_range_labels(string spec)
    {
        var device = devices.Get(spec);
        // Row argmaxes: 0, 1, 2, 2.
        using var logits = Tensor.FromArray(device, [5f, 1f, 1f, 0f, 9f, 0f, 0f, 0f, 1f, 3f, 2f, 7f], 4, 3);
        using var labels = IntBuffers.Upload(device, [0, -1, 3, 2]);
        using var count = IntBuffers.Filled(device, 1, 0);
        Reduce.CountCorrect(device, logits.View, labels.View, 4, 3, count.View);
        Assert.Equal(2, IntBuffers.Download(device, count)[0]);
    }

    [Fact]
    public void Host_and_ilgpu_agree()
    {
        const int rows = 257, cols = 10;
        var x = Data.Uniform(rows * cols, 3);
        var labels = Data.Labels(rows, cols, 4);
        var results = new List<(float Sum, int[] Argmax, int Count)>();
        foreach (var device in new[] { devices.Ilgpu, devices.Host })
        {
            using var tx = Tensor.FromArray(device, x, rows, cols);
            using var sum = Tensor.Zeros(device, 1);
            using var argmax = IntBuffers.Filled(device, rows, 0);
            using var tl = IntBuffers.Upload(device, labels);
            using var count = IntBuffers.Filled(device, 1, 0);
            Reduce.Sum(device, tx.View, sum.View);
            Reduce.RowArgmax(device, tx.View, rows, cols, argmax.View);
            Reduce.CountCorrect(device, tx.View, tl.View, rows, cols, count.View);
            results.Add((sum.ToArray()[0], IntBuffers.Download(device, argmax), IntBuffers.Download(device, count)[0]));
        }
        Close.Scalar(results[1].Sum, results[0].Sum, 16 * Eps * rows * cols, 0, "sum parity");
        Assert.Equal(results[0].Argmax, results[1].Argmax);
        Assert.Equal(results[0].Count, results[1].Count);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Host engine: every SIMD width this processor has, every length to 300 and ~1M, every row length to 70 and some
    // wide ones, and the same bits on 1 and 2 threads.
    // ---------------------------------------------------------------------------------------------------------------

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    [HostWidthData(2)]
    public void Host_sums_are_float64_accurate_for_every_length(int width)
    {
        var device = devices.Host;
        foreach (int n in Enumerable.Range(1, 300).Append((1 << 20) + 3))
        {
            var x = Data.Uniform(n, n, -2f, 3f);
            var (sum, squares, abs) = Reference(x);
            using var tx = Tensor.FromArray(device, x, n);
            using var result = Tensor.FromArray(device, [123f], 1);
            // The host sums in float64: what is left is the final rounding to float (eps·|sum|) and, for squares, the
            // float rounding of each x² (eps·x² each). Far tighter than the float32 bound above.
            Reduce.SumHostAt<ValueTerm>(device, tx.View, result.View, width);
            Close.Scalar(result.ToArray()[0], sum, Eps * Math.Abs(sum) + 1e-13 * abs, 0, $"width {width} sum n={n}");
            Reduce.SumHostAt<SquareTerm>(device, tx.View, result.View, width);
            Close.Scalar(result.ToArray()[0], squares, 2 * Eps * squares, 0, $"width {width} sum of squares n={n}");
        }
    }

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    [HostWidthData(2)]
    public void Host_argmax_and_count_match_reference_for_every_row_length(int width)
    {
        var device = devices.Host;
        foreach (int cols in HostSimdTestData.RowLengths)
        {
            const int rows = 9;
            // Coarse values so that ties are common, and special rows where the row is long enough.
            var x = Data.Uniform(rows * cols, 7 * cols, -3f, 3f).Select(v => MathF.Round(v)).ToArray();
            x[cols - 1] = float.NaN;                                   // row 0: one NaN, last
            x[cols + cols / 2] = float.NaN;                            // row 1: two NaNs; the first wins
            x[2 * cols - 1] = float.NaN;
            x.AsSpan(2 * cols, cols).Fill(float.NegativeInfinity);     // row 2: all -inf
            x.AsSpan(3 * cols, cols).Fill(-1f);                        // row 3: -0 before +0, both the max
            x[3 * cols + cols / 2] = -0f;
            x[4 * cols - 1] = 0f;
            x[5 * cols - 1] = 100f;                                    // row 4: the max last
            using var tx = Tensor.FromArray(device, x, rows, cols);
            using var result = IntBuffers.Filled(device, rows, -7);
            Reduce.RowArgmaxHostAt(device, tx.View, rows, cols, result.View, width);
            var got = IntBuffers.Download(device, result);
            for (int r = 0; r < rows; r++)
                Assert.True(ReferenceArgmax(x.AsSpan(r * cols, cols)) == got[r], $"width {width} argmax {rows}x{cols} row {r}: got {got[r]}");

            var labels = Data.Labels(rows, cols, cols);
            for (int r = 0; r < rows; r += 2) labels[r] = ReferenceArgmax(x.AsSpan(r * cols, cols));
            labels[1] = cols;
            int expected = Enumerable.Range(0, rows).Count(r => ReferenceArgmax(x.AsSpan(r * cols, cols)) == labels[r]);
            using var tl = IntBuffers.Upload(device, labels);
            using var count = IntBuffers.Filled(device, 1, 999);
            Reduce.CountCorrectHostAt(device, tx.View, tl.View, rows, cols, count.View, width);
            Assert.True(expected == IntBuffers.Download(device, count)[0], $"width {width} count {rows}x{cols}");
        }
    }

    [Fact]
    public void Host_results_have_the_same_bits_on_1_and_2_threads()
    {
        using var one = Device.Open("cpu", new DeviceOptions { Threads = 1 });
        using var two = Device.Open("cpu", new DeviceOptions { Threads = 2 });
        const int n = (1 << 20) + 3; // 17 chunks
        var x = Data.Uniform(n, 5, -2f, 3f);
        const int rows = 20011, cols = 10;
        var labels = Data.Labels(rows, cols, 6);
        var results = new List<(float Sum, float Squares, int[] Argmax, int Count)>();
        foreach (var device in new[] { one, two })
        {
            using var tx = Tensor.FromArray(device, x, n);
            using var result = Tensor.Zeros(device, 1);
            Reduce.Sum(device, tx.View, result.View);
            float sum = result.ToArray()[0];
            Reduce.SumOfSquares(device, tx.View, result.View);
            float squares = result.ToArray()[0];
            var matrix = tx.View.SubView(0, rows * cols);
            using var argmax = IntBuffers.Filled(device, rows, -1);
            using var tl = IntBuffers.Upload(device, labels);
            using var count = IntBuffers.Filled(device, 1, 0);
            Reduce.RowArgmax(device, matrix, rows, cols, argmax.View);
            Reduce.CountCorrect(device, matrix, tl.View, rows, cols, count.View);
            results.Add((sum, squares, IntBuffers.Download(device, argmax), IntBuffers.Download(device, count)[0]));
        }
        HostSimdTestData.SameBits([results[0].Sum, results[0].Squares], [results[1].Sum, results[1].Squares], "sums");
        Assert.Equal(results[0].Argmax, results[1].Argmax);
        Assert.Equal(results[0].Count, results[1].Count);
    }

    [Fact]
    public void Wrong_lengths_throw_argument_exception_naming_the_argument()
    {
        var device = devices.Ilgpu;
        using var x = Tensor.Zeros(device, 6);
        using var two = Tensor.Zeros(device, 2);
        var e = Assert.Throws<ArgumentException>(() => Reduce.Sum(device, x.View, two.View));
        Assert.Equal("result", e.ParamName);
        Assert.Contains("result has 2 elements; expected 1", e.Message);
        using var result = IntBuffers.Filled(device, 3, 0);
        e = Assert.Throws<ArgumentException>(() => Reduce.RowArgmax(device, x.View, 2, 3, result.View));
        Assert.Equal("result", e.ParamName);
        Assert.Contains("expected 2", e.Message);
        e = Assert.Throws<ArgumentException>(() => Reduce.RowArgmax(device, x.View, 3, 3, result.View));
        Assert.Equal("x", e.ParamName);
        using var labels = IntBuffers.Filled(device, 2, 0);
        e = Assert.Throws<ArgumentException>(() => Reduce.CountCorrect(device, x.View, labels.View, 2, 3, result.View));
        Assert.Equal("count", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Reduce.RowArgmax(device, x.View, 6, 0, result.View));
    }
}
