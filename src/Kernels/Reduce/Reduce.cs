using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>
/// Reductions whose results stay on the device: sums, row argmax and the number of correct predictions.
/// No op here copies anything back to the host; read a result with a copy when (and only when) it is needed.
/// </summary>
/// <remarks>
/// On ILGPU devices each thread group folds its share of the input in shared memory. Inputs of at most
/// <c>GroupSize · 16</c> elements take one group, which writes the result; larger ones write one partial per group to a
/// buffer the device keeps, and a second one-group launch on the same stream adds the partials in index order. No sum
/// uses float atomics, so a sum's bits depend only on the input and the launch shape (the same every run on a given
/// device and group size), and a NaN or infinity propagates as it does in float arithmetic. Counts add with integer
/// atomics and are exact. The host engine sums in float64 in a fixed order.
/// </remarks>
public static partial class Reduce
{
    /// <summary>Computes <c>result[0] = Σ_i x[i]</c> (0 for an empty <paramref name="x"/>).</summary>
    /// <param name="device">The device both views live on.</param>
    /// <param name="x">Input, any length.</param>
    /// <param name="result">Output, exactly one element.</param>
    /// <exception cref="ArgumentException"><paramref name="result"/> does not have exactly one element, or a view lives on another device.</exception>
    public static void Sum(Device device, ArrayView<float> x, ArrayView<float> result)
    {
        CheckSum(device, x, result);
        if (device.UsesHostEngine) SumHost<ValueTerm>(device, x, result, 1f);
        else SumIlgpu(device, x, result, 1f, new ValueTerm());
    }

    /// <summary>Computes <c>result[0] = Σ_i x[i]²</c> (0 for an empty <paramref name="x"/>).</summary>
    /// <param name="device">The device both views live on.</param>
    /// <param name="x">Input, any length.</param>
    /// <param name="result">Output, exactly one element.</param>
    /// <exception cref="ArgumentException"><paramref name="result"/> does not have exactly one element, or a view lives on another device.</exception>
    public static void SumOfSquares(Device device, ArrayView<float> x, ArrayView<float> result)
    {
        CheckSum(device, x, result);
        if (device.UsesHostEngine) SumHost<SquareTerm>(device, x, result, 1f);
        else SumIlgpu(device, x, result, 1f, new SquareTerm());
    }

    /// <summary>
    /// Computes <c>result[r] = argmax_c x[r·cols + c]</c> for each row <c>r &lt; rows</c> of the row-major
    /// <c>[rows × cols]</c> matrix <paramref name="x"/>. Ties go to the lowest column index, and NaN counts as larger
    /// than every number (the first NaN wins), as in NumPy's and PyTorch's <c>argmax</c>.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="x">Input, <c>rows · cols</c> elements.</param>
    /// <param name="rows">Number of rows, at least 0.</param>
    /// <param name="cols">Number of columns, at least 1.</param>
    /// <param name="result">Output, <c>rows</c> elements.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> is negative or <paramref name="cols"/> is not positive.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void RowArgmax(Device device, ArrayView<float> x, int rows, int cols, ArrayView<int> result)
    {
        Check.NonNegative(rows, nameof(rows));
        Check.Positive(cols, nameof(cols));
        Check.Length(x, (long)rows * cols, nameof(x));
        Check.Length(result, rows, nameof(result));
        Check.Device(device, x, nameof(x));
        CheckDevice(device, result, nameof(result));
        if (rows == 0) return;
        if (device.UsesHostEngine) RowArgmaxHost(device, x, rows, cols, result);
        else RowArgmaxIlgpu(device, x, rows, cols, result);
    }

    /// <summary>
    /// Computes <c>count[0] = |{ r &lt; rows : argmax_c logits[r·cols + c] = labels[r] }|</c>, the number of rows whose
    /// prediction (argmax as in <see cref="RowArgmax"/>, first maximum on ties) equals the label. A label outside
    /// <c>[0, cols)</c> never matches. Accuracy is <c>count[0] / rows</c>.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="logits">Scores, row-major <c>[rows × cols]</c>.</param>
    /// <param name="labels">Class index of each row, <c>rows</c> elements.</param>
    /// <param name="rows">Number of rows, at least 0.</param>
    /// <param name="cols">Number of classes, at least 1.</param>
    /// <param name="count">Output, exactly one element (overwritten, not accumulated).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> is negative or <paramref name="cols"/> is not positive.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void CountCorrect(Device device, ArrayView<float> logits, ArrayView<int> labels, int rows, int cols, ArrayView<int> count)
    {
        Check.NonNegative(rows, nameof(rows));
        Check.Positive(cols, nameof(cols));
        Check.Length(logits, (long)rows * cols, nameof(logits));
        Check.Length(labels, rows, nameof(labels));
        Check.Length(count, 1, nameof(count));
        Check.Device(device, logits, nameof(logits));
        CheckDevice(device, labels, nameof(labels));
        CheckDevice(device, count, nameof(count));
        if (device.UsesHostEngine) CountCorrectHost(device, logits, labels, rows, cols, count);
        else CountCorrectIlgpu(device, logits, labels, rows, cols, count);
    }

    /// <summary><c>result[0] = scale · Σ x[i]</c>, for ops that need a mean; the arguments are checked by the caller.</summary>
    internal static void MeanOrSum(Device device, ArrayView<float> x, ArrayView<float> result, float scale)
    {
        if (device.UsesHostEngine) SumHost<ValueTerm>(device, x, result, scale);
        else SumIlgpu(device, x, result, scale, new ValueTerm());
    }

    private static void CheckSum(Device device, ArrayView<float> x, ArrayView<float> result)
    {
        Check.Length(result, 1, nameof(result));
        Check.Device(device, x, nameof(x));
        Check.Device(device, result, nameof(result));
    }

    /// <summary>The <see cref="Check.Device"/> test for integer views.</summary>
    internal static void CheckDevice(Device device, ArrayView<int> view, string name)
    {
        if (view.IsValid && view.GetAccelerator() != device.Accelerator)
            throw new ArgumentException($"{name} lives on another device than {device.Spec}.", name);
    }

    /// <summary>
    /// True when <c>(a, ia)</c> wins over <c>(b, ib)</c> in an argmax: the larger value, NaN above every number, and the
    /// lower index among equals (two NaNs are equal). A total order, so any reduction tree gives the same winner.
    /// </summary>
    internal static bool Beats(float a, int ia, float b, int ib)
    {
        bool aNaN = float.IsNaN(a), bNaN = float.IsNaN(b);
        if (aNaN | bNaN) return aNaN && (!bNaN || ia < ib);
        if (a != b) return a > b;
        return ia < ib;
    }
}

/// <summary>The term a sum reduction adds up for each element (it must map 0 to 0: the host engine pads tails with 0).</summary>
internal interface IReduceTerm
{
    float Apply(float x);

    /// <summary><see cref="Apply(float)"/> on every lane, for the host engine.</summary>
    TVec Apply<TVec, TSimd>(TVec x) where TVec : struct where TSimd : ISimd<TVec>;
}

/// <summary><c>x</c>: a plain sum.</summary>
internal readonly struct ValueTerm : IReduceTerm
{
    public float Apply(float x) => x;

    public TVec Apply<TVec, TSimd>(TVec x) where TVec : struct where TSimd : ISimd<TVec> => x;
}

/// <summary><c>x²</c>: a sum of squares.</summary>
internal readonly struct SquareTerm : IReduceTerm
{
    public float Apply(float x) => x * x;

    public TVec Apply<TVec, TSimd>(TVec x) where TVec : struct where TSimd : ISimd<TVec> => TSimd.Multiply(x, x);
}
