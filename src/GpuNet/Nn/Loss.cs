using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Nn;

/// <summary>
/// Softmax cross-entropy over logits <c>[batch, classes]</c> and integer labels, as <c>torch.nn.CrossEntropyLoss</c> with
/// mean reduction. <see cref="Forward"/> writes the batch's mean loss and correct count to device slots the caller chooses
/// (so a whole epoch of losses is read back at once); <see cref="Backward"/> returns <c>(softmax - onehot)/batch</c>.
/// </summary>
public sealed class CrossEntropyLoss : IDisposable
{
    private readonly Device _device;
    private Tensor? _rowLoss, _gradient;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _loss;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _correct;

    /// <summary>A loss on <paramref name="device"/>.</summary>
    public CrossEntropyLoss(Device device)
    {
        _device = device;
        _loss = device.Accelerator.Allocate1D<float>(1);
        _correct = device.Accelerator.Allocate1D<int>(1);
    }

    /// <summary>
    /// Computes the mean loss into <paramref name="loss"/>[0] and the number of rows whose arg-max is the label into
    /// <paramref name="correct"/>[0]; both default to internal slots read by <see cref="ReadLoss"/> and <see cref="ReadCorrect"/>.
    /// </summary>
    public void Forward(Tensor logits, ArrayView<int> labels, ArrayView<float> loss = default, ArrayView<int> correct = default)
    {
        int batch = logits.Dim(0), classes = logits.Dim(1);
        var rowLoss = Buffers.Rows(_device, ref _rowLoss, batch);
        SoftmaxCrossEntropy.Forward(_device, logits.View, labels, batch, classes, rowLoss.View,
            loss.IsValid ? loss : _loss.View, correct.IsValid ? correct : _correct.View);
    }

    /// <summary>The gradient of the mean loss with respect to the logits, times <paramref name="scale"/>; owned by the loss.</summary>
    public Tensor Backward(Tensor logits, ArrayView<int> labels, float scale = 1f)
    {
        int batch = logits.Dim(0), classes = logits.Dim(1);
        var g = Buffers.Matrix(_device, ref _gradient, batch, classes);
        g.Clear();
        SoftmaxCrossEntropy.Backward(_device, logits.View, labels, batch, classes, g.View, scale);
        return g;
    }

    /// <summary>
    /// <see cref="Forward"/> then <see cref="Backward"/> for a training step, in one kernel launch where the device allows
    /// (<see cref="SoftmaxCrossEntropy.ForwardBackward"/>): the mean loss and the correct count go to the slots as in
    /// <see cref="Forward"/>, and the gradient of the mean loss times <paramref name="scale"/> is returned (owned by the
    /// loss, as <see cref="Backward"/>'s).
    /// </summary>
    public Tensor ForwardBackward(Tensor logits, ArrayView<int> labels, ArrayView<float> loss = default, ArrayView<int> correct = default,
        float scale = 1f)
    {
        int batch = logits.Dim(0), classes = logits.Dim(1);
        var rowLoss = Buffers.Rows(_device, ref _rowLoss, batch);
        var g = Buffers.Matrix(_device, ref _gradient, batch, classes);
        SoftmaxCrossEntropy.ForwardBackward(_device, logits.View, labels, batch, classes, rowLoss.View,
            loss.IsValid ? loss : _loss.View, correct.IsValid ? correct : _correct.View, g.View, scale);
        return g;
    }

    /// <summary>The mean loss of the last <see cref="Forward"/> that used the internal slot (a host round trip).</summary>
    public float ReadLoss()
    {
        _device.Synchronize();
        return _loss.GetAsArray1D()[0];
    }

    /// <summary>The correct count of the last <see cref="Forward"/> that used the internal slot (a host round trip).</summary>
    public int ReadCorrect()
    {
        _device.Synchronize();
        return _correct.GetAsArray1D()[0];
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _rowLoss?.Dispose();
        _gradient?.Dispose();
        _loss.Dispose();
        _correct.Dispose();
    }
}

/// <summary>Scratch tensors a loss owns and grows: views of the first rows when a smaller batch comes.</summary>
internal static class Buffers
{
    /// <summary>A vector of <paramref name="rows"/> floats, reusing <paramref name="owned"/> when it is large enough.</summary>
    public static Tensor Rows(Device device, ref Tensor? owned, int rows)
    {
        if (owned is null || owned.Dim(0) < rows)
        {
            owned?.Dispose();
            owned = Tensor.Empty(device, Math.Max(rows, 1));
        }
        return owned.Dim(0) == rows ? owned : owned.Rows(0, rows);
    }

