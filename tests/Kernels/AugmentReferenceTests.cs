using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// Augmentation parameters drawn by a test-side Philox4x32-10 (written here from Salmon et al., SC 2011, and checked
/// against a Random123 known answer), following the documented addressing: sample s's draws u0..u3 are the words of
/// block <c>s·2^30</c> of the stage's stream, u4.. the next block's. The kernels' output images are checked against
/// transforms built from these draws, so a wrong draw in the code under test cannot also be the expectation.
/// </summary>
[Collection("devices")]
public class AugmentReferenceTests(DeviceFixture devices)
{
    public static TheoryData<string> Specs() => DeviceFixture.Rows(DeviceFixture.SpecsWithGpuShapes);

    private const ulong Seed = 0xFEED_BEEF_1234ul;
    private const uint Stream = 5;

    /// <summary>Philox4x32-10 of (counter, key), the test's own.</summary>
    private static uint[] Philox(uint[] c, uint k0, uint k1)
    {
        c = (uint[])c.Clone();
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
            ulong p0 = 0xD2511F53ul * c[0], p1 = 0xCD9E8D57ul * c[2];
            c = [(uint)(p1 >> 32) ^ c[1] ^ k0, (uint)p1, (uint)(p0 >> 32) ^ c[3] ^ k1, (uint)p0];
        }
        return c;
    }

    /// <summary>The random words u0..u7 of <paramref name="sample"/>: blocks s·2^30 and s·2^30 + 1.</summary>
    private static uint[] Words(int sample)
    {
        ulong quad = (ulong)sample << 30;
        var first = Philox([(uint)quad, (uint)(quad >> 32), Stream, 0], unchecked((uint)Seed), (uint)(Seed >> 32));
        var second = Philox([(uint)(quad + 1), (uint)((quad + 1) >> 32), Stream, 0], unchecked((uint)Seed), (uint)(Seed >> 32));
        return [.. first, .. second];
    }

    private static double U(uint r) => (r >> 8) / 16777216.0;

    [Fact]
    public void The_test_philox_matches_a_random123_known_answer()
    {
        Assert.Equal([0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u],
            Philox([0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u], 0xa4093822u, 0x299f31d0u));
    }

    private static float[] Run(Device device, AugmentStage stage, float[] x, int n, int h, int w)
    {
        using var src = Tensor.FromArray(device, x, x.Length);
        using var dst = Tensor.Zeros(device, x.Length);
        using var ids = IntBuffers.Upload(device, Enumerable.Range(0, n).Select(i => 3 * i + 1).ToArray());
        Augment.Apply(device, stage, src.View, dst.View, ids.View, h, w, Seed, Stream);
        return dst.ToArray();
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Flip_and_shift_follow_the_reference_draws(string spec)
    {
        var device = devices.Get(spec);
        const int n = 64, h = 5, w = 6, k = 2;
        var x = Data.Uniform(n * h * w, 21, 0.1f, 1f);
        var flipped = Run(device, AugmentStage.Flip(0.4f), x, n, h, w);
        var shifted = Run(device, AugmentStage.Shift(k), x, n, h, w);
        int flips = 0;
        for (int s = 0; s < n; s++)
        {
            var u = Words(3 * s + 1);
            bool flip = U(u[0]) < 0.4;
            flips += flip ? 1 : 0;
            int dx = (int)Math.Floor(U(u[0]) * (2 * k + 1)) - k, dy = (int)Math.Floor(U(u[1]) * (2 * k + 1)) - k;
            for (int r = 0; r < h; r++)
                for (int c = 0; c < w; c++)
                {
                    int at = (s * h + r) * w + c;
                    Assert.Equal(x[(s * h + r) * w + (flip ? w - 1 - c : c)], flipped[at]);
                    int sr = r - dy, sc = c - dx;
                    Assert.Equal(sr >= 0 && sr < h && sc >= 0 && sc < w ? x[(s * h + sr) * w + sc] : 0f, shifted[at]);
                }
        }
        Assert.InRange(flips, 10, 45); // the draws really vary
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Erase_boxes_follow_the_reference_draws(string spec)
    {
        var device = devices.Get(spec);
        const int n = 40, h = 28, w = 28;
        var x = Data.Uniform(n * h * w, 22, 0.1f, 1f); // no zeros: an erased pixel is exactly the zeros
        var stage = AugmentStage.Erase(0.6f, 0.05f, 0.3f, 3f);
        var y = Run(device, stage, x, n, h, w);
        int erased = 0;
        for (int s = 0; s < n; s++)
        {
            var u = Words(3 * s + 1);
            bool apply = U(u[0]) < 0.6;
            // The documented formulas, in float32 as the kernel states them.
            float area = (0.05f + (float)U(u[1]) * (0.3f - 0.05f)) * h * w;
            float aspect = MathF.Exp((2f * (float)U(u[2]) - 1f) * MathF.Log(3f));
            int rows = Math.Clamp((int)(MathF.Sqrt(area * aspect) + 0.5f), Math.Max(1, (int)MathF.Ceiling(area / w)), h);
            int cols = Math.Clamp((int)(area / rows + 0.5f), 1, w);
            int top = (int)Math.Floor(U(u[3]) * (h - rows + 1)), left = (int)Math.Floor(U(u[4]) * (w - cols + 1));
            erased += apply ? 1 : 0;
            for (int r = 0; r < h; r++)
                for (int c = 0; c < w; c++)
                {
                    bool inside = apply && r >= top && r < top + rows && c >= left && c < left + cols;
                    int at = (s * h + r) * w + c;
                    Assert.True((inside ? 0f : x[at]) == y[at], $"sample {s} ({r},{c}): box {top},{left} {rows}x{cols}, apply {apply}, got {y[at]}");
                }
        }
        Assert.InRange(erased, 10, 35);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Rotation_angles_follow_the_reference_draws(string spec)
    {
        // The angle is min + u0·(max - min) in float32; the image side of rotation is checked against numpy.rot90 and
        // bilinear references in AugmentTests.
        var device = devices.Get(spec);
        const int n = 32;
        var stage = AugmentStage.Rotate(-40, 40);
        for (int s = 0; s < n; s++)
        {
            var u = Words(3 * s + 1);
            float degrees = -40f + (float)U(u[0]) * 80f;
            Assert.Equal(degrees, Augment.Parameters(stage, 28, 28, Seed, Stream, 3 * s + 1).F2);
        }
        // A 1×1 image is its own centre: any rotation keeps it.
        var one = Run(device, stage, [0.75f, 0.5f, 0.25f], 3, 1, 1);
        Assert.Equal([0.75f, 0.5f, 0.25f], one);
    }
}
