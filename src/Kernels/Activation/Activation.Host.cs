using System.Runtime.CompilerServices;
using ILGPU;

namespace GpuNet.Kernels;

public static partial class Activation
{
    // The host engine: each activation is an operator struct over IHostVector, run by HostSimd's drivers at the
    // processor's widest SIMD width, in blocks over the device's threads. Identity, ReLU and LeakyReLU compute the same
    // float32 expressions as the kernels' operator structs, so their results are bit-identical to the ILGPU kernels.
    // Tanh and Sigmoid use Cephes-style polynomial approximations (within a few ulp) in place of XMath's; their backward
    // passes are the same expressions of y as the kernels'.

    private static void ForwardHost(Device device, ActivationKind kind, ArrayView<float> x, ArrayView<float> y, float slope)
    {
        switch (kind)
        {
            case ActivationKind.Identity: HostSimd.Copy(device, x, y); break;
            case ActivationKind.Relu: HostSimd.Map(device, x, y, new ReluHost()); break;
            case ActivationKind.LeakyRelu: HostSimd.Map(device, x, y, new LeakyReluHost(slope)); break;
            case ActivationKind.Tanh: HostSimd.Map(device, x, y, new TanhHost()); break;
            case ActivationKind.Sigmoid: HostSimd.Map(device, x, y, new SigmoidHost()); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown activation.");
        }
    }

    private static void BackwardHost(Device device, ActivationKind kind, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy,
        ArrayView<float> dx, float slope)
    {
        // dx += dy·f'(·): f' reads x (ReLU, LeakyReLU) or y (Tanh, Sigmoid), and only that view is streamed in.
        switch (kind)
        {
            case ActivationKind.Identity: HostSimd.Map(device, dy, dx, dx, new IdentityBackwardHost()); break;
            case ActivationKind.Relu: HostSimd.Map(device, x, dy, dx, dx, new ReluBackwardHost()); break;
            case ActivationKind.LeakyRelu: HostSimd.Map(device, x, dy, dx, dx, new LeakyReluBackwardHost(slope)); break;
            case ActivationKind.Tanh: HostSimd.Map(device, y, dy, dx, dx, new TanhBackwardHost()); break;
            case ActivationKind.Sigmoid: HostSimd.Map(device, y, dy, dx, dx, new SigmoidBackwardHost()); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown activation.");
        }
    }

    /// <summary><c>x &gt; 0 ? x : 0</c>, as <see cref="ReluOp"/> (NaN gives 0).</summary>
    private readonly struct ReluHost : IUnaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV x) where TV : struct, IHostVector<TV> => TV.IfGreater(x, TV.Create(0f), x, TV.Create(0f));
    }

    /// <summary><c>x &gt; 0 ? x : slope·x</c>, as <see cref="LeakyReluOp"/>.</summary>
    private readonly struct LeakyReluHost(float slope) : IUnaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV x) where TV : struct, IHostVector<TV> => TV.IfGreater(x, TV.Create(0f), x, TV.Create(slope) * x);
    }

    /// <summary>
    /// tanh(x) from |x|, with the sign copied back at the end (so tanh(-0) = -0): below 0.625 Cephes' <c>tanhf</c> odd
    /// polynomial a + a·z·P(z), z = a²; above, 1 - 2/(e^(2a) + 1) with a clamped to 10, where tanh is 1 in float32.
    /// </summary>
    private readonly struct TanhHost : IUnaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV x) where TV : struct, IHostVector<TV>
        {
            TV a = TV.Abs(x);
            TV z = a * a;
            TV p = TV.Create(-5.70498872745e-3f);
            p = p * z + TV.Create(2.06390887954e-2f);
            p = p * z - TV.Create(5.37397155531e-2f);
            p = p * z + TV.Create(1.33314422036e-1f);
            p = p * z - TV.Create(3.33332819422e-1f);
            TV small = p * z * a + a;
            TV e = HostMath.Exp(TV.Min(a, TV.Create(10f)) * TV.Create(2f));
            TV large = TV.Create(1f) - TV.Create(2f) / (e + TV.Create(1f));
            // NaN fails the comparison and takes the large branch, where it stays NaN.
            return TV.CopySign(TV.IfGreater(TV.Create(0.625f), a, small, large), x);
        }
    }

    /// <summary>
    /// 1/(1 + e^-x) from e = e^-|x|, as <see cref="SigmoidOp"/> arranges it: 1/(1 + e) for x &gt;= 0, e/(1 + e) below;
    /// 0 where the result is below float32's normal range (x &lt; -87.33; e^-|x| is clamped there).
    /// </summary>
    private readonly struct SigmoidHost : IUnaryHostOp
    {
        private const float Lowest = -87.33f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV x) where TV : struct, IHostVector<TV>
        {
            TV m = TV.Create(0f) - TV.Abs(x);
            TV e = HostMath.Exp(TV.Max(m, TV.Create(Lowest)));
            TV d = TV.Create(1f) + e;
            TV s = TV.IfGreater(TV.Create(0f), x, e / d, TV.Create(1f) / d);
            return TV.IfGreater(TV.Create(Lowest), x, TV.Create(0f), s);
        }
    }

    /// <summary><c>dx + dy·1</c>, as <see cref="IdentityOp"/>: <c>dy·1</c> is <c>dy</c> exactly, so <c>dx + dy</c>.</summary>
    private readonly struct IdentityBackwardHost : IBinaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV dy, TV dx) where TV : struct, IHostVector<TV> => dx + dy;
    }

    /// <summary><c>dx + dy·(x &gt; 0 ? 1 : 0)</c>; the product is taken, not skipped, so an infinite dy gives NaN as in the kernel.</summary>
    private readonly struct ReluBackwardHost : ITernaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV x, TV dy, TV dx) where TV : struct, IHostVector<TV> =>
            dx + dy * TV.IfGreater(x, TV.Create(0f), TV.Create(1f), TV.Create(0f));
    }

    /// <summary><c>dx + dy·(x &gt; 0 ? 1 : slope)</c>.</summary>
    private readonly struct LeakyReluBackwardHost(float slope) : ITernaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV x, TV dy, TV dx) where TV : struct, IHostVector<TV> =>
            dx + dy * TV.IfGreater(x, TV.Create(0f), TV.Create(1f), TV.Create(slope));
    }

    /// <summary><c>dx + dy·(1 - y·y)</c>.</summary>
    private readonly struct TanhBackwardHost : ITernaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV y, TV dy, TV dx) where TV : struct, IHostVector<TV> => dx + dy * (TV.Create(1f) - y * y);
    }

    /// <summary><c>dx + dy·(y·(1 - y))</c>.</summary>
    private readonly struct SigmoidBackwardHost : ITernaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV y, TV dy, TV dx) where TV : struct, IHostVector<TV> => dx + dy * (y * (TV.Create(1f) - y));
    }
}
