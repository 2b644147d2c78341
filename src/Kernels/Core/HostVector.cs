using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuNet;

// The host engine's elementwise ops are written once, generic over the vector type, instead of once per width as in
// TensorPrimitives (a scalar, a Vector256 and a Vector512 Invoke each). IHostVector is a small private stand-in for
// .NET's internal ISimdVector: a float vector of Count lanes with the few operations the ops need. Its four
// implementations wrap one float, Vector<float>, Vector256<float> and Vector512<float>; every member is a single
// hardware operation (or a fixed sequence of them) with IEEE semantics, and none fuses a multiply and an add.
// So one op body gives the same bits at every width and in the scalar tails: an element's result depends neither on
// the processor's SIMD width nor on where it falls in a block. For value-type instantiations the JIT resolves the
// static abstract calls and inlines them, so the generic body compiles to the same code a hand-written loop would.

/// <summary>A vector of <see cref="Count"/> floats with IEEE elementwise operations; implemented for 1, <see cref="Vector{T}"/>, 256 and 512 bits.</summary>
internal unsafe interface IHostVector<TSelf> where TSelf : struct, IHostVector<TSelf>
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    /// <summary>Loads <see cref="Count"/> floats from <paramref name="p"/> (no alignment needed).</summary>
    static abstract TSelf Load(float* p);

    /// <summary>Stores the lanes to <paramref name="p"/> (no alignment needed).</summary>
    void Store(float* p);

    /// <summary>Every lane set to <paramref name="value"/>.</summary>
    static abstract TSelf Create(float value);

    static abstract TSelf operator +(TSelf a, TSelf b);
    static abstract TSelf operator -(TSelf a, TSelf b);
    static abstract TSelf operator *(TSelf a, TSelf b);
    static abstract TSelf operator /(TSelf a, TSelf b);

    /// <summary>Correctly rounded square root.</summary>
    static abstract TSelf Sqrt(TSelf x);

    /// <summary><see cref="Math.Max(float, float)"/> per lane: NaN if either is NaN, and +0 above -0.</summary>
    static abstract TSelf Max(TSelf a, TSelf b);

    /// <summary><see cref="Math.Min(float, float)"/> per lane: NaN if either is NaN, and -0 below +0.</summary>
    static abstract TSelf Min(TSelf a, TSelf b);

    /// <summary>|x|: clears the sign bit.</summary>
    static abstract TSelf Abs(TSelf x);

    /// <summary>The magnitude of <paramref name="magnitude"/> with the sign bit of <paramref name="sign"/>.</summary>
    static abstract TSelf CopySign(TSelf magnitude, TSelf sign);

    /// <summary>Rounds to the nearest integer, ties to even.</summary>
    static abstract TSelf Round(TSelf x);

    /// <summary>2^n for an integral <paramref name="n"/> in [-126, 127], built from the exponent bits.</summary>
    static abstract TSelf Pow2(TSelf n);

    /// <summary>Per lane <c>a &gt; b ? ifTrue : ifFalse</c>; a NaN in <paramref name="a"/> or <paramref name="b"/> picks <paramref name="ifFalse"/>.</summary>
    static abstract TSelf IfGreater(TSelf a, TSelf b, TSelf ifTrue, TSelf ifFalse);
}

