using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class Augment
{
    // One thread per output pixel (grid-stride over the batch): neighbouring threads write neighbouring pixels, so the
    // stores are coalesced, and a batch of 64 28×28 images gives 50,176 threads. Each thread recomputes its sample's
    // parameters (one or two Philox blocks): cheaper on a GPU than a second launch and a parameter buffer.
    [GpuKernel]
    private static void StageKernel(ArrayView<float> src, ArrayView<float> dst, ArrayView<int> sampleIds, StageArgs args)
    {
        long n = dst.Length;
        int pixels = args.Height * args.Width;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < n; i += stride)
        {
            long s = i / pixels;
            int within = (int)(i - s * pixels);
            int y = within / args.Width;
            int x = within - y * args.Width;
            int sample = sampleIds[s];
            var p = Draw(args, sample);
            float value = Pixel(new ViewPixels(src, s * pixels, args.Width), args, p, sample, y, x);
            dst[i] = value * args.OutScale + args.OutShift;
        }
    }

    private static void ApplyIlgpu(Device device, ArrayView<float> src, ArrayView<float> dst, ArrayView<int> sampleIds, StageArgs args)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, StageArgs>(StageKernel);
        kernel(device.Config1D(dst.Length), src, dst, sampleIds, args);
        device.AfterLaunch();
    }
}
