using GpuNet.Kernels;
using GpuNet.Nn;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// The proximal L1 step (soft-thresholding) against a float64 reference on odd sizes on both CPU devices, a hand-computed
/// example with exact zeros, and wired into <see cref="Sgd"/> through <see cref="Regularization.ProximalL1"/>: the known
/// lasso solution of a tiny orthogonal problem, exact zeros where the subgradient only jitters, biases left alone.
/// </summary>
[Collection("devices")]
public class ProximalTests(DeviceFixture devices)
{

    public static TheoryData<string, int> DevicesAndSizes()
    {
        var data = new TheoryData<string, int>();
        foreach (string d in DeviceFixture.SpecsWithGpuShapes)
            foreach (int n in Data.OddSizes.Append(1000))
                data.Add(d, n);
        return data;
    }

    private static double Reference(double w, double t) => Math.Sign(w) * Math.Max(Math.Abs(w) - t, 0);

    [Theory]
    [MemberData(nameof(DevicesAndSizes))]
    public void Soft_threshold_matches_the_reference_and_zeroes_exactly_what_is_within_the_threshold(string spec, int n)
    {
        var device = devices.Get(spec);
        const float t = 0.25f;
        var w = Data.Uniform(n, n, -1f, 1f);
        using var tw = Tensor.FromArray(device, w, n);
        Proximal.SoftThreshold(device, tw.View, t);
        var got = tw.ToArray();
        Close.All(got, w.Select(v => Reference(v, t)).ToArray(), 1e-7, 1e-6, $"soft threshold on {spec}, n={n}");
        for (int i = 0; i < n; i++)
        {
            if (Math.Abs(w[i]) <= t) Assert.True(BitConverter.SingleToInt32Bits(got[i]) == 0, $"[{i}] {w[i]:R} -> {got[i]:R}, expected +0");
            else Assert.True(Math.Sign(got[i]) == Math.Sign(w[i]) && Math.Abs(got[i]) < Math.Abs(w[i]), $"[{i}] {w[i]:R} -> {got[i]:R}");
        }
    }

    [Theory]
    [InlineData("ilgpu-cpu")]
    [InlineData("cpu")]
    public void Soft_threshold_of_a_hand_computed_example(string spec)
    {
        var device = devices.Get(spec);
        float[] w = [0.5f, -0.5f, 0.1f, -0.1f, 0.05f, -0.05f, 0f, -0f, 2f, -3f, float.NaN];
        using var tw = Tensor.FromArray(device, w, w.Length);
        Proximal.SoftThreshold(device, tw.View, 0.1f);
        var got = tw.ToArray();
        // 0.5 - 0.1 in float32 is 0.4 to the last bit or so; ±0.1 and everything smaller become exactly +0.
        Close.All(got[..2], new double[] { 0.4, -0.4 }, 1e-7, 0, "0.5 and -0.5 shrink by 0.1");
        for (int i = 2; i < 8; i++) Assert.True(BitConverter.SingleToInt32Bits(got[i]) == 0, $"[{i}] {w[i]:R} -> {got[i]:R}, expected +0");
        Close.All(got[8..10], new double[] { 1.9, -2.9 }, 1e-6, 0, "2 and -3 shrink by 0.1");
        Assert.True(float.IsNaN(got[10]), "a NaN stays NaN");
    }