    /// <summary>A <c>[rows, cols]</c> matrix, reusing <paramref name="owned"/> when it has the columns and enough rows.</summary>
    public static Tensor Matrix(Device device, ref Tensor? owned, int rows, int cols)
    {
        if (owned is null || owned.Dim(0) < rows || owned.Dim(1) != cols)
        {
            owned?.Dispose();
            owned = Tensor.Empty(device, Math.Max(rows, 1), cols);
        }
        return owned.Dim(0) == rows ? owned : owned.Rows(0, rows);
    }
}

/// <summary>
/// Mean squared error between a prediction and a target of the same shape <c>[rows, cols]</c>, as
/// <c>torch.nn.MSELoss</c> with mean reduction: <c>(1/(rows·cols))·Σ (p - t)²</c>. <see cref="Forward"/> writes the mean
/// loss to a device slot the caller chooses; <see cref="Backward"/> returns <c>2·(p - t)/(rows·cols)</c>. The target gets
/// no gradient (in distillation it is the frozen teacher's features).
/// </summary>
public sealed class MseLoss : IDisposable
{
    private readonly Device _device;
    private Tensor? _rowLoss, _gradient;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _loss;

    /// <summary>A loss on <paramref name="device"/>.</summary>
    public MseLoss(Device device)
    {
        _device = device;
        _loss = device.Accelerator.Allocate1D<float>(1);
    }

    /// <summary>Computes the mean loss into <paramref name="loss"/>[0] (default: an internal slot read by <see cref="ReadLoss"/>).</summary>
    /// <exception cref="ArgumentException">The prediction and the target differ in shape.</exception>
    public void Forward(Tensor prediction, Tensor target, ArrayView<float> loss = default)
    {
        var (rows, cols) = Shape(prediction, target);
        var rowLoss = Buffers.Rows(_device, ref _rowLoss, rows);
        MeanSquaredError.Forward(_device, prediction.View, target.View, rows, cols, rowLoss.View, loss.IsValid ? loss : _loss.View);
    }

    /// <summary>The gradient of the mean loss with respect to the prediction, times <paramref name="scale"/>; owned by the loss.</summary>
    /// <exception cref="ArgumentException">The prediction and the target differ in shape.</exception>
    public Tensor Backward(Tensor prediction, Tensor target, float scale = 1f)
    {
        var (rows, cols) = Shape(prediction, target);
        var g = Buffers.Matrix(_device, ref _gradient, rows, cols);
        g.Clear();
        MeanSquaredError.Backward(_device, prediction.View, target.View, rows, cols, g.View, scale);
        return g;
    }

    /// <summary>The mean loss of the last <see cref="Forward"/> that used the internal slot (a host round trip).</summary>
    public float ReadLoss()
    {
        _device.Synchronize();
        return _loss.GetAsArray1D()[0];
    }

    private static (int Rows, int Cols) Shape(Tensor prediction, Tensor target)
    {
        if (prediction.Rank != 2 || target.Rank != 2 || prediction.Dim(0) != target.Dim(0) || prediction.Dim(1) != target.Dim(1))
            throw new ArgumentException(
                $"MSE needs a prediction and a target of the same [rows, cols] shape; got {prediction.ShapeString} and {target.ShapeString}.");
        return (prediction.Dim(0), prediction.Dim(1));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _rowLoss?.Dispose();
        _gradient?.Dispose();
        _loss.Dispose();
    }
}

/// <summary>
/// Hinton's soft-target loss for knowledge distillation (Hinton, Vinyals and Dean 2015): the cross-entropy of the student's
/// softened distribution <c>softmax(s/T)</c> against the teacher's <c>softmax(t/T)</c>, times <c>T²</c>, averaged over the
/// batch (<see cref="SoftmaxCrossEntropy.ForwardSoft"/>). It differs from PyTorch's
/// <c>T² · KLDivLoss(log_softmax(s/T), softmax(t/T), reduction="batchmean")</c> by the teacher's entropy only, a constant, so
/// the gradients are the same. The teacher's logits receive no gradient.
/// </summary>
public sealed class SoftTargetLoss : IDisposable
{
    private readonly Device _device;
    private Tensor? _rowLoss, _gradient;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _loss;

