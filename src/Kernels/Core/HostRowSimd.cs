using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuNet.Kernels;

/// <summary>
/// One SIMD width of the host engine, as static operations on its vector type <typeparamref name="TVec"/> (lanes of
/// float; comparison results are lane masks with all bits set or clear). Host ops write their loops once, generic over
/// <c>(TVec, TSimd)</c>; the JIT specialises them per width, so there is no indirection at run time. The row ops use the
/// 16-lane implementations <see cref="Simd512"/> (AVX-512), <see cref="Simd256x2"/> (AVX2+FMA) and <see cref="Simd128x4"/>
/// (any hardware); the direct GEMM and the k-NN L1 distances, whose sums never cross lanes, use the native widths
/// <see cref="Simd512"/>, <see cref="Simd256"/> and
/// <see cref="SimdVector"/>. <see cref="HostRowSimd"/> picks the widest one this processor accelerates.
/// </summary>
/// <remarks>
/// Ops that must give the same bits with any number of threads rely on every method here being a pure function of its
/// arguments: in particular the across-lane reductions use a fixed tree. The 16-lane implementations also give the
/// same bits as each other, lane for lane and in their across-lane trees (see HostRowSimd16.cs).
/// </remarks>
internal unsafe interface ISimd<TVec> where TVec : struct
{
    /// <summary>True when this width runs in hardware here.</summary>
    static abstract bool IsSupported { get; }

    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    static abstract TVec Zero { get; }

    /// <summary>The lane indices 0, 1, 2, … as floats.</summary>
    static abstract TVec Indices { get; }

    static abstract TVec Broadcast(float value);

    static abstract TVec Load(float* p);

    static abstract void Store(float* p, TVec value);

    /// <summary>A mask of the lanes below <paramref name="count"/> (0 &lt;= count &lt;= Count).</summary>
    static abstract TVec TailMask(int count);

    /// <summary>Lanes below <paramref name="count"/> from <c>p</c>, the others <paramref name="fill"/>; reads no memory beyond <c>p + count</c>.</summary>
    static abstract TVec LoadTail(float* p, int count, TVec fill);

    /// <summary>The ints <c>p[0, count)</c> (1 &lt;= count &lt;= Count) converted to float, <paramref name="fill"/> past them; reads no memory beyond <c>p + count</c>.</summary>
    static abstract TVec LoadInt32(int* p, int count, int fill);

    /// <summary>Stores the lanes below <paramref name="count"/>; writes no memory beyond <c>p + count</c>.</summary>
    static abstract void StoreTail(float* p, TVec value, int count);

    static abstract TVec Add(TVec a, TVec b);

    static abstract TVec Subtract(TVec a, TVec b);

    static abstract TVec Multiply(TVec a, TVec b);

    static abstract TVec Divide(TVec a, TVec b);

    /// <summary><c>a·b + c</c>, fused (rounded once) wherever the processor has FMA (<see cref="HostFma"/>).</summary>
    static abstract TVec MultiplyAdd(TVec a, TVec b, TVec c);

    /// <summary>The larger lane; which one a NaN gives is up to the hardware, so callers handle NaN themselves.</summary>
    static abstract TVec MaxNative(TVec a, TVec b);

    static abstract TVec Equals(TVec a, TVec b);

    static abstract TVec LessThan(TVec a, TVec b);

    static abstract TVec IsNaN(TVec a);

    static abstract TVec Or(TVec a, TVec b);

    /// <summary>Lanes of <paramref name="a"/> where <paramref name="mask"/> is set, else of <paramref name="b"/>.</summary>
    static abstract TVec Select(TVec mask, TVec a, TVec b);

    static abstract bool AnySet(TVec mask);

    /// <summary>The lowest lane set in <paramref name="mask"/>, or <see cref="Count"/> when none is.</summary>
    static abstract int FirstSet(TVec mask);

    /// <summary>The number of lanes set in <paramref name="mask"/>.</summary>
    static abstract int CountSet(TVec mask);

    /// <summary>Lane <c>i</c> of the result is lane <c>indices[i]</c> of <paramref name="value"/>; <paramref name="indices"/> holds int lanes in the same bits.</summary>
    static abstract TVec Permute(TVec value, TVec indices);

