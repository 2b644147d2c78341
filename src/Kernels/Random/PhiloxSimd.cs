using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuNet.Kernels;

/// <summary>
/// Philox4x32-10 for the host engine, several blocks per SIMD register, bit-identical to <see cref="Philox.Generate"/>.
/// </summary>
/// <remarks>
/// <para>
/// Blocks are kept whole, in memory order: lanes <c>4j .. 4j+3</c> of a register are words X, Y, Z, W of block <c>j</c>
/// (four blocks in a Vector512&lt;uint&gt;, two in a Vector256). That layout suits a Philox round exactly. The round needs
/// the 64-bit products M0·X and M1·Z, and X and Z are the even lanes, which is what <c>vpmuludq</c> multiplies: one
/// instruction against the constant (M0, 0, M1, 0) gives, per block, the words (lo(M0·X), hi(M0·X), lo(M1·Z), hi(M1·Z)).
/// The new block (hi(M1·Z) ^ Y ^ k0, lo(M1·Z), hi(M0·X) ^ W ^ k1, lo(M0·X)) is those words reversed (<c>vpshufd</c>)
/// xor (Y, 0, W, 0) (the block shifted right by 32 bits per 64-bit lane) xor the key (k0, 0, k1, 0). Four instructions
/// per round for four blocks, and the output needs no transpose: word k of block q is element 4q + k.
/// </para>
/// <para>
/// As 64-bit lanes a block is (X | Y·2^32, Z | W·2^32) = (quad, stream), so the counters of consecutive quads are made
/// with 64-bit adds, carries included.
/// </para>
/// </remarks>
internal static class PhiloxSimd
{
    /// <summary>True when <see cref="Generate512"/> runs natively (AVX-512F).</summary>
    public static bool IsSupported512 => Avx512F.IsSupported;

    /// <summary>True when <see cref="Generate256"/> runs natively (AVX2).</summary>
    public static bool IsSupported256 => Avx2.IsSupported;

