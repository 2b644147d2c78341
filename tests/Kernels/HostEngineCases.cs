using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// One elementwise op of the host engine as a test case: how to make its input arrays for a length, how to run it on a
/// device over views of those arrays (the op reads some and updates others in place), and a float64 reference for the
/// arrays after the op (null entries are not checked).
/// </summary>
/// <param name="Name">What the case runs, for messages.</param>
/// <param name="Inputs">The arrays before the op, for a length and a seed.</param>
/// <param name="Run">Runs the op on a device over views holding the arrays.</param>
/// <param name="Reference">The expected arrays after the op, from the arrays before it, in float64.</param>
/// <param name="Atol">Absolute tolerance against the reference.</param>
/// <param name="Rtol">Relative tolerance against the reference.</param>
/// <param name="ExactVsKernel">True when the host must give the ILGPU kernel's bits exactly (everything but Tanh and Sigmoid forward).</param>
public sealed record HostCase(
    string Name,
    Func<int, int, float[][]> Inputs,
    Action<Device, ArrayView<float>[]> Run,
    Func<float[][], double[]?[]> Reference,
    double Atol,
    double Rtol,
    bool ExactVsKernel)
{
    public override string ToString() => Name;
}

/// <summary>The host engine's elementwise ops as <see cref="HostCase"/>s: activations, dropout and the optimizer steps.</summary>
public static class HostCases
{
    private const float Slope = 0.1f;
    private const ulong Seed = 0x0123_4567_89AB_CDEFul;

    public static IReadOnlyList<HostCase> All { get; } = Build();

    public static HostCase Get(string name) => All.Single(c => c.Name == name);

    private static double[] Map(float[] x, Func<double, double> f) => x.Select(v => f(v)).ToArray();

    private static double Sign(double x) => x > 0 ? 1 : x < 0 ? -1 : 0;

    private static double Activate(ActivationKind k, double x) => k switch
    {
        ActivationKind.Identity => x,
        ActivationKind.Relu => Math.Max(x, 0),
        ActivationKind.LeakyRelu => x > 0 ? x : Slope * x,
        ActivationKind.Tanh => Math.Tanh(x),
        ActivationKind.Sigmoid => 1 / (1 + Math.Exp(-x)),
        _ => throw new ArgumentOutOfRangeException(nameof(k)),
    };

    private static double Derivative(ActivationKind k, double x, double y) => k switch
    {
        ActivationKind.Identity => 1,
        ActivationKind.Relu => x > 0 ? 1 : 0,
        ActivationKind.LeakyRelu => x > 0 ? 1 : Slope,
        ActivationKind.Tanh => 1 - y * y,
        ActivationKind.Sigmoid => y * (1 - y),
        _ => throw new ArgumentOutOfRangeException(nameof(k)),
    };

    /// <summary>Uniform data with a few exact zeros (the kinks of ReLU and of sign(w)).</summary>
    private static float[] WithZeros(float[] a)
    {
        for (int i = 0; i < a.Length; i += 7) a[i] = 0f;
        return a;
    }

    private static float[] Nans(int n) => Enumerable.Repeat(float.NaN, n).ToArray();

