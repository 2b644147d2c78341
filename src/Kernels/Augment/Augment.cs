using System.Globalization;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>The kinds of <see cref="AugmentStage"/>.</summary>
public enum AugmentKind
{
    /// <summary>Random horizontal flip.</summary>
    Flip = 1,
    /// <summary>Random translation by whole pixels, filling with 0 (pad and crop).</summary>
    Shift = 2,
    /// <summary>Random rotation about the image centre, bilinear, filling with 0.</summary>
    Rotate = 3,
    /// <summary>Random erasing (Zhong et al. 2020): a rectangle set to 0.</summary>
    Erase = 4,
    /// <summary>Additive Gaussian noise, clamped to [0, 1].</summary>
    Noise = 5,
}

/// <summary>
/// One augmentation and its parameters. Make one with the factories (<see cref="Flip"/>, <see cref="Shift"/>,
/// <see cref="Rotate"/>, <see cref="Erase"/>, <see cref="Noise"/>), which check them.
/// </summary>
/// <param name="Kind">What it does.</param>
/// <param name="A">First parameter: flip and erase probability, maximum shift, minimum angle, noise standard deviation.</param>
/// <param name="B">Second parameter: maximum angle, minimum erased area fraction.</param>
/// <param name="C">Third parameter: maximum erased area fraction.</param>
/// <param name="D">Fourth parameter: the largest aspect ratio of an erased rectangle (the smallest is 1/D).</param>
public readonly record struct AugmentStage(AugmentKind Kind, float A, float B = 0f, float C = 0f, float D = 0f)
{
    /// <summary>Flips an image left to right with probability <paramref name="probability"/>.</summary>
    public static AugmentStage Flip(float probability = 0.5f) => new(AugmentKind.Flip, CheckProbability(probability, nameof(probability)));

    /// <summary>Translates an image by <c>(dx, dy)</c>, each an integer uniform in <c>[-maxPixels, maxPixels]</c>; uncovered pixels are 0.</summary>
    public static AugmentStage Shift(int maxPixels)
    {
        if (maxPixels is < 0 or > 1024) throw new ArgumentOutOfRangeException(nameof(maxPixels), maxPixels, "the maximum shift must be in 0..1024 pixels.");
        return new(AugmentKind.Shift, maxPixels);
    }

    /// <summary>Rotates an image counter-clockwise by an angle uniform in <c>[minDegrees, maxDegrees]</c> (bilinear; outside is 0).</summary>
    public static AugmentStage Rotate(float minDegrees, float maxDegrees)
    {
        if (!(float.IsFinite(minDegrees) && float.IsFinite(maxDegrees) && minDegrees <= maxDegrees && Math.Abs(minDegrees) <= 360 && Math.Abs(maxDegrees) <= 360))
            throw new ArgumentOutOfRangeException(nameof(maxDegrees), $"the rotation range [{minDegrees}, {maxDegrees}] must be finite, ordered and within ±360 degrees.");
        return new(AugmentKind.Rotate, minDegrees, maxDegrees);
    }

    /// <summary>
    /// With probability <paramref name="probability"/>, sets to 0 a rectangle covering a fraction of the image uniform in
    /// <c>[minArea, maxArea]</c>, with an aspect ratio (height/width) log-uniform in <c>[1/maxAspect, maxAspect]</c>, placed
    /// uniformly where it fits. The defaults are torchvision's <c>RandomErasing</c>.
    /// </summary>
    public static AugmentStage Erase(float probability = 0.5f, float minArea = 0.02f, float maxArea = 0.33f, float maxAspect = 1f / 0.3f)
    {
        CheckProbability(probability, nameof(probability));
        if (!(minArea > 0 && minArea <= maxArea && maxArea <= 1))
            throw new ArgumentOutOfRangeException(nameof(minArea), $"the erased area fraction range [{minArea}, {maxArea}] must satisfy 0 < min <= max <= 1.");
        if (!(maxAspect >= 1 && maxAspect <= 100))
            throw new ArgumentOutOfRangeException(nameof(maxAspect), maxAspect, "the largest aspect ratio must be in [1, 100].");
        return new(AugmentKind.Erase, probability, minArea, maxArea, maxAspect);
    }

    /// <summary>Adds Gaussian noise of standard deviation <paramref name="std"/> to every pixel and clamps to [0, 1].</summary>
    public static AugmentStage Noise(float std)
    {
        if (!(std >= 0 && std <= 10)) throw new ArgumentOutOfRangeException(nameof(std), std, "the noise standard deviation must be in [0, 10].");
        return new(AugmentKind.Noise, std);
    }

    private static float CheckProbability(float p, string name)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(name, p, "a probability must be in [0, 1].");
        return p;
    }

    /// <summary>The stage as a pipeline spec entry (see <c>AugmentPipeline.Parse</c> in GpuNet.Data).</summary>
    public override string ToString()
    {
        static string F(float v) => v.ToString("0.######", CultureInfo.InvariantCulture);
        return Kind switch
        {
            AugmentKind.Flip => A == 0.5f ? "flip" : $"flip:{F(A)}",
            AugmentKind.Shift => $"shift:{F(A)}",
            AugmentKind.Rotate => A == -B ? $"rot:{F(B)}" : $"rot:{F(A)}..{F(B)}",
            AugmentKind.Erase => $"erase:{(B == C ? F(B) : $"{F(B)}-{F(C)}")}:{F(A)}",
            AugmentKind.Noise => $"noise:{F(A)}",
            _ => Kind.ToString(),
        };
    }
}

