using ILGPU;

namespace GpuNet.Kernels;

public static partial class Gather
{
    // Row by row: each row is a contiguous copy with an affine map, which the JIT vectorises well enough for a batch
    // (a 64×784 batch is 200 KB); rows are split over the host threads in fixed blocks.
    private static unsafe void RowsHost(Device device, ArrayView<float> src, ArrayView<int> indices, ArrayView<float> dst, RowArgs args)
    {
        float* s = HostView.Ptr(src);
        float* d = HostView.Ptr(dst);
        int* idx = HostView.Ptr(indices);
        int length = args.RowLength;
        HostParallel.ForRanges(device, indices.Length, 64, (start, count) =>
        {
            for (long r = start; r < start + count; r++)
            {
                long row = idx[r];
                var to = new Span<float>(d + r * length, length);
                if (row < 0 || row >= args.SourceRows)
                {
                    to.Fill(float.NaN);
                    continue;
                }
                var from = new ReadOnlySpan<float>(s + row * length, length);
                for (int j = 0; j < length; j++) to[j] = from[j] * args.Scale + args.Shift;
            }
        });
    }

    private static void ValuesHost(ArrayView<int> src, ArrayView<int> indices, ArrayView<int> dst)
    {
        var s = HostView.Span(src);
        var idx = HostView.Span(indices);
        var d = HostView.Span(dst);
        for (int i = 0; i < d.Length; i++)
        {
            int k = idx[i];
            d[i] = k >= 0 && k < s.Length ? s[k] : -1;
        }
    }
}
