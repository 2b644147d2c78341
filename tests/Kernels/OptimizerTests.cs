using GpuNet.Kernels;
using ILGPU;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// The optimizer steps against float64 references written here from the update rules (PyTorch's semantics), over five
/// consecutive steps with a different gradient each step, on a vector of odd length, on both CPU devices.
/// </summary>
[Collection("devices")]
public class OptimizerTests(DeviceFixture devices)
{
    private const int N = 17;
    private const int Steps = 5;

    private static float[] InitialWeights()
    {
        var w = Data.Uniform(N, 1, -2f, 2f);
        w[3] = 0f; // sign(0) = 0 for the L1 term on the first step
        return w;
    }

    // Gradients vary per step, in magnitude too, so that the running averages are exercised.
    private static float[][] Gradients() =>
        Enumerable.Range(1, Steps).Select(t => Data.Uniform(N, 100 + t, -t, t)).ToArray();

    private delegate void StepFn(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float>[] state, int step);

    /// <summary>Runs <see cref="Steps"/> steps; returns the weights after each step and the state after the last.
    /// State buffers start as NaN: step 1 must not read them.</summary>
    private static (float[][] Weights, float[][] State) Run(Device device, int stateCount, StepFn step)
    {
        var grads = Gradients();
        using var w = Tensor.FromArray(device, InitialWeights(), N);
        var state = Enumerable.Range(0, stateCount).Select(_ => Tensor.FromArray(device, Enumerable.Repeat(float.NaN, N).ToArray(), N)).ToArray();
        try
        {
            var weights = new float[Steps][];
            for (int t = 1; t <= Steps; t++)
            {
                using var g = Tensor.FromArray(device, grads[t - 1], N);
                step(device, w.View, g.View, state.Select(s => s.View).ToArray(), t);
                weights[t - 1] = w.ToArray();
                Assert.Equal(grads[t - 1], g.ToArray()); // the step must not modify the gradient
            }
            return (weights, state.Select(s => s.ToArray()).ToArray());
        }
        finally
        {
            foreach (var s in state) s.Dispose();
        }
    }

    private static void Compare((float[][] Weights, float[][] State) actual, (double[][] Weights, double[]?[] State) expected, string what,
        double atol = 2e-6, double rtol = 2e-5)
    {
        for (int t = 0; t < Steps; t++)
            Close.All(actual.Weights[t], expected.Weights[t], atol, rtol, $"{what}: w after step {t + 1}");
        for (int k = 0; k < expected.State.Length; k++)
            if (expected.State[k] is { } s)
                Close.All(actual.State[k], s, atol, rtol, $"{what}: state {k} after step {Steps}");
    }

    private static double Sign(double x) => x > 0 ? 1 : x < 0 ? -1 : 0;

    private static IEnumerable<string> Specs => DeviceFixture.SpecsWithGpuShapes;

    private static TheoryData<string, string> Cross(params string[] cases)
    {
        var data = new TheoryData<string, string>();
        foreach (string d in Specs)
            foreach (string c in cases)
                data.Add(d, c);
        return data;
    }

    // ---------------- SGD ----------------

    public static TheoryData<string, string> SgdCases() =>
        Cross("plain", "momentum", "dampening", "nesterov", "weight decay", "l1", "everything");

