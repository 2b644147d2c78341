using ILGPU;

namespace GpuNet.Kernels;

/// <summary>Elementwise activation functions.</summary>
public enum ActivationKind
{
    /// <summary><c>f(x) = x</c>.</summary>
    Identity,
    /// <summary><c>f(x) = max(x, 0)</c>; the derivative at 0 is taken as 0, as in PyTorch.</summary>
    Relu,
    /// <summary><c>f(x) = x</c> for <c>x &gt; 0</c>, else <c>slope·x</c>; the derivative at 0 is <c>slope</c>.</summary>
    LeakyRelu,
    /// <summary><c>f(x) = tanh(x)</c>, <c>f'(x) = 1 - tanh(x)²</c>.</summary>
    Tanh,
    /// <summary><c>f(x) = 1 / (1 + exp(-x))</c>, <c>f'(x) = f(x)·(1 - f(x))</c>.</summary>
    Sigmoid,
}

/// <summary>
/// Elementwise activations and their backward. Forward computes <c>y[i] = f(x[i])</c>;
/// backward accumulates <c>dx[i] += dy[i] · f'(x[i])</c>, evaluating the derivative from <c>x</c> (ReLU, LeakyReLU)
/// or from the forward output <c>y</c> (Tanh, Sigmoid).
/// </summary>
public static partial class Activation
{
    /// <summary>PyTorch's default negative slope for LeakyReLU.</summary>
    public const float DefaultSlope = 0.01f;

    /// <summary>Computes <c>y[i] = f(x[i])</c> for <c>i &lt; x.Length</c>. <paramref name="x"/> and <paramref name="y"/> may be the same view.</summary>
    /// <param name="device">The device both views live on.</param>
    /// <param name="kind">The activation.</param>
    /// <param name="x">Input, any length.</param>
    /// <param name="y">Output, same length as <paramref name="x"/>.</param>
    /// <param name="slope">Negative slope of <see cref="ActivationKind.LeakyRelu"/>; ignored otherwise.</param>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public static void Forward(Device device, ActivationKind kind, ArrayView<float> x, ArrayView<float> y, float slope = DefaultSlope)
    {
        Check.SameLength(x, y, nameof(x), nameof(y));
        if (x.Length == 0) return;
        if (device.UsesHostEngine) ForwardHost(device, kind, x, y, slope);
        else ForwardIlgpu(device, kind, x, y, slope);
    }

    /// <summary>
    /// Accumulates <c>dx[i] += dy[i] · f'(x[i])</c>. <paramref name="x"/> is the forward input and <paramref name="y"/> the
    /// forward output <c>f(x)</c>; both must be given (each activation reads the one its derivative is cheapest from).
    /// </summary>
    /// <exception cref="ArgumentException">The four views do not all have the same length.</exception>
    public static void Backward(Device device, ActivationKind kind, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy,
        ArrayView<float> dx, float slope = DefaultSlope)
    {
        Check.SameLength(x, y, nameof(x), nameof(y));
        Check.SameLength(x, dy, nameof(x), nameof(dy));
        Check.SameLength(x, dx, nameof(x), nameof(dx));
        if (x.Length == 0) return;
        if (device.UsesHostEngine) BackwardHost(device, kind, x, y, dy, dx, slope);
        else BackwardIlgpu(device, kind, x, y, dy, dx, slope);
    }
}

/// <summary>A scalar activation as an operator struct, shared by the ILGPU kernels and the host engine.</summary>
internal interface IActivationOp
{
    float Apply(float x);
    /// <summary>The derivative given the forward input <paramref name="x"/> and output <paramref name="y"/>.</summary>
    float Derivative(float x, float y);
}

internal readonly struct IdentityOp : IActivationOp
{
    public float Apply(float x) => x;
    public float Derivative(float x, float y) => 1f;
}

internal readonly struct ReluOp : IActivationOp
{
    public float Apply(float x) => x > 0f ? x : 0f;
    public float Derivative(float x, float y) => x > 0f ? 1f : 0f;
}

internal readonly struct LeakyReluOp(float slope) : IActivationOp
{
    public readonly float Slope = slope;
    public float Apply(float x) => x > 0f ? x : Slope * x;
    public float Derivative(float x, float y) => x > 0f ? 1f : Slope;
}

/// <summary>
/// tanh by the host engine's algorithm (Cephes' <c>tanhf</c>): below |x| = 0.625 the odd polynomial x + x·z·P(z), z = x²;
/// above, ±(1 - 2/(e^(2|x|) + 1)) with |x| clamped to 10, where tanh is 1 in float32.
/// </summary>
/// <remarks>
/// Not <c>XMath.Tanh</c>: on sm_75 and later ILGPU lowers it to PTX <c>tanh.approx.f32</c>, whose relative error of about
/// 2⁻¹¹ (5·10⁻⁴) is fifty times the 10⁻⁵ the parity tests allow. Here the only approximate GPU instruction is the exponential
/// (<c>ex2.approx</c>, relative error about 2⁻²² plus 2⁻²⁴ per unit of 2|x|·log₂e), used only above 0.625 where its error
/// is damped by 2/(e + 1)²·e: under 2·10⁻⁶ relative, within the parity tolerance. The compile check asserts no kernel's
/// PTX contains <c>tanh.approx</c>.
/// </remarks>
internal readonly struct TanhOp : IActivationOp
{
    public float Apply(float x)
    {
        float a = ILGPU.Algorithms.XMath.Abs(x);
        if (!(a >= 0.625f)) // NaN comes here too, and stays NaN
        {
            if (x == 0f) return x; // keeps the sign of -0
            float z = x * x;
            float p = -5.70498872745e-3f;
            p = p * z + 2.06390887954e-2f;
            p = p * z - 5.37397155531e-2f;
            p = p * z + 1.33314422036e-1f;
            p = p * z - 3.33332819422e-1f;
            return p * z * x + x;
        }
        float e = ILGPU.Algorithms.XMath.Exp(2f * ILGPU.Algorithms.XMath.Min(a, 10f));
        float t = 1f - 2f / (e + 1f);
        return x < 0f ? -t : t;
    }

    public float Derivative(float x, float y) => 1f - y * y;
}

internal readonly struct SigmoidOp : IActivationOp
{
    // Stable for large |x|: exp is only taken of a non-positive number.
    public float Apply(float x)
    {
        if (x >= 0f) return 1f / (1f + ILGPU.Algorithms.XMath.Exp(-x));
        float e = ILGPU.Algorithms.XMath.Exp(x);
        return e / (1f + e);
    }

    public float Derivative(float x, float y) => y * (1f - y);
}
