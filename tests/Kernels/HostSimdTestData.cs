using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

/// <summary>What the host-engine tests share: the SIMD widths to run, the row lengths to sweep, a bit-exact comparison.</summary>
internal static class HostSimdTestData
{
    /// <summary>The SIMD widths of the host engine that this processor runs: 0 (AVX-512), 1 (AVX2+FMA), 2 (Vector&lt;T&gt;, always).</summary>
    public static readonly int[] Widths =
        [.. new[] { 0, 1, 2 }.Where(w => w switch { 0 => Simd512.IsSupported, 1 => Simd256.IsSupported, _ => true })];

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