    /// <summary>A loss on <paramref name="device"/> at temperature <paramref name="temperature"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> is not finite and positive.</exception>
    public SoftTargetLoss(Device device, float temperature)
    {
        if (!(float.IsFinite(temperature) && temperature > 0))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "the temperature must be finite and positive.");
        _device = device;
        Temperature = temperature;
        _loss = device.Accelerator.Allocate1D<float>(1);
    }

    /// <summary>The temperature <c>T</c>.</summary>
    public float Temperature { get; }

    /// <summary>Computes the mean loss into <paramref name="loss"/>[0] (default: an internal slot read by <see cref="ReadLoss"/>).</summary>
    public void Forward(Tensor studentLogits, Tensor teacherLogits, ArrayView<float> loss = default)
    {
        int batch = studentLogits.Dim(0), classes = studentLogits.Dim(1);
        var rowLoss = Buffers.Rows(_device, ref _rowLoss, batch);
        SoftmaxCrossEntropy.ForwardSoft(_device, studentLogits.View, teacherLogits.View, batch, classes, Temperature, rowLoss.View,
            loss.IsValid ? loss : _loss.View);
    }

    /// <summary>The gradient of the mean loss with respect to the student's logits, times <paramref name="scale"/>
    /// (<c>scale·T·(softmax(s/T) - softmax(t/T))/batch</c>); owned by the loss.</summary>
    public Tensor Backward(Tensor studentLogits, Tensor teacherLogits, float scale = 1f)
    {
        var g = Buffers.Matrix(_device, ref _gradient, studentLogits.Dim(0), studentLogits.Dim(1));
        g.Clear();
        AddGradient(studentLogits, teacherLogits, g, scale);
        return g;
    }

    /// <summary>Adds <paramref name="scale"/> times the gradient with respect to the student's logits to
    /// <paramref name="gradient"/> (for example the hard-label loss's gradient, to train on the sum of both).</summary>
    public void AddGradient(Tensor studentLogits, Tensor teacherLogits, Tensor gradient, float scale = 1f) =>
        SoftmaxCrossEntropy.BackwardSoft(_device, studentLogits.View, teacherLogits.View, studentLogits.Dim(0), studentLogits.Dim(1),
            Temperature, gradient.View, scale);

    /// <summary>The mean loss of the last <see cref="Forward"/> that used the internal slot (a host round trip).</summary>
    public float ReadLoss()
    {
        _device.Synchronize();
        return _loss.GetAsArray1D()[0];
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _rowLoss?.Dispose();
        _gradient?.Dispose();
        _loss.Dispose();
    }
}

/// <summary>
/// L1 and L2 penalties on a model's weights (not its biases): the loss gains <c>l1·Σ|w| + (l2/2)·Σw²</c> and the gradient
/// <c>l1·sign(w) + l2·w</c>. <c>l2</c> is therefore the same number as PyTorch's <c>weight_decay</c>.
/// </summary>
/// <remarks>
/// With <see cref="ProximalL1"/> the L1 penalty is not added to the gradient: the optimizer steps on the loss (and the L2
/// term) alone and then soft-thresholds the weights by <c>lr·l1</c> (<see cref="Kernels.Proximal.SoftThreshold"/>), which is
/// one step of proximal gradient descent (ISTA) on the same objective. The subgradient leaves small weights jittering
/// around zero by about <c>lr·l1</c>; the proximal step puts them at exactly zero. Only <see cref="Sgd"/> supports it.
/// </remarks>
/// <param name="L1">Strength of the L1 penalty.</param>
/// <param name="L2">Strength of the L2 penalty.</param>
/// <param name="ProximalL1">Apply the L1 penalty by soft-thresholding after each step instead of through its subgradient.</param>
public sealed record Regularization(double L1 = 0, double L2 = 0, bool ProximalL1 = false)
{
    /// <summary>No penalty.</summary>
    public static readonly Regularization None = new();

    /// <summary>True when either strength is non-zero.</summary>
    public bool IsActive => L1 != 0 || L2 != 0;

    /// <summary>True when an L1 penalty is applied by the proximal step (soft-thresholding).</summary>
    public bool UsesProximalStep => ProximalL1 && L1 != 0;

    /// <summary>The penalty's value for the current weights (downloads them; meant for once-per-epoch reporting).</summary>
    public double Value(ParameterStore parameters)
    {
        if (!IsActive || parameters.WeightCount == 0) return 0;
        var w = parameters.Values.Rows(0, (int)parameters.WeightCount).ToArray();
        double abs = 0, squares = 0;
        foreach (float v in w)
        {
            abs += Math.Abs(v);
            squares += (double)v * v;
        }
        return L1 * abs + L2 / 2 * squares;
    }

    /// <inheritdoc />
    public override string ToString() =>
        !IsActive ? "none" : string.Join(" ", new[] { L1 != 0 ? $"L1={L1:G3}{(ProximalL1 ? " (proximal)" : "")}" : null, L2 != 0 ? $"L2={L2:G3}" : null }.Where(s => s is not null));
}
