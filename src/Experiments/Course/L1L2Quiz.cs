using GpuNet.Kernels;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// The course's quiz behind <c>l1-vs-l2</c>: a linear model <c>y = w·f</c> (no bias) on four identical or nearly identical
/// features of one signal <c>x</c>, trained with mean squared error by full-batch SGD through the library (Linear, MseLoss,
/// Sgd), without a penalty, with L2 and with a proximal L1 penalty, every run from the same initial weights.
/// </summary>
/// <remarks>
/// Three versions of "four copies of x": <b>identical</b> <c>f = [x, x, x, x]</c>; <b>noisy</b> <c>f_i = x + 0.01·ε_i</c>
/// (independent noise per copy); <b>gains</b> <c>f_i = g_i·x</c> with gains within 2% of 1 (the same sensor with four slightly
/// different calibrations). The target is <c>y = x + 0.01·ε</c>; <c>x</c> and every <c>ε</c> are standard normal, drawn
/// from Philox by the seed.
/// </remarks>
public static class L1L2Quiz
{
    /// <summary>The variants, in report order.</summary>
    public static readonly string[] Variants = ["identical", "noisy", "gains"];

    /// <summary>The penalties, in report order.</summary>
    public static readonly string[] Penalties = ["none", "l2", "l1"];

    /// <summary>Samples of <c>x</c>.</summary>
    public const int Samples = 1000;

    /// <summary>Features per sample.</summary>
    public const int Features = 4;

    /// <summary>The standard deviation of the target's noise.</summary>
    public const double TargetNoise = 0.01;

    /// <summary>The standard deviation of each copy's own noise in the <c>noisy</c> variant.</summary>
    public const double FeatureNoise = 0.01;

    /// <summary>The <c>gains</c> variant's gains: the first copy is 2% more sensitive than the second, which is 1% above the third.</summary>
    public static readonly float[] Gains = [1.02f, 1.00f, 0.99f, 0.98f];

    /// <summary>SGD's learning rate. The loss's curvature along <c>[1, 1, 1, 1]</c> is about <c>2·4 = 8</c>, so 0.2 is stable
    /// (0.25 is the limit) and contracts that direction by 0.6 per step.</summary>
    public const double LearningRate = 0.2;

    /// <summary>Full-batch steps per run: enough for the proximal L1 run of the <c>gains</c> variant to move all the weight
    /// onto one copy, which it does at a rate of about <c>lr·l1·(gain gap)</c> per step.</summary>
    public const int Steps = 8000;

    /// <summary>The L2 strength (PyTorch's <c>weight_decay</c>: the penalty is <c>(λ/2)·Σw²</c>).</summary>
    public const double L2 = 0.1;

    /// <summary>The L1 strength (the penalty is <c>λ·Σ|w|</c>), applied by soft-thresholding by <c>lr·λ</c> after each step.</summary>
    public const double L1 = 0.05;

    /// <summary>The weights are recorded every this many steps.</summary>
    public const int RecordEvery = 50;

    /// <summary>A data set of the quiz: <see cref="Samples"/> rows of <see cref="Features"/> features, row-major, and targets.</summary>
    /// <param name="Variant">identical, noisy or gains.</param>
    /// <param name="X">The features, <c>[Samples, 4]</c> row-major.</param>
    /// <param name="Y">The targets.</param>
    /// <param name="FeatureGains">The gains of the copies (all 1 except in the gains variant).</param>
    public sealed record Problem(string Variant, float[] X, float[] Y, float[] FeatureGains)
    {
        /// <summary>Rows.</summary>
        public int Rows => Y.Length;

        /// <summary>The sample second moments in float64: <c>G = XᵀX/n</c> and <c>c = Xᵀy/n</c>; the loss is <c>wᵀGw - 2cᵀw + const</c>.</summary>
        public (double[,] G, double[] C) Moments()
        {
            var g = new double[Features, Features];
            var c = new double[Features];
            for (int r = 0; r < Rows; r++)
                for (int i = 0; i < Features; i++)
                {
                    double xi = X[r * Features + i];
                    c[i] += xi * Y[r] / Rows;
                    for (int j = 0; j < Features; j++) g[i, j] += xi * X[r * Features + j] / Rows;
                }
            return (g, c);
        }
    }