/// <summary>
/// Data augmentation applied per sample on the device: each image of a batch is transformed with parameters drawn from
/// Philox4x32-10 keyed by <c>(seed, stream, sample)</c>, where <c>sample</c> is the image's index in its dataset, so the
/// transform of a sample depends on nothing but the seed, the stream (the data loader derives it from the epoch and the
/// stage) and the sample: not on its batch, its position, the backend or the launch configuration.
/// </summary>
/// <remarks>
/// <para>
/// Random draw <c>d</c> of sample <c>n</c> is Philox element <c>index = n·2^32 + d</c> of the stream (see
/// <see cref="Philox"/>): draws 0..3 are one Philox block, 4..7 the next. Integers are taken from a draw's top 24 bits as
/// <c>floor(u24 · k / 2^24)</c>, exactly. The host engine and the ILGPU kernel call the same functions for the
/// parameters and for each pixel, so everything agrees bit for bit between the host and ILGPU's CPU accelerator. On
/// GPUs the draws and what follows from them by exact arithmetic (flip decisions, shifts, angles, whether to erase) are
/// bit-identical too; what goes through sine, cosine, exponential, logarithm or square root (the rotation, the erased
/// rectangle's sides, the noise) agrees to float rounding, since GPU math functions are not correctly rounded.
/// </para>
/// <para>
/// Images are <c>height × width</c> floats, row-major, one per sample, with pixel values in [0, 1] (0 is the black
/// background, which is also what uncovered and erased pixels get). Every stage ends with an affine map
/// <c>dst = value·outScale + outShift</c>, by which a pipeline's last stage normalises the batch.
/// </para>
/// </remarks>
public static partial class Augment
{
    /// <summary>
    /// Applies <paramref name="stage"/> to each image: <c>dst[s] = T(src[s]; params(seed, stream, sampleIds[s]))·outScale + outShift</c>
    /// for <c>s &lt; sampleIds.Length</c>, where the transform <c>T</c> is, for an output pixel <c>(y, x)</c> (0 outside the image):
    /// <list type="bullet">
    /// <item>flip: <c>src(y, W-1-x)</c> when <c>u0 &lt; p</c>, else <c>src(y, x)</c>;</item>
    /// <item>shift: <c>src(y - dy, x - dx)</c> with <c>dx = floor(u0·(2K+1)) - K</c>, <c>dy</c> the same from <c>u1</c>;</item>
    /// <item>rotate: bilinear <c>src</c> at <c>(cx + c·(x-cx) - s·(y-cy), cy + s·(x-cx) + c·(y-cy))</c>, <c>c = cos θ</c>,
    /// <c>s = sin θ</c>, <c>θ = min + u0·(max - min)</c> degrees (exact at multiples of 90°), <c>(cx, cy)</c> the centre
    /// <c>((W-1)/2, (H-1)/2)</c>: a counter-clockwise rotation as displayed;</item>
    /// <item>erase: 0 inside a rectangle of area <c>a·H·W</c>, <c>a = minArea + u1·(maxArea - minArea)</c>, aspect
    /// <c>r = exp((2·u2 - 1)·ln maxAspect)</c>, <c>h = clamp(round(sqrt(a·H·W·r)), ceil(a·H·W/W), H)</c>,
    /// <c>w = clamp(round(a·H·W/h), 1, W)</c>, top-left <c>(floor(u3·(H-h+1)), floor(u4·(W-w+1)))</c>, when <c>u0 &lt; p</c>;</item>
    /// <item>noise: <c>clamp(src(y, x) + σ·sqrt(-2 ln(1 - u_{2i}))·cos(2π·u_{2i+1}), 0, 1)</c>, <c>i = y·W + x</c>.</item>
    /// </list>
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="stage">The augmentation.</param>
    /// <param name="src">Input images, <c>sampleIds.Length · height · width</c> floats.</param>
    /// <param name="dst">Output images, same length; must not overlap <paramref name="src"/>.</param>
    /// <param name="sampleIds">Each image's sample index (its index in the dataset), which keys its random parameters; not negative.</param>
    /// <param name="height">Rows per image, at least 1.</param>
    /// <param name="width">Columns per image, at least 1.</param>
    /// <param name="seed">The Philox key.</param>
    /// <param name="stream">The Philox stream (the loader uses one per epoch and stage).</param>
    /// <param name="outScale">Multiplies each output (finite).</param>
    /// <param name="outShift">Is added to each output after scaling (finite).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, or outScale or outShift is not finite.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length, lives on another device, or <paramref name="dst"/> overlaps
    /// <paramref name="src"/>; or the stage is not one the factories make.</exception>
    public static void Apply(Device device, AugmentStage stage, ArrayView<float> src, ArrayView<float> dst, ArrayView<int> sampleIds,
        int height, int width, ulong seed, uint stream, float outScale = 1f, float outShift = 0f)
    {
        ArgumentNullException.ThrowIfNull(device);
        Check.Positive(height, nameof(height));
        Check.Positive(width, nameof(width));
        Check.Finite(outScale, nameof(outScale));
        Check.Finite(outShift, nameof(outShift));
        if (!Enum.IsDefined(stage.Kind))
            throw new ArgumentException($"unknown augmentation kind {(int)stage.Kind}.", nameof(stage));
        long length = sampleIds.Length * height * (long)width;
        Check.Length(src, length, nameof(src));
        Check.Length(dst, length, nameof(dst));
        Check.Device(device, src, nameof(src));
        Check.Device(device, dst, nameof(dst));
        Reduce.CheckDevice(device, sampleIds, nameof(sampleIds));
        if (length == 0) return;
        if (Overlap(src, dst))
            throw new ArgumentException("dst overlaps src; augmentation needs separate input and output.", nameof(dst));
        var args = new StageArgs(stage, seed, stream, height, width, outScale, outShift);
        if (device.UsesHostEngine) ApplyHost(device, src, dst, sampleIds, args);
        else ApplyIlgpu(device, src, dst, sampleIds, args);
    }

