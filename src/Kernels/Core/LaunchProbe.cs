using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>
/// An empty kernel, for timing what a launch itself costs on a device (<c>gpunet check</c>): registered like every other
/// kernel, so the compile check covers it too.
/// </summary>
public static class LaunchProbe
{
    /// <summary>Does nothing: what is timed is the launch.</summary>
    [GpuKernel]
    private static void EmptyKernel(ArrayView<int> sink)
    {
    }

    /// <summary>
    /// Queues one launch of the empty kernel (one group of up to 32 threads) on <paramref name="device"/>'s stream without
    /// waiting for it. On the host engine, which launches no kernels, it does nothing.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="sink"/> is empty.</exception>
    public static void Launch(Device device, ArrayView<int> sink)
    {
        if (sink.Length < 1) throw new ArgumentException("the sink needs one element.", nameof(sink));
        if (device.UsesHostEngine) return;
        var kernel = device.Kernel<ArrayView<int>>(EmptyKernel);
        kernel(new KernelConfig(new Index1D(1), new Index1D(Math.Min(32, device.MaxGroupSize))), sink);
    }
}