    /// <summary>
    /// <see cref="Philox.Block"/> for the host's scalar paths, in locals rather than through <see cref="PhiloxBlock"/> values
    /// (which the JIT does not keep in registers across the ten rounds): the same arithmetic, several times faster.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PhiloxBlock Block(ulong seed, uint stream, ulong quad)
    {
        uint x = (uint)quad, y = (uint)(quad >> 32), z = stream, w = 0u;
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)Philox.M0 * x;
            ulong p1 = (ulong)Philox.M1 * z;
            x = (uint)(p1 >> 32) ^ y ^ k0;
            y = (uint)p1;
            z = (uint)(p0 >> 32) ^ w ^ k1;
            w = (uint)p0;
            k0 += Philox.W0;
            k1 += Philox.W1;
        }
        return new PhiloxBlock(x, y, z, w);
    }

    /// <summary>The counters of quads <c>firstQuad .. firstQuad + 3</c> of <paramref name="stream"/>, one block per 128 bits.</summary>
    public static Vector512<ulong> Counters512(ulong firstQuad, uint stream) =>
        Vector512.Create(firstQuad, stream, firstQuad + 1, stream, firstQuad + 2, stream, firstQuad + 3, stream);

    /// <summary>The counters of quads <c>firstQuad</c> and <c>firstQuad + 1</c> of <paramref name="stream"/>.</summary>
    public static Vector256<ulong> Counters256(ulong firstQuad, uint stream) =>
        Vector256.Create(firstQuad, stream, firstQuad + 1, stream);

    /// <summary>The key of round 0, (k0, 0, k1, 0) per block, for <see cref="Generate512"/>.</summary>
    public static Vector512<uint> Key512(ulong seed)
    {
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        return Vector512.Create(k0, 0u, k1, 0u, k0, 0u, k1, 0u, k0, 0u, k1, 0u, k0, 0u, k1, 0u);
    }

    /// <summary>The key of round 0, (k0, 0, k1, 0) per block, for <see cref="Generate256"/>.</summary>
    public static Vector256<uint> Key256(ulong seed)
    {
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        return Vector256.Create(k0, 0u, k1, 0u, k0, 0u, k1, 0u);
    }

    /// <summary>
    /// Philox4x32-10 of eight registers of counter blocks (32 blocks, 128 elements) in place, under the round-0 key
    /// <paramref name="key"/> from <see cref="Key512"/>; see the class remarks for the layout.
    /// </summary>
    /// <remarks>
    /// A round is a chain of three dependent instructions (multiply, shuffle, xor), so one register alone leaves the
    /// multipliers idle most of the time. Eight independent registers per call fill them: on Zen 5 this ran at about
    /// 0.21 ns per element on one core against 0.28 with four registers, about one cycle per register and round, as if
    /// multiply and ternary logic shared two pipes and shuffle and shift the other two. Two other formulations measured
    /// slower on the same machine: blocks held as (X, W, Z, Y) with a two-source permute (<c>vpermt2d</c>; three
    /// instructions a round, 0.29 ns), and with a masked xor and one shuffle (0.31 ns: three instructions on the pipes
    /// of the multiply).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Generate512(ref Vector512<uint> c0, ref Vector512<uint> c1, ref Vector512<uint> c2, ref Vector512<uint> c3,
        ref Vector512<uint> c4, ref Vector512<uint> c5, ref Vector512<uint> c6, ref Vector512<uint> c7, Vector512<uint> key)
    {
        var bump = Vector512.Create(Philox.W0, 0u, Philox.W1, 0u, Philox.W0, 0u, Philox.W1, 0u,
            Philox.W0, 0u, Philox.W1, 0u, Philox.W0, 0u, Philox.W1, 0u);
        for (int round = 0; round < 10; round++)
        {
            c0 = Round512(c0, key);
            c1 = Round512(c1, key);
            c2 = Round512(c2, key);
            c3 = Round512(c3, key);
            c4 = Round512(c4, key);
            c5 = Round512(c5, key);
            c6 = Round512(c6, key);
            c7 = Round512(c7, key);
            key += bump;
        }
    }

    /// <summary>One round on four blocks: (hi(M1·Z) ^ Y ^ k0, lo(M1·Z), hi(M0·X) ^ W ^ k1, lo(M0·X)) per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Round512(Vector512<uint> c, Vector512<uint> key)
    {
        var m = Vector512.Create(Philox.M0, 0u, Philox.M1, 0u, Philox.M0, 0u, Philox.M1, 0u,
            Philox.M0, 0u, Philox.M1, 0u, Philox.M0, 0u, Philox.M1, 0u);
        var product = Avx512F.Multiply(c, m).AsUInt32();
        return Avx512F.Shuffle(product, 0b00_01_10_11) ^ Avx512F.ShiftRightLogical(c.AsUInt64(), 32).AsUInt32() ^ key;
    }

    /// <summary>
    /// The AVX2 form of <see cref="Generate512"/>: four registers of two blocks each (8 blocks, 32 elements) in place, under
    /// the round-0 key from <see cref="Key256"/>. Four, not eight: AVX2 has sixteen vector registers, not 32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Generate256(ref Vector256<uint> c0, ref Vector256<uint> c1, ref Vector256<uint> c2, ref Vector256<uint> c3,
        Vector256<uint> key)
    {
        var bump = Vector256.Create(Philox.W0, 0u, Philox.W1, 0u, Philox.W0, 0u, Philox.W1, 0u);
        for (int round = 0; round < 10; round++)
        {
            c0 = Round256(c0, key);
            c1 = Round256(c1, key);
            c2 = Round256(c2, key);
            c3 = Round256(c3, key);
            key += bump;
        }
    }

    /// <summary>One round on two blocks; see <see cref="Round512"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Round256(Vector256<uint> c, Vector256<uint> key)
    {
        var m = Vector256.Create(Philox.M0, 0u, Philox.M1, 0u, Philox.M0, 0u, Philox.M1, 0u);
        var product = Avx2.Multiply(c, m).AsUInt32();
        return Avx2.Shuffle(product, 0b00_01_10_11) ^ Avx2.ShiftRightLogical(c.AsUInt64(), 32).AsUInt32() ^ key;
    }
}
