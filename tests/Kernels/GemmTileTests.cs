using GpuNet.Kernels;
using ILGPU;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// Kernel 3 of the GPU GEMM (the generated tiles of Gemm.Ilgpu.Tiles.g.cs), its split-K and fused bias/ReLU epilogue,
/// and the dispatcher that picks among kernels: every variant against a float64 reference at edge sizes (1, 3, 17, 127,
/// 129, 257: none a multiple of any tile) in all four transposes, on the GPU-shaped CPU accelerator and, for the tile
/// whose 16 threads fit its groups, on the default one.
/// </summary>
[Collection("devices")]
public class GemmTileTests(DeviceFixture devices)
{
    private const float Alpha = 0.75f;
    private static readonly Transpose[] Both = [Transpose.No, Transpose.Yes];

    // Each barrier on ilgpu-cpu:nvidia costs milliseconds per group, so the shapes stay a few tiles large.
    private static readonly (int M, int N, int K)[] EdgeShapes =
        [(1, 1, 1), (3, 17, 3), (17, 3, 17), (127, 127, 9), (129, 33, 17), (33, 257, 3), (257, 1, 127)];

    public static TheoryData<string, Transpose, Transpose> TilesAndTransposes()
    {
        var data = new TheoryData<string, Transpose, Transpose>();
        foreach (var tile in Enum.GetNames<GemmTile>())
            foreach (var ta in Both)
                foreach (var tb in Both)
                    data.Add(tile, ta, tb);
        return data;
    }

    public static TheoryData<Transpose, Transpose> Transposes() => GemmTests.Transposes();


    private delegate void Call(Device device, Transpose ta, Transpose tb, int m, int n, int k, float alpha,
        ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c, ArrayView<float> bias, ActivationKind act);

    private static Call Generated(GemmTile tile, int splits = 1, int chunk = 0) =>
        (d, ta, tb, m, n, k, al, a, b, be, c, bias, act) => Gemm.RunGenerated(d, tile, splits, chunk, ta, tb, m, n, k, al, a, b, be, c, bias, act);

    private static float[] Compute(Device device, Call call, Transpose ta, Transpose tb, int m, int n, int k,
        float[] a, float[] b, float beta, float[] c, float[]? bias, ActivationKind act)
    {
        using var ta_ = Tensor.FromArray(device, a, a.Length);
        using var tb_ = Tensor.FromArray(device, b, b.Length);
        using var tc = Tensor.FromArray(device, beta == 0f ? Enumerable.Repeat(float.NaN, c.Length).ToArray() : c, c.Length);
        using var tbias = bias is null ? null : Tensor.FromArray(device, bias, bias.Length);
        call(device, ta, tb, m, n, k, Alpha, ta_.View, tb_.View, beta, tc.View, tbias is null ? default : tbias.View, act);
        return tc.ToArray();
    }

    /// <summary>Runs <paramref name="call"/> at (m, n, k) and checks it against the reference; returns C.</summary>
    private static float[] Check(Device device, Call call, Transpose ta, Transpose tb, int m, int n, int k, float beta,
        bool withBias, bool relu, string what)
    {
        int seed = 11 * m + 7 * n + k + (ta == Transpose.Yes ? 1000 : 0) + (tb == Transpose.Yes ? 2000 : 0);
        var a = Data.Uniform(m * k, seed);
        var b = Data.Uniform(k * n, seed + 1);
        var c = Data.Uniform(m * n, seed + 2);
        var bias = withBias ? Data.Uniform(n, seed + 3) : null;
        var act = relu ? ActivationKind.Relu : ActivationKind.Identity;
        var actual = Compute(device, call, ta, tb, m, n, k, a, b, beta, c, bias, act);
        var (expected, atol) = GemmTests.Reference(ta, tb, m, n, k, Alpha, a, b, beta, c, bias, relu);
        Close.All(actual, expected, atol, GemmTests.Rtol, $"{what} transA={ta} transB={tb} m={m} n={n} k={k} beta={beta} bias={withBias} relu={relu}");
        return actual;
    }

