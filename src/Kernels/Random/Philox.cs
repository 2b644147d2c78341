// Philox4x32-10: the counter-based generator behind every random number GpuNet draws on a device.
//
// Reference: J. K. Salmon, M. A. Moraes, R. O. Dror, D. E. Shaw, "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011 (the Random123 library). A 128-bit counter and a 64-bit key go through ten rounds of
//   (hi0, lo0) = mulhilo(M0, c0);  (hi1, lo1) = mulhilo(M1, c2)
//   c = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
// with the key bumped by the Weyl constants (k0 += W0, k1 += W1) between rounds.
//
// Addressing used by the whole project (so that a mask depends on nothing but where it is):
//   the random uint of element i of stream s under seed `seed` is word (i & 3) of
//   Philox(counter = (lo32(i >> 2), hi32(i >> 2), s, 0), key = (lo32(seed), hi32(seed))).
// One Philox call therefore serves four consecutive elements, and there is no generator state at all: the same
// (seed, stream, index) gives the same bits on every backend, group size and launch configuration.
//
// A uniform float in [0, 1) is (r >> 8) · 2^-24: the top 24 bits, exactly representable in a float32, so the
// conversion is exact everywhere and a comparison against it is bit-reproducible.

namespace GpuNet.Kernels;

/// <summary>The four 32-bit words of one Philox4x32 counter or output block.</summary>
/// <param name="X">Word 0.</param>
/// <param name="Y">Word 1.</param>
/// <param name="Z">Word 2.</param>
/// <param name="W">Word 3.</param>
public readonly record struct PhiloxBlock(uint X, uint Y, uint Z, uint W)
{
    /// <summary>Word <paramref name="k"/> (0..3) of the block; <c>k</c> is taken modulo 4.</summary>
    public uint Word(int k) => (k & 3) switch
    {
        0 => X,
        1 => Y,
        2 => Z,
        _ => W,
    };
}

/// <summary>
/// Philox4x32-10 (Salmon et al., SC 2011), callable from ILGPU kernels and from host code alike: static methods,
/// no arrays, no state. See the file header for how GpuNet addresses it by <c>(seed, stream, index)</c>.
/// </summary>
public readonly struct Philox
{
    /// <summary>Round multiplier applied to counter word 0.</summary>
    public const uint M0 = 0xD2511F53u;

    /// <summary>Round multiplier applied to counter word 2.</summary>
    public const uint M1 = 0xCD9E8D57u;

    /// <summary>Weyl increment of key word 0 (the golden ratio).</summary>
    public const uint W0 = 0x9E3779B9u;

    /// <summary>Weyl increment of key word 1 (sqrt(3) - 1).</summary>
    public const uint W1 = 0xBB67AE85u;

    /// <summary>2^-24: scales the top 24 bits of a random word into [0, 1).</summary>
    public const float UniformScale = 1f / 16777216f;

    /// <summary>Philox4x32 with ten rounds: the output block for <paramref name="counter"/> under the key (<paramref name="key0"/>, <paramref name="key1"/>).</summary>
    public static PhiloxBlock Generate(PhiloxBlock counter, uint key0, uint key1)
    {
        // Unrolled by hand: ten rounds, the key bumped between them (nine bumps). Rounds pass the block by value
        // (no refs, no arrays) so the ILGPU compiler keeps everything in registers.
        var c = Round(counter, key0, key1); key0 += W0; key1 += W1;
        c = Round(c, key0, key1); key0 += W0; key1 += W1;
        c = Round(c, key0, key1); key0 += W0; key1 += W1;
        c = Round(c, key0, key1); key0 += W0; key1 += W1;
        c = Round(c, key0, key1); key0 += W0; key1 += W1;
        c = Round(c, key0, key1); key0 += W0; key1 += W1;
        c = Round(c, key0, key1); key0 += W0; key1 += W1;
        c = Round(c, key0, key1); key0 += W0; key1 += W1;
        c = Round(c, key0, key1); key0 += W0; key1 += W1;
        return Round(c, key0, key1);
    }

    private static PhiloxBlock Round(PhiloxBlock c, uint k0, uint k1)
    {
        // mulhilo: the 64-bit products split into high and low words.
        ulong p0 = (ulong)M0 * c.X;
        ulong p1 = (ulong)M1 * c.Z;
        return new PhiloxBlock(
            (uint)(p1 >> 32) ^ c.Y ^ k0,
            (uint)p1,
            (uint)(p0 >> 32) ^ c.W ^ k1,
            (uint)p0);
    }

    /// <summary>
    /// The block that holds elements <c>4·quad .. 4·quad + 3</c> of <paramref name="stream"/> under <paramref name="seed"/>:
    /// <c>Philox(counter = (lo32(quad), hi32(quad), stream, 0), key = (lo32(seed), hi32(seed)))</c>.
    /// </summary>
    public static PhiloxBlock Block(ulong seed, uint stream, ulong quad) =>
        Generate(new PhiloxBlock((uint)quad, (uint)(quad >> 32), stream, 0u), (uint)seed, (uint)(seed >> 32));

    /// <summary>The random word of element <paramref name="index"/>: word <c>index &amp; 3</c> of <c>Block(seed, stream, index &gt;&gt; 2)</c>.</summary>
    public static uint Random(ulong seed, uint stream, ulong index) => Block(seed, stream, index >> 2).Word((int)(index & 3));

    /// <summary>Maps a random word to a float in [0, 1): <c>(r &gt;&gt; 8) · 2^-24</c>, exact in float32.</summary>
    public static float ToUniform(uint r) =>
        // Through int, not uint: C# converts a uint to float via a 64-bit float (conv.r.un), which would put f64
        // instructions into GPU kernels (and fail on OpenCL devices without fp64). r >> 8 < 2^24 fits an int exactly.
        (int)(r >> 8) * UniformScale;

    /// <summary>The uniform float in [0, 1) of element <paramref name="index"/>: <c>ToUniform(Random(seed, stream, index))</c>.</summary>
    public static float Uniform(ulong seed, uint stream, ulong index) => ToUniform(Random(seed, stream, index));
}
