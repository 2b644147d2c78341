using ILGPU;
using ILGPU.Algorithms;

namespace GpuNet.Kernels;

// The parameters and the per-pixel transforms, shared by the ILGPU kernel and the host engine: both call exactly these
// functions, so the host and the ILGPU results come from the same float32 expressions.
public static partial class Augment
{
    private const float DegreesToRadians = 0.017453292f; // π/180 in float32
    private const float TwoPi = 6.2831855f;

    /// <summary>The parameters of <paramref name="sample"/>: draws 0..3 are Philox block <c>sample·2^30</c>, draws 4..7 the next block.</summary>
    internal static SampleParams Draw(StageArgs a, int sample)
    {
        var p = new SampleParams();
        ulong quad = (ulong)(uint)sample << 30;
        if (a.Kind == (int)AugmentKind.Noise) return p; // per-pixel draws only
        var b = Philox.Block(a.Seed, a.Stream, quad);
        if (a.Kind == (int)AugmentKind.Flip)
        {
            p.I0 = Philox.ToUniform(b.X) < a.A ? 1 : 0;
        }
        else if (a.Kind == (int)AugmentKind.Shift)
        {
            int k = (int)a.A;
            p.I0 = IntBelow(b.X, 2 * k + 1) - k;
            p.I1 = IntBelow(b.Y, 2 * k + 1) - k;
        }
        else if (a.Kind == (int)AugmentKind.Rotate)
        {
            float degrees = a.A + Philox.ToUniform(b.X) * (a.B - a.A);
            p.F2 = degrees;
            CosSinDegrees(degrees, out p.F0, out p.F1);
        }
        else if (a.Kind == (int)AugmentKind.Erase)
        {
            p.I0 = Philox.ToUniform(b.X) < a.A ? 1 : 0;
            int h = a.Height, w = a.Width;
            float area = (a.B + Philox.ToUniform(b.Y) * (a.C - a.B)) * h * w;
            float logAspect = XMath.Log(a.D);
            float aspect = XMath.Exp((2f * Philox.ToUniform(b.Z) - 1f) * logAspect);
            int minRows = (int)XMath.Ceiling(area / w);
            int rows = Clamp((int)(XMath.Sqrt(area * aspect) + 0.5f), Max(1, minRows), h);
            int cols = Clamp((int)(area / rows + 0.5f), 1, w);
            p.I1 = IntBelow(b.W, h - rows + 1);
            var next = Philox.Block(a.Seed, a.Stream, quad + 1);
            p.I2 = IntBelow(next.X, w - cols + 1);
            p.I3 = rows;
            p.I4 = cols;
        }
        return p;
    }

    /// <summary>The output pixel <c>(y, x)</c> of a sample before the affine epilogue.</summary>
    internal static float Pixel<TPixels>(TPixels src, StageArgs a, SampleParams p, int sample, int y, int x)
        where TPixels : struct, IPixels
    {
        int h = a.Height, w = a.Width;
        if (a.Kind == (int)AugmentKind.Flip)
            return src.Get(y, p.I0 != 0 ? w - 1 - x : x);
        if (a.Kind == (int)AugmentKind.Shift)
        {
            int sy = y - p.I1, sx = x - p.I0;
            return sy >= 0 && sy < h && sx >= 0 && sx < w ? src.Get(sy, sx) : 0f;
        }
        if (a.Kind == (int)AugmentKind.Rotate)
        {
            float cx = (w - 1) * 0.5f, cy = (h - 1) * 0.5f;
            float u = x - cx, v = y - cy;
            float sx = p.F0 * u - p.F1 * v + cx;
            float sy = p.F1 * u + p.F0 * v + cy;
            float fx0 = XMath.Floor(sx), fy0 = XMath.Floor(sy);
            // Far outside the image (or NaN): nothing to sample. Keeps the int conversion below in range.
            if (!(fx0 >= -1f && fx0 <= w && fy0 >= -1f && fy0 <= h)) return 0f;
            int x0 = (int)fx0, y0 = (int)fy0;
            float fx = sx - fx0, fy = sy - fy0;
            float top = (1f - fx) * At(src, y0, x0, h, w) + fx * At(src, y0, x0 + 1, h, w);
            float bottom = (1f - fx) * At(src, y0 + 1, x0, h, w) + fx * At(src, y0 + 1, x0 + 1, h, w);
            return (1f - fy) * top + fy * bottom;
        }
        if (a.Kind == (int)AugmentKind.Erase)
        {
            bool inside = p.I0 != 0 && y >= p.I1 && y < p.I1 + p.I3 && x >= p.I2 && x < p.I2 + p.I4;
            return inside ? 0f : src.Get(y, x);
        }
        if (a.Kind == (int)AugmentKind.Noise)
        {
            // Box-Muller from draws 2i and 2i+1 of the sample (the same Philox block: words 0,1 or 2,3).
            int i = y * w + x;
            var b = Philox.Block(a.Seed, a.Stream, ((ulong)(uint)sample << 30) + (ulong)(i >> 1));
            uint r1 = (i & 1) == 0 ? b.X : b.Z;
            uint r2 = (i & 1) == 0 ? b.Y : b.W;
            float u1 = 1f - Philox.ToUniform(r1); // (0, 1]: the logarithm stays finite
            float z = XMath.Sqrt(-2f * XMath.Log(u1)) * XMath.Cos(TwoPi * Philox.ToUniform(r2));
            float value = src.Get(y, x) + a.A * z;
            return value < 0f ? 0f : value > 1f ? 1f : value;
        }
        return src.Get(y, x);
    }

    private static float At<TPixels>(TPixels src, int y, int x, int h, int w) where TPixels : struct, IPixels =>
        y >= 0 && y < h && x >= 0 && x < w ? src.Get(y, x) : 0f;

    /// <summary>cos and sin of an angle in degrees, exact (0, ±1) at multiples of 90 degrees.</summary>
    internal static void CosSinDegrees(float degrees, out float cos, out float sin)
    {
        float quarter = degrees / 90f;
        float whole = XMath.Floor(quarter);
        if (quarter == whole && XMath.Abs(whole) <= 16f)
        {
            int k = ((int)whole % 4 + 4) % 4;
            cos = k == 0 ? 1f : k == 2 ? -1f : 0f;
            sin = k == 1 ? 1f : k == 3 ? -1f : 0f;
            return;
        }
        float radians = degrees * DegreesToRadians;
        cos = XMath.Cos(radians);
        sin = XMath.Sin(radians);
    }

    /// <summary>An integer uniform in <c>[0, n)</c> from a random word: <c>floor((r &gt;&gt; 8) · n / 2^24)</c>, exact.</summary>
    internal static int IntBelow(uint r, int n) => (int)(((long)(r >> 8) * n) >> 24);

    private static int Clamp(int v, int lo, int hi) => v < lo ? lo : v > hi ? hi : v;

    private static int Max(int a, int b) => a > b ? a : b;
}
