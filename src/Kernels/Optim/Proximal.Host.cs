using System.Runtime.CompilerServices;
using ILGPU;

namespace GpuNet.Kernels;

public static partial class Proximal
{
    // The host engine: ProximalRule.SoftThreshold over IHostVector, in place (HostSimd.Map allows the output to be the
    // input), at the widest SIMD width, in blocks over the device's threads. Same float32 operations, same bits.

    private static void SoftThresholdHost(Device device, ArrayView<float> w, float threshold) =>
        HostSimd.Map(device, w, w, new SoftThresholdHostOp(threshold));

    /// <summary><see cref="ProximalRule.SoftThreshold"/>: |w| - t, its sign restored where positive, else +0 (NaN kept).</summary>
    private readonly struct SoftThresholdHostOp(float threshold) : IUnaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV w) where TV : struct, IHostVector<TV>
        {
            TV zero = TV.Create(0f);
            TV a = TV.Abs(w) - TV.Create(threshold);
            return TV.IfGreater(a, zero, TV.IfGreater(zero, w, zero - a, a), TV.IfGreater(zero, a, zero, a));
        }
    }
}