    private static List<HostCase> Build()
    {
        var cases = new List<HostCase>();

        // ---- activations ----
        foreach (var kind in Enum.GetValues<ActivationKind>())
        {
            bool exact = kind is ActivationKind.Identity or ActivationKind.Relu or ActivationKind.LeakyRelu;
            cases.Add(new HostCase($"{kind} forward",
                (n, s) => [WithZeros(Data.Uniform(n, s, -8f, 8f)), Data.Uniform(n, s + 1)],
                (d, v) => Activation.Forward(d, kind, v[0], v[1], Slope),
                a => [null, Map(a[0], x => Activate(kind, x))],
                1e-6, 1e-5, exact));
            cases.Add(new HostCase($"{kind} backward",
                (n, s) =>
                {
                    var x = WithZeros(Data.Uniform(n, s, -4f, 4f));
                    var y = x.Select(v => (float)Activate(kind, v)).ToArray();
                    return [x, y, Data.Uniform(n, s + 1), Data.Uniform(n, s + 2)];
                },
                (d, v) => Activation.Backward(d, kind, v[0], v[1], v[2], v[3], Slope),
                a => [null, null, null, a[3].Select((dx, i) => dx + (double)a[2][i] * Derivative(kind, a[0][i], a[1][i])).ToArray()],
                1e-6, 1e-5, true));
        }

        // ---- dropout ----
        foreach (float pKeep in new[] { 0.7f, 1f })
        {
            cases.Add(new HostCase($"dropout mask pKeep={pKeep}",
                (n, s) => [Nans(n)],
                (d, v) => Dropout.GenerateMask(d, v[0], pKeep, Seed, 5),
                a => [Enumerable.Range(0, a[0].Length).Select(i => Philox.Uniform(Seed, 5, (ulong)i) < pKeep ? 1.0 : 0.0).ToArray()],
                0, 0, true));
        }
        foreach (var mode in Enum.GetValues<DropoutMode>())
        {
            const float pKeep = 0.7f;
            double scale = mode == DropoutMode.Inverted ? 1 / (double)pKeep : 1;
            Func<int, int, float[]> mask = (n, s) => Data.Uniform(n, s + 5).Select(v => v > -0.4f ? 1f : 0f).ToArray();
            cases.Add(new HostCase($"dropout train {mode}",
                (n, s) => [Data.Uniform(n, s, -3f, 3f), mask(n, s), Nans(n)],
                (d, v) => Dropout.ForwardTrain(d, mode, v[0], v[1], v[2], pKeep),
                a => [null, null, a[0].Select((x, i) => x * (double)a[1][i] * scale).ToArray()],
                1e-6, 1e-6, true));
            cases.Add(new HostCase($"dropout eval {mode}",
                (n, s) => [Data.Uniform(n, s, -3f, 3f), Nans(n)],
                (d, v) => Dropout.ForwardEval(d, mode, v[0], v[1], pKeep),
                a => [null, Map(a[0], x => mode == DropoutMode.Standard ? x * pKeep : x)],
                1e-6, 1e-6, true));
            cases.Add(new HostCase($"dropout backward {mode}",
                (n, s) => [Data.Uniform(n, s), mask(n, s), Data.Uniform(n, s + 1)],
                (d, v) => Dropout.Backward(d, mode, v[0], v[1], v[2], pKeep),
                a => [null, null, a[2].Select((dx, i) => dx + (double)a[0][i] * a[1][i] * scale).ToArray()],
                1e-6, 1e-6, true));
        }

        // ---- optimizers: one step from given state (step 1 must not read the state: it is NaN there) ----
        foreach (int step in new[] { 1, 2 })
        {
            float[][] OptimInputs(int n, int s, int states, bool positive)
            {
                var arrays = new float[2 + states][];
                arrays[0] = WithZeros(Data.Uniform(n, s, -2f, 2f));
                arrays[1] = Data.Uniform(n, s + 1);
                for (int k = 0; k < states; k++)
                    arrays[2 + k] = step == 1 ? Nans(n) : positive ? Data.Uniform(n, s + 2 + k, 1f, 2f) : Data.Uniform(n, s + 2 + k, -0.5f, 0.5f);
                return arrays;
            }

            foreach (var (label, o) in new (string, SgdOptions)[]
            {
                ("plain", new SgdOptions { LearningRate = 0.1 }),
                ("momentum, dampening", new SgdOptions { LearningRate = 0.1, Momentum = 0.9, Dampening = 0.3 }),
                ("nesterov, L2, L1", new SgdOptions { LearningRate = 0.05, Momentum = 0.8, Nesterov = true, WeightDecay = 0.01, L1 = 0.003 }),
            })
            {
                bool momentum = o.Momentum != 0;
                cases.Add(new HostCase($"sgd {label} step {step}",
                    (n, s) => OptimInputs(n, s, 1, false),
                    (d, v) => Optimizers.SgdStep(d, v[0], v[1], v[2], o, step),
                    a =>
                    {
                        int n = a[0].Length;
                        double[] w = new double[n], buf = new double[n];
                        for (int i = 0; i < n; i++)
                        {
                            double d = a[1][i] + o.WeightDecay * a[0][i] + o.L1 * Sign(a[0][i]);
                            if (momentum)
                            {
                                buf[i] = step == 1 ? d : o.Momentum * a[2][i] + (1 - o.Dampening) * d;
                                d = o.Nesterov ? d + o.Momentum * buf[i] : buf[i];
                            }
                            w[i] = a[0][i] - o.LearningRate * d;
                        }
                        return [w, null, momentum ? buf : null];
                    },
                    2e-6, 2e-5, true));
            }

            var ag = new AdagradOptions { LearningRate = 0.1, LearningRateDecay = 0.2, WeightDecay = 0.03, L1 = 0.01, InitialAccumulatorValue = 0.5, Epsilon = 0.1 };
            cases.Add(new HostCase($"adagrad step {step}",
                (n, s) => OptimInputs(n, s, 1, true),
                (d, v) => Optimizers.AdagradStep(d, v[0], v[1], v[2], ag, step),
                a =>
                {
                    int n = a[0].Length;
                    double[] w = new double[n], sum = new double[n];
                    double clr = ag.LearningRate / (1 + (step - 1) * ag.LearningRateDecay);
                    for (int i = 0; i < n; i++)
                    {
                        double d = a[1][i] + ag.WeightDecay * a[0][i] + ag.L1 * Sign(a[0][i]);
                        sum[i] = (step == 1 ? ag.InitialAccumulatorValue : a[2][i]) + d * d;
                        w[i] = a[0][i] - clr * d / (Math.Sqrt(sum[i]) + ag.Epsilon);
                    }
                    return [w, null, sum];
                },
                2e-6, 2e-5, true));

            foreach (var (label, o) in new (string, RmsPropOptions)[]
            {
                ("plain", new RmsPropOptions()),
                ("centered, momentum, L2, L1", new RmsPropOptions
                {
                    LearningRate = 0.005, Alpha = 0.9, Centered = true, Momentum = 0.5, WeightDecay = 0.02, L1 = 0.01, Epsilon = 0.1,
                }),
            })
            {
                bool momentum = o.Momentum > 0;
                cases.Add(new HostCase($"rmsprop {label} step {step}",
                    (n, s) =>
                    {
                        var arrays = OptimInputs(n, s, 3, true);
                        // The gradient average must stay below sqrt(sq) so that sq - gavg² >= 0 on step 2.
                        if (step == 2) arrays[4] = Data.Uniform(n, s + 9, -0.5f, 0.5f);
                        return arrays;
                    },
                    (d, v) => Optimizers.RmsPropStep(d, v[0], v[1], v[2], v[3], v[4], o, step),
                    a =>
                    {
                        int n = a[0].Length;
                        double[] w = new double[n], sq = new double[n], buf = new double[n], gavg = new double[n];
                        for (int i = 0; i < n; i++)
                        {
                            double sq0 = step == 1 ? 0 : a[2][i], buf0 = step == 1 ? 0 : a[3][i], gavg0 = step == 1 ? 0 : a[4][i];
                            double d = a[1][i] + o.WeightDecay * a[0][i] + o.L1 * Sign(a[0][i]);
                            sq[i] = o.Alpha * sq0 + (1 - o.Alpha) * d * d;
                            double avg = sq[i];
                            if (o.Centered)
                            {
                                gavg[i] = o.Alpha * gavg0 + (1 - o.Alpha) * d;
                                avg = sq[i] - gavg[i] * gavg[i];
                            }
                            double denom = Math.Sqrt(avg) + o.Epsilon;
                            if (momentum)
                            {
                                buf[i] = o.Momentum * buf0 + d / denom;
                                w[i] = a[0][i] - o.LearningRate * buf[i];
                            }
                            else
                            {
                                w[i] = a[0][i] - o.LearningRate * d / denom;
                            }
                        }
                        return [w, null, sq, momentum ? buf : null, o.Centered ? gavg : null];
                    },
                    // Centered RMSprop divides by sqrt(sq - gavg²), a difference of nearby numbers on step 1.
                    1e-5, 1e-4, true));
            }

            foreach (var (label, lr, b1, b2, eps, l2, decoupled, l1, amsgrad) in new (string, double, double, double, double, double, double, double, bool)[]
            {
                ("adam", 0.01, 0.9, 0.999, 1e-8, 0, 0, 0, false),
                ("adam amsgrad, L2, L1", 0.01, 0.8, 0.9, 1e-3, 0.1, 0, 0.01, true),
                ("adamw", 0.01, 0.9, 0.999, 1e-8, 0, 0.5, 0, false),
                ("adamw amsgrad, L1", 0.01, 0.8, 0.9, 1e-3, 0, 0.01, 0.05, true),
            })
            {
                cases.Add(new HostCase($"{label} step {step}",
                    (n, s) => OptimInputs(n, s, 3, true),
                    (d, v) =>
                    {
                        if (decoupled == 0)
                            Optimizers.AdamStep(d, v[0], v[1], v[2], v[3], v[4],
                                new AdamOptions { LearningRate = lr, Beta1 = b1, Beta2 = b2, Epsilon = eps, WeightDecay = l2, L1 = l1, Amsgrad = amsgrad }, step);
                        else
                            Optimizers.AdamWStep(d, v[0], v[1], v[2], v[3], v[4],
                                new AdamWOptions { LearningRate = lr, Beta1 = b1, Beta2 = b2, Epsilon = eps, WeightDecay = decoupled, L1 = l1, Amsgrad = amsgrad }, step);
                    },
                    a =>
                    {
                        int n = a[0].Length;
                        double[] w = new double[n], m = new double[n], v = new double[n], vmax = new double[n];
                        for (int i = 0; i < n; i++)
                        {
                            double m0 = step == 1 ? 0 : a[2][i], v0 = step == 1 ? 0 : a[3][i], vmax0 = step == 1 ? 0 : a[4][i];
                            double d = a[1][i] + l2 * a[0][i] + l1 * Sign(a[0][i]);
                            double wi = a[0][i] * (1 - lr * decoupled);
                            m[i] = b1 * m0 + (1 - b1) * d;
                            v[i] = b2 * v0 + (1 - b2) * d * d;
                            vmax[i] = Math.Max(vmax0, v[i]);
                            double mhat = m[i] / (1 - Math.Pow(b1, step));
                            double vhat = (amsgrad ? vmax[i] : v[i]) / (1 - Math.Pow(b2, step));
                            w[i] = wi - lr * mhat / (Math.Sqrt(vhat) + eps);
                        }
                        return [w, null, m, v, amsgrad ? vmax : null];
                    },
                    2e-6, 2e-5, true));
            }
        }
        // ---- proximal L1 step: |w| <= t becomes exactly 0, the rest shrinks by t towards 0 ----
        const float threshold = 0.3f;
        cases.Add(new HostCase("soft threshold",
            (n, s) =>
            {
                var w = WithZeros(Data.Uniform(n, s, -1f, 1f));
                for (int i = 3; i < n; i += 11) w[i] = i % 2 == 0 ? threshold : -threshold; // exactly at the threshold
                return [w];
            },
            (d, v) => Proximal.SoftThreshold(d, v[0], threshold),
            a => [Map(a[0], w => Sign(w) * Math.Max(Math.Abs(w) - threshold, 0))],
            1e-7, 1e-6, true));

        return cases;
    }
}

