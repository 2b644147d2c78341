using GpuNet.Kernels;
using GpuNet.Nn;
using GpuNet.Tests.Kernels;

namespace GpuNet.Tests.Nn;

[Collection("devices")]
public class NnTests(DeviceFixture devices)
{

    [Fact]
    public void Parameters_have_pytorch_names_layouts_and_default_init()
    {
        using var model = new Sequential(devices.Host, 784, 7, new Linear(784, 256), new ReLU(), new Linear(256, 10));
        var names = model.Parameters.Parameters.Select(p => p.Name).ToArray();
        Assert.Equal(["0.weight", "2.weight", "0.bias", "2.bias"], names); // weights first, then biases
        Assert.Equal([256, 784], model.Parameters["0.weight"].Shape);
        Assert.Equal([10], model.Parameters["2.bias"].Shape);
        Assert.Equal(784 * 256 + 256 + 256 * 10 + 10, model.ParameterCount);
        Assert.Equal(784 * 256 + 256 * 10, model.Parameters.WeightCount);

        var w = model.Parameters["0.weight"].Value.ToArray();
        double bound = 1 / Math.Sqrt(784);
        Assert.All(w, v => Assert.InRange(v, -bound, bound));
        // U(-b, b) has mean 0 and variance b²/3: check both within 5 standard errors.
        double mean = w.Average(v => (double)v), variance = w.Average(v => (double)v * v);
        Assert.InRange(mean, -5 * bound / Math.Sqrt(3 * w.Length), 5 * bound / Math.Sqrt(3 * w.Length));
        Assert.InRange(variance, bound * bound / 3 * 0.98, bound * bound / 3 * 1.02);
        var b = model.Parameters["0.bias"].Value.ToArray();
        Assert.All(b, v => Assert.InRange(v, -bound, bound));
        Assert.Contains(b, v => v != 0);

        using var same = new Sequential(devices.Host, 784, 7, new Linear(784, 256), new ReLU(), new Linear(256, 10));
        using var other = new Sequential(devices.Host, 784, 8, new Linear(784, 256), new ReLU(), new Linear(256, 10));
        Assert.Equal(model.Parameters.Values.ToArray(), same.Parameters.Values.ToArray());
        Assert.NotEqual(model.Parameters.Values.ToArray(), other.Parameters.Values.ToArray());
    }

    [Fact]
    public void Layers_that_do_not_fit_are_rejected_with_a_clear_message()
    {
        var e = Assert.Throws<ArgumentException>(() => { new Sequential(devices.Host, 784, 1, new Linear(784, 256), new Linear(128, 10)).Dispose(); });
        Assert.Contains("Linear(128, 10)", e.Message);
        using var model = new Sequential(devices.Host, 4, 1, new Linear(4, 2));
        using var x = Tensor.Zeros(devices.Host, 3, 5);
        Assert.Throws<ArgumentException>(() => model.Forward(x));
    }

