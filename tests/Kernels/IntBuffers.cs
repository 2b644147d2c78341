using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Tests.Kernels;

/// <summary>Integer device buffers (labels, argmax results, counts) for kernel tests.</summary>
internal static class IntBuffers
{
    public static MemoryBuffer1D<int, Stride1D.Dense> Upload(Device device, int[] data) => device.Accelerator.Allocate1D(data);

    public static MemoryBuffer1D<int, Stride1D.Dense> Filled(Device device, int length, int value) =>
        device.Accelerator.Allocate1D(Enumerable.Repeat(value, length).ToArray());

    public static int[] Download(Device device, MemoryBuffer1D<int, Stride1D.Dense> buffer)
    {
        device.Synchronize();
        return buffer.GetAsArray1D();
    }

    /// <summary>Group sizes that the reductions must not depend on: 1, non-powers of two, and the CPU accelerator's maximum.</summary>
    public static readonly int[] GroupSizes = [1, 3, 7, 16];
}
