using ILGPU;

namespace GpuNet.Kernels;

public static partial class Augment
{
    // Sample by sample: the parameters once per sample, then the same per-pixel function as the kernel. Samples are
    // split over the host threads in fixed blocks, so the result does not depend on the thread count.
    private static unsafe void ApplyHost(Device device, ArrayView<float> src, ArrayView<float> dst, ArrayView<int> sampleIds, StageArgs args)
    {
        float* s = HostView.Ptr(src);
        float* d = HostView.Ptr(dst);
        int* ids = HostView.Ptr(sampleIds);
        int pixels = args.Height * args.Width;
        HostParallel.ForRanges(device, sampleIds.Length, 8, (start, count) =>
        {
            for (long k = start; k < start + count; k++)
            {
                int sample = ids[k];
                var p = Draw(args, sample);
                var image = new PointerPixels(s + k * pixels, args.Width);
                float* o = d + k * pixels;
                for (int y = 0; y < args.Height; y++)
                    for (int x = 0; x < args.Width; x++)
                        o[y * args.Width + x] = Pixel(image, args, p, sample, y, x) * args.OutScale + args.OutShift;
            }
        });
    }
}
