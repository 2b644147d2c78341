using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class Bias
{
    // Elementwise over the whole matrix: consecutive threads touch consecutive elements (coalesced), and bias[c] is a
    // small vector that stays in cache.
    [GpuKernel]
    private static void AddKernel(ArrayView<float> y, ArrayView<float> bias, int cols)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < y.IntLength; i += stride)
            y[i] += bias[i % cols];
    }

    // One thread per column walking down the rows. Why not a group reduction per column: neighbouring threads read
    // neighbouring columns of the same row, so every load is coalesced, no shared memory or atomics are needed, and the
    // sum is deterministic. A layer has hundreds of columns and a batch hundreds of rows, so this fills a GPU well enough
    // for an op that is a rounding error next to the GEMM beside it.
    [GpuKernel]
    private static void GradientKernel(ArrayView<float> dy, ArrayView<float> dbias, int rows, int cols)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int c = Grid.GlobalIndex.X; c < cols; c += stride)
        {
            float sum = 0f;
            for (long i = c; i < (long)rows * cols; i += cols) sum += dy[i];
            dbias[c] += sum;
        }
    }

    private static void AddIlgpu(Device device, ArrayView<float> y, ArrayView<float> bias, int rows, int cols)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, int>(AddKernel);
        kernel(device.Config1D(y.Length), y, bias, cols);
        device.AfterLaunch();
    }

    private static void GradientIlgpu(Device device, ArrayView<float> dy, ArrayView<float> dbias, int rows, int cols)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, int, int>(GradientKernel);
        kernel(device.Config1D(cols), dy, dbias, rows, cols);
        device.AfterLaunch();
    }
}