    /// <summary>One trained run.</summary>
    /// <param name="Penalty">none, l2 or l1.</param>
    /// <param name="Initial">The initial weights (the same for every run of a seed).</param>
    /// <param name="Weights">The final weights.</param>
    /// <param name="Loss">The final mean squared error (without the penalty).</param>
    /// <param name="Steps">The steps at which <paramref name="Path"/> was recorded (0 is the start).</param>
    /// <param name="Path">The weights at those steps.</param>
    public sealed record Fit(string Penalty, float[] Initial, float[] Weights, double Loss, int[] Steps, float[][] Path)
    {
        /// <summary>Σw.</summary>
        public double Sum => Weights.Sum(v => (double)v);

        /// <summary>Σ|w|.</summary>
        public double L1Norm => Weights.Sum(v => Math.Abs((double)v));

        /// <summary>√Σw².</summary>
        public double L2Norm => Math.Sqrt(Weights.Sum(v => (double)v * v));

        /// <summary>Weights that are exactly 0.</summary>
        public int Zeros => Weights.Count(v => v == 0f);

        /// <summary>The largest weight's share of Σ|w|.</summary>
        public double DominantShare => L1Norm == 0 ? 0 : Weights.Max(v => Math.Abs((double)v)) / L1Norm;

        /// <summary>The index of the largest |w|.</summary>
        public int Dominant => Array.IndexOf(Weights, Weights.MaxBy(Math.Abs));
    }

    /// <summary>The data of <paramref name="variant"/> for <paramref name="seed"/>; <paramref name="gains"/> replaces <see cref="Gains"/>.</summary>
    /// <exception cref="ArgumentException">An unknown variant, or gains that are not four.</exception>
    public static Problem Make(string variant, int seed, float[]? gains = null)
    {
        gains ??= Gains;
        if (gains.Length != Features) throw new ArgumentException($"the quiz needs {Features} gains.", nameof(gains));
        if (!Variants.Contains(variant)) throw new ArgumentException($"unknown quiz variant '{variant}'.", nameof(variant));
        ulong s = (ulong)seed;
        var x = new float[Samples * Features];
        var y = new float[Samples];
        var g = variant == "gains" ? (float[])gains.Clone() : [1f, 1f, 1f, 1f];
        for (int r = 0; r < Samples; r++)
        {
            double v = Normal(s, 0, r);
            y[r] = (float)(v + TargetNoise * Normal(s, 1, r));
            for (int i = 0; i < Features; i++)
                x[r * Features + i] = variant switch
                {
                    "noisy" => (float)(v + FeatureNoise * Normal(s, 2 + (uint)i, r)),
                    "gains" => (float)(g[i] * v),
                    _ => (float)v,
                };
        }
        return new Problem(variant, x, y, g);
    }

    /// <summary>The regularisation of a penalty name.</summary>
    public static Regularization Penalty(string penalty) => penalty switch
    {
        "none" => Regularization.None,
        "l2" => new Regularization(L2: L2),
        "l1" => new Regularization(L1: L1, ProximalL1: true),
        _ => throw new ArgumentException($"unknown penalty '{penalty}'.", nameof(penalty)),
    };

