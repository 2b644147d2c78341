using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

[Collection("devices")]
public class AugmentTests(DeviceFixture devices)
{
    public static TheoryData<string> Specs() => DeviceFixture.Rows(DeviceFixture.SpecsWithGpuShapes);

    private const ulong Seed = 0x5EED_0123_4567ul;
    private const uint Stream = 77;

    /// <summary>Runs one stage on <paramref name="images"/> (count·h·w floats) with the given sample ids.</summary>
    private static float[] Run(Device device, AugmentStage stage, float[] images, int[] ids, int h, int w, float scale = 1f, float shift = 0f)
    {
        using var src = Tensor.FromArray(device, images, images.Length);
        using var dst = Tensor.Zeros(device, images.Length);
        using var sid = IntBuffers.Upload(device, ids);
        Augment.Apply(device, stage, src.View, dst.View, sid.View, h, w, Seed, Stream, scale, shift);
        return dst.ToArray();
    }

    private static int[] Ids(int count, int first = 0) => Enumerable.Range(first, count).ToArray();

    [Theory]
    [MemberData(nameof(Specs))]
    public void Flip_twice_is_the_identity_and_once_mirrors_each_row(string spec)
    {
        var device = devices.Get(spec);
        foreach (var (h, w) in new[] { (28, 28), (3, 5), (1, 1), (7, 4) })
        {
            var x = Data.Uniform(5 * h * w, h * 31 + w, 0f, 1f);
            var once = Run(device, AugmentStage.Flip(1f), x, Ids(5), h, w);
            Assert.Equal(x, Run(device, AugmentStage.Flip(1f), once, Ids(5), h, w));
            for (int s = 0; s < 5; s++)
                for (int y = 0; y < h; y++)
                    for (int c = 0; c < w; c++)
                        Assert.Equal(x[(s * h + y) * w + (w - 1 - c)], once[(s * h + y) * w + c]);
            Assert.Equal(x, Run(device, AugmentStage.Flip(0f), x, Ids(5), h, w));
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Random_flip_flips_about_p_of_the_samples_each_by_its_own_draw(string spec)
    {
        var device = devices.Get(spec);
        const int n = 400, h = 2, w = 3;
        var x = Data.Uniform(n * h * w, 5, 0f, 1f);
        var ids = Ids(n, first: 1000);
        var y = Run(device, AugmentStage.Flip(0.3f), x, ids, h, w);
        int flipped = 0;
        for (int s = 0; s < n; s++)
        {
            bool expectFlip = Augment.Parameters(AugmentStage.Flip(0.3f), h, w, Seed, Stream, ids[s]).I0 == 1;
            bool isFlipped = y[s * 6] == x[s * 6 + 2] && y[s * 6 + 2] == x[s * 6];
            Assert.Equal(expectFlip, isFlipped);
            flipped += isFlipped ? 1 : 0;
        }
        // Binomial(400, 0.3): mean 120, sd 9.2.
        Assert.InRange(flipped, 120 - 40, 120 + 40);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Zero_shift_and_zero_rotation_are_the_identity(string spec)
    {
        var device = devices.Get(spec);
        var x = Data.Uniform(6 * 28 * 28, 9, 0f, 1f);
        Assert.Equal(x, Run(device, AugmentStage.Shift(0), x, Ids(6), 28, 28));
        Assert.Equal(x, Run(device, AugmentStage.Rotate(0, 0), x, Ids(6), 28, 28));
        Assert.Equal(x, Run(device, AugmentStage.Rotate(360, 360), x, Ids(6), 28, 28));
        Assert.Equal(x, Run(device, AugmentStage.Noise(0), x, Ids(6), 28, 28));
        Assert.Equal(x, Run(device, AugmentStage.Erase(0f), x, Ids(6), 28, 28));
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Shift_moves_each_image_by_its_drawn_offsets_and_fills_with_zero(string spec)
    {
        var device = devices.Get(spec);
        const int n = 20, h = 9, w = 7, k = 3;
        var x = Data.Uniform(n * h * w, 13, 0.1f, 1f);
        var y = Run(device, AugmentStage.Shift(k), x, Ids(n), h, w);
        var seen = new HashSet<int>();
        for (int s = 0; s < n; s++)
        {
            var p = Augment.Parameters(AugmentStage.Shift(k), h, w, Seed, Stream, s);
            Assert.InRange(p.I0, -k, k);
            Assert.InRange(p.I1, -k, k);
            seen.Add(p.I0);
            for (int r = 0; r < h; r++)
                for (int c = 0; c < w; c++)
                {
                    int sr = r - p.I1, sc = c - p.I0;
                    float expected = sr >= 0 && sr < h && sc >= 0 && sc < w ? x[(s * h + sr) * w + sc] : 0f;
                    Assert.Equal(expected, y[(s * h + r) * w + c]);
                }
        }
        Assert.True(seen.Count >= 4, "shifts should vary between samples");
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Rotation_by_90_degrees_is_exactly_a_transpose_and_reverse(string spec)
    {
        var device = devices.Get(spec);
        foreach (int side in new[] { 28, 5, 4 })
        {
            var x = Data.Uniform(3 * side * side, side, 0f, 1f);
            var y = Run(device, AugmentStage.Rotate(90, 90), x, Ids(3), side, side);
            // Counter-clockwise as displayed (numpy.rot90): out[i][j] = in[j][side-1-i].
            for (int s = 0; s < 3; s++)
                for (int i = 0; i < side; i++)
                    for (int j = 0; j < side; j++)
                        Assert.Equal(x[(s * side + j) * side + (side - 1 - i)], y[(s * side + i) * side + j]);
            var half = Run(device, AugmentStage.Rotate(180, 180), x, Ids(3), side, side);
            for (int s = 0; s < 3; s++)
                for (int i = 0; i < side * side; i++)
                    Assert.Equal(x[s * side * side + side * side - 1 - i], half[s * side * side + i]);
            var back = Run(device, AugmentStage.Rotate(-90, -90), y, Ids(3), side, side);
            Assert.Equal(x, back);
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Rotation_matches_a_float64_bilinear_reference(string spec)
    {
        var device = devices.Get(spec);
        const int n = 6, h = 28, w = 28;
        var stage = AugmentStage.Rotate(-30, 30);
        var x = Data.Uniform(n * h * w, 21, 0f, 1f);
        var y = Run(device, stage, x, Ids(n), h, w);
        var expected = new double[y.Length];
        for (int s = 0; s < n; s++)
        {
            double deg = Augment.Parameters(stage, h, w, Seed, Stream, s).F2;
            Assert.InRange(deg, -30, 30);
            double c = Math.Cos(deg * Math.PI / 180), sn = Math.Sin(deg * Math.PI / 180);
            double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
            double P(int r, int col) => r >= 0 && r < h && col >= 0 && col < w ? x[(s * h + r) * w + col] : 0;
            for (int r = 0; r < h; r++)
                for (int col = 0; col < w; col++)
                {
                    double sx = cx + c * (col - cx) - sn * (r - cy), sy = cy + sn * (col - cx) + c * (r - cy);
                    int x0 = (int)Math.Floor(sx), y0 = (int)Math.Floor(sy);
                    double fx = sx - x0, fy = sy - y0;
                    expected[(s * h + r) * w + col] = (1 - fy) * ((1 - fx) * P(y0, x0) + fx * P(y0, x0 + 1))
                        + fy * ((1 - fx) * P(y0 + 1, x0) + fx * P(y0 + 1, x0 + 1));
                }
        }
        Close.All(y, expected, 1e-4, 1e-4, $"{spec} rotation");
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Erasing_covers_the_requested_area_fraction(string spec)
    {
        var device = devices.Get(spec);
        const int n = 50, h = 28, w = 28;
        var ones = Enumerable.Repeat(1f, n * h * w).ToArray();
        foreach (float area in new[] { 0.02f, 0.1f, 0.25f, 0.5f, 1f })
        {
            var stage = AugmentStage.Erase(1f, area, area);
            var y = Run(device, stage, ones, Ids(n), h, w);
            for (int s = 0; s < n; s++)
            {
                var p = Augment.Parameters(stage, h, w, Seed, Stream, s);
                int zeros = 0, minR = h, maxR = -1, minC = w, maxC = -1;
                for (int r = 0; r < h; r++)
                    for (int c = 0; c < w; c++)
                        if (y[(s * h + r) * w + c] == 0f)
                        {
                            zeros++;
                            minR = Math.Min(minR, r); maxR = Math.Max(maxR, r);
                            minC = Math.Min(minC, c); maxC = Math.Max(maxC, c);
                        }
                // One rectangle, the drawn one, whose area is the requested fraction up to rounding one side
                // (at most half a row or column of the other side).
                Assert.Equal(p.I3 * p.I4, zeros);
                Assert.Equal((p.I1, p.I2, p.I1 + p.I3 - 1, p.I2 + p.I4 - 1), (minR, minC, maxR, maxC));
                double target = area * h * w;
                Assert.True(Math.Abs(zeros - target) <= Math.Max(p.I3, p.I4) / 2.0 + 0.5,
                    $"area {area}: erased {zeros} pixels ({p.I3}x{p.I4}), requested {target}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Noise_has_the_requested_standard_deviation_and_stays_in_range(string spec)
    {
        var device = devices.Get(spec);
        const int n = 20, h = 28, w = 28;
        var gray = Enumerable.Repeat(0.5f, n * h * w).ToArray();
        var y = Run(device, AugmentStage.Noise(0.1f), gray, Ids(n), h, w);
        double mean = y.Average(v => (double)v);
        double sd = Math.Sqrt(y.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(mean, 0.495, 0.505);
        Assert.InRange(sd, 0.097, 0.103);
        var big = Run(device, AugmentStage.Noise(2f), gray, Ids(n), h, w);
        Assert.All(big, v => Assert.InRange(v, 0f, 1f));
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Parameters_depend_on_the_sample_id_not_on_the_position_in_the_batch(string spec)
    {
        var device = devices.Get(spec);
        const int h = 8, w = 8;
        var stage = AugmentStage.Rotate(-20, 20);
        var x = Data.Uniform(4 * h * w, 3, 0f, 1f);
        var a = Run(device, stage, x, [7, 3, 9, 1], h, w);
        // The same images with their ids, in the reverse order.
        var reversed = new float[x.Length];
        for (int s = 0; s < 4; s++) Array.Copy(x, s * h * w, reversed, (3 - s) * h * w, h * w);
        var b = Run(device, stage, reversed, [1, 9, 3, 7], h, w);
        for (int s = 0; s < 4; s++)
            Assert.Equal(a.AsSpan(s * h * w, h * w).ToArray(), b.AsSpan((3 - s) * h * w, h * w).ToArray());
    }

    [Fact]
    public void Host_and_ilgpu_agree_bit_for_bit_on_every_stage_and_group_size()
    {
        const int n = 17, h = 28, w = 28;
        var x = Data.Uniform(n * h * w, 77, 0f, 1f);
        var ids = Enumerable.Range(0, n).Select(i => i * 7919 + 3).ToArray();
        AugmentStage[] stages =
        [
            AugmentStage.Flip(), AugmentStage.Shift(3), AugmentStage.Rotate(-15, 15), AugmentStage.Erase(0.7f, 0.05f, 0.3f),
            AugmentStage.Noise(0.05f),
        ];
        using var small = Device.Open("ilgpu-cpu", new DeviceOptions { GroupSize = 3 });
        foreach (var stage in stages)
        {
            var host = Run(devices.Host, stage, x, ids, h, w, 2.5f, -0.7f);
            var ilgpu = Run(devices.Ilgpu, stage, x, ids, h, w, 2.5f, -0.7f);
            Assert.True(host.AsSpan().SequenceEqual(ilgpu), $"{stage}: host and ILGPU differ");
            Assert.True(host.AsSpan().SequenceEqual(Run(small, stage, x, ids, h, w, 2.5f, -0.7f)), $"{stage}: group size 3 differs");
        }
    }

    [Fact]
    public void Apply_checks_its_arguments()
    {
        var device = devices.Host;
        using var a = Tensor.Zeros(device, 2 * 16);
        using var b = Tensor.Zeros(device, 2 * 16);
        using var ids = IntBuffers.Upload(device, [0, 1]);
        Assert.Throws<ArgumentException>(() => Augment.Apply(device, AugmentStage.Flip(), a.View, a.View, ids.View, 4, 4, 1, 0));
        Assert.Throws<ArgumentException>(() => Augment.Apply(device, AugmentStage.Flip(), a.View, b.View.SubView(0, 31), ids.View, 4, 4, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Augment.Apply(device, AugmentStage.Flip(), a.View, b.View, ids.View, 0, 4, 1, 0));
        Assert.Throws<ArgumentException>(() => Augment.Apply(device, default, a.View, b.View, ids.View, 4, 4, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => AugmentStage.Flip(1.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => AugmentStage.Erase(0.5f, 0.4f, 0.2f));
        Assert.Throws<ArgumentOutOfRangeException>(() => AugmentStage.Rotate(10, -10));
    }
}
