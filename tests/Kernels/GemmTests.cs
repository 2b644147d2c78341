using GpuNet.Kernels;
using ILGPU;

namespace GpuNet.Tests.Kernels;

[Collection("devices")]
public class GemmTests(DeviceFixture devices)
{
    private const float Alpha = 0.75f;

    // Odd sizes and non-square shapes: none is a multiple of any tile, so every tail path of every kernel runs.
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (3, 3, 3), (17, 17, 17), (6, 10, 37), (7, 40, 12), (33, 33, 33), (127, 127, 127), (257, 257, 257),
        (17, 33, 127), (1, 257, 3), (257, 1, 17), (33, 127, 1), (3, 17, 257), (127, 3, 33),
    ];

    private static readonly Transpose[] Both = [Transpose.No, Transpose.Yes];

    public static TheoryData<string, Transpose, Transpose> Backends()
    {
        var data = new TheoryData<string, Transpose, Transpose>();
        foreach (string backend in new[] { "tiled", "simple", "host", "host-packed", "host-direct" })
            foreach (var ta in Both)
                foreach (var tb in Both)
                    data.Add(backend, ta, tb);
        return data;
    }

    public static TheoryData<Transpose, Transpose> Transposes()
    {
        var data = new TheoryData<Transpose, Transpose>();
        foreach (var ta in Both)
            foreach (var tb in Both)
                data.Add(ta, tb);
        return data;
    }

    // ---- float64 reference ------------------------------------------------------------------------------------------

    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C in float64, straight from the definition, and the tolerance for a float32 result.
    /// The tolerance is the probabilistic rounding-error bound of a float32 dot product of length k (Higham and Mary,
    /// 2019): |error| ≲ λ·√(k+2)·u·(|alpha|·Σ_p |a_ip·b_pj| + |beta·c_ij|), u = 2⁻²⁴, λ = 2, taken at the largest such
    /// scale in C. Any summation order (blocked, FMA or not) meets it; a wrong or missing term does not.
    /// </summary>
    internal static (double[] Expected, double Atol) Reference(Transpose ta, Transpose tb, int m, int n, int k,
        float alpha, float[] a, float[] b, float beta, float[] c, float[]? bias = null, bool relu = false)
    {
        var expected = new double[m * n];
        double maxScale = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, abs = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = ta == Transpose.No ? a[i * k + p] : a[p * m + i];
                    double y = tb == Transpose.No ? b[p * n + j] : b[j * k + p];
                    sum += x * y;
                    abs += Math.Abs(x * y);
                }
                double old = beta == 0f ? 0 : (double)beta * c[i * n + j];
                double v = alpha * sum + old + (bias is null ? 0 : bias[j]);
                expected[i * n + j] = relu ? Math.Max(v, 0) : v; // f(alpha·op(A)·op(B) + beta·C + bias), the fused epilogue
                maxScale = Math.Max(maxScale, Math.Abs(alpha) * abs + Math.Abs(old) + (bias is null ? 0 : Math.Abs(bias[j])));
            }
        const double u = 1.0 / (1 << 24);
        return (expected, 2 * Math.Sqrt(k + 2) * u * maxScale);
    }

    // float32 rounding of the result itself: half an ulp relative, with margin.
    internal const double Rtol = 4.0 / (1 << 24);

    // ---- helpers ------------------------------------------------------------------------------------------------------

    private delegate void GemmCall(Device device, Transpose ta, Transpose tb, int m, int n, int k, float alpha,
        ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c);

    private (Device Device, GemmCall Call) Backend(string backend) => backend switch
    {
        "tiled" => (devices.Ilgpu, (d, ta, tb, m, n, k, al, a, b, be, c) =>
            Gemm.RunTiled(d, ta, tb, m, n, k, al, a, b, be, c, Gemm.DefaultGroupShape(d))),
        "simple" => (devices.Ilgpu, Gemm.RunSimple),
        "host" => (devices.Host, (d, ta, tb, m, n, k, al, a, b, be, c) =>
            Gemm.RunHost(ta, tb, m, n, k, al, a, b, be, c, maxThreads: -1)),
        "host-packed" => (devices.Host, (d, ta, tb, m, n, k, al, a, b, be, c) => Forced(HostGemmPath.Packed, () =>
            Gemm.RunHost(ta, tb, m, n, k, al, a, b, be, c, maxThreads: -1))),
        "host-direct" => (devices.Host, (d, ta, tb, m, n, k, al, a, b, be, c) => Forced(HostGemmPath.Direct, () =>
            Gemm.RunHost(ta, tb, m, n, k, al, a, b, be, c, maxThreads: -1))),
        "run-ilgpu" => (devices.Ilgpu, Gemm.Run),
        "run-host" => (devices.Host, Gemm.Run),
        _ => throw new ArgumentOutOfRangeException(nameof(backend)),
    };

    /// <summary>Runs <paramref name="body"/> with the host GEMM forced onto <paramref name="path"/> (on this thread only).</summary>
    private static void Forced(HostGemmPath path, Action body)
    {
        var saved = Gemm.ForceHostPath;
        Gemm.ForceHostPath = path;
        try { body(); }
        finally { Gemm.ForceHostPath = saved; }
    }

    private sealed record Problem(int M, int N, int K, float[] A, float[] B, float[] C);

    private static Problem MakeProblem(int m, int n, int k, int seed) =>
        new(m, n, k, Data.Uniform(m * k, seed), Data.Uniform(k * n, seed + 1), Data.Uniform(m * n, seed + 2));

    private static Tensor Upload(Device device, float[] data) => Tensor.FromArray(device, data, data.Length);

    /// <summary>Runs <paramref name="call"/> on fresh copies of the problem and returns C. With beta 0, C starts as NaN.</summary>
    private static float[] Compute(Device device, GemmCall call, Transpose ta, Transpose tb, Problem p, float alpha, float beta)
    {
        using var a = Upload(device, p.A);
        using var b = Upload(device, p.B);
        using var c = Upload(device, beta == 0f ? Enumerable.Repeat(float.NaN, p.C.Length).ToArray() : p.C);
        call(device, ta, tb, p.M, p.N, p.K, alpha, a.View, b.View, beta, c.View);
        return c.ToArray();
    }

    /// <summary>Computes C with <paramref name="call"/>, checks it against the float64 reference and returns it.</summary>
    private static float[] CheckAgainstReference(Device device, GemmCall call, Transpose ta, Transpose tb, Problem p,
        float alpha, float beta, string what)
    {
        var actual = Compute(device, call, ta, tb, p, alpha, beta);
        var (expected, atol) = Reference(ta, tb, p.M, p.N, p.K, alpha, p.A, p.B, beta, p.C);
        Close.All(actual, expected, atol, Rtol,
            $"{what} transA={ta} transB={tb} m={p.M} n={p.N} k={p.K} alpha={alpha} beta={beta}");
        return actual;
    }

    // ---- correctness --------------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(Backends))]
    public void Matches_float64_reference_on_odd_shapes(string backend, Transpose ta, Transpose tb)
    {
        var (device, call) = Backend(backend);
        foreach (var (m, n, k) in Shapes)
        {
            var p = MakeProblem(m, n, k, seed: m * 7 + n * 13 + k);
            CheckAgainstReference(device, call, ta, tb, p, Alpha, 0.5f, backend);
            // beta = 0 with C full of NaN: C must not be read.
            CheckAgainstReference(device, call, ta, tb, p, Alpha, 0f, backend);
        }
    }

    // On ilgpu-cpu:nvidia the tiled kernel gets the launch a GPU gets: 16×16 threads, a 64×64 tile of C, panels 16 deep.
    // Each barrier costs about 4 ms per group there, so these are edge shapes just past one tile and one panel (a few
    // groups each), not large sizes.
    private static readonly (int M, int N, int K, float Beta)[] GpuShapes = [(65, 65, 17, 0.5f), (1, 70, 33, 0f), (70, 3, 16, 0.5f)];

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Kernels_at_gpu_launch_shapes_match_float64_reference(Transpose ta, Transpose tb)
    {
        var device = devices.Nvidia;
        var group = Gemm.DefaultGroupShape(device);
        Assert.Equal(new GemmGroupShape(16, 16), group);
        GemmCall tiled = (d, ta_, tb_, m, n, k, al, a, b, be, c) => Gemm.RunTiled(d, ta_, tb_, m, n, k, al, a, b, be, c, group);
        foreach (var (m, n, k, beta) in GpuShapes)
        {
            var p = MakeProblem(m, n, k, seed: 300 + m + n + k);
            var result = CheckAgainstReference(device, tiled, ta, tb, p, Alpha, beta, "tiled on ilgpu-cpu:nvidia");
            CheckAgainstReference(device, Gemm.RunSimple, ta, tb, p, Alpha, beta, "simple on ilgpu-cpu:nvidia");
            if (m != 65) continue;
            // The same 16-deep panels with the default CPU accelerator's 4x4 group sum each element in the same order.
            var small = Compute(devices.Ilgpu, (d, ta_, tb_, m_, n_, k_, al, a, b, be, c) =>
                Gemm.RunTiled(d, ta_, tb_, m_, n_, k_, al, a, b, be, c, Gemm.DefaultGroupShape(d), 16), ta, tb, p, Alpha, beta);
            Assert.True(small.AsSpan().SequenceEqual(result), $"16x16 and 4x4 groups differ at m={m} n={n} k={k}");
        }
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Tiled_kernel_gives_identical_results_for_every_group_shape_and_panel_depth(Transpose ta, Transpose tb)
    {
        var device = devices.Ilgpu;
        int max = device.Accelerator.MaxNumThreadsPerGroup;
        var fallback = Gemm.DefaultGroupShape(device);
        // Group shapes from one thread up to the accelerator's maximum, in both orientations; panel depths from 1 (a
        // barrier pair per step of k) through ones that leave a partial last panel, to 0 (the default: on the CPU
        // accelerator the whole k in one panel).
        (GemmGroupShape Group, int Depth)[] configs =
        [
            (fallback, 0), (new(1, 1), 0), (new(2, 2), 16), (new(4, 2), 5), (new(2, 4), 0),
            (new(max, 1), 16), (new(1, max), 7), (fallback, 1), (fallback, 7), (fallback, 16),
        ];
        Assert.All(configs, c => Assert.True(c.Group.Threads <= max));

        foreach (var (m, n, k) in new[] { (17, 33, 127), (33, 17, 65), (5, 70, 9) })
        {
            var p = MakeProblem(m, n, k, seed: 100 + m);
            float[]? first = null;
            foreach (var (group, depth) in configs)
            {
                GemmCall call = (d, ta_, tb_, m_, n_, k_, al, a, b, be, c) =>
                    Gemm.RunTiled(d, ta_, tb_, m_, n_, k_, al, a, b, be, c, group, depth);
                var result = CheckAgainstReference(device, call, ta, tb, p, Alpha, 0.5f, $"tiled group {group} depth {depth}");
                // Each element is summed over k in the same order whatever the tiling, so the bits agree.
                if (first is null) first = result;
                else Assert.True(first.AsSpan().SequenceEqual(result),
                    $"group {group} depth {depth} differs from group {configs[0].Group} at m={m} n={n} k={k}");
            }
        }
    }

    [Theory]
    [InlineData("run-ilgpu")]
    [InlineData("run-host")]
    [InlineData("simple")]
    public void Zero_depth_gives_beta_times_c(string backend)
    {
        var (device, call) = Backend(backend);
        var p = new Problem(17, 33, 0, [], [], Data.Uniform(17 * 33, 5));
        foreach (var ta in Both)
            foreach (var tb in Both)
            {
                var actual = Compute(device, call, ta, tb, p, Alpha, 0.5f);
                Close.All(actual, p.C.Select(x => 0.5 * x).ToArray(), 0, Rtol, $"{backend} k=0 beta=0.5");
                // beta = 0: NaN in C is overwritten with zeros.
                actual = Compute(device, call, ta, tb, p, Alpha, 0f);
                Assert.All(actual, x => Assert.Equal(0f, x));
            }
    }

    [Theory]
    [InlineData("run-ilgpu")]
    [InlineData("run-host")]
    public void Empty_output_is_a_no_op(string backend)
    {
        var (device, call) = Backend(backend);
        // C is an empty view inside a buffer of sentinels: nothing around it may be written, and A and B are only read.
        var sentinels = Enumerable.Range(0, 8).Select(i => -1000f - i).ToArray();
        using var around = Upload(device, sentinels);
        var bData = Data.Uniform(12, 1);
        using var b = Upload(device, bData);
        // m = 0: A and C are empty; B (4×3) is still checked.
        call(device, Transpose.No, Transpose.No, 0, 3, 4, 1f, ArrayView<float>.Empty, b.View, 0f, around.View.SubView(4, 0));
        Assert.Throws<ArgumentException>(() => call(device, Transpose.No, Transpose.No, 0, 3, 4, 1f, ArrayView<float>.Empty, b.View.SubView(0, 11), 0f, ArrayView<float>.Empty));
        // n = 0.
        var aData = Data.Uniform(12, 2);
        using var a = Upload(device, aData);
        call(device, Transpose.No, Transpose.No, 3, 0, 4, 1f, a.View, ArrayView<float>.Empty, 0f, around.View.SubView(4, 0));
        Assert.Throws<ArgumentException>(() => call(device, Transpose.No, Transpose.Yes, 3, 0, 4, 1f, a.View.SubView(1, 11), ArrayView<float>.Empty, 0f, ArrayView<float>.Empty));
        Assert.Equal(sentinels, around.ToArray());
        Assert.Equal(bData, b.ToArray());
        Assert.Equal(aData, a.ToArray());
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Host_engine_agrees_with_the_ilgpu_kernel(Transpose ta, Transpose tb)
    {
        var p = MakeProblem(127, 257, 33, seed: 9);
        var host = Compute(devices.Host, Gemm.Run, ta, tb, p, Alpha, 0.5f);
        var ilgpu = Compute(devices.Ilgpu, Gemm.Run, ta, tb, p, Alpha, 0.5f);
        // Both are float32 results of the same sums in different orders: each is within the reference bound, so they
        // are within twice that of each other.
        var (_, atol) = Reference(ta, tb, p.M, p.N, p.K, Alpha, p.A, p.B, 0.5f, p.C);
        Close.All(host, ilgpu, 2 * atol, 2 * Rtol, $"host vs ilgpu transA={ta} transB={tb}");
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Host_engine_handles_several_column_and_depth_blocks(Transpose ta, Transpose tb)
    {
        // n > 512 and k > 256 cross the host GEMM's column and depth blocks; m = 37 and n = 600 leave partial tiles.
        // n = 10 is narrower than one micro-kernel tile: every tile is an edge tile.
        foreach (var (m, n, k) in new[] { (37, 600, 530), (37, 10, 300) })
        {
            var p = MakeProblem(m, n, k, seed: 21);
            var got = Compute(devices.Host, Gemm.Run, ta, tb, p, Alpha, 0.5f);
            var (expected, atol) = Reference(ta, tb, p.M, p.N, p.K, Alpha, p.A, p.B, 0.5f, p.C);
            Close.All(got, expected, atol, Rtol, $"host {m}x{n}x{k} transA={ta} transB={tb}");
        }
    }

    [Fact]
    public void Host_engine_result_does_not_depend_on_thread_count()
    {
        var device = devices.Host;
        // Large enough to be split into many parallel blocks, with row and column tails.
        var p = MakeProblem(211, 600, 290, seed: 11);
        foreach (var ta in Both)
            foreach (var tb in Both)
            {
                GemmCall Threads(int t) => (d, ta_, tb_, m, n, k, al, a, b, be, c) =>
                    Gemm.RunHost(ta_, tb_, m, n, k, al, a, b, be, c, maxThreads: t);
                var one = Compute(device, Threads(1), ta, tb, p, Alpha, 0.5f);
                var three = Compute(device, Threads(3), ta, tb, p, Alpha, 0.5f);
                var all = Compute(device, Threads(-1), ta, tb, p, Alpha, 0.5f);
                Assert.True(one.AsSpan().SequenceEqual(three), $"1 vs 3 threads differ, transA={ta} transB={tb}");
                Assert.True(one.AsSpan().SequenceEqual(all), $"1 vs all threads differ, transA={ta} transB={tb}");
            }
    }

    // The packed path's cache blocking, forced down to a few tiles per block so that small products cross every block
    // boundary: several depth blocks (the later ones adding to C), several B blocks of columns, several A blocks of rows,
    // both tile orders, and edge tiles in every block. The depth cut decides the order of the additions, so blockings with
    // the same KC must give the same bits; the others only have to meet the reference.
    [Theory]
    [MemberData(nameof(Transposes))]
    public void Packed_path_matches_reference_under_every_cache_blocking(Transpose ta, Transpose tb)
    {
        var (mr, nr, _) = Gemm.HostKernelTile;
        HostBlocking?[] sameDepth =
        [
            new HostBlocking(16, nr, mr, BInner: true),
            new HostBlocking(16, 2 * nr, 2 * mr, BInner: false),
            new HostBlocking(16, 4096, int.MaxValue, BInner: true),
            new HostBlocking(16, nr, int.MaxValue, BInner: false),
        ];
        HostBlocking?[] others = [null, new HostBlocking(7, nr, mr, BInner: false), new HostBlocking(1, 3 * nr, mr, BInner: true)];
        foreach (var (m, n, k) in new[] { (37, 3 * nr + 5, 41), (2 * mr + 1, nr + 1, 100), (mr, nr, 16) })
        {
            var p = MakeProblem(m, n, k, seed: 500 + m + n + k);
            float[]? first = null;
            foreach (var blocking in sameDepth.Concat(others))
            {
                foreach (int threads in new[] { 1, 2 })
                {
                    GemmCall call = (d, ta_, tb_, m_, n_, k_, al, a, b, be, c) => Forced(HostGemmPath.Packed, () =>
                    {
                        var saved = Gemm.ForceBlocking;
                        Gemm.ForceBlocking = blocking;
                        try { Gemm.RunHost(ta_, tb_, m_, n_, k_, al, a, b, be, c, threads); }
                        finally { Gemm.ForceBlocking = saved; }
                    });
                    var result = CheckAgainstReference(devices.Host, call, ta, tb, p, Alpha, 0.5f, $"packed, blocking {blocking?.ToString() ?? "derived"}, {threads} threads");
                    if (blocking is { KC: 16 })
                    {
                        first ??= result;
                        Assert.True(first.AsSpan().SequenceEqual(result), $"blocking {blocking} gives other bits than {sameDepth[0]} at m={m} n={n} k={k}");
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(32 * 1024, 512 * 1024, 6, 16, 256, 256)]     // a Zen 2/3 core: the B block takes half of the 512 KiB L2
    [InlineData(48 * 1024, 1024 * 1024, 6, 16, 256, 512)]    // a Zen 4/5 core
    [InlineData(48 * 1024, 2048 * 1024, 12, 32, 256, 1024)]  // a Sapphire Rapids core, AVX-512 kernel
    [InlineData(32 * 1024, 256 * 1024, 6, 16, 256, 128)]     // a small L2: at least 4 strips and a multiple of NR
    [InlineData(32 * 1024, 64 * 1024 * 1024, 6, 16, 256, 4096)] // a misread huge L2 is capped
    public void Blocking_is_derived_from_the_cache_sizes(int l1, int l2, int mr, int nr, int kc, int nc)
    {
        var b = HostBlocking.Derive(mr, nr, l1, l2);
        Assert.Equal(kc, b.KC);
        Assert.Equal(nc, b.NC);
        Assert.Equal(0, b.NC % nr);
    }

    [Fact]
    public void Cache_sizes_are_read_and_plausible()
    {
        Assert.InRange(HostCache.L1, 8 * 1024, 1024 * 1024);
        Assert.InRange(HostCache.L2, 64 * 1024, 64 * 1024 * 1024);
        Assert.Contains(HostCache.Source, new[] { "sysfs", "cpuid", "default" });
        // An x86 processor of the last decade has CPUID cache leaves or sysfs entries; the fallback is for the others.
        if (System.Runtime.Intrinsics.X86.X86Base.IsSupported) Assert.NotEqual("default", HostCache.Source);
    }

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    [HostWidthData(2)]
    public void Direct_path_matches_reference_at_every_simd_width(int width)
    {
        // Every column count to 40 covers full, partial and padded vectors at 4, 8 and 16 lanes; m = 7 leaves 3 single rows.
        foreach (var ta in Both)
            foreach (var tb in Both)
                for (int n = 1; n <= 40; n += 3)
                {
                    var p = MakeProblem(7, n, 19, seed: n);
                    CheckAgainstReference(devices.Host, (d, ta_, tb_, m_, n_, k_, al, a, b, be, c) =>
                        Gemm.RunDirectAt(width, ta_, tb_, m_, n_, k_, al, a, b, be, c, maxThreads: 1), ta, tb, p, Alpha, 0.5f, $"direct width {width}");
                    CheckAgainstReference(devices.Host, (d, ta_, tb_, m_, n_, k_, al, a, b, be, c) =>
                        Gemm.RunDirectAt(width, ta_, tb_, m_, n_, k_, al, a, b, be, c, maxThreads: 1), ta, tb, p, Alpha, 0f, $"direct width {width}");
                }
    }

    [Fact]
    public void Direct_path_result_does_not_depend_on_thread_count()
    {
        // A 10-column output with enough rows to be split between threads (the output layer over a large batch).
        var p = MakeProblem(1001, 10, 300, seed: 12);
        foreach (var ta in Both)
            foreach (var tb in Both)
            {
                GemmCall Threads(int t) => (d, ta_, tb_, m, n, k, al, a, b, be, c) =>
                    Gemm.RunHost(ta_, tb_, m, n, k, al, a, b, be, c, maxThreads: t);
                Assert.True(Gemm.UsesDirectPath(p.M, p.N, p.K));
                var one = Compute(devices.Host, Threads(1), ta, tb, p, Alpha, 0.5f);
                var three = Compute(devices.Host, Threads(3), ta, tb, p, Alpha, 0.5f);
                Assert.True(one.AsSpan().SequenceEqual(three), $"1 vs 3 threads differ, transA={ta} transB={tb}");
                var (expected, atol) = Reference(ta, tb, p.M, p.N, p.K, Alpha, p.A, p.B, 0.5f, p.C);
                Close.All(one, expected, atol, Rtol, $"direct 1001x10x300 transA={ta} transB={tb}");
            }
    }

    // ---- argument validation ------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("ilgpu-cpu", "a", Transpose.No, "expected 12, a dense row-major m×k = 3×4 matrix (transA is No)")]
    [InlineData("ilgpu-cpu", "a", Transpose.Yes, "expected 12, a dense row-major k×m = 4×3 matrix (transA is Yes)")]
    [InlineData("cpu", "b", Transpose.No, "expected 20, a dense row-major k×n = 4×5 matrix (transB is No)")]
    [InlineData("cpu", "b", Transpose.Yes, "expected 20, a dense row-major n×k = 5×4 matrix (transB is Yes)")]
    [InlineData("ilgpu-cpu", "c", Transpose.No, "expected 15, a dense row-major m×n = 3×5 matrix")]
    public void Wrong_length_throws_argument_exception_naming_the_view(string spec, string wrong, Transpose trans, string message)
    {
        var device = devices.Get(spec);
        const int m = 3, n = 5, k = 4;
        using var a = Tensor.Zeros(device, m * k + (wrong == "a" ? 1 : 0));
        using var b = Tensor.Zeros(device, k * n - (wrong == "b" ? 1 : 0));
        using var c = Tensor.Zeros(device, m * n + (wrong == "c" ? 2 : 0));
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.Run(device, trans, trans, m, n, k, 1f, a.View, b.View, 0f, c.View));
        Assert.Equal(wrong, e.ParamName);
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData(-1, 2, 3, "m")]
    [InlineData(2, -1, 3, "n")]
    [InlineData(2, 3, -1, "k")]
    public void Negative_size_throws(int m, int n, int k, string name)
    {
        var device = devices.Ilgpu;
        using var t = Tensor.Zeros(device, 6);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Gemm.Run(device, Transpose.No, Transpose.No, m, n, k, 1f, t.View, t.View, 0f, t.View));
        Assert.Equal(name, e.ParamName);
    }

    [Fact]
    public void View_on_another_device_throws()
    {
        using var a = Tensor.Zeros(devices.Host, 4);
        using var b = Tensor.Zeros(devices.Ilgpu, 4);
        using var c = Tensor.Zeros(devices.Ilgpu, 4);
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.Run(devices.Ilgpu, Transpose.No, Transpose.No, 2, 2, 2, 1f, a.View, b.View, 0f, c.View));
        Assert.Equal("a", e.ParamName);
    }
}
