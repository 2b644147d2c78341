using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuNet.Kernels;

/// <summary>
/// The natural logarithm of the row ops, the same bits on every SIMD width and processor: Cephes' logf (x = m·2^e with
/// m in [√½, √2), a degree-8 polynomial in m - 1, e·ln 2 added in two parts), every multiply-add fused (the
/// 128-bit version only where the processor has FMA: <see cref="HostFma"/>). About 1 ulp. The runtime's vector <c>Log</c> is not used because nothing promises
/// that its 128-, 256- and 512-bit versions, or the same version with and without FMA, round alike.
/// </summary>
/// <remarks>Special values as <see cref="MathF.Log(float)"/>: log 0 = -inf, log of a negative number or NaN = NaN, log +inf = +inf.
/// Subnormal inputs are scaled by 2^23 first.</remarks>
internal static class HostLog
{
    private const float SqrtHalf = 0.707106781186547524f;
    private const float L0 = 7.0376836292e-2f, L1 = -1.1514610310e-1f, L2 = 1.1676998740e-1f, L3 = -1.2420140846e-1f;
    private const float L4 = 1.4249322787e-1f, L5 = -1.6668057665e-1f, L6 = 2.0000714765e-1f, L7 = -2.4999993993e-1f;
    private const float L8 = 3.3333331174e-1f;
    private const float Ln2High = 0.693359375f, Ln2Low = -2.12194440e-4f;
    private const float MinNormal = 1.17549435e-38f, Two23 = 8388608f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x)
    {
        var subnormal = Vector256.LessThan(x, Vector256.Create(MinNormal));
        var scaled = Vector256.ConditionalSelect(subnormal, x * Vector256.Create(Two23), x);
        var bits = scaled.AsInt32();
        // frexp: m in [0.5, 1), e the exponent that goes with it.
        var e = Vector256.ConvertToSingle((bits >>> 23) - Vector256.Create(126))
            - (subnormal & Vector256.Create(23f));
        var m = ((bits & Vector256.Create(0x007FFFFF)) | Vector256.Create(0x3F000000)).AsSingle();
        var small = Vector256.LessThan(m, Vector256.Create(SqrtHalf));
        e -= small & Vector256<float>.One;
        m = m + (small & m) - Vector256<float>.One;
        var z = m * m;
        var y = Vector256.FusedMultiplyAdd(Vector256.Create(L0), m, Vector256.Create(L1));
        y = Vector256.FusedMultiplyAdd(y, m, Vector256.Create(L2));
        y = Vector256.FusedMultiplyAdd(y, m, Vector256.Create(L3));
        y = Vector256.FusedMultiplyAdd(y, m, Vector256.Create(L4));
        y = Vector256.FusedMultiplyAdd(y, m, Vector256.Create(L5));
        y = Vector256.FusedMultiplyAdd(y, m, Vector256.Create(L6));
        y = Vector256.FusedMultiplyAdd(y, m, Vector256.Create(L7));
        y = Vector256.FusedMultiplyAdd(y, m, Vector256.Create(L8));
        y = y * m * z;
        y = Vector256.FusedMultiplyAdd(e, Vector256.Create(Ln2Low), y);
        y = Vector256.FusedMultiplyAdd(z, Vector256.Create(-0.5f), y);
        var result = Vector256.FusedMultiplyAdd(e, Vector256.Create(Ln2High), m + y);
        result = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256.Create(float.PositiveInfinity)), x, result);
        result = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256<float>.Zero), Vector256.Create(float.NegativeInfinity), result);
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero) | Vector256.IsNaN(x), Vector256.Create(float.NaN), result);
    }

    /// <summary><see cref="Log(Vector256{float})"/> on 4 lanes, step for step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Log(Vector128<float> x)
    {
        var subnormal = Vector128.LessThan(x, Vector128.Create(MinNormal));
        var scaled = Vector128.ConditionalSelect(subnormal, x * Vector128.Create(Two23), x);
        var bits = scaled.AsInt32();
        var e = Vector128.ConvertToSingle((bits >>> 23) - Vector128.Create(126))
            - (subnormal & Vector128.Create(23f));
        var m = ((bits & Vector128.Create(0x007FFFFF)) | Vector128.Create(0x3F000000)).AsSingle();
        var small = Vector128.LessThan(m, Vector128.Create(SqrtHalf));
        e -= small & Vector128<float>.One;
        m = m + (small & m) - Vector128<float>.One;
        var z = m * m;
        var y = HostFma.MultiplyAdd(Vector128.Create(L0), m, Vector128.Create(L1));
        y = HostFma.MultiplyAdd(y, m, Vector128.Create(L2));
        y = HostFma.MultiplyAdd(y, m, Vector128.Create(L3));
        y = HostFma.MultiplyAdd(y, m, Vector128.Create(L4));
        y = HostFma.MultiplyAdd(y, m, Vector128.Create(L5));
        y = HostFma.MultiplyAdd(y, m, Vector128.Create(L6));
        y = HostFma.MultiplyAdd(y, m, Vector128.Create(L7));
        y = HostFma.MultiplyAdd(y, m, Vector128.Create(L8));
        y = y * m * z;
        y = HostFma.MultiplyAdd(e, Vector128.Create(Ln2Low), y);
        y = HostFma.MultiplyAdd(z, Vector128.Create(-0.5f), y);
        var result = HostFma.MultiplyAdd(e, Vector128.Create(Ln2High), m + y);
        result = Vector128.ConditionalSelect(Vector128.Equals(x, Vector128.Create(float.PositiveInfinity)), x, result);
        result = Vector128.ConditionalSelect(Vector128.Equals(x, Vector128<float>.Zero), Vector128.Create(float.NegativeInfinity), result);
        return Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero) | Vector128.IsNaN(x), Vector128.Create(float.NaN), result);
    }
}
