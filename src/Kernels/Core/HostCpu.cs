using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuNet;

/// <summary>What the host engine can use on this processor.</summary>
internal static class HostCpu
{
    /// <summary>The widest SIMD path the host engine takes here: <c>AVX-512</c>, <c>AVX2+FMA</c> or <c>Vector&lt;T&gt;</c>.</summary>
    public static string InstructionSet =>
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported ? "AVX-512"
        : Avx2.IsSupported && Fma.IsSupported ? "AVX2+FMA"
        : $"Vector<T> ({System.Numerics.Vector<float>.Count} lanes)";
}
