using ILGPU;

namespace GpuNet.Kernels;

/// <summary>Whether a GEMM operand is used as stored (<see cref="No"/>) or transposed (<see cref="Yes"/>).</summary>
public enum Transpose
{
    /// <summary><c>op(X) = X</c>.</summary>
    No,
    /// <summary><c>op(X) = Xᵀ</c>: the operand is read as stored, only its indices are swapped; nothing is copied.</summary>
    Yes,
}

/// <summary>
/// General matrix multiply on dense row-major float32 matrices:
/// <c>C = alpha·op(A)·op(B) + beta·C</c>, with <c>op(X)</c> either <c>X</c> or <c>Xᵀ</c>.
/// </summary>
public static partial class Gemm
{
    /// <summary>
    /// Computes <c>C[i, j] = alpha · Σ_p op(A)[i, p] · op(B)[p, j] + beta · C[i, j]</c> for <c>i &lt; m</c>,
    /// <c>j &lt; n</c>, <c>p &lt; k</c>. All matrices are dense and row-major.
    /// <list type="bullet">
    /// <item><paramref name="a"/> holds A as an <c>m×k</c> matrix when <paramref name="transA"/> is <see cref="Transpose.No"/>,
    /// as a <c>k×m</c> matrix when it is <see cref="Transpose.Yes"/>.</item>
    /// <item><paramref name="b"/> holds B as a <c>k×n</c> matrix when <paramref name="transB"/> is <see cref="Transpose.No"/>,
    /// as an <c>n×k</c> matrix when it is <see cref="Transpose.Yes"/>.</item>
    /// <item><paramref name="c"/> holds C as an <c>m×n</c> matrix.</item>
    /// </list>
    /// As in BLAS, when <paramref name="beta"/> is 0, C is not read: NaN or garbage in it is overwritten. When
    /// <paramref name="k"/> is 0 the product is empty and the result is <c>beta·C</c>. When <paramref name="m"/> or
    /// <paramref name="n"/> is 0 nothing is done. Sums accumulate in float32; on the host engine and on ILGPU devices the
    /// result does not depend on the number of threads or the group size used (on a GPU the kernel and any split of the
    /// depth are chosen from the shape and the device's multiprocessor count, so two GPUs may round differently; see
    /// docs/gpu.md). <paramref name="c"/> must not overlap
    /// <paramref name="a"/> or <paramref name="b"/>.
    /// </summary>
    /// <param name="device">The device all three views live on.</param>
    /// <param name="transA">Whether <paramref name="a"/> stores A (<c>m×k</c>) or Aᵀ (<c>k×m</c>).</param>
    /// <param name="transB">Whether <paramref name="b"/> stores B (<c>k×n</c>) or Bᵀ (<c>n×k</c>).</param>
    /// <param name="m">Rows of C and of op(A).</param>
    /// <param name="n">Columns of C and of op(B).</param>
    /// <param name="k">Columns of op(A), rows of op(B): the length of each dot product.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="a">A, exactly <c>m·k</c> elements.</param>
    /// <param name="b">B, exactly <c>k·n</c> elements.</param>
    /// <param name="beta">Scale of the old C; 0 means C is write-only.</param>
    /// <param name="c">C, exactly <c>m·n</c> elements; overwritten with the result.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="m"/>, <paramref name="n"/> or <paramref name="k"/> is
    /// negative.</exception>
    /// <exception cref="ArgumentException">A view does not have exactly the number of elements its shape needs, or more than
    /// <see cref="int.MaxValue"/>, or lives on another device; the message names the view and the expected shape.</exception>
    public static void Run(Device device, Transpose transA, Transpose transB, int m, int n, int k,
        float alpha, ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c)
    {
        if (!Validate(device, transA, transB, m, n, k, a, b, c)) return;
        if (device.UsesHostEngine) RunHost(transA, transB, m, n, k, alpha, a, b, beta, c, maxThreads: device.HostThreads);
        else RunPlanned(device, Plan(device, m, n, k), transA, transB, m, n, k, alpha, a, b, beta, c, default, ActivationKind.Identity);
    }

