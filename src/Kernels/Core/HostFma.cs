using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace GpuNet.Kernels;

/// <summary>
/// The multiply-add of the host engine's portable paths (<see cref="Vector128{T}"/>, <see cref="Vector{T}"/>): fused
/// (one rounding) wherever the processor has FMA, as the AVX2 and AVX-512 paths always are, so that every width gives
/// the same bits. On a processor without FMA (x86 before AVX2, where the runtime's switches also turn it off) it
/// multiplies and adds separately: a fused multiply-add in software would make the GEMM many times slower, so results
/// there differ from FMA machines in the low bits.
/// </summary>
internal static class HostFma
{
    /// <summary>True when multiply-adds are fused in hardware here (a JIT-time constant).</summary>
    public static bool Hardware => Fma.IsSupported || AdvSimd.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> MultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) =>
        Hardware ? Vector128.FusedMultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> MultiplyAdd(Vector<float> a, Vector<float> b, Vector<float> c) =>
        Hardware ? Vector.FusedMultiplyAdd(a, b, c) : a * b + c;
}
