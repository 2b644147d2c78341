namespace GpuNet.Nn;

/// <summary>
/// A layer of a <see cref="Sequential"/> model, with PyTorch's semantics. A module works on 2-D batches
/// <c>[batch, features]</c>; its forward output and input gradient live in buffers the module owns and reuses from batch to
/// batch (the tensors it returns are views of them, valid until its next call). Backward accumulates into the parameter
/// gradients (<c>+=</c>) and overwrites the input gradient it returns.
/// </summary>
public abstract class Module : IDisposable
{
    /// <summary>True in training mode (dropout active), false in evaluation mode.</summary>
    public bool IsTraining { get; private set; } = true;

    /// <summary>The device, set when the model is built.</summary>
    protected Device Device { get; private set; } = null!;

    /// <summary>The module's index in its model (the prefix of its parameter names).</summary>
    public int Index { get; private set; }

    /// <summary>The model's seed, for modules that draw random numbers (dropout).</summary>
    protected ulong Seed { get; private set; }

    /// <summary>Switches training mode on or off.</summary>
    public virtual void Train(bool training = true) => IsTraining = training;

    /// <summary>The parameters this module needs, in its own naming (<c>weight</c>, <c>bias</c>).</summary>
    public virtual IReadOnlyList<ParameterSpec> ParameterSpecs => [];

    /// <summary>The number of output features for <paramref name="inputFeatures"/> input features.</summary>
    /// <exception cref="ArgumentException">The module cannot take that many input features.</exception>
    public abstract int OutputFeatures(int inputFeatures);

    /// <summary>Computes the output for a <c>[batch, features]</c> input.</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>
    /// Back-propagates <paramref name="gradOutput"/> (the loss gradient with respect to the last forward output):
    /// accumulates parameter gradients and, when <paramref name="needInputGrad"/>, returns the gradient with respect to the
    /// last forward input (else null).
    /// </summary>
    public abstract Tensor? Backward(Tensor gradOutput, bool needInputGrad);

    internal void Attach(Device device, int index, ulong seed)
    {
        Device = device;
        Index = index;
        Seed = seed;
    }

    internal virtual void Bind(IReadOnlyList<Parameter> parameters)
    {
    }

    /// <summary>A short description for reports, e.g. <c>Linear(784, 256)</c>.</summary>
    public abstract override string ToString();

    /// <summary>Frees the module's buffers.</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>A <c>[rows, cols]</c> view of a buffer the module owns, reallocated only when a batch is larger than any before.</summary>
    protected Tensor Buffer(ref Tensor? owned, int rows, int cols)
    {
        if (owned is null || owned.Dim(0) < rows || owned.Dim(1) != cols)
        {
            owned?.Dispose();
            owned = Tensor.Empty(Device, Math.Max(rows, 1), cols);
        }
        return owned.Dim(0) == rows ? owned : owned.Rows(0, rows);
    }

    /// <summary>Checks that a batch is 2-D with the expected number of features.</summary>
    protected static void CheckInput(Tensor input, int features, string module)
    {
        if (input.Rank != 2 || input.Dim(1) != features)
            throw new ArgumentException($"{module} expects input [batch, {features}]; got {input.ShapeString}.", nameof(input));
    }
}