    /// <summary>True when <see cref="LoadTransposed"/> runs in registers (so ops may work on <see cref="Count"/> rows at once).</summary>
    static abstract bool CanTranspose { get; }

    /// <summary>
    /// Loads <paramref name="n"/> (1..Count) rows of <paramref name="cols"/> (1..Count) floats, row <c>i</c> at
    /// <c>rows + i·cols</c>, as a Count × Count matrix with -inf past the rows and columns, and stores its transpose
    /// row-major at <paramref name="tile"/>: tile row <c>c</c> holds column <c>c</c>, one row per lane.
    /// </summary>
    static abstract void LoadTransposed(float* tile, float* rows, int cols, int n);

    /// <summary>The sum of the lanes, added in a fixed tree.</summary>
    static abstract float SumAcross(TVec value);

    /// <summary>The largest lane (of NaN-free lanes).</summary>
    static abstract float MaxAcross(TVec value);

    /// <summary><c>e^x</c> for <c>x &lt;= 88</c> (or NaN) to about 2 ulp; 0 below <c>-87.34</c>, where <c>e^x</c> is subnormal.</summary>
    static abstract TVec Exp(TVec x);

    /// <summary>The natural logarithm (<see cref="HostLog"/>, the same bits on every width).</summary>
    static abstract TVec Log(TVec x);

    /// <summary><c>acc + widen(lower half of v)</c>, where <paramref name="acc"/> holds float64 lanes in the same bits.</summary>
    static abstract TVec AddWidenedLower(TVec acc, TVec v);

    /// <summary><c>acc + widen(upper half of v)</c>, where <paramref name="acc"/> holds float64 lanes in the same bits.</summary>
    static abstract TVec AddWidenedUpper(TVec acc, TVec v);

    /// <summary>The sum of the float64 lanes held in <paramref name="acc"/>.</summary>
    static abstract double SumAcrossWidened(TVec acc);
}

/// <summary>The SIMD width the row-wise host ops (loss, reductions, bias) use on this processor, and their exp constants.</summary>
internal static class HostRowSimd
{
    /// <summary>The widest path this processor runs: 0 AVX-512, 1 AVX2, 2 neither. A JIT-time constant.</summary>
    public static int Native => Simd512.IsSupported ? 0 : Simd256.IsSupported ? 1 : 2;

    [ThreadStatic] private static int t_widthCap;

    /// <summary>
    /// The path the row ops, the direct GEMM and the packed GEMM's micro-kernel take on this thread: 0: AVX-512
    /// (<see cref="Simd512"/>, the 12x32 kernel), 1: AVX2 (<see cref="Simd256x2"/> for the row ops, <see cref="Simd256"/>
    /// for the direct GEMM, the 6x16 kernel), 2: neither (<see cref="Simd128x4"/>, <see cref="SimdVector"/>, the
    /// <see cref="System.Numerics.Vector{T}"/> 4x2 kernel). <see cref="Native"/>, or narrower under <see cref="WidthCap"/>.
    /// </summary>
    public static int Width => Math.Max(Native, t_widthCap);

    /// <summary>
    /// Narrows <see cref="Width"/> for ops called from this thread (0: no cap), so that tests run every path on one
    /// machine, up to whole training runs. Results never depend on it; production code leaves it at 0.
    /// </summary>
    internal static int WidthCap
    {
        get => t_widthCap;
        set => t_widthCap = value;
    }

