using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// One host-engine SIMD width as a theory row (0: AVX-512, 1: AVX2+FMA, 2: <see cref="System.Numerics.Vector{T}"/>). A width
/// this processor (or the runtime's settings, such as <c>DOTNET_EnableAVX512=0</c>) does not allow is reported as a skipped
/// test with the reason, so a run on a narrower machine says what it did not test instead of silently testing less.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class HostWidthDataAttribute : Xunit.Sdk.DataAttribute
{
    private readonly object _width;

    public HostWidthDataAttribute(int width)
    {
        _width = width;
        if (!HostSimdTestData.Supported(width))
            Skip = $"{HostSimdTestData.Name(width)} is not available on this processor (or is disabled by the runtime's settings): width {width} untested here";
    }

    public override IEnumerable<object[]> GetData(System.Reflection.MethodInfo testMethod) => [[_width]];
}

/// <summary>What the host-engine tests share: the SIMD widths to run, the row lengths to sweep, a bit-exact comparison.</summary>
internal static class HostSimdTestData
{
    /// <summary>Whether this processor runs host-engine SIMD width <paramref name="width"/>: 0 (AVX-512), 1 (AVX2+FMA),
    /// 2 (<see cref="System.Numerics.Vector{T}"/>, always).</summary>
    public static bool Supported(int width) => width switch { 0 => Simd512.IsSupported, 1 => Simd256.IsSupported, _ => true };

    /// <summary>The name of width <paramref name="width"/>, for skip reasons.</summary>
    public static string Name(int width) => width switch { 0 => "AVX-512", 1 => "AVX2+FMA", _ => "Vector<T>" };

    /// <summary>Every row length from 1 to 70 (every tail of every width, up to four 16-lane vectors and more), and some wide odd ones.</summary>
    public static readonly int[] RowLengths = [.. Enumerable.Range(1, 70), 257, 1000, 1031];

    /// <summary>Asserts that two arrays hold the same bits (so NaN equals NaN, and -0 does not equal +0).</summary>
    public static void SameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what}: element {i} is {actual[i]:R}, expected the bits of {expected[i]:R}");
    }
}