    /// <summary>
    /// Trains <c>Linear(4, 1, bias=False)</c>, initialised from <paramref name="seed"/> (PyTorch's <c>U(-1/2, 1/2)</c> for
    /// four inputs), on the whole of <paramref name="problem"/> every step: MSE forward and backward, then SGD with the
    /// penalty (proximal L1: the SGD step, then soft-thresholding by <c>lr·λ</c>).
    /// </summary>
    public static Fit Train(Device device, Problem problem, string penalty, int seed, int steps = Steps, double learningRate = LearningRate)
    {
        ArgumentNullException.ThrowIfNull(problem);
        using var model = new Sequential(device, Features, (ulong)seed, new Linear(Features, 1, bias: false));
        using var sgd = new Sgd(model.Parameters, learningRate) { Regularization = Penalty(penalty) };
        using var mse = new MseLoss(device);
        using var x = Tensor.FromArray(device, problem.X, problem.Rows, Features);
        using var y = Tensor.FromArray(device, problem.Y, problem.Rows, 1);
        var initial = model.Parameters.Values.ToArray();
        var at = new List<int> { 0 };
        var path = new List<float[]> { initial };
        model.Train();
        for (int t = 1; t <= steps; t++)
        {
            var prediction = model.Forward(x);
            sgd.ZeroGrad();
            model.Backward(mse.Backward(prediction, y));
            sgd.Step();
            if (t % RecordEvery == 0 || t == steps)
            {
                at.Add(t);
                path.Add(model.Parameters.Values.ToArray());
            }
        }
        mse.Forward(model.Forward(x), y);
        double loss = mse.ReadLoss();
        return new Fit(penalty, initial, path[^1], loss, [.. at], [.. path]);
    }

    /// <summary>The L2 optimum in closed form: <c>(2G + λI)·w = 2c</c> (the gradient of <c>wᵀGw - 2cᵀw + (λ/2)|w|²</c> is zero).</summary>
    public static double[] RidgeOptimum(Problem problem, double l2 = L2)
    {
        var (g, c) = problem.Moments();
        var a = new double[Features, Features + 1];
        for (int i = 0; i < Features; i++)
        {
            for (int j = 0; j < Features; j++) a[i, j] = 2 * g[i, j] + (i == j ? l2 : 0);
            a[i, Features] = 2 * c[i];
        }
        // Gaussian elimination with partial pivoting: the matrix is symmetric positive definite for λ > 0.
        for (int k = 0; k < Features; k++)
        {
            int p = Enumerable.Range(k, Features - k).MaxBy(r => Math.Abs(a[r, k]));
            for (int j = 0; j <= Features; j++) (a[k, j], a[p, j]) = (a[p, j], a[k, j]);
            for (int r = k + 1; r < Features; r++)
            {
                double f = a[r, k] / a[k, k];
                for (int j = k; j <= Features; j++) a[r, j] -= f * a[k, j];
            }
        }
        var w = new double[Features];
        for (int i = Features - 1; i >= 0; i--)
        {
            double s = a[i, Features];
            for (int j = i + 1; j < Features; j++) s -= a[i, j] * w[j];
            w[i] = s / a[i, i];
        }
        return w;
    }

    /// <summary>
    /// The L1 optimum if it has one non-zero weight: for each copy <c>k</c> the candidate <c>w_k = (2c_k - λ)/(2G_kk)</c>, others 0,
    /// is optimal when every other copy's gradient stays within the threshold, <c>|2(Gw - c)_j| &lt;= λ</c> (the lasso's
    /// optimality conditions). Null when no candidate passes (the optimum is not one-sparse, or not unique).
    /// </summary>
    public static double[]? OneSparseLassoOptimum(Problem problem, double l1 = L1)
    {
        var (g, c) = problem.Moments();
        double[]? best = null;
        for (int k = 0; k < Features; k++)
        {
            double wk = (2 * c[k] - l1) / (2 * g[k, k]);
            if (wk <= 0) continue;
            bool optimal = true;
            for (int j = 0; j < Features && optimal; j++)
                if (j != k && Math.Abs(2 * (g[j, k] * wk - c[j])) > l1 * (1 - 1e-9)) optimal = false;
            if (!optimal) continue;
            if (best is not null) return null; // two one-sparse optima: the optimum is not unique
            best = new double[Features];
            best[k] = wk;
        }
        return best;
    }

    // A standard normal from two Philox uniforms (Box-Muller); 1 - u is in (0, 1], so the logarithm is finite.
    private static double Normal(ulong seed, uint stream, int index)
    {
        double u1 = 1 - (double)Philox.Uniform(seed, stream, 2 * (ulong)index);
        double u2 = Philox.Uniform(seed, stream, 2 * (ulong)index + 1);
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