    // Shared by the Exp implementations. Cephes' expf: e^x = 2^n · e^r with n = round(x·log2 e) and |r| <= ln2/2,
    // r = x - n·ln2 in two parts so that it is exact, and a degree-7 polynomial for e^r (about 1 ulp on that range).
    // n is rounded by adding 1.5·2^23 + 127 (RoundMagic): the float sum keeps n + 127 in its low mantissa bits, so
    // subtracting the constant again gives n as a float, and shifting the sum's bits left by 23 gives the float 2^n (the
    // constant's own bits shift out), with no round or float-to-int instruction (a saturating conversion is four
    // instructions on x86). Below ExpMin the result is selected to exactly 0: clamping there instead (one instruction
    // less) gave 1.2e-38 in the -inf lanes past a row, and products of that with a softmax normaliser are subnormal,
    // which took the soft backward from 7.6 to 16 us per 256 rows in microcode assists.
    internal const float RoundMagic = 12583039f;
    internal const float Log2E = 1.44269504088896341f;
    internal const float Ln2High = 0.693359375f;
    internal const float Ln2Low = -2.12194440e-4f;
    internal const float ExpP0 = 1.9875691500e-4f;
    internal const float ExpP1 = 1.3981999507e-3f;
    internal const float ExpP2 = 8.3334519073e-3f;
    internal const float ExpP3 = 4.1665795894e-2f;
    internal const float ExpP4 = 1.6666665459e-1f;
    internal const float ExpP5 = 5.0000001201e-1f;
    // ln(2^-126): below it e^x is subnormal; the Exp implementations return 0 there (n would leave the exponent range).
    internal const float ExpMin = -87.336544f;
}

