using GpuNet.Kernels;
using GpuNet.Neighbors;
using ILGPU;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// The GPU path of k-NN: the warp-per-query top-k (version 2) against a sort and against version 1 (one thread per
/// query), bit for bit, with ties, NaN, exclusions, k = 1, k above the warp size and reference counts that are multiples
/// of nothing; the squared norms in the distance GEMM's epilogue against a float64 reference and against the separate
/// norms pass, for every GEMM variant; and a whole search against the old path, on both CPU accelerators.
/// </summary>
[Collection("devices")]
public class KnnWarpTests(DeviceFixture devices)
{
    public static TheoryData<string> Accelerators() => new("ilgpu-cpu", Device.NvidiaShapedSpec);

    /// <summary>Distances with many ties (quarter steps), NaN and infinities.</summary>
    private static float[] TiedBlock(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var block = new float[rows * cols];
        for (int i = 0; i < block.Length; i++) block[i] = rng.Next(24) / 4f;
        for (int i = 5; i < block.Length; i += 41) block[i] = float.NaN;
        for (int i = 11; i < block.Length; i += 53) block[i] = float.PositiveInfinity;
        return block;
    }

    private static (float[] D, int[] I) Sorted(float[] block, int rows, int cols, int k, int[]? exclude)
    {
        var d = new float[rows * k];
        var idx = new int[rows * k];
        for (int r = 0; r < rows; r++)
        {
            var best = Enumerable.Range(0, cols).Select(j => (D: block[r * cols + j], I: j))
                .Where(c => !float.IsNaN(c.D) && (exclude is null || exclude[r] != c.I))
                .OrderBy(c => c.D).ThenBy(c => c.I).Take(k).ToList();
            for (int t = 0; t < k; t++)
            {
                d[r * k + t] = t < best.Count ? best[t].D : float.PositiveInfinity;
                idx[r * k + t] = t < best.Count ? best[t].I : -1;
            }
        }
        return (d, idx);
    }

