using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// A 2-layer MLP (x → Linear → Tanh/ReLU → Linear → softmax cross-entropy) put together from the kernels: GEMM, bias,
/// activation and the fused loss. Its backward, chained by hand as the training library will chain it, is checked against
/// central finite differences of an independent float64 forward written here.
/// </summary>
[Collection("devices")]
public class MlpGradientCheckTests(DeviceFixture devices)
{
    private const int B = 5, D = 7, H = 6, C = 4;

    public static TheoryData<string, ActivationKind> Cases() => new()
    {
        { "ilgpu-cpu", ActivationKind.Tanh },
        { "cpu", ActivationKind.Tanh },
        { "ilgpu-cpu", ActivationKind.Relu },
        { "cpu", ActivationKind.Relu },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_matches_finite_differences(string spec, ActivationKind act)
    {
        var device = devices.Get(spec);
        var x = Data.Uniform(B * D, 1);
        var w1 = Data.Uniform(H * D, 2, -0.8f, 0.8f);
        var b1 = Data.Uniform(H, 3, -0.3f, 0.3f);
        var w2 = Data.Uniform(C * H, 4, -0.8f, 0.8f);
        var b2 = Data.Uniform(C, 5, -0.3f, 0.3f);
        int[] labels = [0, 3, 1, 2, 3];

        var (dw1, db1, dw2, db2, loss) = KernelBackward(device, act, x, w1, b1, w2, b2, labels);
        double[] X = D64(x), W1 = D64(w1), B1 = D64(b1), W2 = D64(w2), B2 = D64(b2);
        Close.Scalar(loss, Loss(act, X, W1, B1, W2, B2, labels), 1e-5, 1e-5, "loss");

        // float32 kernels vs float64 differences: the error budget is float32 rounding of O(1) sums, ~1e-6.
        Close.All(dw1, FiniteDifference.Gradient(W1, p => Loss(act, X, p, B1, W2, B2, labels)), 1e-5, 1e-3, "dW1");
        Close.All(db1, FiniteDifference.Gradient(B1, p => Loss(act, X, W1, p, W2, B2, labels)), 1e-5, 1e-3, "db1");
        Close.All(dw2, FiniteDifference.Gradient(W2, p => Loss(act, X, W1, B1, p, B2, labels)), 1e-5, 1e-3, "dW2");
        Close.All(db2, FiniteDifference.Gradient(B2, p => Loss(act, X, W1, B1, W2, p, labels)), 1e-5, 1e-3, "db2");
    }

    private static (float[] dW1, float[] db1, float[] dW2, float[] db2, double loss) KernelBackward(Device device, ActivationKind act,
        float[] x, float[] w1, float[] b1, float[] w2, float[] b2, int[] labels)
    {
        using var tx = Tensor.FromArray(device, x, B, D);
        using var tw1 = Tensor.FromArray(device, w1, H, D);
        using var tb1 = Tensor.FromArray(device, b1, H);
        using var tw2 = Tensor.FromArray(device, w2, C, H);
        using var tb2 = Tensor.FromArray(device, b2, C);
        using var lab = IntBuffers.Upload(device, labels);
        using var z1 = Tensor.Zeros(device, B, H);
        using var a1 = Tensor.Zeros(device, B, H);
        using var z2 = Tensor.Zeros(device, B, C);
        using var rowLoss = Tensor.Zeros(device, B);
        using var loss = Tensor.Zeros(device, 1);
        using var correct = IntBuffers.Filled(device, 1, 0);

        // Forward: z1 = x·W1ᵀ + b1, a1 = f(z1), z2 = a1·W2ᵀ + b2 (PyTorch's [out, in] weight layout).
        Gemm.Run(device, Transpose.No, Transpose.Yes, B, H, D, 1f, tx.View, tw1.View, 0f, z1.View);
        Bias.Add(device, z1.View, tb1.View, B, H);
        Activation.Forward(device, act, z1.View, a1.View);
        Gemm.Run(device, Transpose.No, Transpose.Yes, B, C, H, 1f, a1.View, tw2.View, 0f, z2.View);
        Bias.Add(device, z2.View, tb2.View, B, C);
        SoftmaxCrossEntropy.Forward(device, z2.View, lab.View, B, C, rowLoss.View, loss.View, correct.View);

        // Backward, accumulating into zeroed gradients.
        using var dz2 = Tensor.Zeros(device, B, C);
        using var dw1 = Tensor.Zeros(device, H, D);
        using var db1 = Tensor.Zeros(device, H);
        using var dw2 = Tensor.Zeros(device, C, H);
        using var db2 = Tensor.Zeros(device, C);
        using var da1 = Tensor.Zeros(device, B, H);
        using var dz1 = Tensor.Zeros(device, B, H);
        SoftmaxCrossEntropy.Backward(device, z2.View, lab.View, B, C, dz2.View);
        Gemm.Run(device, Transpose.Yes, Transpose.No, C, H, B, 1f, dz2.View, a1.View, 1f, dw2.View); // dW2 += dz2ᵀ·a1
        Bias.Gradient(device, dz2.View, db2.View, B, C);
        Gemm.Run(device, Transpose.No, Transpose.No, B, H, C, 1f, dz2.View, tw2.View, 0f, da1.View); // da1 = dz2·W2
        Activation.Backward(device, act, z1.View, a1.View, da1.View, dz1.View);
        Gemm.Run(device, Transpose.Yes, Transpose.No, H, D, B, 1f, dz1.View, tx.View, 1f, dw1.View); // dW1 += dz1ᵀ·x
        Bias.Gradient(device, dz1.View, db1.View, B, H);
        return (dw1.ToArray(), db1.ToArray(), dw2.ToArray(), db2.ToArray(), loss.ToArray()[0]);
    }

    // The same network in float64, written independently of the kernels.
    private static double Loss(ActivationKind act, double[] x, double[] w1, double[] b1, double[] w2, double[] b2, int[] labels)
    {
        double total = 0;
        for (int r = 0; r < B; r++)
        {
            var a = new double[H];
            for (int h = 0; h < H; h++)
            {
                double z = b1[h];
                for (int d = 0; d < D; d++) z += x[r * D + d] * w1[h * D + d];
                a[h] = act == ActivationKind.Tanh ? Math.Tanh(z) : Math.Max(z, 0);
            }
            var logits = new double[C];
            for (int c = 0; c < C; c++)
            {
                double z = b2[c];
                for (int h = 0; h < H; h++) z += a[h] * w2[c * H + h];
                logits[c] = z;
            }
            double max = logits.Max();
            double lse = max + Math.Log(logits.Sum(v => Math.Exp(v - max)));
            total += lse - logits[labels[r]];
        }
        return total / B;
    }

    private static double[] D64(float[] a) => a.Select(v => (double)v).ToArray();
}
