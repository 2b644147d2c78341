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
}