    /// <summary>Top-k of <paramref name="block"/> merged chunk after chunk of columns, with version 1 when
    /// <paramref name="threadPerRow"/>; also returns how many launches ran and which kernel they were.</summary>
    private static (float[] D, int[] I, IReadOnlyDictionary<string, long> Kernels) TopK(Device device, float[] block, int rows, int cols,
        int k, int[]? exclude, int chunk, bool threadPerRow)
    {
        using var bd = Tensor.FromArray(device, Enumerable.Repeat(-3f, rows * k).ToArray(), rows * k);
        using var bi = IntBuffers.Filled(device, rows * k, 999);
        using var ex = exclude is null ? null : IntBuffers.Upload(device, exclude);
        var before = device.LaunchesByKernel;
        Knn.ForceThreadPerRowTopK = threadPerRow;
        Knn.ForceWarpTopK = !threadPerRow;
        try
        {
            for (int c0 = 0; c0 < Math.Max(cols, 1); c0 += chunk)
            {
                int nc = Math.Min(chunk, cols - c0);
                var part = new float[rows * nc];
                for (int r = 0; r < rows; r++) Array.Copy(block, r * cols + c0, part, r * nc, nc);
                using var tp = Tensor.FromArray(device, part, part.Length);
                Knn.SelectTopK(device, tp.View, rows, nc, c0, k, bd.View, bi.View, merge: c0 > 0, ex is null ? default : ex.View);
            }
        }
        finally
        {
            Knn.ForceThreadPerRowTopK = false;
            Knn.ForceWarpTopK = false;
        }
        var kernels = device.LaunchesByKernel.Where(kv => kv.Value > before.GetValueOrDefault(kv.Key))
            .ToDictionary(kv => kv.Key, kv => kv.Value - before.GetValueOrDefault(kv.Key));
        return (bd.ToArray(), IntBuffers.Download(device, bi), kernels);
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Warp_top_k_equals_a_sort_and_the_thread_per_query_kernel_bit_for_bit(string spec)
    {
        var device = devices.Get(spec);
        // Reference counts that are multiples of nothing (and one below a warp), k from 1 past the warp size and past the
        // number of references (empty slots), rows that leave a group's last warps idle. Every shuffle and warp barrier
        // costs milliseconds on the GPU-shaped simulator, so it gets the corners only.
        bool gpuShaped = device.LaunchesLikeGpu;
        var shapes = gpuShaped ? new[] { (5, 3), (9, 101) } : new[] { (1, 1), (5, 3), (19, 37), (9, 101), (3, 257) };
        foreach (var (rows, cols) in shapes)
            foreach (int k in gpuShaped ? new[] { 1, 33, 70 } : new[] { 1, 3, 32, 33, 70 })
            {
                var block = TiedBlock(rows, cols, 100 * rows + cols + k);
                var exclude = Enumerable.Range(0, rows).Select(r => r % 3 == 2 ? -1 : (r * 13 + 1) % cols).ToArray();
                var (ed, ei) = Sorted(block, rows, cols, k, exclude);
                foreach (int chunk in gpuShaped && k != 33 ? new[] { cols } : new[] { cols, 23 })
                {
                    string what = $"{spec} rows={rows} cols={cols} k={k} chunk={chunk}";
                    var warp = TopK(device, block, rows, cols, k, exclude, chunk, threadPerRow: false);
                    Assert.True(warp.Kernels.ContainsKey("Knn.TopKWarpKernel") && !warp.Kernels.ContainsKey("Knn.TopKKernel"), what);
                    Assert.Equal(ei, warp.I);
                    Close.All(warp.D, ed, 0, 0, what);
                    var thread = TopK(device, block, rows, cols, k, exclude, chunk, threadPerRow: true);
                    Assert.True(thread.Kernels.ContainsKey("Knn.TopKKernel") && !thread.Kernels.ContainsKey("Knn.TopKWarpKernel"), what);
                    Assert.Equal(thread.I, warp.I);
                    Assert.Equal(thread.D.Select(BitConverter.SingleToInt32Bits), warp.D.Select(BitConverter.SingleToInt32Bits));
                }
            }
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Warp_top_k_keeps_a_list_larger_than_a_group_and_orders_every_tie_by_index(string spec)
    {
        var device = devices.Get(spec);
        // All distances equal: the list is the first k indices not excluded, so every insertion is a tie decided by index.
        const int rows = 4, cols = 300;
        var block = Enumerable.Repeat(2.5f, rows * cols).ToArray();
        var exclude = new[] { 0, 7, -1, 299 };
        // (257 is more than a group of either accelerator holds threads; the GPU-shaped one, where each tied insertion costs
        // milliseconds, stops at 40.)
        foreach (int k in device.LaunchesLikeGpu ? new[] { 1, 40 } : new[] { 1, 31, 257 })
        {
            var (_, idx, _) = TopK(device, block, rows, cols, k, exclude, 64, threadPerRow: false);
            for (int r = 0; r < rows; r++)
                Assert.Equal(Enumerable.Range(0, cols).Where(j => j != exclude[r]).Take(k), idx.Skip(r * k).Take(k));
        }
        // Descending distances: every column beats the whole list, the worst case for the shift.
        // (70 columns on the GPU-shaped simulator, where each insertion costs milliseconds.)
        int dc = device.LaunchesLikeGpu ? 70 : cols;
        var descending = Enumerable.Range(0, rows * dc).Select(i => (float)(dc - i % dc)).ToArray();
        var (d2, i2, _) = TopK(device, descending, rows, dc, 40, null, dc, threadPerRow: false);
        var (ed2, ei2) = Sorted(descending, rows, dc, 40, null);
        Assert.Equal(ei2, i2);
        Close.All(d2, ed2, 0, 0, $"{spec} descending");
    }

    [Fact]
    public void The_gpu_shaped_accelerator_runs_the_warp_top_k_and_the_plain_simulator_the_thread_per_query_one()
    {
        Assert.True(Knn.TopKWarps(devices.Nvidia, 40) > 0);
        Assert.Equal(0, Knn.TopKWarps(devices.Ilgpu, 40));
        var block = TiedBlock(3, 40, 9);
        foreach (var device in new[] { devices.Ilgpu, devices.Nvidia })
        {
            using var tb = Tensor.FromArray(device, block, block.Length);
            using var bd = Tensor.Zeros(device, 3 * 5);
            using var bi = IntBuffers.Filled(device, 3 * 5, 0);
            var before = device.LaunchesByKernel;
            Knn.SelectTopK(device, tb.View, 3, 40, 0, 5, bd.View, bi.View, merge: false);
            string expected = device.LaunchesLikeGpu ? "Knn.TopKWarpKernel" : "Knn.TopKKernel";
            Assert.Equal(before.GetValueOrDefault(expected) + 1, device.LaunchesByKernel[expected]);
        }
    }

    [Fact]
    public void Warps_per_group_follow_shared_memory_and_queries_fill_the_gpu()
    {
        // Both CPU accelerators hold a whole group of lists at the usual k; a list too large for any shared memory falls
        // back to version 1.
        foreach (var device in new[] { devices.Ilgpu, devices.Nvidia })
        {
            Assert.Equal(device.GroupSize / device.Accelerator.WarpSize, Knn.TopKWarpsPerGroup(device, 201));
            Assert.Equal(0, Knn.TopKWarpsPerGroup(device, (int)(device.Accelerator.MaxSharedMemoryPerGroup / 8) + 1));
        }
        // A 132-multiprocessor GPU with 2,048 threads each holds 8,448 warps: one query each.
        Assert.Equal(8448, Knn.QueriesToFill(132, 2048, 32));
        var options = new KnnSearchOptions();
        // The defaults give 2,048 queries x 8,192 references; to fill that GPU a block takes 8,448 queries and 1,985
        // references (still within 2^24 floats).
        Assert.Equal((2048, 8192), NeighborLists.BlockShape(0, 10_000, 60_000, options));
        Assert.Equal((8448, 1985), NeighborLists.BlockShape(8448, 10_000, 60_000, options));
        Assert.True(8448L * 1985 <= options.BlockFloats);
        // Fewer queries than the GPU holds: all of them, and the references the block then has room for.
        Assert.Equal((5000, 3355), NeighborLists.BlockShape(8448, 5000, 60_000, options));
        Assert.Equal((7, 8192), NeighborLists.BlockShape(8448, 7, 60_000, options));
    }

    // ---- the squared norms in the distance GEMM's epilogue ----------------------------------------------------------

    private delegate void DistanceCall(Device device, ArrayView<float> q, ArrayView<float> qn, int m, ArrayView<float> r,
        ArrayView<float> rn, int n, int dim, ArrayView<float> d);

    private static (float[] D, long Launches) Distances(Device device, DistanceCall call, float[] q, float[] r, int m, int n, int dim)
    {
        using var tq = Tensor.FromArray(device, q, q.Length);
        using var tr = Tensor.FromArray(device, r, r.Length);
        using var qn = Tensor.Zeros(device, m);
        using var rn = Tensor.Zeros(device, n);
        using var d = Tensor.FromArray(device, Enumerable.Repeat(float.NaN, m * n).ToArray(), m * n);
        Knn.RowSquaredNorms(device, tq.View, m, dim, qn.View);
        Knn.RowSquaredNorms(device, tr.View, n, dim, rn.View);
        long before = device.KernelLaunches;
        call(device, tq.View, qn.View, m, tr.View, rn.View, n, dim, d.View);
        long launches = device.KernelLaunches - before;
        return (d.ToArray(), launches);
    }

    private static DistanceCall Public(bool unfused) => (dv, q, qn, m, r, rn, n, dim, d) =>
    {
        Knn.UnfusedNorms = unfused;
        try { Knn.SquaredL2Distances(dv, q, qn, m, r, rn, n, dim, d); }
        finally { Knn.UnfusedNorms = false; }
    };

    private static DistanceCall Variant(GemmTile? tile, int splits, int chunk) => (dv, q, qn, m, r, rn, n, dim, d) =>
    {
        if (tile is null)
            Gemm.RunTiled(dv, Transpose.No, Transpose.Yes, m, n, dim, -2f, q, r, 0f, d, rn, ActivationKind.Identity,
                Gemm.DefaultGroupShape(dv), 0, qn);
        else
            Gemm.RunGenerated(dv, tile.Value, splits, chunk, Transpose.No, Transpose.Yes, m, n, dim, -2f, q, r, 0f, d, rn,
                ActivationKind.Identity, qn);
    };

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Norms_in_the_gemm_epilogue_match_float64_and_the_separate_pass_in_one_launch(string spec)
    {
        var device = devices.Get(spec);
        // (257-deep only on the plain simulator: on the GPU-shaped one each of its 33 slices is a barrier of milliseconds.)
        var shapes = new[] { (1, 1, 1), (3, 37, 17), (33, 5, 127), (17, 70, 257) };
        foreach (var (m, n, dim) in device.LaunchesLikeGpu ? shapes[..3] : shapes)
        {
            var q = Data.Uniform(m * dim, 7 * m + dim, 0f, 1f);
            var r = Data.Uniform(n * dim, 11 * n + dim, 0f, 1f);
            Array.Copy(q, r, dim); // reference 0 is query 0: a distance of 0 that rounding could push below 0
            var expected = KnnTests.SquaredL2(q, r, m, n, dim);
            var (fused, fusedLaunches) = Distances(device, Public(false), q, r, m, n, dim);
            var (unfused, unfusedLaunches) = Distances(device, Public(true), q, r, m, n, dim);
            string what = $"{spec} {m}x{n}x{dim}";
            Close.All(fused, expected, 2e-6 * dim, 1e-5, what);
            Assert.All(fused, v => Assert.True(v >= 0f, $"{what}: negative distance {v}"));
            // The same arithmetic in the same order: the same bits, one launch fewer (the norms pass).
            Assert.Equal(unfused.Select(BitConverter.SingleToInt32Bits), fused.Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(unfusedLaunches - 1, fusedLaunches);
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Every_gemm_variant_and_split_k_applies_the_distance_epilogue(string spec)
    {
        var device = devices.Get(spec);
        const int m = 37, n = 70, dim = 41;
        var q = Data.Uniform(m * dim, 3, 0f, 1f);
        var r = Data.Uniform(n * dim, 4, 0f, 1f);
        Array.Copy(q, r, dim);
        q[dim + 2] = float.NaN; // NaN stays NaN in row 1, as in the separate pass
        var expected = KnnTests.SquaredL2(q, r, m, n, dim);
        var calls = new List<(string, DistanceCall)> { ("kernel 2", Variant(null, 1, 0)) };
        foreach (var shape in Gemm.GeneratedTiles.Where(t => t.Threads <= device.MaxGroupSize))
        {
            calls.Add((shape.Tile.ToString(), Variant(shape.Tile, 1, 0)));
            calls.Add((shape.Tile + " split 3", Variant(shape.Tile, 3, shape.BK * ((dim / 3 + shape.BK) / shape.BK))));
        }
        var (separate, _) = Distances(device, Public(true), q, r, m, n, dim);
        foreach (var (name, call) in calls)
        {
            var (d, _) = Distances(device, call, q, r, m, n, dim);
            for (int i = 0; i < m * n; i++)
            {
                string what = $"{name} on {spec} at ({i / n}, {i % n})";
                if (i / n == 1) { Assert.True(float.IsNaN(d[i]), what); continue; }
                Assert.True(d[i] >= 0f && Math.Abs(d[i] - expected[i]) <= 2e-6 * dim + 1e-5 * expected[i], $"{what}: {d[i]} vs {expected[i]}");
                if (!name.Contains("split")) Assert.True(d[i] == separate[i], $"{what}: {d[i]} vs the separate pass's {separate[i]}");
            }
        }
    }

    // ---- the whole search ----------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Search_gives_the_old_paths_lists_with_leave_one_out(string spec)
    {
        var device = devices.Get(spec);
        // Fewer queries on the GPU-shaped simulator, where every shuffle costs milliseconds.
        int m = device.LaunchesLikeGpu ? 9 : 29;
        const int n = 103, dim = 19;
        var rng = new Random(5);
        var refs = Enumerable.Range(0, n * dim).Select(_ => (float)rng.Next(3)).ToArray(); // small integers: exact distances, real ties
        var queries = refs.AsSpan(0, m * dim).ToArray(); // queries are the first references: leave-one-out excludes them
        var exclude = Enumerable.Range(0, m).ToArray();
        using var tq = Tensor.FromArray(device, queries, queries.Length);
        using var tr = Tensor.FromArray(device, refs, refs.Length);
        var options = new KnnSearchOptions { ReferenceChunk = 40, BlockFloats = 40 * 11 };
        foreach (var metric in new[] { KnnMetric.L2, KnnMetric.L1 })
            foreach (int k in device.LaunchesLikeGpu ? new[] { 40 } : new[] { 1, 40 })
            {
                (float[] D, int[] I) Run(bool old)
                {
                    Knn.ForceThreadPerRowTopK = old;
                    Knn.ForceWarpTopK = !old;
                    Knn.UnfusedNorms = old;
                    try
                    {
                        using var lists = NeighborLists.Search(device, tq.View, m, tr.View, n, dim, metric, k, exclude, options);
                        return lists.ToHost();
                    }
                    finally
                    {
                        Knn.ForceThreadPerRowTopK = false;
                        Knn.ForceWarpTopK = false;
                        Knn.UnfusedNorms = false;
                    }
                }
                var now = Run(old: false);
                var before = Run(old: true);
                string what = $"{spec} {metric} k={k}";
                Assert.Equal(before.I, now.I);
                Assert.Equal(before.D.Select(BitConverter.SingleToInt32Bits), now.D.Select(BitConverter.SingleToInt32Bits));
                for (int i = 0; i < m; i++)
                    Assert.DoesNotContain(i, now.I.Skip(i * k).Take(k));
                // Against a float64 brute force (integer data: every distance exact), ties by index.
                for (int i = 0; i < m; i++)
                {
                    var best = Enumerable.Range(0, n).Where(j => j != i).Select(j =>
                    {
                        double s = 0;
                        for (int p = 0; p < dim; p++)
                        {
                            double t = (double)queries[i * dim + p] - refs[j * dim + p];
                            s += metric == KnnMetric.L2 ? t * t : Math.Abs(t);
                        }
                        return (D: s, I: j);
                    }).OrderBy(c => c.D).ThenBy(c => c.I).Take(k).ToList();
                    Assert.Equal(best.Select(b => b.I), now.I.Skip(i * k).Take(k));
                    Assert.Equal(best.Select(b => (float)b.D), now.D.Skip(i * k).Take(k));
                }
            }
    }
}
