using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuNet.Kernels;

// The row-wise host ops (losses, reductions, bias gradients, k-NN norms) see 16 float lanes on every processor: one
// Vector512 with AVX-512, two Vector256 (Simd256x2) with AVX2, four Vector128 (Simd128x4) elsewhere. Every row op is
// written once over ISimd, so with the same lane count it makes the same choices on every width (which rows go
// through the register transpose, where a row's tail starts, which lane accumulates which element), and the
// across-lane sums fold the 16 lanes in one fixed tree: lanes i and i+8, then i and i+4, i and i+2, i and i+1. Each
// lane's arithmetic is the same instruction sequence on every width (FMA always fused, the same exp polynomial), so
// the row ops give the same bits on every SIMD width, and with the GEMM and the elementwise ops (which never depended
// on the width) so does training. Before, a row's sum was added in 8 or 16 lanes as the width had them, and 195 of
// 205 runs of `run all` differed in their low bits between an AVX2 and an AVX-512 machine (docs/verdicts.md).

/// <summary>Sixteen float lanes as two <see cref="Vector256{T}"/>: lanes 0-7 in <see cref="Lo"/>, 8-15 in <see cref="Hi"/>.</summary>
internal readonly struct V256x2(Vector256<float> lo, Vector256<float> hi)
{
    public readonly Vector256<float> Lo = lo;
    public readonly Vector256<float> Hi = hi;
}