    // Device addresses (not dereferenced): two views overlap when their byte ranges do.
    private static unsafe bool Overlap(ArrayView<float> a, ArrayView<float> b)
    {
        long pa = (long)a.LoadEffectiveAddressAsPtr(), pb = (long)b.LoadEffectiveAddressAsPtr();
        return pa < pb + b.LengthInBytes && pb < pa + a.LengthInBytes;
    }

    /// <summary>The random parameters of one sample for a stage, as both backends compute them (for tests and previews).</summary>
    internal static SampleParams Parameters(AugmentStage stage, int height, int width, ulong seed, uint stream, int sample) =>
        Draw(new StageArgs(stage, seed, stream, height, width, 1f, 0f), sample);
}

/// <summary>The per-launch constants of a stage.</summary>
internal readonly struct StageArgs
{
    public readonly int Kind;
    public readonly ulong Seed;
    public readonly uint Stream;
    public readonly int Height;
    public readonly int Width;
    public readonly float A;
    public readonly float B;
    public readonly float C;
    public readonly float D;
    public readonly float OutScale;
    public readonly float OutShift;

    public StageArgs(AugmentStage stage, ulong seed, uint stream, int height, int width, float outScale, float outShift)
    {
        Kind = (int)stage.Kind;
        Seed = seed;
        Stream = stream;
        Height = height;
        Width = width;
        A = stage.A;
        B = stage.B;
        C = stage.C;
        D = stage.D;
        OutScale = outScale;
        OutShift = outShift;
    }
}

/// <summary>
/// One sample's parameters for a stage. Flip: <c>I0</c> = flip. Shift: <c>I0 = dx</c>, <c>I1 = dy</c>. Rotate:
/// <c>F0 = cos θ</c>, <c>F1 = sin θ</c>, <c>F2 = θ</c> in degrees. Erase: <c>I0</c> = apply, <c>I1</c> top, <c>I2</c> left,
/// <c>I3</c> height, <c>I4</c> width.
/// </summary>
internal struct SampleParams
{
    public int I0;
    public int I1;
    public int I2;
    public int I3;
    public int I4;
    public float F0;
    public float F1;
    public float F2;
}

/// <summary>Reads pixel <c>(y, x)</c> of one image; callers keep <c>y</c> and <c>x</c> inside it.</summary>
internal interface IPixels
{
    float Get(int y, int x);
}

/// <summary>An image inside a device view (the ILGPU kernel's source).</summary>
internal readonly struct ViewPixels : IPixels
{
    private readonly ArrayView<float> _view;
    private readonly long _offset;
    private readonly int _width;

    public ViewPixels(ArrayView<float> view, long offset, int width)
    {
        _view = view;
        _offset = offset;
        _width = width;
    }

    public float Get(int y, int x) => _view[_offset + (long)y * _width + x];
}

/// <summary>An image in host-addressable memory (the host engine's source).</summary>
internal readonly unsafe struct PointerPixels : IPixels
{
    private readonly float* _pixels;
    private readonly int _width;

    public PointerPixels(float* pixels, int width)
    {
        _pixels = pixels;
        _width = width;
    }

    public float Get(int y, int x) => _pixels[(long)y * _width + x];
}
