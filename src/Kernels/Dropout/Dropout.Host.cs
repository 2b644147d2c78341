using ILGPU;

namespace GpuNet.Kernels;

public static partial class Dropout
{
    // Scalar host loops with the same arithmetic as the kernels (same Philox blocks, same float32 expressions), so the
    // masks are bit-identical to the ILGPU ones. The SIMD versions come with the host engine.
    private static void GenerateMaskHost(ArrayView<float> mask, MaskArgs args)
    {
        var m = HostView.Span(mask);
        int n = m.Length;
        int quads = (int)(((long)n + 3) >> 2);
        for (int q = 0; q < quads; q++)
        {
            var block = Philox.Block(args.Seed, args.Stream, (ulong)q);
            int i = q << 2;
            m[i] = args.Keep(block.X);
            if (i + 1 < n) m[i + 1] = args.Keep(block.Y);
            if (i + 2 < n) m[i + 2] = args.Keep(block.Z);
            if (i + 3 < n) m[i + 3] = args.Keep(block.W);
        }
    }

    private static void ApplyHost(ArrayView<float> x, ArrayView<float> mask, ArrayView<float> y, float scale)
    {
        var xs = HostView.Span(x);
        var ms = HostView.Span(mask);
        var ys = HostView.Span(y);
        for (int i = 0; i < xs.Length; i++) ys[i] = xs[i] * ms[i] * scale;
    }

    private static void ScaleHost(ArrayView<float> x, ArrayView<float> y, float scale)
    {
        var xs = HostView.Span(x);
        var ys = HostView.Span(y);
        for (int i = 0; i < xs.Length; i++) ys[i] = xs[i] * scale;
    }

    private static void BackwardHost(ArrayView<float> dy, ArrayView<float> mask, ArrayView<float> dx, float scale)
    {
        var dys = HostView.Span(dy);
        var ms = HostView.Span(mask);
        var dxs = HostView.Span(dx);
        for (int i = 0; i < dys.Length; i++) dxs[i] += dys[i] * ms[i] * scale;
    }
}
