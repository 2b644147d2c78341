using ILGPU;

namespace GpuNet.Kernels;

/// <summary>
/// Proximal steps: the exact minimiser of a penalty plus a squared distance, applied to the weights after a gradient step.
/// For L1 this is soft-thresholding, which (unlike the subgradient <c>l1·sign(w)</c> added to the gradient) sets a weight
/// to exactly zero when the step would carry it across zero, and keeps it there while the loss's pull stays below the
/// threshold.
/// </summary>
public static partial class Proximal
{
    /// <summary>
    /// Soft-thresholds every weight in place:
    /// <code>
    /// w[i] = sign(w[i])·max(|w[i]| - threshold, 0)
    /// </code>
    /// the proximal operator of <c>threshold·Σ|w|</c>, i.e. <c>argmin_v threshold·|v| + (v - w)²/2</c>. After an SGD step
    /// at learning rate <c>lr</c> on the loss alone, <c>threshold = lr·l1</c> makes the pair one step of proximal gradient
    /// descent (ISTA) on <c>loss + l1·Σ|w|</c>. A weight with <c>|w| &lt;= threshold</c> becomes exactly <c>+0</c>; a NaN
    /// stays NaN (so a divergence is not hidden); a threshold of 0 leaves the weights as they are (no launch).
    /// </summary>
    /// <param name="device">The device the view lives on.</param>
    /// <param name="w">The weights, updated in place; any length.</param>
    /// <param name="threshold">The amount every magnitude shrinks by, finite and at least 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threshold"/> is negative, NaN or infinite.</exception>
    /// <exception cref="ArgumentException"><paramref name="w"/> is not on <paramref name="device"/>.</exception>
    public static void SoftThreshold(Device device, ArrayView<float> w, float threshold)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!(threshold >= 0f && float.IsFinite(threshold)))
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the threshold must be finite and at least 0.");
        Check.Device(device, w, nameof(w));
        if (w.Length == 0 || threshold == 0f) return;
        if (device.UsesHostEngine) SoftThresholdHost(device, w, threshold);
        else SoftThresholdIlgpu(device, w, threshold);
    }
}

internal static class ProximalRule
{
    /// <summary>
    /// <c>a = |w| - t; a &gt; 0 ? (w &lt; 0 ? -a : a) : (0 &gt; a ? 0 : a)</c>: the last branch maps <c>a = 0</c> to <c>+0</c> and
    /// keeps a NaN. The host engine evaluates the same float32 expression, so both give the same bits.
    /// </summary>
    public static float SoftThreshold(float w, float t)
    {
        float a = (w < 0f ? -w : w) - t;
        return a > 0f ? (w < 0f ? -a : a) : 0f > a ? 0f : a;
    }
}