    /// <summary>
    /// <see cref="Run(Device, Transpose, Transpose, int, int, int, float, ArrayView{float}, ArrayView{float}, float, ArrayView{float})"/>
    /// with an epilogue: computes <c>C[i, j] = f(alpha · Σ_p op(A)[i, p] · op(B)[p, j] + beta · C[i, j] + bias[j])</c>, f the
    /// identity or ReLU (<c>x &gt; 0 ? x : 0</c>), in that order, as the unfused ops would (<see cref="Bias.Add"/> then
    /// <see cref="Activation.Forward"/>). On an ILGPU device this is one launch (the forward of Linear + ReLU); the host
    /// engine runs the three steps.
    /// </summary>
    /// <param name="device">The device all views live on.</param>
    /// <param name="transA">As in the plain overload.</param>
    /// <param name="transB">As in the plain overload.</param>
    /// <param name="m">As in the plain overload.</param>
    /// <param name="n">As in the plain overload.</param>
    /// <param name="k">As in the plain overload.</param>
    /// <param name="alpha">As in the plain overload.</param>
    /// <param name="a">As in the plain overload.</param>
    /// <param name="b">As in the plain overload.</param>
    /// <param name="beta">As in the plain overload.</param>
    /// <param name="c">As in the plain overload.</param>
    /// <param name="bias">The bias, <paramref name="n"/> elements, or an empty view for none.</param>
    /// <param name="activation"><see cref="ActivationKind.Identity"/> or <see cref="ActivationKind.Relu"/>.</param>
    /// <exception cref="ArgumentException">As in the plain overload; or the bias is neither empty nor <paramref name="n"/>
    /// long, or lives on another device; or the activation is not Identity or ReLU.</exception>
    public static void Run(Device device, Transpose transA, Transpose transB, int m, int n, int k,
        float alpha, ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c,
        ArrayView<float> bias, ActivationKind activation)
    {
        if (activation is not (ActivationKind.Identity or ActivationKind.Relu))
            throw new ArgumentException($"the GEMM epilogue applies Identity or Relu; got {activation}.", nameof(activation));
        bool valid = Validate(device, transA, transB, m, n, k, a, b, c);
        if (bias.Length > 0)
        {
            Check.Length(bias, n, nameof(bias));
            Check.Device(device, bias, nameof(bias));
        }
        if (!valid) return;
        if (!device.UsesHostEngine)
        {
            RunPlanned(device, Plan(device, m, n, k), transA, transB, m, n, k, alpha, a, b, beta, c, bias, activation);
            return;
        }
        RunHost(transA, transB, m, n, k, alpha, a, b, beta, c, maxThreads: device.HostThreads);
        if (bias.Length > 0) Bias.Add(device, c, bias, m, n);
        if (activation != ActivationKind.Identity) Activation.Forward(device, activation, c, c);
    }

    /// <summary>Checks the arguments of <see cref="Run(Device, Transpose, Transpose, int, int, int, float, ArrayView{float}, ArrayView{float}, float, ArrayView{float})"/>; false when there is nothing to compute (m or n is 0).</summary>
    internal static bool Validate(Device device, Transpose transA, Transpose transB, int m, int n, int k,
        ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        ArgumentNullException.ThrowIfNull(device);
        Check.NonNegative(m, nameof(m));
        Check.NonNegative(n, nameof(n));
        Check.NonNegative(k, nameof(k));
        CheckOperand(a, m, k, transA, "m", "k", "transA", nameof(a));
        CheckOperand(b, k, n, transB, "k", "n", "transB", nameof(b));
        CheckOperand(c, m, n, Transpose.No, "m", "n", null, nameof(c));
        Check.Device(device, a, nameof(a));
        Check.Device(device, b, nameof(b));
        Check.Device(device, c, nameof(c));
        return m > 0 && n > 0;
    }

    // Like Check.Length, but the message says which shape was expected, which is what one needs to fix a GEMM call.
    private static void CheckOperand(ArrayView<float> view, int rows, int cols, Transpose trans,
        string rowsName, string colsName, string? transName, string name)
    {
        long expected = (long)rows * cols;
        if (view.Length == expected && expected <= int.MaxValue) return;
        string shape = trans == Transpose.No
            ? $"{rowsName}×{colsName} = {rows}×{cols}"
            : $"{colsName}×{rowsName} = {cols}×{rows}";
        string how = transName is null ? "" : $" ({transName} is {trans})";
        if (expected > int.MaxValue)
            throw new ArgumentException(
                $"{name} would need {expected} elements ({shape}){how}; GEMM supports at most {int.MaxValue} per matrix.", name);
        throw new ArgumentException(
            $"{name} has {view.Length} elements; expected {expected}, a dense row-major {shape} matrix{how}.", name);
    }
}