    private static SgdOptions SgdCase(string name) => name switch
    {
        "plain" => new SgdOptions { LearningRate = 0.1 },
        "momentum" => new SgdOptions { LearningRate = 0.1, Momentum = 0.9 },
        "dampening" => new SgdOptions { LearningRate = 0.1, Momentum = 0.9, Dampening = 0.3 },
        "nesterov" => new SgdOptions { LearningRate = 0.1, Momentum = 0.9, Nesterov = true },
        "weight decay" => new SgdOptions { LearningRate = 0.1, WeightDecay = 0.05 },
        "l1" => new SgdOptions { LearningRate = 0.1, L1 = 0.02 },
        "everything" => new SgdOptions { LearningRate = 0.05, Momentum = 0.8, Nesterov = true, WeightDecay = 0.01, L1 = 0.003 },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static (double[][], double[]?[]) SgdReference(SgdOptions o)
    {
        var grads = Gradients();
        var w = InitialWeights().Select(v => (double)v).ToArray();
        var buf = new double[N];
        var weights = new double[Steps][];
        for (int t = 1; t <= Steps; t++)
        {
            for (int i = 0; i < N; i++)
            {
                double gp = grads[t - 1][i] + o.WeightDecay * w[i] + o.L1 * Sign(w[i]);
                if (o.Momentum != 0)
                {
                    buf[i] = t == 1 ? gp : o.Momentum * buf[i] + (1 - o.Dampening) * gp;
                    gp = o.Nesterov ? gp + o.Momentum * buf[i] : buf[i];
                }
                w[i] -= o.LearningRate * gp;
            }
            weights[t - 1] = (double[])w.Clone();
        }
        return (weights, [o.Momentum != 0 ? buf : null]);
    }

    [Theory]
    [MemberData(nameof(SgdCases))]
    public void Sgd_matches_the_reference_for_five_steps(string spec, string name)
    {
        var o = SgdCase(name);
        var actual = Run(devices.Get(spec), 1, (d, w, g, s, t) => Optimizers.SgdStep(d, w, g, s[0], o, t));
        Compare(actual, SgdReference(o), $"SGD {name}");
    }

    [Theory]
    [MemberData(nameof(DeviceSpecs))]
    public void Sgd_momentum_golden_values(string spec)
    {
        // w = 1, g = 0.5 twice, lr = 0.1, momentum = 0.9:
        // step 1: buf = g = 0.5,               w = 1 - 0.1·0.5 = 0.95
        // step 2: buf = 0.9·0.5 + 0.5 = 0.95,  w = 0.95 - 0.1·0.95 = 0.855
        var device = devices.Get(spec);
        var o = new SgdOptions { LearningRate = 0.1, Momentum = 0.9 };
        using var w = Tensor.FromArray(device, [1f], 1);
        using var g = Tensor.FromArray(device, [0.5f], 1);
        using var buf = Tensor.Zeros(device, 1);
        Optimizers.SgdStep(device, w.View, g.View, buf.View, o, 1);
        Close.All(w.ToArray(), new[] { 0.95 }, 1e-7, 0, "w after step 1");
        Optimizers.SgdStep(device, w.View, g.View, buf.View, o, 2);
        Close.All(w.ToArray(), new[] { 0.855 }, 1e-7, 0, "w after step 2");
        Close.All(buf.ToArray(), new[] { 0.95 }, 1e-7, 0, "momentum buffer after step 2");
    }

    public static TheoryData<string> DeviceSpecs() => DeviceFixture.Rows(DeviceFixture.SpecsWithGpuShapes);

    // ---------------- Adagrad ----------------

    public static TheoryData<string, string> AdagradCases() => Cross("default", "decay, L2, L1, initial accumulator");

    private static AdagradOptions AdagradCase(string name) => name switch
    {
        "default" => new AdagradOptions { LearningRate = 0.1 },
        "decay, L2, L1, initial accumulator" => new AdagradOptions
        {
            LearningRate = 0.1, LearningRateDecay = 0.2, WeightDecay = 0.03, L1 = 0.01, InitialAccumulatorValue = 0.5, Epsilon = 0.1,
        },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static (double[][], double[]?[]) AdagradReference(AdagradOptions o)
    {
        var grads = Gradients();
        var w = InitialWeights().Select(v => (double)v).ToArray();
        var sum = Enumerable.Repeat(o.InitialAccumulatorValue, N).ToArray();
        var weights = new double[Steps][];
        for (int t = 1; t <= Steps; t++)
        {
            double clr = o.LearningRate / (1 + (t - 1) * o.LearningRateDecay);
            for (int i = 0; i < N; i++)
            {
                double gp = grads[t - 1][i] + o.WeightDecay * w[i] + o.L1 * Sign(w[i]);
                sum[i] += gp * gp;
                w[i] -= clr * gp / (Math.Sqrt(sum[i]) + o.Epsilon);
            }
            weights[t - 1] = (double[])w.Clone();
        }
        return (weights, [sum]);
    }

    [Theory]
    [MemberData(nameof(AdagradCases))]
    public void Adagrad_matches_the_reference_for_five_steps(string spec, string name)
    {
        var o = AdagradCase(name);
        var actual = Run(devices.Get(spec), 1, (d, w, g, s, t) => Optimizers.AdagradStep(d, w, g, s[0], o, t));
        Compare(actual, AdagradReference(o), $"Adagrad {name}");
    }

    // ---------------- RMSprop ----------------

    public static TheoryData<string, string> RmsPropCases() => Cross("default", "centered", "momentum", "centered, momentum, L2, L1");

    private static RmsPropOptions RmsPropCase(string name) => name switch
    {
        "default" => new RmsPropOptions(),
        "centered" => new RmsPropOptions { Centered = true },
        "momentum" => new RmsPropOptions { Momentum = 0.9 },
        "centered, momentum, L2, L1" => new RmsPropOptions
        {
            LearningRate = 0.005, Alpha = 0.9, Centered = true, Momentum = 0.5, WeightDecay = 0.02, L1 = 0.01, Epsilon = 0.1,
        },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static (double[][], double[]?[]) RmsPropReference(RmsPropOptions o)
    {
        var grads = Gradients();
        var w = InitialWeights().Select(v => (double)v).ToArray();
        double[] sq = new double[N], buf = new double[N], gavg = new double[N];
        var weights = new double[Steps][];
        for (int t = 1; t <= Steps; t++)
        {
            for (int i = 0; i < N; i++)
            {
                double gp = grads[t - 1][i] + o.WeightDecay * w[i] + o.L1 * Sign(w[i]);
                sq[i] = o.Alpha * sq[i] + (1 - o.Alpha) * gp * gp;
                double avg = sq[i];
                if (o.Centered)
                {
                    gavg[i] = o.Alpha * gavg[i] + (1 - o.Alpha) * gp;
                    avg = sq[i] - gavg[i] * gavg[i];
                }
                double denom = Math.Sqrt(avg) + o.Epsilon;
                if (o.Momentum > 0)
                {
                    buf[i] = o.Momentum * buf[i] + gp / denom;
                    w[i] -= o.LearningRate * buf[i];
                }
                else
                {
                    w[i] -= o.LearningRate * gp / denom;
                }
            }
            weights[t - 1] = (double[])w.Clone();
        }
        return (weights, [sq, o.Momentum > 0 ? buf : null, o.Centered ? gavg : null]);
    }

    [Theory]
    [MemberData(nameof(RmsPropCases))]
    public void RmsProp_matches_the_reference_for_five_steps(string spec, string name)
    {
        var o = RmsPropCase(name);
        var actual = Run(devices.Get(spec), 3, (d, w, g, s, t) => Optimizers.RmsPropStep(d, w, g, s[0], s[1], s[2], o, t));
        // Centered RMSprop divides by sqrt(sq - gavg²), a difference of nearby numbers: float32 loses about two digits there.
        Compare(actual, RmsPropReference(o), $"RMSprop {name}", atol: 1e-5, rtol: 1e-4);
    }

    // ---------------- Adam and AdamW ----------------

    public static TheoryData<string, string> AdamCases() => Cross("default", "weight decay", "amsgrad", "L1", "large eps");

    private static AdamOptions AdamCase(string name) => name switch
    {
        "default" => new AdamOptions { LearningRate = 0.01 },
        "weight decay" => new AdamOptions { LearningRate = 0.01, WeightDecay = 0.1 },
        "amsgrad" => new AdamOptions { LearningRate = 0.01, Beta1 = 0.8, Beta2 = 0.9, Amsgrad = true },
        "L1" => new AdamOptions { LearningRate = 0.01, L1 = 0.05 },
        // Large enough that eps inside the square root would give other numbers.
        "large eps" => new AdamOptions { LearningRate = 0.01, Epsilon = 0.1 },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    public static TheoryData<string, string> AdamWCases() => Cross("default", "strong decay", "amsgrad and L1");

    private static AdamWOptions AdamWCase(string name) => name switch
    {
        "default" => new AdamWOptions { LearningRate = 0.01 },
        "strong decay" => new AdamWOptions { LearningRate = 0.01, WeightDecay = 0.5 },
        "amsgrad and L1" => new AdamWOptions { LearningRate = 0.01, Beta1 = 0.8, Beta2 = 0.9, Amsgrad = true, L1 = 0.05 },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>Adam as written in the rule: bias-corrected moments, eps outside the root. <paramref name="decoupled"/> &gt; 0 makes it AdamW.</summary>
    private static (double[][], double[]?[]) AdamReference(double lr, double b1, double b2, double eps, double l2, double decoupled, double l1,
        bool amsgrad)
    {
        var grads = Gradients();
        var w = InitialWeights().Select(v => (double)v).ToArray();
        double[] m = new double[N], v = new double[N], vmax = new double[N];
        var weights = new double[Steps][];
        for (int t = 1; t <= Steps; t++)
        {
            for (int i = 0; i < N; i++)
            {
                double gp = grads[t - 1][i] + l2 * w[i] + l1 * Sign(w[i]);
                w[i] *= 1 - lr * decoupled;
                m[i] = b1 * m[i] + (1 - b1) * gp;
                v[i] = b2 * v[i] + (1 - b2) * gp * gp;
                vmax[i] = Math.Max(vmax[i], v[i]);
                double mhat = m[i] / (1 - Math.Pow(b1, t));
                double vhat = (amsgrad ? vmax[i] : v[i]) / (1 - Math.Pow(b2, t));
                w[i] -= lr * mhat / (Math.Sqrt(vhat) + eps);
            }
            weights[t - 1] = (double[])w.Clone();
        }
        return (weights, [m, v, amsgrad ? vmax : null]);
    }

    [Theory]
    [MemberData(nameof(AdamCases))]
    public void Adam_matches_the_reference_for_five_steps(string spec, string name)
    {
        var o = AdamCase(name);
        var actual = Run(devices.Get(spec), 3, (d, w, g, s, t) => Optimizers.AdamStep(d, w, g, s[0], s[1], s[2], o, t));
        Compare(actual, AdamReference(o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay, 0, o.L1, o.Amsgrad), $"Adam {name}");
    }

    [Theory]
    [MemberData(nameof(AdamWCases))]
    public void AdamW_matches_the_reference_for_five_steps(string spec, string name)
    {
        var o = AdamWCase(name);
        var actual = Run(devices.Get(spec), 3, (d, w, g, s, t) => Optimizers.AdamWStep(d, w, g, s[0], s[1], s[2], o, t));
        Compare(actual, AdamReference(o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, 0, o.WeightDecay, o.L1, o.Amsgrad), $"AdamW {name}");
    }

    [Theory]
    [MemberData(nameof(DeviceSpecs))]
    public void Adam_first_step_moves_each_weight_by_lr_times_the_sign_of_its_gradient(string spec)
    {
        // Step 1: mhat = g, vhat = g², so the step is lr·g/(|g| + eps) = lr·sign(g), up to eps/|g| (at most 1e-5 here).
        var device = devices.Get(spec);
        float[] w0 = [0.5f, -0.5f, 1f, 0f, 2f];
        float[] g0 = [0.3f, -2f, 1e-3f, -5f, 0f];
        using var w = Tensor.FromArray(device, w0, 5);
        using var g = Tensor.FromArray(device, g0, 5);
        using var m = Tensor.Zeros(device, 5);
        using var v = Tensor.Zeros(device, 5);
        Optimizers.AdamStep(device, w.View, g.View, m.View, v.View, default, new AdamOptions { LearningRate = 1e-3 }, 1);
        Close.All(w.ToArray(), new[] { 0.499, -0.499, 0.999, 0.001, 2.0 }, 1e-7, 0, "w after Adam's first step");
    }

    [Theory]
    [MemberData(nameof(DeviceSpecs))]
    public void Adam_with_L2_and_AdamW_differ_as_expected(string spec)
    {
        // w = 1, g = -0.05, lr = 0.1, weight decay 1, one step (the step is ±lr, by the sign of the gradient it sees):
        //   Adam:  g' = -0.05 + 1·1 = 0.95 > 0          → w = 1 - 0.1 = 0.9
        //   AdamW: w = 1·(1 - 0.1·1) = 0.9, g' = -0.05  → w = 0.9 + 0.1 = 1.0
        var device = devices.Get(spec);
        float AfterOneStep(bool decoupled)
        {
            using var w = Tensor.FromArray(device, [1f], 1);
            using var g = Tensor.FromArray(device, [-0.05f], 1);
            using var m = Tensor.Zeros(device, 1);
            using var v = Tensor.Zeros(device, 1);
            if (decoupled) Optimizers.AdamWStep(device, w.View, g.View, m.View, v.View, default, new AdamWOptions { LearningRate = 0.1, WeightDecay = 1 }, 1);
            else Optimizers.AdamStep(device, w.View, g.View, m.View, v.View, default, new AdamOptions { LearningRate = 0.1, WeightDecay = 1 }, 1);
            return w.ToArray()[0];
        }
        Close.Scalar(AfterOneStep(decoupled: false), 0.9, 1e-6, 0, "Adam with L2");
        Close.Scalar(AfterOneStep(decoupled: true), 1.0, 1e-6, 0, "AdamW");

        // Over five steps on the test vector the trajectories part; with no decay at all they coincide bit for bit.
        var adam = Run(device, 3, (d, w, g, s, t) => Optimizers.AdamStep(d, w, g, s[0], s[1], s[2], new AdamOptions { LearningRate = 0.01, WeightDecay = 0.1 }, t));
        var adamW = Run(device, 3, (d, w, g, s, t) => Optimizers.AdamWStep(d, w, g, s[0], s[1], s[2], new AdamWOptions { LearningRate = 0.01, WeightDecay = 0.1 }, t));
        double maxDiff = adam.Weights[^1].Zip(adamW.Weights[^1], (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff > 1e-4, $"Adam with L2 and AdamW should differ; max difference {maxDiff}");
        var adam0 = Run(device, 3, (d, w, g, s, t) => Optimizers.AdamStep(d, w, g, s[0], s[1], s[2], new AdamOptions { LearningRate = 0.01 }, t));
        var adamW0 = Run(device, 3, (d, w, g, s, t) => Optimizers.AdamWStep(d, w, g, s[0], s[1], s[2], new AdamWOptions { LearningRate = 0.01, WeightDecay = 0 }, t));
        Assert.Equal(adam0.Weights[^1], adamW0.Weights[^1]);
    }

    // ---------------- across devices, state handling, arguments ----------------

    public static TheoryData<string> AllRules() => new() { "sgd", "adagrad", "rmsprop", "adam", "adamw" };

    private static void StepAll(string rule, Device d, ArrayView<float> w, ArrayView<float> g, ArrayView<float>[] s, int t)
    {
        switch (rule)
        {
            case "sgd": Optimizers.SgdStep(d, w, g, s[0], SgdCase("everything"), t); break;
            case "adagrad": Optimizers.AdagradStep(d, w, g, s[0], AdagradCase("decay, L2, L1, initial accumulator"), t); break;
            case "rmsprop": Optimizers.RmsPropStep(d, w, g, s[0], s[1], s[2], RmsPropCase("centered, momentum, L2, L1"), t); break;
            case "adam": Optimizers.AdamStep(d, w, g, s[0], s[1], s[2], AdamCase("amsgrad") with { WeightDecay = 0.1, L1 = 0.01 }, t); break;
            case "adamw": Optimizers.AdamWStep(d, w, g, s[0], s[1], s[2], AdamWCase("amsgrad and L1"), t); break;
            default: throw new ArgumentOutOfRangeException(nameof(rule));
        }
    }

    [Theory]
    [MemberData(nameof(AllRules))]
    public void Host_engine_and_ilgpu_kernel_give_bit_identical_results(string rule)
    {
        // Both run the same rule structs in .NET float32 arithmetic, so on the CPU they agree exactly.
        var kernel = Run(devices.Ilgpu, 3, (d, w, g, s, t) => StepAll(rule, d, w, g, s, t));
        var host = Run(devices.Host, 3, (d, w, g, s, t) => StepAll(rule, d, w, g, s, t));
        for (int t = 0; t < Steps; t++) Assert.Equal(kernel.Weights[t], host.Weights[t]);
    }

    [Theory]
    [MemberData(nameof(DeviceSpecs))]
    public void State_buffers_an_option_turns_off_may_be_empty_and_are_not_touched(string spec)
    {
        var device = devices.Get(spec);
        using var w = Tensor.FromArray(device, InitialWeights(), N);
        using var g = Tensor.FromArray(device, Gradients()[0], N);
        using var s0 = Tensor.Zeros(device, N);
        using var s1 = Tensor.Zeros(device, N);
        using var untouched = Tensor.FromArray(device, Enumerable.Repeat(123f, N).ToArray(), N);
        Optimizers.SgdStep(device, w.View, g.View, default, new SgdOptions { LearningRate = 0.1 }, 1);
        Optimizers.SgdStep(device, w.View, g.View, untouched.View, new SgdOptions { LearningRate = 0.1 }, 2);
        Optimizers.RmsPropStep(device, w.View, g.View, s0.View, default, untouched.View, new RmsPropOptions(), 1);
        Optimizers.AdamStep(device, w.View, g.View, s0.View, s1.View, untouched.View, new AdamOptions(), 1);
        Optimizers.AdamWStep(device, w.View, g.View, s0.View, s1.View, default, new AdamWOptions(), 2);
        Assert.All(untouched.ToArray(), v => Assert.Equal(123f, v));
        Assert.All(w.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Bad_arguments_throw()
    {
        var device = devices.Ilgpu;
        using var a = Tensor.Zeros(device, 3);
        using var b = Tensor.Zeros(device, 3);
        using var c = Tensor.Zeros(device, 3);
        using var shorter = Tensor.Zeros(device, 2);
        var sgd = new SgdOptions { LearningRate = 0.1, Momentum = 0.9 };
        Assert.Throws<ArgumentOutOfRangeException>(() => Optimizers.SgdStep(device, a.View, b.View, c.View, sgd, 0));
        Assert.Throws<ArgumentException>(() => Optimizers.SgdStep(device, a.View, shorter.View, c.View, sgd, 1));
        Assert.Throws<ArgumentException>(() => Optimizers.SgdStep(device, a.View, b.View, shorter.View, sgd, 1));
        Assert.Throws<ArgumentException>(() => Optimizers.SgdStep(device, a.View, b.View, c.View, new SgdOptions { Nesterov = true }, 1));
        Assert.Throws<ArgumentException>(() =>
            Optimizers.SgdStep(device, a.View, b.View, c.View, sgd with { Nesterov = true, Dampening = 0.1 }, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Optimizers.SgdStep(device, a.View, b.View, c.View, sgd with { LearningRate = -1 }, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Optimizers.AdagradStep(device, a.View, b.View, c.View, new AdagradOptions { Epsilon = -1 }, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Optimizers.RmsPropStep(device, a.View, b.View, c.View, default, default, new RmsPropOptions { Momentum = double.NaN }, 1));
        Assert.Throws<ArgumentException>(() =>
            Optimizers.RmsPropStep(device, a.View, b.View, c.View, default, shorter.View, new RmsPropOptions { Centered = true }, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Optimizers.AdamStep(device, a.View, b.View, c.View, a.View, default, new AdamOptions { Beta1 = 1 }, 1));
        Assert.Throws<ArgumentException>(() =>
            Optimizers.AdamWStep(device, a.View, b.View, c.View, a.View, shorter.View, new AdamWOptions { Amsgrad = true }, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Optimizers.AdamWStep(device, a.View, b.View, c.View, a.View, default, new AdamWOptions { WeightDecay = -0.1 }, 1));
    }
}
