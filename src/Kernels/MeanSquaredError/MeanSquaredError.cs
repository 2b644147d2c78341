using ILGPU;

namespace GpuNet.Kernels;

/// <summary>
/// Mean squared error between a prediction <c>p</c> and a target <c>t</c>, both row-major <c>[rows × cols]</c>, as
/// <c>torch.nn.MSELoss</c> with mean reduction: <c>loss = (1/(rows·cols))·Σ (p - t)²</c>. Used for regression and for
/// feature matching in knowledge distillation. The target receives no gradient.
/// </summary>
/// <remarks>
/// On ILGPU devices the forward gives one thread group to a row (the group's threads stride over the columns and fold
/// their partial sums in shared memory) and then sums the row losses with <see cref="Reduce"/>; the backward is one
/// grid-stride loop over the elements. The host engine runs rows in blocks that depend only on the shape, so its results
/// have the same bits on any number of threads.
/// </remarks>
public static partial class MeanSquaredError
{
    /// <summary>
    /// Forward: <c>rowLoss[r] = Σ_c (p[r,c] - t[r,c])²</c> and <c>loss[0] = (1/(rows·cols))·Σ_r rowLoss[r]</c>. Both outputs
    /// are overwritten.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="prediction">The prediction <c>p</c>, <c>rows·cols</c> elements.</param>
    /// <param name="target">The target <c>t</c>, <c>rows·cols</c> elements.</param>
    /// <param name="rows">Number of rows, at least 1.</param>
    /// <param name="cols">Number of columns, at least 1.</param>
    /// <param name="rowLoss">Output, <c>rows</c> elements: each row's sum of squared differences.</param>
    /// <param name="loss">Output, one element: the mean over all elements.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="cols"/> is not positive.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void Forward(Device device, ArrayView<float> prediction, ArrayView<float> target, int rows, int cols,
        ArrayView<float> rowLoss, ArrayView<float> loss)
    {
        CheckPair(device, prediction, target, rows, cols);
        Check.Length(rowLoss, rows, nameof(rowLoss));
        Check.Length(loss, 1, nameof(loss));
        Check.Device(device, rowLoss, nameof(rowLoss));
        Check.Device(device, loss, nameof(loss));
        float scale = (float)(1.0 / ((double)rows * cols));
        if (device.UsesHostEngine)
        {
            ForwardHost(device, prediction, target, rows, cols, rowLoss, loss, scale);
            return;
        }
        ForwardIlgpu(device, prediction, target, rows, cols, rowLoss);
        Reduce.MeanOrSum(device, rowLoss, loss, scale);
    }

    /// <summary>
    /// Backward: accumulates the gradient of <c>scale · loss</c> with respect to the prediction,
    /// <c>dprediction[i] += scale · 2·(p[i] - t[i]) / (rows·cols)</c>.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="prediction">The prediction <c>p</c>, <c>rows·cols</c> elements.</param>
    /// <param name="target">The target <c>t</c>, <c>rows·cols</c> elements.</param>
    /// <param name="rows">Number of rows, at least 1.</param>
    /// <param name="cols">Number of columns, at least 1.</param>
    /// <param name="dprediction">Gradient with respect to the prediction, <c>rows·cols</c> elements, accumulated into.</param>
    /// <param name="scale">Weight of this loss (for example β in <c>CE + β·MSE</c>); finite.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="cols"/> is not positive, or <paramref name="scale"/> is not finite.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void Backward(Device device, ArrayView<float> prediction, ArrayView<float> target, int rows, int cols,
        ArrayView<float> dprediction, float scale = 1f)
    {
        CheckPair(device, prediction, target, rows, cols);
        Check.Length(dprediction, (long)rows * cols, nameof(dprediction));
        Check.Device(device, dprediction, nameof(dprediction));
        Check.Finite(scale, nameof(scale));
        float coefficient = (float)(2.0 * scale / ((double)rows * cols));
        if (device.UsesHostEngine) BackwardHost(device, prediction, target, dprediction, coefficient);
        else BackwardIlgpu(device, prediction, target, dprediction, coefficient);
    }

    private static void CheckPair(Device device, ArrayView<float> prediction, ArrayView<float> target, int rows, int cols)
    {
        Check.Positive(rows, nameof(rows));
        Check.Positive(cols, nameof(cols));
        Check.Length(prediction, (long)rows * cols, nameof(prediction));
        Check.Length(target, (long)rows * cols, nameof(target));
        Check.Device(device, prediction, nameof(prediction));
        Check.Device(device, target, nameof(target));
    }
}