/// <summary>
/// Device memory for running <see cref="HostCase"/>s: a few slots, each a view at an offset that the caller picks (so
/// views start at every alignment), filled from and read back to host arrays.
/// </summary>
public sealed class HostCaseRunner : IDisposable
{
    private const int Slots = 5;
    private const int Pad = 32;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _buffer;
    private readonly int _capacity;

    public HostCaseRunner(Device device, int capacity)
    {
        Device = device;
        _capacity = capacity + Pad;
        _buffer = device.Allocate((long)Slots * _capacity);
    }

    public Device Device { get; }

    /// <summary>Runs <paramref name="c"/> on <paramref name="inputs"/>, its views starting <paramref name="offset"/> floats into each slot; returns every array after the op.</summary>
    public float[][] Run(HostCase c, float[][] inputs, int offset = 0)
    {
        int n = inputs[0].Length;
        Assert.True(n + offset <= _capacity && inputs.Length <= Slots);
        var views = new ArrayView<float>[inputs.Length];
        for (int k = 0; k < inputs.Length; k++)
        {
            views[k] = ((ArrayView<float>)_buffer.View).SubView((long)k * _capacity + offset, n);
            inputs[k].CopyTo(HostView.Span(views[k]));
        }
        c.Run(Device, views);
        Device.Synchronize();
        return views.Select(v => HostView.Span(v).ToArray()).ToArray();
    }

    public void Dispose() => _buffer.Dispose();
}
