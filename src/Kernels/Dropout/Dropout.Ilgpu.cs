using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class Dropout
{
    // Each thread owns whole Philox blocks (four consecutive elements), so one 10-round Philox call serves four mask
    // entries instead of one. Which thread computes a block does not matter: the block depends only on
    // (seed, stream, quad), so the mask is the same for every grid and group size.
    [GpuKernel]
    private static void MaskKernel(ArrayView<float> mask, MaskArgs args)
    {
        long n = mask.Length;
        long quads = (n + 3) >> 2;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long q = Grid.GlobalIndex.X; q < quads; q += stride)
        {
            var block = Philox.Block(args.Seed, args.Stream, (ulong)q);
            long i = q << 2;
            mask[i] = args.Keep(block.X);
            if (i + 1 < n) mask[i + 1] = args.Keep(block.Y);
            if (i + 2 < n) mask[i + 2] = args.Keep(block.Z);
            if (i + 3 < n) mask[i + 3] = args.Keep(block.W);
        }
    }

    // y = x·m·scale: scale is 1 (standard) or 1/pKeep (inverted), so one kernel serves both modes.
    [GpuKernel]
    private static void ApplyKernel(ArrayView<float> x, ArrayView<float> mask, ArrayView<float> y, float scale)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < x.IntLength; i += stride)
            y[i] = x[i] * mask[i] * scale;
    }

    [GpuKernel]
    private static void ScaleKernel(ArrayView<float> x, ArrayView<float> y, float scale)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < x.IntLength; i += stride)
            y[i] = x[i] * scale;
    }

    [GpuKernel]
    private static void BackwardKernel(ArrayView<float> dy, ArrayView<float> mask, ArrayView<float> dx, float scale)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < dy.IntLength; i += stride)
            dx[i] += dy[i] * mask[i] * scale;
    }

    private static void GenerateMaskIlgpu(Device device, ArrayView<float> mask, MaskArgs args)
    {
        var kernel = device.Kernel<ArrayView<float>, MaskArgs>(MaskKernel);
        kernel(device.Config1D((mask.Length + 3) >> 2), mask, args);
        device.AfterLaunch();
    }

    private static void ApplyIlgpu(Device device, ArrayView<float> x, ArrayView<float> mask, ArrayView<float> y, float scale)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, float>(ApplyKernel);
        kernel(device.Config1D(x.Length), x, mask, y, scale);
        device.AfterLaunch();
    }

    private static void ScaleIlgpu(Device device, ArrayView<float> x, ArrayView<float> y, float scale)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, float>(ScaleKernel);
        kernel(device.Config1D(x.Length), x, y, scale);
        device.AfterLaunch();
    }

    private static void BackwardIlgpu(Device device, ArrayView<float> dy, ArrayView<float> mask, ArrayView<float> dx, float scale)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, float>(BackwardKernel);
        kernel(device.Config1D(dy.Length), dy, mask, dx, scale);
        device.AfterLaunch();
    }
}