    [Theory]
    [InlineData("ilgpu-cpu")]
    [InlineData("cpu")]
    public void A_zero_threshold_leaves_the_weights_and_a_negative_one_throws(string spec)
    {
        var device = devices.Get(spec);
        var w = Data.Uniform(33, 5);
        using var tw = Tensor.FromArray(device, w, w.Length);
        Proximal.SoftThreshold(device, tw.View, 0f);
        Assert.Equal(w, tw.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => Proximal.SoftThreshold(device, tw.View, -0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => Proximal.SoftThreshold(device, tw.View, float.NaN));
    }

    // A lasso problem with a known answer: rows of a 4x4 Hadamard matrix as inputs (columns 1..3, so XᵀX/n = I) and
    // the objective mean((Xw + b - y)²) + l1·Σ|w|. With orthonormal columns and the bias column (column 0 of H) separate,
    // the solution is w_j = soft(c_j, l1/2) with c = Xᵀy/n, and b = mean(y). The gradient is set by hand each step, so
    // the test needs no loss module.
    private static readonly float[,] X = { { 1, 1, 1 }, { -1, 1, -1 }, { 1, -1, -1 }, { -1, -1, 1 } };
    private static readonly float[] Y = [1.5f, -0.3f, 0.9f, -0.5f];

    private static (float[] W, float Bias) Fit(Device device, Regularization reg, int steps, double lr = 0.1)
    {
        using var model = new Sequential(device, 3, 7, new Linear(3, 1));
        using var sgd = new Sgd(model.Parameters, lr) { Regularization = reg };
        var p = model.Parameters;
        for (int t = 0; t < steps; t++)
        {
            var v = p.Values.ToArray(); // [w0, w1, w2, b]: weights first, then the bias
            var g = new float[4];
            for (int r = 0; r < 4; r++)
            {
                double e = v[3] - Y[r];
                for (int j = 0; j < 3; j++) e += X[r, j] * v[j];
                for (int j = 0; j < 3; j++) g[j] += (float)(2 * e * X[r, j] / 4);
                g[3] += (float)(2 * e / 4);
            }
            p.Grads.CopyFrom(g);
            sgd.Step();
        }
        var final = p.Values.ToArray();
        return (final[..3], final[3]);
    }

    private static double[] LassoSolution(double l1)
    {
        var c = new double[3];
        for (int j = 0; j < 3; j++)
            for (int r = 0; r < 4; r++) c[j] += X[r, j] * Y[r] / 4;
        return c.Select(v => Reference(v, l1 / 2)).ToArray();
    }

    [Theory]
    [InlineData("ilgpu-cpu")]
    [InlineData("cpu")]
    public void Proximal_sgd_converges_to_the_lasso_solution_with_exact_zeros_and_leaves_the_bias_unpenalised(string spec)
    {
        var device = devices.Get(spec);
        const double l1 = 0.3;
        // c = Xᵀy/4 = [0.8, 0.2, 0.1] and l1/2 = 0.15, so the solution is [0.65, 0.05, 0]: one weight exactly zero.
        var expected = LassoSolution(l1);
        Close.All(expected.Select(v => (float)v).ToArray(), new double[] { 0.65, 0.05, 0 }, 1e-7, 0, "the hand-computed lasso solution");
        Assert.Contains(0.0, expected);
        Assert.Contains(expected, v => v != 0);
        var (w, b) = Fit(device, new Regularization(L1: l1, ProximalL1: true), 300);
        Close.All(w, expected, 1e-5, 1e-5, "proximal SGD vs the lasso solution");
        for (int j = 0; j < 3; j++)
            if (expected[j] == 0) Assert.True(w[j] == 0f, $"w[{j}] = {w[j]:R}, expected exactly 0");
        Close.Scalar(b, Y.Average(), 1e-5, 1e-5, "the bias is mean(y): not thresholded");

        // The subgradient step w -= lr·(2(w - c) + l1·sign(w)) has the lasso solution as its fixed point wherever that is
        // not zero, so those weights converge to it (contraction 1 - 2·lr per step); a weight whose solution is zero
        // jumps across zero instead, by at most lr·(2|c| + l1) = 0.05 here, and is never exactly zero.
        var (ws, _) = Fit(device, new Regularization(L1: l1), 300);
        for (int j = 0; j < 3; j++)
        {
            if (expected[j] != 0) Close.Scalar(ws[j], expected[j], 1e-5, 1e-5, $"subgradient w[{j}] vs the lasso solution");
            else Assert.True(ws[j] != 0f && Math.Abs(ws[j]) <= 0.1 * (2 * 0.1 + l1), $"subgradient w[{j}] = {ws[j]:R}; expected jitter within 0.05 of 0");
        }
    }

    [Fact]
    public void A_proximal_l1_penalty_is_refused_by_adaptive_optimizers_and_accepted_by_sgd_with_momentum()
    {
        using var model = new Sequential(devices.Host, 3, 1, new Linear(3, 2));
        var prox = new Regularization(L1: 1e-3, ProximalL1: true);
        using var adam = new Adam(model.Parameters);
        var e = Assert.Throws<NotSupportedException>(() => adam.Regularization = prox);
        Assert.Contains("proximal", e.Message);
        adam.Regularization = new Regularization(L1: 1e-3); // the subgradient is fine
        using var momentum = new Sgd(model.Parameters, 0.1, momentum: 0.9) { Regularization = prox };
        Assert.Equal("L1=0.001 (proximal)", momentum.Regularization.ToString());
    }
}