/// <summary>One float: the scalar tails, and the path of processors without SIMD.</summary>
internal readonly unsafe struct HostScalar(float value) : IHostVector<HostScalar>
{
    public readonly float Value = value;

    public static int Count => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar Load(float* p) => new(*p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* p) => *p = Value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar Create(float value) => new(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar operator +(HostScalar a, HostScalar b) => new(a.Value + b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar operator -(HostScalar a, HostScalar b) => new(a.Value - b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar operator *(HostScalar a, HostScalar b) => new(a.Value * b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar operator /(HostScalar a, HostScalar b) => new(a.Value / b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar Sqrt(HostScalar x) => new(MathF.Sqrt(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar Max(HostScalar a, HostScalar b) => new(Math.Max(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar Min(HostScalar a, HostScalar b) => new(Math.Min(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar Abs(HostScalar x) => new(MathF.Abs(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar CopySign(HostScalar magnitude, HostScalar sign) => new(MathF.CopySign(magnitude.Value, sign.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar Round(HostScalar x) => new(MathF.Round(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostScalar Pow2(HostScalar n) => new(BitConverter.Int32BitsToSingle(((int)n.Value + 127) << 23));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static HostScalar IfGreater(HostScalar a, HostScalar b, HostScalar ifTrue, HostScalar ifFalse) => a.Value > b.Value ? ifTrue : ifFalse;
}

/// <summary><see cref="Vector{T}"/> of float: the portable SIMD path (for example NEON on Arm64).</summary>
internal readonly unsafe struct HostVectorT(Vector<float> value) : IHostVector<HostVectorT>
{
    public readonly Vector<float> Value = value;

    public static int Count => Vector<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT Load(float* p) => new(Vector.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* p) => Value.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT Create(float value) => new(new Vector<float>(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT operator +(HostVectorT a, HostVectorT b) => new(a.Value + b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT operator -(HostVectorT a, HostVectorT b) => new(a.Value - b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT operator *(HostVectorT a, HostVectorT b) => new(a.Value * b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT operator /(HostVectorT a, HostVectorT b) => new(a.Value / b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT Sqrt(HostVectorT x) => new(Vector.SquareRoot(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT Max(HostVectorT a, HostVectorT b) => new(Vector.Max(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT Min(HostVectorT a, HostVectorT b) => new(Vector.Min(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT Abs(HostVectorT x) => new(Vector.Abs(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT CopySign(HostVectorT magnitude, HostVectorT sign) => new(Vector.CopySign(magnitude.Value, sign.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVectorT Round(HostVectorT x) => new(Vector.Round(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static HostVectorT Pow2(HostVectorT n) => new(Vector.AsVectorSingle(Vector.ShiftLeft(Vector.ConvertToInt32(n.Value) + new Vector<int>(127), 23)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static HostVectorT IfGreater(HostVectorT a, HostVectorT b, HostVectorT ifTrue, HostVectorT ifFalse) =>
        new(Vector.ConditionalSelect(Vector.GreaterThan(a.Value, b.Value), ifTrue.Value, ifFalse.Value));
}

/// <summary><see cref="Vector256{T}"/> of float: the AVX2 path.</summary>
internal readonly unsafe struct HostVector256(Vector256<float> value) : IHostVector<HostVector256>
{
    public readonly Vector256<float> Value = value;

    public static int Count => Vector256<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 Load(float* p) => new(Vector256.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* p) => Value.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 Create(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 operator +(HostVector256 a, HostVector256 b) => new(a.Value + b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 operator -(HostVector256 a, HostVector256 b) => new(a.Value - b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 operator *(HostVector256 a, HostVector256 b) => new(a.Value * b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 operator /(HostVector256 a, HostVector256 b) => new(a.Value / b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 Sqrt(HostVector256 x) => new(Vector256.Sqrt(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 Max(HostVector256 a, HostVector256 b) => new(Vector256.Max(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 Min(HostVector256 a, HostVector256 b) => new(Vector256.Min(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 Abs(HostVector256 x) => new(Vector256.Abs(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 CopySign(HostVector256 magnitude, HostVector256 sign) => new(Vector256.CopySign(magnitude.Value, sign.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector256 Round(HostVector256 x) => new(Vector256.Round(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static HostVector256 Pow2(HostVector256 n) => new(Vector256.ShiftLeft(Vector256.ConvertToInt32(n.Value) + Vector256.Create(127), 23).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static HostVector256 IfGreater(HostVector256 a, HostVector256 b, HostVector256 ifTrue, HostVector256 ifFalse) =>
        new(Vector256.ConditionalSelect(Vector256.GreaterThan(a.Value, b.Value), ifTrue.Value, ifFalse.Value));
}

/// <summary><see cref="Vector512{T}"/> of float: the AVX-512 path.</summary>
internal readonly unsafe struct HostVector512(Vector512<float> value) : IHostVector<HostVector512>
{
    public readonly Vector512<float> Value = value;

    public static int Count => Vector512<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 Load(float* p) => new(Vector512.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* p) => Value.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 Create(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 operator +(HostVector512 a, HostVector512 b) => new(a.Value + b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 operator -(HostVector512 a, HostVector512 b) => new(a.Value - b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 operator *(HostVector512 a, HostVector512 b) => new(a.Value * b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 operator /(HostVector512 a, HostVector512 b) => new(a.Value / b.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 Sqrt(HostVector512 x) => new(Vector512.Sqrt(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 Max(HostVector512 a, HostVector512 b) => new(Vector512.Max(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 Min(HostVector512 a, HostVector512 b) => new(Vector512.Min(a.Value, b.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 Abs(HostVector512 x) => new(Vector512.Abs(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 CopySign(HostVector512 magnitude, HostVector512 sign) => new(Vector512.CopySign(magnitude.Value, sign.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static HostVector512 Round(HostVector512 x) => new(Vector512.Round(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static HostVector512 Pow2(HostVector512 n) => new(Vector512.ShiftLeft(Vector512.ConvertToInt32(n.Value) + Vector512.Create(127), 23).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static HostVector512 IfGreater(HostVector512 a, HostVector512 b, HostVector512 ifTrue, HostVector512 ifFalse) =>
        new(Vector512.ConditionalSelect(Vector512.GreaterThan(a.Value, b.Value), ifTrue.Value, ifFalse.Value));
}

/// <summary>Transcendental functions for the host engine's ops, generic over <see cref="IHostVector{TSelf}"/>.</summary>
internal static class HostMath
{
    /// <summary>
    /// e^x for x in [-87.3, 88.3] (2^-126 .. 2^127), within about 2 ulp; callers clamp. Cephes' <c>expf</c>:
    /// x = n·ln2 + r with |r| &lt;= ln2/2 (ln2 split in two so n·C1 is exact), e^r by a degree-6 polynomial, times 2^n.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<TV>(TV x) where TV : struct, IHostVector<TV>
    {
        TV n = TV.Round(x * TV.Create(1.44269504088896341f));
        TV r = x - n * TV.Create(0.693359375f) - n * TV.Create(-2.12194440e-4f);
        TV p = TV.Create(1.9875691500e-4f);
        p = p * r + TV.Create(1.3981999507e-3f);
        p = p * r + TV.Create(8.3334519073e-3f);
        p = p * r + TV.Create(4.1665795894e-2f);
        p = p * r + TV.Create(1.6666665459e-1f);
        p = p * r + TV.Create(5.0000001201e-1f);
        p = p * (r * r) + r + TV.Create(1f);
        return p * TV.Pow2(n);
    }
}
