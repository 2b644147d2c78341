using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

[Collection("devices")]
public class DropoutTests(DeviceFixture devices)
{

    public static TheoryData<string> Specs() => DeviceFixture.Rows(DeviceFixture.SpecsWithGpuShapes);

    public static TheoryData<string, DropoutMode> SpecsAndModes()
    {
        var data = new TheoryData<string, DropoutMode>();
        foreach (string d in DeviceFixture.SpecsWithGpuShapes)
            foreach (DropoutMode m in Enum.GetValues<DropoutMode>())
                data.Add(d, m);
        return data;
    }

    private static float[] Mask(Device device, int n, float pKeep, ulong seed, uint stream)
    {
        using var t = Tensor.Empty(device, n);
        Dropout.GenerateMask(device, t.View, pKeep, seed, stream);
        return t.ToArray();
    }

    private static float[] Apply(Device device, DropoutMode mode, float[] x, float[] mask, float pKeep)
    {
        using var tx = Tensor.FromArray(device, x, x.Length);
        using var tm = Tensor.FromArray(device, mask, mask.Length);
        using var ty = Tensor.Zeros(device, x.Length);
        Dropout.ForwardTrain(device, mode, tx.View, tm.View, ty.View, pKeep);
        return ty.ToArray();
    }

    private static double Scale(DropoutMode mode, double pKeep) => mode == DropoutMode.Inverted ? 1 / pKeep : 1;

    // ---- masks: reproducible from (seed, stream) alone ----

    [Theory]
    [MemberData(nameof(Specs))]
    public void Mask_is_the_philox_uniform_compared_with_pKeep(string spec)
    {
        var device = devices.Get(spec);
        const ulong seed = 0xDEADBEEF_12345678ul;
        foreach (int n in new[] { 1, 2, 3, 4, 5, 17, 33, 127, 257 })
        {
            var mask = Mask(device, n, 0.6f, seed, 3);
            for (int i = 0; i < n; i++)
                Assert.Equal(Philox.Uniform(seed, 3, (ulong)i) < 0.6f ? 1f : 0f, mask[i]);
        }
    }

    [Fact]
    public void Same_seed_gives_bit_identical_masks_across_group_sizes_backends_and_runs()
    {
        const int n = 4099; // not a multiple of 4 nor of any group size
        const ulong seed = 42;
        var reference = Mask(devices.Host, n, 0.7f, seed, 1);
        Assert.Equal(reference, Mask(devices.Host, n, 0.7f, seed, 1));   // a second run
        Assert.Equal(reference, Mask(devices.Ilgpu, n, 0.7f, seed, 1));  // the ILGPU kernel, default group size
        Assert.Equal(reference, Mask(devices.Ilgpu, n, 0.7f, seed, 1));
        foreach (int g in new[] { 1, 3, 16 })
        {
            using var device = Device.Open("ilgpu-cpu", new DeviceOptions { GroupSize = g });
            Assert.Equal(g, device.GroupSize);
            var mask = Mask(device, n, 0.7f, seed, 1);
            Assert.True(reference.AsSpan().SequenceEqual(mask), $"group size {g}: mask differs from the host engine's");
        }
    }