/// <summary>
/// <see cref="ISimd{TVec}"/> in 16 lanes on AVX2 and FMA: every operation on both halves, the across-lane operations in
/// the same tree as <see cref="Simd512"/>'s, so results match the AVX-512 path bit for bit.
/// </summary>
internal readonly unsafe struct Simd256x2 : ISimd<V256x2>
{
    public static bool IsSupported => Simd256.IsSupported;
    public static int Count => 16;
    public static V256x2 Zero => default;
    public static V256x2 Indices => new(Vector256<float>.Indices, Vector256<float>.Indices + Vector256.Create(8f));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 Broadcast(float value)
    {
        var v = Vector256.Create(value);
        return new(v, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256x2 Load(float* p) => new(Vector256.Load(p), Vector256.Load(p + 8));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* p, V256x2 value)
    {
        value.Lo.Store(p);
        value.Hi.Store(p + 8);
    }

    // The halves' masks compare the lane index with the count, so a count at or below 8 gives an empty upper mask; the
    // masked moves neither read nor write (nor fault on) the lanes a mask leaves out.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 TailMask(int count) => new(Simd256.TailMask(count), Simd256.TailMask(count - 8));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 LoadTail(float* p, int count, V256x2 fill) =>
        new(Simd256.LoadTail(p, count, fill.Lo), Simd256.LoadTail(p + 8, count - 8, fill.Hi));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 LoadInt32(int* p, int count, int fill) => new(Simd256.LoadInt32(p, count, fill), Simd256.LoadInt32(p + 8, count - 8, fill));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreTail(float* p, V256x2 value, int count)
    {
        Simd256.StoreTail(p, value.Lo, count);
        Simd256.StoreTail(p + 8, value.Hi, count - 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256x2 Add(V256x2 a, V256x2 b) => new(a.Lo + b.Lo, a.Hi + b.Hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256x2 Subtract(V256x2 a, V256x2 b) => new(a.Lo - b.Lo, a.Hi - b.Hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256x2 Multiply(V256x2 a, V256x2 b) => new(a.Lo * b.Lo, a.Hi * b.Hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256x2 Divide(V256x2 a, V256x2 b) => new(a.Lo / b.Lo, a.Hi / b.Hi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 MultiplyAdd(V256x2 a, V256x2 b, V256x2 c) =>
        new(Vector256.FusedMultiplyAdd(a.Lo, b.Lo, c.Lo), Vector256.FusedMultiplyAdd(a.Hi, b.Hi, c.Hi));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 MaxNative(V256x2 a, V256x2 b) => new(Vector256.MaxNative(a.Lo, b.Lo), Vector256.MaxNative(a.Hi, b.Hi));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 Equals(V256x2 a, V256x2 b) => new(Vector256.Equals(a.Lo, b.Lo), Vector256.Equals(a.Hi, b.Hi));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 LessThan(V256x2 a, V256x2 b) => new(Vector256.LessThan(a.Lo, b.Lo), Vector256.LessThan(a.Hi, b.Hi));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256x2 IsNaN(V256x2 a) => new(Vector256.IsNaN(a.Lo), Vector256.IsNaN(a.Hi));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256x2 Or(V256x2 a, V256x2 b) => new(a.Lo | b.Lo, a.Hi | b.Hi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 Select(V256x2 mask, V256x2 a, V256x2 b) =>
        new(Vector256.ConditionalSelect(mask.Lo, a.Lo, b.Lo), Vector256.ConditionalSelect(mask.Hi, a.Hi, b.Hi));

    /// <summary>One bit per lane, lane 0 lowest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Bits(V256x2 mask) => mask.Lo.ExtractMostSignificantBits() | mask.Hi.ExtractMostSignificantBits() << 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool AnySet(V256x2 mask) => (mask.Lo | mask.Hi).ExtractMostSignificantBits() != 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int FirstSet(V256x2 mask) => Math.Min(BitOperations.TrailingZeroCount(Bits(mask)), 16);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int CountSet(V256x2 mask) => BitOperations.PopCount(Bits(mask));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 Permute(V256x2 value, V256x2 indices) => new(Pick(value, indices.Lo.AsInt32()), Pick(value, indices.Hi.AsInt32()));

    /// <summary>Lane <c>index[i]</c> (0-15) of <paramref name="value"/> for each of 8 lanes: permute both halves by the low
    /// three bits, then take the upper half's where the index is 8 or more.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Pick(V256x2 value, Vector256<int> index)
    {
        var fromLo = Avx2.PermuteVar8x32(value.Lo, index);
        var fromHi = Avx2.PermuteVar8x32(value.Hi, index);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(index, Vector256.Create(7)).AsSingle(), fromHi, fromLo);
    }

    public static bool CanTranspose => true;

    /// <summary>16×16 as four 8×8 register transposes (<see cref="Transpose8"/>), each written to its quarter of the tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadTransposed(float* tile, float* rows, int cols, int n)
    {
        Transpose8(tile, rows, cols, cols, n);                                  // rows 0-7, columns 0-7
        Transpose8(tile + 8 * 16, rows + 8, cols, cols - 8, n);                 // rows 0-7, columns 8-15
        Transpose8(tile + 8, rows + 8 * cols, cols, cols, n - 8);               // rows 8-15, columns 0-7
        Transpose8(tile + 8 * 16 + 8, rows + 8 * cols + 8, cols, cols - 8, n - 8); // rows 8-15, columns 8-15
    }

    /// <summary>
    /// The transpose of an 8×8 block (rows <paramref name="stride"/> apart, the first <paramref name="cols"/> columns and
    /// <paramref name="n"/> rows valid, -inf elsewhere) into 8 rows of a 16-wide tile. The unpack, shuffle and 128-bit
    /// swap of <see cref="Simd256.LoadTransposed"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(float* tile, float* rows, int stride, int cols, int n)
    {
        var ninf = Vector256.Create(float.NegativeInfinity);
        if (n <= 0 || cols <= 0)
        {
            for (int r = 0; r < 8; r++) ninf.Store(tile + r * 16);
            return;
        }
        var r0 = Simd256.LoadTail(rows, cols, ninf);
        var r1 = n > 1 ? Simd256.LoadTail(rows + stride, cols, ninf) : ninf;
        var r2 = n > 2 ? Simd256.LoadTail(rows + 2 * stride, cols, ninf) : ninf;
        var r3 = n > 3 ? Simd256.LoadTail(rows + 3 * stride, cols, ninf) : ninf;
        var r4 = n > 4 ? Simd256.LoadTail(rows + 4 * stride, cols, ninf) : ninf;
        var r5 = n > 5 ? Simd256.LoadTail(rows + 5 * stride, cols, ninf) : ninf;
        var r6 = n > 6 ? Simd256.LoadTail(rows + 6 * stride, cols, ninf) : ninf;
        var r7 = n > 7 ? Simd256.LoadTail(rows + 7 * stride, cols, ninf) : ninf;
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1); var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5); var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE); var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE); var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).Store(tile); Avx.Permute2x128(u1, u5, 0x20).Store(tile + 16);
        Avx.Permute2x128(u2, u6, 0x20).Store(tile + 32); Avx.Permute2x128(u3, u7, 0x20).Store(tile + 48);
        Avx.Permute2x128(u0, u4, 0x31).Store(tile + 64); Avx.Permute2x128(u1, u5, 0x31).Store(tile + 80);
        Avx.Permute2x128(u2, u6, 0x31).Store(tile + 96); Avx.Permute2x128(u3, u7, 0x31).Store(tile + 112);
    }

    // The trees of Simd512: fold lanes i+8 onto i, then Simd256's folds of i+4, i+2, i+1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(V256x2 value) => Simd256.SumAcross(value.Lo + value.Hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(V256x2 value) => Simd256.MaxAcross(Vector256.MaxNative(value.Lo, value.Hi));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256x2 Exp(V256x2 x) => new(Simd256.Exp(x.Lo), Simd256.Exp(x.Hi));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256x2 Log(V256x2 x) => new(HostLog.Log(x.Lo), HostLog.Log(x.Hi));

    // The float64 accumulator's 8 lanes: 0-3 in Lo, 4-7 in Hi, as in the lower and upper halves of a Vector512<double>.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 AddWidenedLower(V256x2 acc, V256x2 v) =>
        new((acc.Lo.AsDouble() + Vector256.WidenLower(v.Lo)).AsSingle(), (acc.Hi.AsDouble() + Vector256.WidenUpper(v.Lo)).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256x2 AddWidenedUpper(V256x2 acc, V256x2 v) =>
        new((acc.Lo.AsDouble() + Vector256.WidenLower(v.Hi)).AsSingle(), (acc.Hi.AsDouble() + Vector256.WidenUpper(v.Hi)).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumAcrossWidened(V256x2 acc)
    {
        var h = acc.Lo.AsDouble() + acc.Hi.AsDouble();
        var q = h.GetLower() + h.GetUpper();
        return q.ToScalar() + q.GetElement(1);
    }
}

/// <summary>Sixteen float lanes as four <see cref="Vector128{T}"/>: lanes 0-3 in <see cref="A"/>, 4-7 in <see cref="B"/>, 8-11 in <see cref="C"/>, 12-15 in <see cref="D"/>.</summary>
internal readonly struct V128x4(Vector128<float> a, Vector128<float> b, Vector128<float> c, Vector128<float> d)
{
    public readonly Vector128<float> A = a;
    public readonly Vector128<float> B = b;
    public readonly Vector128<float> C = c;
    public readonly Vector128<float> D = d;
}

/// <summary>
/// <see cref="ISimd{TVec}"/> in 16 lanes on <see cref="Vector128{T}"/>: the portable path (SSE, NEON, or software). Tails,
/// permutes and the transpose go through memory, lane by lane; multiply-adds are fused wherever the processor has FMA
/// (<see cref="HostFma"/>), and then the results match the AVX-512 and AVX2 paths bit for bit.
/// </summary>
internal readonly unsafe struct Simd128x4 : ISimd<V128x4>
{
    public static bool IsSupported => true;
    public static int Count => 16;
    public static V128x4 Zero => default;

    public static V128x4 Indices
    {
        get
        {
            var i = Vector128<float>.Indices;
            return new(i, i + Vector128.Create(4f), i + Vector128.Create(8f), i + Vector128.Create(12f));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 Broadcast(float value)
    {
        var v = Vector128.Create(value);
        return new(v, v, v, v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 Load(float* p) => new(Vector128.Load(p), Vector128.Load(p + 4), Vector128.Load(p + 8), Vector128.Load(p + 12));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float* p, V128x4 value)
    {
        value.A.Store(p);
        value.B.Store(p + 4);
        value.C.Store(p + 8);
        value.D.Store(p + 12);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 TailMask(int count)
    {
        var c = Vector128.Create((float)count);
        var i = Vector128<float>.Indices;
        return new(Vector128.LessThan(i, c), Vector128.LessThan(i + Vector128.Create(4f), c),
            Vector128.LessThan(i + Vector128.Create(8f), c), Vector128.LessThan(i + Vector128.Create(12f), c));
    }

    public static V128x4 LoadTail(float* p, int count, V128x4 fill)
    {
        float* lanes = stackalloc float[16];
        Store(lanes, fill);
        for (int i = 0; i < count && i < 16; i++) lanes[i] = p[i];
        return Load(lanes);
    }

    public static V128x4 LoadInt32(int* p, int count, int fill)
    {
        float* lanes = stackalloc float[16];
        for (int i = 0; i < 16; i++) lanes[i] = i < count ? p[i] : fill;
        return Load(lanes);
    }

    public static void StoreTail(float* p, V128x4 value, int count)
    {
        float* lanes = stackalloc float[16];
        Store(lanes, value);
        for (int i = 0; i < count && i < 16; i++) p[i] = lanes[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128x4 Add(V128x4 x, V128x4 y) => new(x.A + y.A, x.B + y.B, x.C + y.C, x.D + y.D);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128x4 Subtract(V128x4 x, V128x4 y) => new(x.A - y.A, x.B - y.B, x.C - y.C, x.D - y.D);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128x4 Multiply(V128x4 x, V128x4 y) => new(x.A * y.A, x.B * y.B, x.C * y.C, x.D * y.D);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128x4 Divide(V128x4 x, V128x4 y) => new(x.A / y.A, x.B / y.B, x.C / y.C, x.D / y.D);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 MultiplyAdd(V128x4 x, V128x4 y, V128x4 z) =>
        new(HostFma.MultiplyAdd(x.A, y.A, z.A), HostFma.MultiplyAdd(x.B, y.B, z.B),
            HostFma.MultiplyAdd(x.C, y.C, z.C), HostFma.MultiplyAdd(x.D, y.D, z.D));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 MaxNative(V128x4 x, V128x4 y) =>
        new(Vector128.MaxNative(x.A, y.A), Vector128.MaxNative(x.B, y.B), Vector128.MaxNative(x.C, y.C), Vector128.MaxNative(x.D, y.D));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 Equals(V128x4 x, V128x4 y) =>
        new(Vector128.Equals(x.A, y.A), Vector128.Equals(x.B, y.B), Vector128.Equals(x.C, y.C), Vector128.Equals(x.D, y.D));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 LessThan(V128x4 x, V128x4 y) =>
        new(Vector128.LessThan(x.A, y.A), Vector128.LessThan(x.B, y.B), Vector128.LessThan(x.C, y.C), Vector128.LessThan(x.D, y.D));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 IsNaN(V128x4 x) => new(Vector128.IsNaN(x.A), Vector128.IsNaN(x.B), Vector128.IsNaN(x.C), Vector128.IsNaN(x.D));

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128x4 Or(V128x4 x, V128x4 y) => new(x.A | y.A, x.B | y.B, x.C | y.C, x.D | y.D);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 Select(V128x4 mask, V128x4 x, V128x4 y) =>
        new(Vector128.ConditionalSelect(mask.A, x.A, y.A), Vector128.ConditionalSelect(mask.B, x.B, y.B),
            Vector128.ConditionalSelect(mask.C, x.C, y.C), Vector128.ConditionalSelect(mask.D, x.D, y.D));

    /// <summary>One bit per lane, lane 0 lowest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Bits(V128x4 mask) =>
        mask.A.ExtractMostSignificantBits() | mask.B.ExtractMostSignificantBits() << 4
        | mask.C.ExtractMostSignificantBits() << 8 | mask.D.ExtractMostSignificantBits() << 12;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool AnySet(V128x4 mask) => Bits(mask) != 0;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int FirstSet(V128x4 mask) => Math.Min(BitOperations.TrailingZeroCount(Bits(mask)), 16);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int CountSet(V128x4 mask) => BitOperations.PopCount(Bits(mask));

    public static V128x4 Permute(V128x4 value, V128x4 indices)
    {
        float* source = stackalloc float[16];
        float* index = stackalloc float[16];
        float* result = stackalloc float[16];
        Store(source, value);
        Store(index, indices);
        for (int i = 0; i < 16; i++) result[i] = source[((int*)index)[i] & 15];
        return Load(result);
    }

    public static bool CanTranspose => true;

    public static void LoadTransposed(float* tile, float* rows, int cols, int n)
    {
        for (int c = 0; c < 16; c++)
            for (int i = 0; i < 16; i++)
                tile[c * 16 + i] = c < cols && i < n ? rows[i * cols + c] : float.NegativeInfinity;
    }

    // The trees of Simd512: fold lanes i+8 onto i (A+C, B+D), then i+4, i+2 and i+1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumAcross(V128x4 value)
    {
        var v = (value.A + value.C) + (value.B + value.D);
        v += Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1));
        v += Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2));
        return v.ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V128x4 value)
    {
        var v = Vector128.MaxNative(Vector128.MaxNative(value.A, value.C), Vector128.MaxNative(value.B, value.D));
        v = Vector128.MaxNative(v, Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1)));
        v = Vector128.MaxNative(v, Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2)));
        return v.ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128x4 Exp(V128x4 x) => new(Exp(x.A), Exp(x.B), Exp(x.C), Exp(x.D));

    /// <summary>The exp of <see cref="Simd256.Exp"/> (same constants, same fused steps) on 4 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Exp(Vector128<float> x)
    {
        var shifted = HostFma.MultiplyAdd(x, Vector128.Create(HostRowSimd.Log2E), Vector128.Create(HostRowSimd.RoundMagic));
        var n = shifted - Vector128.Create(HostRowSimd.RoundMagic);
        var r = HostFma.MultiplyAdd(n, Vector128.Create(-HostRowSimd.Ln2High), x);
        r = HostFma.MultiplyAdd(n, Vector128.Create(-HostRowSimd.Ln2Low), r);
        var p = HostFma.MultiplyAdd(Vector128.Create(HostRowSimd.ExpP0), r, Vector128.Create(HostRowSimd.ExpP1));
        p = HostFma.MultiplyAdd(p, r, Vector128.Create(HostRowSimd.ExpP2));
        p = HostFma.MultiplyAdd(p, r, Vector128.Create(HostRowSimd.ExpP3));
        p = HostFma.MultiplyAdd(p, r, Vector128.Create(HostRowSimd.ExpP4));
        p = HostFma.MultiplyAdd(p, r, Vector128.Create(HostRowSimd.ExpP5));
        p = HostFma.MultiplyAdd(p, r * r, r + Vector128<float>.One);
        var scale = Vector128.ShiftLeft(shifted.AsInt32(), 23).AsSingle();
        return Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128.Create(HostRowSimd.ExpMin)), Vector128<float>.Zero, p * scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 Log(V128x4 x) => new(HostLog.Log(x.A), HostLog.Log(x.B), HostLog.Log(x.C), HostLog.Log(x.D));

    // The float64 accumulator's 8 lanes in pairs: 0-1 in A, 2-3 in B, 4-5 in C, 6-7 in D.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 AddWidenedLower(V128x4 acc, V128x4 v) => AddWidened(acc, v.A, v.B);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128x4 AddWidenedUpper(V128x4 acc, V128x4 v) => AddWidened(acc, v.C, v.D);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static V128x4 AddWidened(V128x4 acc, Vector128<float> first, Vector128<float> second) =>
        new((acc.A.AsDouble() + Vector128.WidenLower(first)).AsSingle(), (acc.B.AsDouble() + Vector128.WidenUpper(first)).AsSingle(),
            (acc.C.AsDouble() + Vector128.WidenLower(second)).AsSingle(), (acc.D.AsDouble() + Vector128.WidenUpper(second)).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumAcrossWidened(V128x4 acc)
    {
        var q = (acc.A.AsDouble() + acc.C.AsDouble()) + (acc.B.AsDouble() + acc.D.AsDouble());
        return q.ToScalar() + q.GetElement(1);
    }
}
