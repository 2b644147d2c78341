using ILGPU;

namespace GpuNet.Kernels;

public static partial class Activation
{
    // Scalar host loops through the same operator structs; the SIMD versions come with the host engine.
    private static void ForwardHost(ActivationKind kind, ArrayView<float> x, ArrayView<float> y, float slope)
    {
        switch (kind)
        {
            case ActivationKind.Identity: HostForward(x, y, new IdentityOp()); break;
            case ActivationKind.Relu: HostForward(x, y, new ReluOp()); break;
            case ActivationKind.LeakyRelu: HostForward(x, y, new LeakyReluOp(slope)); break;
            case ActivationKind.Tanh: HostForward(x, y, new TanhOp()); break;
            case ActivationKind.Sigmoid: HostForward(x, y, new SigmoidOp()); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown activation.");
        }
    }

    private static void BackwardHost(ActivationKind kind, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, float slope)
    {
        switch (kind)
        {
            case ActivationKind.Identity: HostBackward(x, y, dy, dx, new IdentityOp()); break;
            case ActivationKind.Relu: HostBackward(x, y, dy, dx, new ReluOp()); break;
            case ActivationKind.LeakyRelu: HostBackward(x, y, dy, dx, new LeakyReluOp(slope)); break;
            case ActivationKind.Tanh: HostBackward(x, y, dy, dx, new TanhOp()); break;
            case ActivationKind.Sigmoid: HostBackward(x, y, dy, dx, new SigmoidOp()); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown activation.");
        }
    }

    private static void HostForward<TOp>(ArrayView<float> x, ArrayView<float> y, TOp op) where TOp : struct, IActivationOp
    {
        var xs = HostView.Span(x);
        var ys = HostView.Span(y);
        for (int i = 0; i < xs.Length; i++) ys[i] = op.Apply(xs[i]);
    }

    private static void HostBackward<TOp>(ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, TOp op)
        where TOp : struct, IActivationOp
    {
        var xs = HostView.Span(x);
        var ys = HostView.Span(y);
        var dys = HostView.Span(dy);
        var dxs = HostView.Span(dx);
        for (int i = 0; i < xs.Length; i++) dxs[i] += dys[i] * op.Derivative(xs[i], ys[i]);
    }
}
