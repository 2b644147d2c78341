using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class Activation
{
    // One generic kernel body per direction; the operator struct is a kernel parameter, so each activation is its own
    // specialised kernel with no branches on the kind inside the loop.
    [GpuKernel(typeof(IdentityOp), typeof(ReluOp), typeof(LeakyReluOp), typeof(TanhOp), typeof(SigmoidOp))]
    private static void ForwardKernel<TOp>(ArrayView<float> x, ArrayView<float> y, TOp op) where TOp : struct, IActivationOp
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < x.IntLength; i += stride)
            y[i] = op.Apply(x[i]);
    }

    [GpuKernel(typeof(IdentityOp), typeof(ReluOp), typeof(LeakyReluOp), typeof(TanhOp), typeof(SigmoidOp))]
    private static void BackwardKernel<TOp>(ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, TOp op)
        where TOp : struct, IActivationOp
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < x.IntLength; i += stride)
            dx[i] += dy[i] * op.Derivative(x[i], y[i]);
    }

    private static void ForwardIlgpu(Device device, ActivationKind kind, ArrayView<float> x, ArrayView<float> y, float slope)
    {
        switch (kind)
        {
            case ActivationKind.Identity: LaunchForward(device, x, y, new IdentityOp()); break;
            case ActivationKind.Relu: LaunchForward(device, x, y, new ReluOp()); break;
            case ActivationKind.LeakyRelu: LaunchForward(device, x, y, new LeakyReluOp(slope)); break;
            case ActivationKind.Tanh: LaunchForward(device, x, y, new TanhOp()); break;
            case ActivationKind.Sigmoid: LaunchForward(device, x, y, new SigmoidOp()); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown activation.");
        }
    }

    private static void BackwardIlgpu(Device device, ActivationKind kind, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy,
        ArrayView<float> dx, float slope)
    {
        switch (kind)
        {
            case ActivationKind.Identity: LaunchBackward(device, x, y, dy, dx, new IdentityOp()); break;
            case ActivationKind.Relu: LaunchBackward(device, x, y, dy, dx, new ReluOp()); break;
            case ActivationKind.LeakyRelu: LaunchBackward(device, x, y, dy, dx, new LeakyReluOp(slope)); break;
            case ActivationKind.Tanh: LaunchBackward(device, x, y, dy, dx, new TanhOp()); break;
            case ActivationKind.Sigmoid: LaunchBackward(device, x, y, dy, dx, new SigmoidOp()); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown activation.");
        }
    }

    private static void LaunchForward<TOp>(Device device, ArrayView<float> x, ArrayView<float> y, TOp op) where TOp : struct, IActivationOp
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, TOp>(ForwardKernel);
        kernel(device.Config1D(x.Length), x, y, op);
        device.AfterLaunch();
    }

    private static void LaunchBackward<TOp>(Device device, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx,
        TOp op) where TOp : struct, IActivationOp
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, TOp>(BackwardKernel);
        kernel(device.Config1D(x.Length), x, y, dy, dx, op);
        device.AfterLaunch();
    }
}