/// <summary><see cref="ISimd{TVec}"/> on <see cref="Vector512{T}"/> with AVX-512 masked loads and stores for tails.</summary>
internal readonly unsafe struct Simd512 : ISimd<Vector512<float>>
{
    public static bool IsSupported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;
    public static int Count => Vector512<float>.Count;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    public static Vector512<float> Indices => Vector512<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector512<float> value) => value.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> TailMask(int count) => Vector512.LessThan(Vector512<float>.Indices, Vector512.Create((float)count));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadTail(float* p, int count, Vector512<float> fill) => Avx512F.MaskLoad(p, TailMask(count), fill);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadInt32(int* p, int count, int fill) =>
        Vector512.ConvertToSingle(Avx512F.MaskLoad(p, TailMask(count).AsInt32(), Vector512.Create(fill)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreTail(float* p, Vector512<float> value, int count) => Avx512F.MaskStore(p, TailMask(count), value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Subtract(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Divide(Vector512<float> a, Vector512<float> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MaxNative(Vector512<float> a, Vector512<float> b) => Vector512.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Equals(Vector512<float> a, Vector512<float> b) => Vector512.Equals(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LessThan(Vector512<float> a, Vector512<float> b) => Vector512.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> IsNaN(Vector512<float> a) => Vector512.IsNaN(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Or(Vector512<float> a, Vector512<float> b) => a | b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Select(Vector512<float> mask, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(mask, a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool AnySet(Vector512<float> mask) => mask.ExtractMostSignificantBits() != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FirstSet(Vector512<float> mask) => Math.Min(BitOperations.TrailingZeroCount(mask.ExtractMostSignificantBits()), Count);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int CountSet(Vector512<float> mask) => BitOperations.PopCount(mask.ExtractMostSignificantBits());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Permute(Vector512<float> value, Vector512<float> indices) => Avx512F.PermuteVar16x32(value, indices.AsInt32());

    public static bool CanTranspose => true;

    /// <summary>
    /// 16×16 in four butterfly stages (b = 8, 4, 2, 1): in every 2b×2b block, swap the two off-diagonal b×b blocks,
    /// which is one two-source permute per output row (vpermt2ps).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadTransposed(float* tile, float* rows, int cols, int n)
    {
        // Straight from the rows into registers: a vector stored and loaded again at once is slow to forward.
        var ninf = Vector512.Create(float.NegativeInfinity);
        var m = TailMask(cols);
        var r0 = Avx512F.MaskLoad(rows, m, ninf);
        var r1 = n > 1 ? Avx512F.MaskLoad(rows + cols, m, ninf) : ninf;
        var r2 = n > 2 ? Avx512F.MaskLoad(rows + 2 * cols, m, ninf) : ninf;
        var r3 = n > 3 ? Avx512F.MaskLoad(rows + 3 * cols, m, ninf) : ninf;
        var r4 = n > 4 ? Avx512F.MaskLoad(rows + 4 * cols, m, ninf) : ninf;
        var r5 = n > 5 ? Avx512F.MaskLoad(rows + 5 * cols, m, ninf) : ninf;
        var r6 = n > 6 ? Avx512F.MaskLoad(rows + 6 * cols, m, ninf) : ninf;
        var r7 = n > 7 ? Avx512F.MaskLoad(rows + 7 * cols, m, ninf) : ninf;
        var r8 = n > 8 ? Avx512F.MaskLoad(rows + 8 * cols, m, ninf) : ninf;
        var r9 = n > 9 ? Avx512F.MaskLoad(rows + 9 * cols, m, ninf) : ninf;
        var r10 = n > 10 ? Avx512F.MaskLoad(rows + 10 * cols, m, ninf) : ninf;
        var r11 = n > 11 ? Avx512F.MaskLoad(rows + 11 * cols, m, ninf) : ninf;
        var r12 = n > 12 ? Avx512F.MaskLoad(rows + 12 * cols, m, ninf) : ninf;
        var r13 = n > 13 ? Avx512F.MaskLoad(rows + 13 * cols, m, ninf) : ninf;
        var r14 = n > 14 ? Avx512F.MaskLoad(rows + 14 * cols, m, ninf) : ninf;
        var r15 = n > 15 ? Avx512F.MaskLoad(rows + 15 * cols, m, ninf) : ninf;
        var a = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
        var b = Vector512.Create(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
        Swap(ref r0, ref r8, a, b); Swap(ref r1, ref r9, a, b); Swap(ref r2, ref r10, a, b); Swap(ref r3, ref r11, a, b);
        Swap(ref r4, ref r12, a, b); Swap(ref r5, ref r13, a, b); Swap(ref r6, ref r14, a, b); Swap(ref r7, ref r15, a, b);
        a = Vector512.Create(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
        b = Vector512.Create(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
        Swap(ref r0, ref r4, a, b); Swap(ref r1, ref r5, a, b); Swap(ref r2, ref r6, a, b); Swap(ref r3, ref r7, a, b);
        Swap(ref r8, ref r12, a, b); Swap(ref r9, ref r13, a, b); Swap(ref r10, ref r14, a, b); Swap(ref r11, ref r15, a, b);
        a = Vector512.Create(0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
        b = Vector512.Create(2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
        Swap(ref r0, ref r2, a, b); Swap(ref r1, ref r3, a, b); Swap(ref r4, ref r6, a, b); Swap(ref r5, ref r7, a, b);
        Swap(ref r8, ref r10, a, b); Swap(ref r9, ref r11, a, b); Swap(ref r12, ref r14, a, b); Swap(ref r13, ref r15, a, b);
        a = Vector512.Create(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
        b = Vector512.Create(1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
        Swap(ref r0, ref r1, a, b); Swap(ref r2, ref r3, a, b); Swap(ref r4, ref r5, a, b); Swap(ref r6, ref r7, a, b);
        Swap(ref r8, ref r9, a, b); Swap(ref r10, ref r11, a, b); Swap(ref r12, ref r13, a, b); Swap(ref r14, ref r15, a, b);
        Store(tile, r0); Store(tile + 16, r1); Store(tile + 32, r2); Store(tile + 48, r3);
        Store(tile + 64, r4); Store(tile + 80, r5); Store(tile + 96, r6); Store(tile + 112, r7);
        Store(tile + 128, r8); Store(tile + 144, r9); Store(tile + 160, r10); Store(tile + 176, r11);
        Store(tile + 192, r12); Store(tile + 208, r13); Store(tile + 224, r14); Store(tile + 240, r15);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Swap(ref Vector512<float> x, ref Vector512<float> y, Vector512<int> a, Vector512<int> b)
    {
        var nx = Avx512F.PermuteVar16x32x2(x, a, y);
        y = Avx512F.PermuteVar16x32x2(x, b, y);
        x = nx;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumAcross(Vector512<float> value) => Simd256.SumAcross(value.GetLower() + value.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector512<float> value) => Simd256.MaxAcross(Vector256.MaxNative(value.GetLower(), value.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var shifted = Vector512.FusedMultiplyAdd(x, Vector512.Create(HostRowSimd.Log2E), Vector512.Create(HostRowSimd.RoundMagic));
        var n = shifted - Vector512.Create(HostRowSimd.RoundMagic);
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-HostRowSimd.Ln2High), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-HostRowSimd.Ln2Low), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(HostRowSimd.ExpP0), r, Vector512.Create(HostRowSimd.ExpP1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(HostRowSimd.ExpP2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(HostRowSimd.ExpP3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(HostRowSimd.ExpP4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(HostRowSimd.ExpP5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        var scale = Vector512.ShiftLeft(shifted.AsInt32(), 23).AsSingle();
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(HostRowSimd.ExpMin)), Vector512<float>.Zero, p * scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Log(Vector512<float> x) => Vector512.Create(HostLog.Log(x.GetLower()), HostLog.Log(x.GetUpper()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> AddWidenedLower(Vector512<float> acc, Vector512<float> v) => (acc.AsDouble() + Vector512.WidenLower(v)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> AddWidenedUpper(Vector512<float> acc, Vector512<float> v) => (acc.AsDouble() + Vector512.WidenUpper(v)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumAcrossWidened(Vector512<float> acc)
    {
        var d = acc.AsDouble();
        var h = d.GetLower() + d.GetUpper();
        var q = h.GetLower() + h.GetUpper();
        return q.ToScalar() + q.GetElement(1);
    }
}

/// <summary><see cref="ISimd{TVec}"/> on <see cref="Vector256{T}"/> (AVX2 and FMA) with AVX masked moves for tails.</summary>
internal readonly unsafe struct Simd256 : ISimd<Vector256<float>>
{
    public static bool IsSupported => Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported;
    public static int Count => Vector256<float>.Count;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    public static Vector256<float> Indices => Vector256<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector256<float> value) => value.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> TailMask(int count) => Vector256.LessThan(Vector256<float>.Indices, Vector256.Create((float)count));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadInt32(int* p, int count, int fill)
    {
        var mask = TailMask(count).AsInt32();
        return Vector256.ConvertToSingle(Vector256.ConditionalSelect(mask, Avx2.MaskLoad(p, mask), Vector256.Create(fill)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadTail(float* p, int count, Vector256<float> fill)
    {
        var mask = TailMask(count);
        return Vector256.ConditionalSelect(mask, Avx.MaskLoad(p, mask), fill);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreTail(float* p, Vector256<float> value, int count) => Avx.MaskStore(p, TailMask(count), value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Divide(Vector256<float> a, Vector256<float> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MaxNative(Vector256<float> a, Vector256<float> b) => Vector256.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Equals(Vector256<float> a, Vector256<float> b) => Vector256.Equals(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LessThan(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> IsNaN(Vector256<float> a) => Vector256.IsNaN(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Or(Vector256<float> a, Vector256<float> b) => a | b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool AnySet(Vector256<float> mask) => mask.ExtractMostSignificantBits() != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FirstSet(Vector256<float> mask) => Math.Min(BitOperations.TrailingZeroCount(mask.ExtractMostSignificantBits()), Count);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int CountSet(Vector256<float> mask) => BitOperations.PopCount(mask.ExtractMostSignificantBits());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Permute(Vector256<float> value, Vector256<float> indices) => Avx2.PermuteVar8x32(value, indices.AsInt32());

    public static bool CanTranspose => true;

    /// <summary>8×8 the classic AVX way: unpack pairs of rows, shuffle pairs of pairs, then swap 128-bit halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadTransposed(float* tile, float* rows, int cols, int n)
    {
        var ninf = Vector256.Create(float.NegativeInfinity);
        var r0 = LoadTail(rows, cols, ninf);
        var r1 = n > 1 ? LoadTail(rows + cols, cols, ninf) : ninf;
        var r2 = n > 2 ? LoadTail(rows + 2 * cols, cols, ninf) : ninf;
        var r3 = n > 3 ? LoadTail(rows + 3 * cols, cols, ninf) : ninf;
        var r4 = n > 4 ? LoadTail(rows + 4 * cols, cols, ninf) : ninf;
        var r5 = n > 5 ? LoadTail(rows + 5 * cols, cols, ninf) : ninf;
        var r6 = n > 6 ? LoadTail(rows + 6 * cols, cols, ninf) : ninf;
        var r7 = n > 7 ? LoadTail(rows + 7 * cols, cols, ninf) : ninf;
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1); var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5); var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE); var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE); var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Store(tile, Avx.Permute2x128(u0, u4, 0x20)); Store(tile + 8, Avx.Permute2x128(u1, u5, 0x20));
        Store(tile + 16, Avx.Permute2x128(u2, u6, 0x20)); Store(tile + 24, Avx.Permute2x128(u3, u7, 0x20));
        Store(tile + 32, Avx.Permute2x128(u0, u4, 0x31)); Store(tile + 40, Avx.Permute2x128(u1, u5, 0x31));
        Store(tile + 48, Avx.Permute2x128(u2, u6, 0x31)); Store(tile + 56, Avx.Permute2x128(u3, u7, 0x31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumAcross(Vector256<float> value)
    {
        var v = value.GetLower() + value.GetUpper();
        v += Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1));
        v += Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2));
        return v.ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector256<float> value)
    {
        var v = Vector128.MaxNative(value.GetLower(), value.GetUpper());
        v = Vector128.MaxNative(v, Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1)));
        v = Vector128.MaxNative(v, Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2)));
        return v.ToScalar();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var shifted = Vector256.FusedMultiplyAdd(x, Vector256.Create(HostRowSimd.Log2E), Vector256.Create(HostRowSimd.RoundMagic));
        var n = shifted - Vector256.Create(HostRowSimd.RoundMagic);
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-HostRowSimd.Ln2High), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-HostRowSimd.Ln2Low), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(HostRowSimd.ExpP0), r, Vector256.Create(HostRowSimd.ExpP1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(HostRowSimd.ExpP2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(HostRowSimd.ExpP3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(HostRowSimd.ExpP4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(HostRowSimd.ExpP5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One);
        var scale = Vector256.ShiftLeft(shifted.AsInt32(), 23).AsSingle();
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(HostRowSimd.ExpMin)), Vector256<float>.Zero, p * scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Log(Vector256<float> x) => HostLog.Log(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> AddWidenedLower(Vector256<float> acc, Vector256<float> v) => (acc.AsDouble() + Vector256.WidenLower(v)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> AddWidenedUpper(Vector256<float> acc, Vector256<float> v) => (acc.AsDouble() + Vector256.WidenUpper(v)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumAcrossWidened(Vector256<float> acc)
    {
        var d = acc.AsDouble();
        var h = d.GetLower() + d.GetUpper();
        return h.ToScalar() + h.GetElement(1);
    }
}

/// <summary>
/// <see cref="ISimd{TVec}"/> on <see cref="Vector{T}"/>: the portable fallback (for example 128-bit NEON). Tails go
/// through a copy in a local vector, and the across-lane operations loop over the lanes.
/// </summary>
internal readonly unsafe struct SimdVector : ISimd<Vector<float>>
{
    public static bool IsSupported => true;
    public static int Count => Vector<float>.Count;
    public static Vector<float> Zero => Vector<float>.Zero;
    public static Vector<float> Indices => Vector<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Broadcast(float value) => new(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Load(float* p) => Vector.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vector<float> value) => value.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> TailMask(int count) => Vector.LessThan(Vector<float>.Indices, new Vector<float>(count)).As<int, float>();

    public static Vector<float> LoadInt32(int* p, int count, int fill)
    {
        var v = new Vector<int>(fill);
        int* lanes = (int*)Unsafe.AsPointer(ref v);
        for (int i = 0; i < count; i++) lanes[i] = p[i];
        return Vector.ConvertToSingle(v);
    }

    public static Vector<float> LoadTail(float* p, int count, Vector<float> fill)
    {
        var v = fill;
        float* lanes = (float*)Unsafe.AsPointer(ref v);
        for (int i = 0; i < count; i++) lanes[i] = p[i];
        return v;
    }

    public static void StoreTail(float* p, Vector<float> value, int count)
    {
        float* lanes = (float*)Unsafe.AsPointer(ref value);
        for (int i = 0; i < count; i++) p[i] = lanes[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Add(Vector<float> a, Vector<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Subtract(Vector<float> a, Vector<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Multiply(Vector<float> a, Vector<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Divide(Vector<float> a, Vector<float> b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> MultiplyAdd(Vector<float> a, Vector<float> b, Vector<float> c) => HostFma.MultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> MaxNative(Vector<float> a, Vector<float> b) => Vector.MaxNative(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Equals(Vector<float> a, Vector<float> b) => Vector.Equals(a, b).As<int, float>();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> LessThan(Vector<float> a, Vector<float> b) => Vector.LessThan(a, b).As<int, float>();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> IsNaN(Vector<float> a) => Vector.IsNaN(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Or(Vector<float> a, Vector<float> b) => a | b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Select(Vector<float> mask, Vector<float> a, Vector<float> b) => Vector.ConditionalSelect(mask, a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AnySet(Vector<float> mask) => !Vector.EqualsAll(mask.As<float, int>(), Vector<int>.Zero);

    public static int CountSet(Vector<float> mask)
    {
        var bits = mask.As<float, int>();
        int count = 0;
        for (int i = 0; i < Vector<int>.Count; i++)
            if (bits[i] != 0) count++;
        return count;
    }

    public static Vector<float> Permute(Vector<float> value, Vector<float> indices)
    {
        var index = indices.As<float, int>();
        var result = value;
        float* lanes = (float*)Unsafe.AsPointer(ref result);
        for (int i = 0; i < Vector<float>.Count; i++) lanes[i] = value[index[i]];
        return result;
    }

    public static bool CanTranspose => false;

    public static void LoadTransposed(float* tile, float* rows, int cols, int n)
    {
        int w = Vector<float>.Count;
        for (int c = 0; c < w; c++)
            for (int i = 0; i < w; i++)
                tile[c * w + i] = c < cols && i < n ? rows[i * cols + c] : float.NegativeInfinity;
    }

    public static int FirstSet(Vector<float> mask)
    {
        var bits = mask.As<float, int>();
        for (int i = 0; i < Vector<int>.Count; i++)
            if (bits[i] != 0) return i;
        return Count;
    }

    public static float SumAcross(Vector<float> value)
    {
        float sum = value[0];
        for (int i = 1; i < Vector<float>.Count; i++) sum += value[i];
        return sum;
    }

    public static float MaxAcross(Vector<float> value)
    {
        float max = value[0];
        for (int i = 1; i < Vector<float>.Count; i++) max = value[i] > max ? value[i] : max;
        return max;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Exp(Vector<float> x)
    {
        var shifted = HostFma.MultiplyAdd(x, new Vector<float>(HostRowSimd.Log2E), new Vector<float>(HostRowSimd.RoundMagic));
        var n = shifted - new Vector<float>(HostRowSimd.RoundMagic);
        var r = HostFma.MultiplyAdd(n, new Vector<float>(-HostRowSimd.Ln2High), x);
        r = HostFma.MultiplyAdd(n, new Vector<float>(-HostRowSimd.Ln2Low), r);
        var p = HostFma.MultiplyAdd(new Vector<float>(HostRowSimd.ExpP0), r, new Vector<float>(HostRowSimd.ExpP1));
        p = HostFma.MultiplyAdd(p, r, new Vector<float>(HostRowSimd.ExpP2));
        p = HostFma.MultiplyAdd(p, r, new Vector<float>(HostRowSimd.ExpP3));
        p = HostFma.MultiplyAdd(p, r, new Vector<float>(HostRowSimd.ExpP4));
        p = HostFma.MultiplyAdd(p, r, new Vector<float>(HostRowSimd.ExpP5));
        p = HostFma.MultiplyAdd(p, r * r, r + Vector<float>.One);
        var scale = Vector.ShiftLeft(shifted.As<float, int>(), 23).As<int, float>();
        return Vector.ConditionalSelect(Vector.LessThan(x, new Vector<float>(HostRowSimd.ExpMin)), Vector<float>.Zero, p * scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector<float> Log(Vector<float> x) => Vector.Log(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> AddWidenedLower(Vector<float> acc, Vector<float> v) => (acc.As<float, double>() + Vector.WidenLower(v)).As<double, float>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> AddWidenedUpper(Vector<float> acc, Vector<float> v) => (acc.As<float, double>() + Vector.WidenUpper(v)).As<double, float>();

    public static double SumAcrossWidened(Vector<float> acc)
    {
        var d = acc.As<float, double>();
        double sum = d[0];
        for (int i = 1; i < Vector<double>.Count; i++) sum += d[i];
        return sum;
    }
}