    [Theory]
    [MemberData(nameof(TilesAndTransposes))]
    public void Generated_tile_matches_float64_reference_at_edge_sizes_on_gpu_shaped_accelerator(string tileName, Transpose ta, Transpose tb)
    {
        var tile = Enum.Parse<GemmTile>(tileName);
        var device = devices.Nvidia;
        foreach (var (m, n, k) in EdgeShapes)
        {
            Check(device, Generated(tile), ta, tb, m, n, k, 0.5f, false, false, $"{tile} on {device.Spec}");
            // beta = 0 with C full of NaN (C must not be read), and the fused bias + ReLU epilogue.
            Check(device, Generated(tile), ta, tb, m, n, k, 0f, true, true, $"{tile} on {device.Spec}");
        }
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Tile32_matches_float64_reference_on_default_accelerator(Transpose ta, Transpose tb)
    {
        var device = devices.Ilgpu;
        Assert.True(Gemm.TileShape(GemmTile.Tile32x32x8).Threads <= device.MaxGroupSize);
        foreach (var (m, n, k) in EdgeShapes.Append((33, 65, 40)))
        {
            Check(device, Generated(GemmTile.Tile32x32x8), ta, tb, m, n, k, 0.5f, false, false, "Tile32x32x8 on ilgpu-cpu");
            Check(device, Generated(GemmTile.Tile32x32x8), ta, tb, m, n, k, 0f, true, true, "Tile32x32x8 on ilgpu-cpu");
        }
    }

    // ---- every variant on both CPU accelerators, every edge size in every dimension -----------------------------------

    // A Latin square of the edge sizes: m, n and k each take 1, 3, 17, 127 and 257 once (none a multiple of 8, 16, 32, 64
    // or 128), so every tail of every tile meets a 257 and a 1 in each dimension without a 257³ product, which the
    // GPU-shaped simulator would take minutes over.
    private static readonly (int M, int N, int K)[] LatinEdges = [(1, 257, 17), (3, 127, 257), (17, 1, 127), (127, 3, 1), (257, 17, 3)];

    /// <summary>The variants a device's groups can hold: kernel 2 (named "kernel2") and each generated tile, each also with
    /// split-K for the tiles ("+split").</summary>
    public static TheoryData<string, string> VariantsOnBothAccelerators()
    {
        var data = new TheoryData<string, string>();
        foreach (string spec in new[] { "ilgpu-cpu", Device.NvidiaShapedSpec })
        {
            // What each accelerator's groups hold (16 threads on the default one, 1,024 on the GPU-shaped one): the 128- and
            // 256-thread tiles cannot launch on the default accelerator (Tiles_too_large_for_the_default_accelerator_are_refused).
            int maxThreads = (spec == "ilgpu-cpu" ? ILGPU.Runtime.CPU.CPUDevice.Default : ILGPU.Runtime.CPU.CPUDevice.Nvidia).MaxNumThreadsPerGroup;
            data.Add(spec, "kernel2");
            foreach (var shape in Gemm.GeneratedTiles.Where(t => t.Threads <= maxThreads))
            {
                data.Add(spec, shape.Tile.ToString());
                data.Add(spec, shape.Tile + "+split");
            }
        }
        return data;
    }

    /// <summary>A split of depth <paramref name="k"/> into at most three chunks that are multiples of <paramref name="bk"/>;
    /// null when the depth is too shallow for two.</summary>
    private static (int Splits, int Chunk)? SplitFor(int k, int bk)
    {
        int splits = Math.Min(3, (k + bk - 1) / bk);
        if (splits < 2) return null;
        int chunk = ((k + splits - 1) / splits + bk - 1) / bk * bk;
        splits = (k + chunk - 1) / chunk;
        return splits >= 2 ? (splits, chunk) : null;
    }

    [Theory]
    [MemberData(nameof(VariantsOnBothAccelerators))]
    public void Every_variant_matches_float64_reference_at_every_edge_size_in_every_dimension(string spec, string variant)
    {
        var device = devices.Get(spec);
        bool split = variant.EndsWith("+split", StringComparison.Ordinal);
        GemmTile? tile = variant == "kernel2" ? null : Enum.Parse<GemmTile>(variant.Replace("+split", "", StringComparison.Ordinal));
        int checkedShapes = 0, splitShapes = 0;
        foreach (var ta in Both)
            foreach (var tb in Both)
                foreach (var (m, n, k) in LatinEdges)
                {
                    Call call;
                    string what;
                    if (tile is null)
                    {
                        call = (d, ta_, tb_, m_, n_, k_, al, a, b, be, c, bias, act) =>
                            Gemm.RunTiled(d, ta_, tb_, m_, n_, k_, al, a, b, be, c, bias, act, Gemm.DefaultGroupShape(d));
                        what = $"kernel 2 on {spec}";
                    }
                    else if (split)
                    {
                        var s = SplitFor(k, Gemm.TileShape(tile.Value).BK);
                        if (s is null) continue; // too shallow to split: the plain tile covers it
                        call = Generated(tile.Value, s.Value.Splits, s.Value.Chunk);
                        what = $"{tile} split {s.Value.Splits}x{s.Value.Chunk} on {spec}";
                        splitShapes++;
                    }
                    else
                    {
                        call = Generated(tile.Value);
                        what = $"{tile} on {spec}";
                    }
                    // Alternate the epilogue so each shape meets both: beta·C read, or C full of NaN (beta 0) with bias + ReLU.
                    bool fused = (m + (ta == Transpose.Yes ? 1 : 0) + (tb == Transpose.Yes ? 1 : 0)) % 2 == 0;
                    Check(device, call, ta, tb, m, n, k, fused ? 0f : 0.5f, fused, fused, what);
                    checkedShapes++;
                }
        Assert.True(checkedShapes >= (split ? 12 : 20), $"only {checkedShapes} shapes checked");
        if (split) Assert.True(splitShapes >= 12, $"split-K ran on only {splitShapes} shapes");
    }

    [Fact]
    public void Tiles_too_large_for_the_default_accelerator_are_refused()
    {
        var device = devices.Ilgpu;
        using var x = Tensor.FromArray(device, new float[1], 1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.RunGenerated(device, GemmTile.Tile128x128x8, 1, 0,
            Transpose.No, Transpose.No, 1, 1, 1, 1f, x.View, x.View, 0f, x.View, default, ActivationKind.Identity));
        Assert.Contains("256 threads", e.Message);
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Split_k_matches_float64_reference(Transpose ta, Transpose tb)
    {
        // 64x64 tiles, depth chunks of 16 and 32 (multiples of the slice) with a short last chunk; the reduce kernel
        // applies the epilogue, so bias and ReLU are checked here too.
        Check(devices.Nvidia, Generated(GemmTile.Tile64x64x16, 3, 16), ta, tb, 65, 70, 40, 0.5f, false, false, "split 3x16");
        Check(devices.Nvidia, Generated(GemmTile.Tile64x64x16, 4, 32), ta, tb, 3, 129, 100, 0f, true, true, "split 4x32");
        Check(devices.Ilgpu, Generated(GemmTile.Tile32x32x8, 5, 8), ta, tb, 33, 17, 37, 0.5f, true, false, "split 5x8 on ilgpu-cpu");
    }

    [Fact]
    public void Split_k_rejects_chunks_that_do_not_cover_the_depth()
    {
        var device = devices.Ilgpu;
        using var x = Tensor.FromArray(device, new float[40], 40);
        using var c = Tensor.FromArray(device, new float[1], 1);
        foreach (var (splits, chunk) in new[] { (2, 12), (2, 16), (3, 24), (2, 0) })
            Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.RunGenerated(device, GemmTile.Tile32x32x8, splits, chunk,
                Transpose.No, Transpose.No, 1, 1, 40, 1f, x.View, x.View, 0f, c.View, default, ActivationKind.Identity));
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Every_tile_sums_in_the_order_of_the_simple_kernel(Transpose ta, Transpose tb)
    {
        // Without split-K every variant adds each element's products in depth order, as kernel 1 does, and the padding
        // only adds exact zeros: on the CPU accelerators (no fused multiply-add) the bits agree.
        const int m = 40, n = 37, k = 35;
        var a = Data.Uniform(m * k, 1);
        var b = Data.Uniform(k * n, 2);
        var c = Data.Uniform(m * n, 3);
        Call simple = (d, ta_, tb_, m_, n_, k_, al, a_, b_, be, c_, bias, act) => Gemm.RunSimple(d, ta_, tb_, m_, n_, k_, al, a_, b_, be, c_, bias, act);
        var expected = Compute(devices.Ilgpu, simple, ta, tb, m, n, k, a, b, 0.5f, c, null, ActivationKind.Identity);
        foreach (var tile in Enum.GetValues<GemmTile>())
        {
            var device = Gemm.TileShape(tile).Threads <= devices.Ilgpu.MaxGroupSize ? devices.Ilgpu : devices.Nvidia;
            var actual = Compute(device, Generated(tile), ta, tb, m, n, k, a, b, 0.5f, c, null, ActivationKind.Identity);
            Assert.True(actual.AsSpan().SequenceEqual(expected), $"{tile} differs from the simple kernel");
        }
    }

    [Theory]
    [InlineData("ilgpu-cpu")]
    [InlineData(Device.NvidiaShapedSpec)]
    [InlineData("cpu")]
    public void Public_gemm_with_bias_and_relu_matches_reference(string spec)
    {
        var device = devices.Get(spec);
        Call run = (d, ta, tb, m, n, k, al, a, b, be, c, bias, act) => Gemm.Run(d, ta, tb, m, n, k, al, a, b, be, c, bias, act);
        foreach (var ta in Both)
            foreach (var tb in Both)
            {
                Check(device, run, ta, tb, 17, 33, 9, 0f, true, true, $"Gemm.Run bias+relu on {spec}");
                Check(device, run, ta, tb, 3, 5, 70, 0.5f, false, true, $"Gemm.Run relu on {spec}");
                Check(device, run, ta, tb, 3, 5, 7, 0f, true, false, $"Gemm.Run bias on {spec}");
            }
    }

    [Fact]
    public void Public_gemm_epilogue_rejects_bad_bias_and_activation()
    {
        var device = devices.Ilgpu;
        using var x = Tensor.FromArray(device, new float[6], 6);
        using var bias = Tensor.FromArray(device, new float[2], 2);
        Assert.Throws<ArgumentException>(() => Gemm.Run(device, Transpose.No, Transpose.No, 2, 3, 2, 1f,
            x.View.SubView(0, 4), x.View, 0f, x.View, bias.View, ActivationKind.Identity));
        Assert.Throws<ArgumentException>(() => Gemm.Run(device, Transpose.No, Transpose.No, 2, 3, 2, 1f,
            x.View.SubView(0, 4), x.View, 0f, x.View, default, ActivationKind.Tanh));
    }

    // ---- the dispatcher ---------------------------------------------------------------------------------------------

    [Fact]
    public void Plan_keeps_kernel_2_on_the_plain_simulator_and_fits_the_group_limit()
    {
        Assert.False(Gemm.Plan(1000, 1000, 1000, 4, 16, gpuShaped: false).Generated);
        // Only the 16-thread tile fits a 16-thread group.
        Assert.Equal(new GemmPlan(true, GemmTile.Tile32x32x8, 1, 300), Gemm.Plan(1000, 1000, 300, 132, 16, gpuShaped: true));
        Assert.Equal(new GemmPlan(false, default, 1, 9), Gemm.Plan(10, 10, 9, 132, 8, gpuShaped: true));
    }

    [Fact]
    public void Plan_takes_128_tiles_when_they_fill_the_multiprocessors_and_splits_small_outputs()
    {
        const int sms = 132; // an H100/H200
        // 2048² has 256 tiles of 128x128.
        Assert.Equal(new GemmPlan(true, GemmTile.Tile128x128x8, 1, 2048), Gemm.Plan(2048, 2048, 2048, sms, 1024, true));
        // 1024x1536: 96 tiles of 128 (too few), 384 of 64.
        Assert.Equal(new GemmPlan(true, GemmTile.Tile64x64x16, 1, 512), Gemm.Plan(1024, 1536, 512, sms, 1024, true));
        // The MLP's batch-64 forward of 784->256: 4 tiles of 64x64, so split-K: ceil(132/4) = 33 capped by 784/32 = 24
        // and by 16 splits; chunks of 49 rounded up to 64 give 13 splits.
        var plan = Gemm.Plan(64, 256, 784, sms, 1024, true);
        Assert.Equal(new GemmPlan(true, GemmTile.Tile64x64x16, 13, 64), plan);
        Assert.True((plan.Splits - 1) * plan.KChunk < 784 && plan.Splits * plan.KChunk >= 784);
        // Its weight gradient 256x784 over a batch of 64: 52 tiles, 2 splits of 32.
        Assert.Equal(new GemmPlan(true, GemmTile.Tile64x64x16, 2, 32), Gemm.Plan(256, 784, 64, sms, 1024, true));
        // Too shallow to split (k = 10): 32x32 tiles give more groups than 64x64.
        Assert.Equal(new GemmPlan(true, GemmTile.Tile32x32x8, 1, 10), Gemm.Plan(64, 128, 10, sms, 1024, true));
        // One tile of each size: nothing to gain from 32x32, and too shallow to split.
        Assert.Equal(new GemmPlan(true, GemmTile.Tile64x64x16, 1, 3), Gemm.Plan(1, 1, 3, sms, 1024, true));
    }

    [Fact]
    public void Plans_of_the_mlp_training_step_on_a_132_multiprocessor_gpu()
    {
        // The eight GEMMs of one batch-64 SGD step of 784-256-128-10 (forward y = x·Wᵀ, weight gradient dW = dyᵀ·x,
        // input gradient dx = dy·W for the two upper layers), as (m, n, k). With 132 multiprocessors every one but the
        // last (k = 10, too shallow to split) gets split-K, each adding its reduce launch: 8 GEMM launches become 15.
        (int M, int N, int K)[] shapes =
            [(64, 256, 784), (64, 128, 256), (64, 10, 128), (256, 784, 64), (128, 256, 64), (10, 128, 64), (64, 256, 128), (64, 128, 10)];
        var plans = shapes.Select(s => Gemm.Plan(s.M, s.N, s.K, 132, 1024, true)).ToList();
        Assert.Equal([13, 8, 4, 2, 2, 2, 4, 1], plans.Select(p => p.Splits));
        Assert.Equal(GemmTile.Tile32x32x8, plans[^1].Tile);
        Assert.Equal(15, plans.Sum(p => p.Splits > 1 ? 2 : 1));
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Run_follows_the_plan_on_the_gpu_shaped_accelerator(Transpose ta, Transpose tb)
    {
        // Whatever the plan picks on this accelerator (its multiprocessor count decides), the public entry agrees with the
        // reference, and the launch count says whether split-K's second launch ran.
        var device = devices.Nvidia;
        Call run = (d, ta_, tb_, m, n, k, al, a, b, be, c, bias, act) => Gemm.Run(d, ta_, tb_, m, n, k, al, a, b, be, c, bias, act);
        foreach (var (m, n, k) in new[] { (64, 40, 96), (130, 129, 20), (5, 3, 64) })
        {
            var plan = Gemm.Plan(device, m, n, k);
            long before = device.KernelLaunches;
            Check(device, run, ta, tb, m, n, k, 0.5f, true, true, $"Run ({plan}) on {device.Spec}");
            Assert.Equal(plan.Splits > 1 ? 2 : 1, device.KernelLaunches - before);
        }
    }
}