    public static TheoryData<string, bool> GradientCases() => new()
    {
        { "cpu", false }, { "ilgpu-cpu", false }, { "cpu", true }, { "ilgpu-cpu", true },
    };

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void Model_backward_matches_finite_differences(string spec, bool withDropout)
    {
        var device = devices.Get(spec);
        const int B = 6, D = 5, H = 7, C = 3;
        Module[] layers = withDropout
            ? [new Linear(D, H), new Tanh(), new GpuNet.Nn.Dropout(0.4f), new Linear(H, C)]
            : [new Linear(D, H), new Tanh(), new Linear(H, C)];
        using var model = new Sequential(device, D, 3, layers);
        using var loss = new CrossEntropyLoss(device);
        var xData = Data.Uniform(B * D, 4);
        int[] labels = [0, 2, 1, 1, 0, 2];
        using var x = Tensor.FromArray(device, xData, B, D);
        using var lab = IntBuffers.Upload(device, labels);

        model.Train();
        model.ZeroGrad();
        var logits = model.Forward(x);
        loss.Forward(logits, lab.View);
        model.Backward(loss.Backward(logits, lab.View));
        float[]? mask = withDropout ? ((GpuNet.Nn.Dropout)layers[2]).LastMask!.ToArray() : null;
        float pKeep = 0.6f;

        var w1 = D64(model.Parameters["0.weight"].Value.ToArray());
        var b1 = D64(model.Parameters["0.bias"].Value.ToArray());
        string last = withDropout ? "3" : "2";
        var w2 = D64(model.Parameters[last + ".weight"].Value.ToArray());
        var b2 = D64(model.Parameters[last + ".bias"].Value.ToArray());
        var xs = D64(xData);

        double F(double[] pw1, double[] pb1, double[] pw2, double[] pb2)
        {
            double total = 0;
            for (int r = 0; r < B; r++)
            {
                var h = new double[H];
                for (int j = 0; j < H; j++)
                {
                    double z = pb1[j];
                    for (int d = 0; d < D; d++) z += xs[r * D + d] * pw1[j * D + d];
                    h[j] = Math.Tanh(z) * (mask is null ? 1 : mask[r * H + j] / (double)pKeep);
                }
                var o = new double[C];
                for (int c = 0; c < C; c++)
                {
                    o[c] = pb2[c];
                    for (int j = 0; j < H; j++) o[c] += h[j] * pw2[c * H + j];
                }
                double max = o.Max();
                total += max + Math.Log(o.Sum(v => Math.Exp(v - max))) - o[labels[r]];
            }
            return total / B;
        }

        Close.Scalar(loss.ReadLoss(), F(w1, b1, w2, b2), 1e-5, 1e-5, "loss");
        Close.All(model.Parameters["0.weight"].Grad.ToArray(), FiniteDifference.Gradient(w1, p => F(p, b1, w2, b2)), 1e-5, 1e-3, "dW1");
        Close.All(model.Parameters["0.bias"].Grad.ToArray(), FiniteDifference.Gradient(b1, p => F(w1, p, w2, b2)), 1e-5, 1e-3, "db1");
        Close.All(model.Parameters[last + ".weight"].Grad.ToArray(), FiniteDifference.Gradient(w2, p => F(w1, b1, p, b2)), 1e-5, 1e-3, "dW2");
        Close.All(model.Parameters[last + ".bias"].Grad.ToArray(), FiniteDifference.Gradient(b2, p => F(w1, b1, w2, p)), 1e-5, 1e-3, "db2");
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void Sgd_with_l2_penalty_decays_weights_but_not_biases(string spec)
    {
        var device = devices.Get(spec);
        using var model = new Sequential(device, 3, 5, new Linear(3, 2));
        var w0 = model.Parameters["0.weight"].Value.ToArray();
        var b0 = model.Parameters["0.bias"].Value.ToArray();
        var g = Data.Uniform((int)model.ParameterCount, 6);
        model.Parameters.Grads.CopyFrom(g);
        using var sgd = new Sgd(model.Parameters, lr: 0.1) { Regularization = new Regularization(L2: 0.5) };
        sgd.Step();
        var gw = g.Take(6).ToArray();
        var gb = g.Skip(6).ToArray();
        Close.All(model.Parameters["0.weight"].Value.ToArray(), w0.Select((w, i) => w - 0.1 * (gw[i] + 0.5 * w)).ToArray(), 1e-7, 1e-6, "weights");
        Close.All(model.Parameters["0.bias"].Value.ToArray(), b0.Select((b, i) => b - 0.1 * gb[i]).ToArray(), 1e-7, 1e-6, "biases");
        double expectedPenalty = 0.25 * model.Parameters["0.weight"].Value.ToArray().Sum(v => (double)v * v);
        Close.Scalar(sgd.Regularization.Value(model.Parameters), expectedPenalty, 1e-9, 1e-6, "penalty value");
    }

    [Fact]
    public void Training_a_small_mlp_separates_two_blobs()
    {
        var device = devices.Host;
        const int n = 256;
        var rng = new Random(3);
        var xs = new float[n * 2];
        var ys = new int[n];
        for (int i = 0; i < n; i++)
        {
            ys[i] = i % 2;
            xs[2 * i] = (float)(rng.NextDouble() - 0.5 + (ys[i] == 0 ? -1.5 : 1.5));
            xs[2 * i + 1] = (float)(rng.NextDouble() - 0.5);
        }
        using var model = new Sequential(device, 2, 1, new Linear(2, 16), new ReLU(), new Linear(16, 2));
        using var loss = new CrossEntropyLoss(device);
        using var sgd = new Sgd(model.Parameters, lr: 0.1, momentum: 0.9);
        using var x = Tensor.FromArray(device, xs, n, 2);
        using var lab = IntBuffers.Upload(device, ys);
        float first = 0;
        for (int step = 0; step < 60; step++)
        {
            sgd.ZeroGrad();
            var logits = model.Forward(x);
            loss.Forward(logits, lab.View);
            if (step == 0) first = loss.ReadLoss();
            model.Backward(loss.Backward(logits, lab.View));
            sgd.Step();
        }
        model.Eval();
        loss.Forward(model.Forward(x), lab.View);
        Assert.True(loss.ReadLoss() < first / 5, $"loss went from {first} to {loss.ReadLoss()}");
        Assert.True(loss.ReadCorrect() >= n * 0.97, $"{loss.ReadCorrect()} of {n} correct");
    }

    [Fact]
    public void Learning_rate_schedules_match_pytorch()
    {
        var step = new StepSchedule(StepSize: 2, Gamma: 0.5);
        Assert.Equal([1.0, 1.0, 0.5, 0.5, 0.25], Enumerable.Range(0, 5).Select(e => step.At(e, 1.0)).ToArray());
        var cosine = new CosineSchedule(Epochs: 4, MinRate: 0.1);
        Close.Scalar(cosine.At(0, 1.0), 1.0, 1e-12, 0, "cosine start");
        Close.Scalar(cosine.At(2, 1.0), 0.55, 1e-12, 0, "cosine middle");
        Close.Scalar(cosine.At(4, 1.0), 0.1, 1e-12, 0, "cosine end");
    }

    private static double[] D64(float[] a) => a.Select(v => (double)v).ToArray();
}
