using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class Gather
{
    // One thread per output element (grid-stride): consecutive threads copy consecutive elements of a row, so reads and
    // writes are coalesced within each row.
    [GpuKernel]
    private static void RowsKernel(ArrayView<float> src, ArrayView<int> indices, ArrayView<float> dst, RowArgs args)
    {
        long n = dst.Length;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += stride)
        {
            long r = i / args.RowLength;
            long j = i - r * args.RowLength;
            long row = indices[r];
            dst[i] = row >= 0 && row < args.SourceRows ? src[row * args.RowLength + j] * args.Scale + args.Shift : float.NaN;
        }
    }

    [GpuKernel]
    private static void ValuesKernel(ArrayView<int> src, ArrayView<int> indices, ArrayView<int> dst)
    {
        long n = dst.Length;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += stride)
        {
            int k = indices[i];
            dst[i] = k >= 0 && k < src.Length ? src[k] : -1;
        }
    }

    private static void RowsIlgpu(Device device, ArrayView<float> src, ArrayView<int> indices, ArrayView<float> dst, RowArgs args)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, RowArgs>(RowsKernel);
        kernel(device.Config1D(dst.Length), src, indices, dst, args);
        device.AfterLaunch();
    }

    private static void ValuesIlgpu(Device device, ArrayView<int> src, ArrayView<int> indices, ArrayView<int> dst)
    {
        var kernel = device.Kernel<ArrayView<int>, ArrayView<int>, ArrayView<int>>(ValuesKernel);
        kernel(device.Config1D(dst.Length), src, indices, dst);
        device.AfterLaunch();
    }
}