    // Two independent Bernoulli(p) masks agree at a position with probability p² + (1-p)²; check the observed number of
    // agreements is within 4 sigma of that (identical masks would agree everywhere).
    private static void AssertIndependent(float[] a, float[] b, double p, string what)
    {
        int n = a.Length;
        int agree = 0;
        for (int i = 0; i < n; i++) if (a[i] == b[i]) agree++;
        double q = p * p + (1 - p) * (1 - p);
        double sigma = Math.Sqrt(n * q * (1 - q));
        Assert.True(Math.Abs(agree - n * q) <= 4 * sigma, $"{what}: {agree} of {n} positions agree; expected {n * q:F0} ± {4 * sigma:F0}");
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Different_seeds_and_different_streams_give_independent_masks(string spec)
    {
        var device = devices.Get(spec);
        const int n = 20_000;
        var a = Mask(device, n, 0.5f, 1, 0);
        AssertIndependent(a, Mask(device, n, 0.5f, 2, 0), 0.5, "seed 1 vs seed 2");
        AssertIndependent(a, Mask(device, n, 0.5f, 1ul | (1ul << 32), 0), 0.5, "seeds differing in the high word");
        AssertIndependent(a, Mask(device, n, 0.5f, 1, 1), 0.5, "stream 0 vs stream 1");
        // Neighbouring blocks of one stream are independent too: the second half against the first.
        AssertIndependent(a[..(n / 2)], a[(n / 2)..], 0.5, "first half vs second half");
    }

    private static void AssertKeepFraction(Device device, int n, float pKeep, ulong seed)
    {
        var mask = Mask(device, n, pKeep, seed, 0);
        long kept = 0;
        foreach (float m in mask)
        {
            Assert.True(m == 0f || m == 1f);
            if (m == 1f) kept++;
        }
        double sigma = Math.Sqrt(n * pKeep * (1.0 - pKeep));
        Assert.True(Math.Abs(kept - n * (double)pKeep) <= 4 * sigma,
            $"{device.Spec}: kept {kept} of {n} at pKeep {pKeep}; expected {n * (double)pKeep:F0} ± {4 * sigma:F0} (4 sigma)");
    }

    [Theory]
    [InlineData(0.5f)]
    [InlineData(0.8f)]
    public void Keep_fraction_is_within_4_sigma_of_pKeep_on_a_million_elements(float pKeep)
    {
        AssertKeepFraction(devices.Host, 1_000_000, pKeep, 12345);
    }

    [Theory]
    [InlineData(0.5f)]
    [InlineData(0.8f)]
    public void Keep_fraction_is_within_4_sigma_of_pKeep_on_the_ilgpu_kernel(float pKeep)
    {
        AssertKeepFraction(devices.Ilgpu, 100_003, pKeep, 777);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void PKeep_of_one_keeps_everything(string spec)
    {
        Assert.All(Mask(devices.Get(spec), 1001, 1f, 9, 9), m => Assert.Equal(1f, m));
    }

    [Fact]
    public void Inverted_dropout_preserves_the_mean()
    {
        // For a fixed x, mean(y) - mean(x) = (1/n)·Σ x_i·(m_i/p - 1) has mean 0 and variance Σ x_i²·(1-p)/p / n².
        // Accept 4 standard deviations.
        var device = devices.Host;
        const int n = 1_000_000;
        const float pKeep = 0.8f;
        var x = Data.Uniform(n, 5, 0f, 2f);
        var mask = Mask(device, n, pKeep, 2024, 5);
        var y = Apply(device, DropoutMode.Inverted, x, mask, pKeep);
        double meanX = 0, meanY = 0, sumSq = 0;
        for (int i = 0; i < n; i++)
        {
            meanX += x[i];
            meanY += y[i];
            sumSq += (double)x[i] * x[i];
        }
        meanX /= n;
        meanY /= n;
        double sigma = Math.Sqrt(sumSq * (1 - pKeep) / pKeep) / n;
        Assert.True(Math.Abs(meanY - meanX) <= 4 * sigma, $"mean(y) {meanY:G6} vs mean(x) {meanX:G6}: differ by more than 4·{sigma:G3}");
    }

    // ---- forward and backward against float64 references ----

    [Theory]
    [MemberData(nameof(SpecsAndModes))]
    public void Forward_train_and_eval_match_the_reference_on_odd_sizes(string spec, DropoutMode mode)
    {
        var device = devices.Get(spec);
        const float pKeep = 0.7f;
        foreach (int n in Data.OddSizes)
        {
            var x = Data.Uniform(n, n, -3f, 3f);
            var mask = Mask(device, n, pKeep, (ulong)n, 0);
            var y = Apply(device, mode, x, mask, pKeep);
            var expected = new double[n];
            for (int i = 0; i < n; i++) expected[i] = (double)x[i] * mask[i] * Scale(mode, pKeep);
            Close.All(y, expected, 1e-6, 1e-6, $"{mode} train n={n}");

            // A caller-supplied mask is applied as given.
            var own = Data.Uniform(n, n + 1).Select(v => v > 0 ? 1f : 0f).ToArray();
            var yOwn = Apply(device, mode, x, own, pKeep);
            for (int i = 0; i < n; i++) expected[i] = (double)x[i] * own[i] * Scale(mode, pKeep);
            Close.All(yOwn, expected, 1e-6, 1e-6, $"{mode} train with a supplied mask n={n}");

            using var tx = Tensor.FromArray(device, x, n);
            using var ty = Tensor.Zeros(device, n);
            Dropout.ForwardEval(device, mode, tx.View, ty.View, pKeep);
            for (int i = 0; i < n; i++) expected[i] = mode == DropoutMode.Standard ? x[i] * (double)pKeep : x[i];
            Close.All(ty.ToArray(), expected, 1e-6, 1e-6, $"{mode} eval n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(SpecsAndModes))]
    public void Backward_accumulates_dy_times_mask_times_scale(string spec, DropoutMode mode)
    {
        var device = devices.Get(spec);
        const float pKeep = 0.6f;
        foreach (int n in Data.OddSizes)
        {
            var dy = Data.Uniform(n, 100 + n);
            var dx0 = Data.Uniform(n, 200 + n);
            var mask = Mask(device, n, pKeep, 77, (uint)n);
            using var tdy = Tensor.FromArray(device, dy, n);
            using var tm = Tensor.FromArray(device, mask, n);
            using var tdx = Tensor.FromArray(device, dx0, n);
            Dropout.Backward(device, mode, tdy.View, tm.View, tdx.View, pKeep);
            var expected = new double[n];
            for (int i = 0; i < n; i++) expected[i] = dx0[i] + (double)dy[i] * mask[i] * Scale(mode, pKeep);
            Close.All(tdx.ToArray(), expected, 1e-6, 1e-6, $"{mode} backward n={n}");

            // A second call adds the same gradient again: backward accumulates, it does not overwrite.
            Dropout.Backward(device, mode, tdy.View, tm.View, tdx.View, pKeep);
            for (int i = 0; i < n; i++) expected[i] = dx0[i] + 2 * (double)dy[i] * mask[i] * Scale(mode, pKeep);
            Close.All(tdx.ToArray(), expected, 1e-6, 1e-6, $"{mode} backward twice n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(SpecsAndModes))]
    public void Backward_matches_finite_differences_of_a_weighted_sum(string spec, DropoutMode mode)
    {
        // L(x) = Σ w_i·dropout(x)_i with a fixed mask; dL/dx by central differences, the forward run by the kernel.
        // L is linear in x, so the difference has no truncation error; h only has to be large next to float32 rounding.
        var device = devices.Get(spec);
        const int n = 17;
        const float pKeep = 0.7f;
        const float h = 1e-2f;
        var x = Data.Uniform(n, 31);
        var w = Data.Uniform(n, 32);
        var mask = Mask(device, n, pKeep, 99, 0);
        double Loss(float[] input)
        {
            var y = Apply(device, mode, input, mask, pKeep);
            double s = 0;
            for (int i = 0; i < n; i++) s += (double)w[i] * y[i];
            return s;
        }
        var numeric = new double[n];
        for (int i = 0; i < n; i++)
        {
            var xp = (float[])x.Clone();
            var xm = (float[])x.Clone();
            xp[i] += h;
            xm[i] -= h;
            numeric[i] = (Loss(xp) - Loss(xm)) / ((double)xp[i] - xm[i]);
        }
        using var tw = Tensor.FromArray(device, w, n);
        using var tm = Tensor.FromArray(device, mask, n);
        using var tdx = Tensor.Zeros(device, n);
        Dropout.Backward(device, mode, tw.View, tm.View, tdx.View, pKeep);
        Close.All(tdx.ToArray(), numeric, 1e-4, 1e-4, $"{mode} gradient check");
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Forward_may_run_in_place(string spec)
    {
        var device = devices.Get(spec);
        var x = Data.Uniform(33, 3);
        var mask = Mask(device, 33, 0.5f, 3, 3);
        using var t = Tensor.FromArray(device, x, 33);
        using var tm = Tensor.FromArray(device, mask, 33);
        Dropout.ForwardTrain(device, DropoutMode.Inverted, t.View, tm.View, t.View, 0.5f);
        Close.All(t.ToArray(), x.Select((v, i) => v * mask[i] * 2.0).ToArray(), 0, 0, "in-place inverted train");
    }

    // ---- the exercise: a 4x4 activation with a given mask, p_keep = 8/16 = 0.5, worked by hand ----

    private static readonly float[,] ExerciseX =
    {
        { 1.6f, -0.7f, -0.2f, 1.9f },
        { -2.3f, 2.5f, 2.5f, -0.9f },
        { -0.5f, 3.2f, 3.7f, -0.4f },
        { 1.3f, -0.4f, -2.6f, 1.2f },
    };

    private static readonly float[,] ExerciseMask =
    {
        { 1, 0, 0, 1 },
        { 0, 1, 1, 0 },
        { 0, 1, 1, 0 },
        { 1, 0, 0, 1 },
    };

    // Standard train: x·m.
    private static readonly double[,] StandardTrain =
    {
        { 1.6, 0, 0, 1.9 },
        { 0, 2.5, 2.5, 0 },
        { 0, 3.2, 3.7, 0 },
        { 1.3, 0, 0, 1.2 },
    };

    // Standard test: x·0.5.
    private static readonly double[,] StandardTest =
    {
        { 0.8, -0.35, -0.1, 0.95 },
        { -1.15, 1.25, 1.25, -0.45 },
        { -0.25, 1.6, 1.85, -0.2 },
        { 0.65, -0.2, -1.3, 0.6 },
    };

    // Inverted train: x·m / 0.5.
    private static readonly double[,] InvertedTrain =
    {
        { 3.2, 0, 0, 3.8 },
        { 0, 5.0, 5.0, 0 },
        { 0, 6.4, 7.4, 0 },
        { 2.6, 0, 0, 2.4 },
    };

    // Inverted test: x unchanged.
    private static readonly double[,] InvertedTest =
    {
        { 1.6, -0.7, -0.2, 1.9 },
        { -2.3, 2.5, 2.5, -0.9 },
        { -0.5, 3.2, 3.7, -0.4 },
        { 1.3, -0.4, -2.6, 1.2 },
    };

    private static double[] Flat(double[,] a) => a.Cast<double>().ToArray();

    [Theory]
    [MemberData(nameof(Specs))]
    public void Exercise_4x4_with_a_given_mask_matches_the_hand_worked_values(string spec)
    {
        var device = devices.Get(spec);
        const float pKeep = 8f / 16f;
        using var x = Tensor.FromArray(device, ExerciseX);
        using var m = Tensor.FromArray(device, ExerciseMask);
        using var y = Tensor.Zeros(device, 4, 4);

        // Values like 1.6 are not exact in float32; the hand values are compared to 1 ulp-ish tolerance.
        Dropout.ForwardTrain(device, DropoutMode.Standard, x.View, m.View, y.View, pKeep);
        Close.All(y.ToArray(), Flat(StandardTrain), 1e-6, 1e-6, "standard train");
        Dropout.ForwardEval(device, DropoutMode.Standard, x.View, y.View, pKeep);
        Close.All(y.ToArray(), Flat(StandardTest), 1e-6, 1e-6, "standard test");
        Dropout.ForwardTrain(device, DropoutMode.Inverted, x.View, m.View, y.View, pKeep);
        Close.All(y.ToArray(), Flat(InvertedTrain), 1e-6, 1e-6, "inverted train");
        Dropout.ForwardEval(device, DropoutMode.Inverted, x.View, y.View, pKeep);
        Close.All(y.ToArray(), Flat(InvertedTest), 1e-6, 1e-6, "inverted test");

        // Backward of a unit upstream gradient is the mask itself (standard) or twice it (inverted).
        using var ones = Tensor.FromArray(device, Enumerable.Repeat(1f, 16).ToArray(), 4, 4);
        using var dx = Tensor.Zeros(device, 4, 4);
        Dropout.Backward(device, DropoutMode.Inverted, ones.View, m.View, dx.View, pKeep);
        Close.All(dx.ToArray(), new double[] { 2, 0, 0, 2, 0, 2, 2, 0, 0, 2, 2, 0, 2, 0, 0, 2 }, 0, 0, "inverted backward");
    }

    // ---- argument checks ----

    [Theory]
    [InlineData(0f)]
    [InlineData(-0.1f)]
    [InlineData(1.0001f)]
    [InlineData(float.NaN)]
    public void PKeep_outside_0_1_throws(float pKeep)
    {
        var device = devices.Ilgpu;
        using var a = Tensor.Zeros(device, 3);
        using var b = Tensor.Zeros(device, 3);
        using var c = Tensor.Zeros(device, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.GenerateMask(device, a.View, pKeep, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.ForwardTrain(device, DropoutMode.Inverted, a.View, b.View, c.View, pKeep));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.ForwardEval(device, DropoutMode.Standard, a.View, c.View, pKeep));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dropout.Backward(device, DropoutMode.Inverted, a.View, b.View, c.View, pKeep));
    }

    [Fact]
    public void Mismatched_lengths_throw_argument_exception()
    {
        var device = devices.Ilgpu;
        using var a = Tensor.Zeros(device, 3);
        using var b = Tensor.Zeros(device, 4);
        Assert.Throws<ArgumentException>(() => Dropout.ForwardTrain(device, DropoutMode.Standard, a.View, b.View, a.View, 0.5f));
        Assert.Throws<ArgumentException>(() => Dropout.ForwardTrain(device, DropoutMode.Standard, a.View, a.View, b.View, 0.5f));
        Assert.Throws<ArgumentException>(() => Dropout.ForwardEval(device, DropoutMode.Standard, a.View, b.View, 0.5f));
        Assert.Throws<ArgumentException>(() => Dropout.Backward(device, DropoutMode.Standard, a.View, b.View, a.View, 0.5f));
        Assert.Throws<ArgumentException>(() => Dropout.Backward(device, DropoutMode.Standard, a.View, a.View, b.View, 0.5f));
    }
}
