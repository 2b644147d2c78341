using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class Proximal
{
    // A grid-stride loop, one launch over the whole view: the op is memory-bound (one read, one write per weight).
    [GpuKernel]
    private static void SoftThresholdKernel(ArrayView<float> w, float threshold)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < w.IntLength; i += stride)
            w[i] = ProximalRule.SoftThreshold(w[i], threshold);
    }

    private static void SoftThresholdIlgpu(Device device, ArrayView<float> w, float threshold)
    {
        var kernel = device.Kernel<ArrayView<float>, float>(SoftThresholdKernel);
        kernel(device.Config1D(w.Length), w, threshold);
        device.AfterLaunch();
    }
}
