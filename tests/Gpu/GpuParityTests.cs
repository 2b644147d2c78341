using ILGPU.Runtime;
using GpuNet.Kernels;

namespace GpuNet.Tests.Gpu;

/// <summary>
/// The kernels on a real GPU (CUDA or OpenCL) against the host engine. Skipped, with a reason, where no GPU is present:
/// CI has none, so these run only in the GPU checks of docs/gpu.md.
/// </summary>
[Collection("gpu")]
public class GpuParityTests
{
    [GpuFact]
    public void Dropout_masks_are_bit_identical_to_the_host_engine()
    {
        using var gpu = Device.Open(GpuFactAttribute.GpuSpec);
        using var host = Device.Open("cpu");
        const int n = 1_000_003;
        using var a = Tensor.Zeros(gpu, n);
        using var b = Tensor.Zeros(host, n);
        Dropout.GenerateMask(gpu, a.View, 0.7f, seed: 1234, stream: 5);
        Dropout.GenerateMask(host, b.View, 0.7f, seed: 1234, stream: 5);
        Assert.Equal(b.ToArray(), a.ToArray());
    }

    [GpuFact]
    public void Activations_match_the_host_engine()
    {
        using var gpu = Device.Open(GpuFactAttribute.GpuSpec);
        using var host = Device.Open("cpu");
        var x = Data.Uniform(100_003, 3, -5f, 5f);
        foreach (var kind in Enum.GetValues<ActivationKind>())
        {
            using var gx = Tensor.FromArray(gpu, x, x.Length);
            using var gy = Tensor.Zeros(gpu, x.Length);
            using var hx = Tensor.FromArray(host, x, x.Length);
            using var hy = Tensor.Zeros(host, x.Length);
            Activation.Forward(gpu, kind, gx.View, gy.View);
            Activation.Forward(host, kind, hx.View, hy.View);
            Close.All(gy.ToArray(), hy.ToArray(), 1e-6, 1e-5, $"{kind} on {gpu.Spec}");
        }
    }

    [GpuFact]
    public void Gemm_matches_the_host_engine_for_every_transpose()
    {
        using var gpu = Device.Open(GpuFactAttribute.GpuSpec);
        using var host = Device.Open("cpu");
        const int m = 257, n = 129, k = 300;
        var a = Data.Uniform(m * k, 1);
        var b = Data.Uniform(k * n, 2);
        foreach (var ta in new[] { Transpose.No, Transpose.Yes })
            foreach (var tb in new[] { Transpose.No, Transpose.Yes })
            {
                float[] Run(Device d)
                {
                    using var ta_ = Tensor.FromArray(d, a, a.Length);
                    using var tb_ = Tensor.FromArray(d, b, b.Length);
                    using var c = Tensor.Zeros(d, m * n);
                    Gemm.Run(d, ta, tb, m, n, k, 1f, ta_.View, tb_.View, 0f, c.View);
                    return c.ToArray();
                }
                // Sums of 300 products of values in [-1, 1]: float32 rounding differs by order, ~1e-5 absolute.
                Close.All(Run(gpu), Run(host), 1e-4, 1e-4, $"GEMM {ta}{tb} on {gpu.Spec}");
            }
    }

    [GpuFact]
    public void Softmax_cross_entropy_matches_the_host_engine()
    {
        using var gpu = Device.Open(GpuFactAttribute.GpuSpec);
        using var host = Device.Open("cpu");
        const int rows = 1000, classes = 10;
        var logits = Data.Uniform(rows * classes, 3, -20f, 20f);
        var labels = Data.Labels(rows, classes, 4);
        float[] Run(Device d)
        {
            using var z = Tensor.FromArray(d, logits, rows, classes);
            using var lab = d.Accelerator.Allocate1D(labels);
            using var rowLoss = Tensor.Zeros(d, rows);
            using var loss = Tensor.Zeros(d, 1);
            using var correct = d.Accelerator.Allocate1D<int>(1);
            using var dz = Tensor.Zeros(d, rows, classes);
            SoftmaxCrossEntropy.Forward(d, z.View, lab.View, rows, classes, rowLoss.View, loss.View, correct.View);
            SoftmaxCrossEntropy.Backward(d, z.View, lab.View, rows, classes, dz.View);
            return [.. rowLoss.ToArray(), .. dz.ToArray()];
        }
        Close.All(Run(gpu), Run(host), 1e-5, 1e-4, $"softmax cross-entropy on {gpu.Spec}");
    }
}
