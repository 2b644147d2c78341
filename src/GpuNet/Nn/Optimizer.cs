using GpuNet.Kernels;
using ILGPU;

namespace GpuNet.Nn;

/// <summary>
/// An optimizer over a model's flat parameter buffer, with PyTorch's semantics (see <see cref="Optimizers"/> for the update
/// rules). One step is one kernel launch over every parameter; with a <see cref="Regularization"/> it is two, one over
/// the weights (with the penalty's gradient) and one over the biases, and a third, the soft-thresholding of the weights,
/// when the L1 penalty is proximal (<see cref="Nn.Regularization.ProximalL1"/>).
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly List<Tensor> _state = [];

    /// <summary>An optimizer of <paramref name="parameters"/> at learning rate <paramref name="learningRate"/>.</summary>
    protected Optimizer(ParameterStore parameters, double learningRate)
    {
        Parameters = parameters;
        LearningRate = learningRate;
        BaseLearningRate = learningRate;
    }

    /// <summary>The parameters being optimised.</summary>
    public ParameterStore Parameters { get; }

    /// <summary>The learning rate of the next step (schedules change it).</summary>
    public double LearningRate { get; set; }

    /// <summary>The learning rate the optimizer was created with.</summary>
    public double BaseLearningRate { get; }

    /// <summary>Penalties on the weights, applied in every step.</summary>
    /// <exception cref="NotSupportedException">A proximal L1 penalty on an optimizer other than <see cref="Sgd"/>.</exception>
    public Regularization Regularization
    {
        get => _regularization;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.UsesProximalStep && !SupportsProximalL1)
                throw new NotSupportedException(
                    $"{Name}: a proximal L1 penalty (soft-thresholding by lr·l1 after the step) is the proximal gradient step of SGD; " +
                    "an adaptive optimizer scales each weight's step differently, so a threshold of lr·l1 is not its proximal step. " +
                    "Use the subgradient L1 penalty (ProximalL1 = false) with this optimizer.");
            _regularization = value;
        }
    }

    private Regularization _regularization = Regularization.None;

    /// <summary>Whether the optimizer can apply an L1 penalty by soft-thresholding (<see cref="Nn.Regularization.ProximalL1"/>).</summary>
    protected virtual bool SupportsProximalL1 => false;

    /// <summary>Steps taken so far.</summary>
    public int StepCount { get; private set; }

    /// <summary>A short name for reports, e.g. <c>SGD(momentum=0.9)</c>.</summary>
    public abstract string Name { get; }

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGrad() => Parameters.ZeroGrad();

    /// <summary>Applies one update from the current gradients.</summary>
    public void Step()
    {
        StepCount++;
        var p = Parameters;
        if (!Regularization.IsActive)
        {
            Apply(p.Values.View, p.Grads.View, 0, p.Count, 0, 0);
            return;
        }
        bool proximal = Regularization.UsesProximalStep;
        if (p.WeightCount > 0)
        {
            Apply(p.WeightValues, p.WeightGrads, 0, p.WeightCount, Regularization.L2, proximal ? 0 : Regularization.L1);
            // ISTA: the gradient step on the smooth part, then the exact proximal step of lr·l1·Σ|w|.
            if (proximal) Proximal.SoftThreshold(p.Device, p.WeightValues, (float)(LearningRate * Regularization.L1));
        }
        if (p.Count > p.WeightCount) Apply(p.BiasValues, p.BiasGrads, p.WeightCount, p.Count - p.WeightCount, 0, 0);
    }

    /// <summary>Updates the parameter range <c>[offset, offset+length)</c> with extra L2/L1 strengths added to the rule's own.</summary>
    protected abstract void Apply(ArrayView<float> w, ArrayView<float> g, long offset, long length, double extraL2, double extraL1);

    /// <summary>A zeroed state buffer as long as the parameters.</summary>
    protected Tensor State()
    {
        var t = Tensor.Zeros(Parameters.Device, checked((int)Math.Max(Parameters.Count, 1)));
        _state.Add(t);
        return t;
    }

    /// <summary>The range of a state buffer matching a parameter range.</summary>
    protected static ArrayView<float> Slice(Tensor state, long offset, long length) => state.View.SubView(offset, length);

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _state) t.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// <c>torch.optim.SGD</c>: plain, with momentum, dampening, Nesterov and weight decay. It supports a proximal L1 penalty: without
/// momentum that is exact proximal gradient descent (ISTA); with momentum the buffer holds the loss's gradient only and the
/// threshold stays <c>lr·l1</c> per step (the usual proximal-SGD-with-momentum scheme, not an exact proximal method).
/// </summary>
public sealed class Sgd : Optimizer
{
    private readonly SgdOptions _options;
    private readonly Tensor? _momentum;

    /// <summary>SGD over <paramref name="parameters"/>.</summary>
    public Sgd(ParameterStore parameters, double lr, double momentum = 0, double dampening = 0, bool nesterov = false, double weightDecay = 0)
        : base(parameters, lr)
    {
        _options = new SgdOptions { LearningRate = lr, Momentum = momentum, Dampening = dampening, Nesterov = nesterov, WeightDecay = weightDecay };
        if (momentum != 0) _momentum = State();
    }

    /// <inheritdoc />
    protected override bool SupportsProximalL1 => true;

    /// <inheritdoc />
    public override string Name => _options.Momentum == 0 ? "SGD" : _options.Nesterov ? $"SGD(momentum={_options.Momentum}, nesterov)" : $"SGD(momentum={_options.Momentum})";

    /// <inheritdoc />
    protected override void Apply(ArrayView<float> w, ArrayView<float> g, long offset, long length, double extraL2, double extraL1) =>
        Optimizers.SgdStep(Parameters.Device, w, g, _momentum is null ? default : Slice(_momentum, offset, length),
            _options with { LearningRate = LearningRate, WeightDecay = _options.WeightDecay + extraL2, L1 = _options.L1 + extraL1 }, StepCount);
}

/// <summary><c>torch.optim.Adagrad</c>.</summary>
public sealed class Adagrad : Optimizer
{
    private readonly AdagradOptions _options;
    private readonly Tensor _sum;

    /// <summary>Adagrad over <paramref name="parameters"/>.</summary>
    public Adagrad(ParameterStore parameters, double lr = 1e-2, double lrDecay = 0, double weightDecay = 0, double eps = 1e-10) : base(parameters, lr)
    {
        _options = new AdagradOptions { LearningRate = lr, LearningRateDecay = lrDecay, WeightDecay = weightDecay, Epsilon = eps };
        _sum = State();
    }

    /// <inheritdoc />
    public override string Name => "Adagrad";

    /// <inheritdoc />
    protected override void Apply(ArrayView<float> w, ArrayView<float> g, long offset, long length, double extraL2, double extraL1) =>
        Optimizers.AdagradStep(Parameters.Device, w, g, Slice(_sum, offset, length),
            _options with { LearningRate = LearningRate, WeightDecay = _options.WeightDecay + extraL2, L1 = _options.L1 + extraL1 }, StepCount);
}

/// <summary><c>torch.optim.RMSprop</c>.</summary>
public sealed class RmsProp : Optimizer
{
    private readonly RmsPropOptions _options;
    private readonly Tensor _square;
    private readonly Tensor? _momentum, _average;

    /// <summary>RMSprop over <paramref name="parameters"/>.</summary>
    public RmsProp(ParameterStore parameters, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0, double momentum = 0, bool centered = false)
        : base(parameters, lr)
    {
        _options = new RmsPropOptions { LearningRate = lr, Alpha = alpha, Epsilon = eps, WeightDecay = weightDecay, Momentum = momentum, Centered = centered };
        _square = State();
        if (momentum > 0) _momentum = State();
        if (centered) _average = State();
    }

    /// <inheritdoc />
    public override string Name => "RMSprop";

    /// <inheritdoc />
    protected override void Apply(ArrayView<float> w, ArrayView<float> g, long offset, long length, double extraL2, double extraL1) =>
        Optimizers.RmsPropStep(Parameters.Device, w, g, Slice(_square, offset, length),
            _momentum is null ? default : Slice(_momentum, offset, length), _average is null ? default : Slice(_average, offset, length),
            _options with { LearningRate = LearningRate, WeightDecay = _options.WeightDecay + extraL2, L1 = _options.L1 + extraL1 }, StepCount);
}

/// <summary><c>torch.optim.Adam</c> (L2 weight decay added to the gradient).</summary>
public sealed class Adam : Optimizer
{
    private readonly AdamOptions _options;
    private readonly Tensor _m, _v;

    /// <summary>Adam over <paramref name="parameters"/>.</summary>
    public Adam(ParameterStore parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : base(parameters, lr)
    {
        _options = new AdamOptions { LearningRate = lr, Beta1 = beta1, Beta2 = beta2, Epsilon = eps, WeightDecay = weightDecay };
        _m = State();
        _v = State();
    }

    /// <inheritdoc />
    public override string Name => "Adam";

    /// <inheritdoc />
    protected override void Apply(ArrayView<float> w, ArrayView<float> g, long offset, long length, double extraL2, double extraL1) =>
        Optimizers.AdamStep(Parameters.Device, w, g, Slice(_m, offset, length), Slice(_v, offset, length), default,
            _options with { LearningRate = LearningRate, WeightDecay = _options.WeightDecay + extraL2, L1 = _options.L1 + extraL1 }, StepCount);
}

/// <summary><c>torch.optim.AdamW</c> (decoupled weight decay). A <see cref="Regularization"/> L2 is still added to the gradient.</summary>
public sealed class AdamW : Optimizer
{
    private readonly AdamWOptions _options;
    private readonly Tensor _m, _v;

    /// <summary>AdamW over <paramref name="parameters"/>.</summary>
    public AdamW(ParameterStore parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2)
        : base(parameters, lr)
    {
        _options = new AdamWOptions { LearningRate = lr, Beta1 = beta1, Beta2 = beta2, Epsilon = eps, WeightDecay = weightDecay };
        _m = State();
        _v = State();
    }

    /// <inheritdoc />
    public override string Name => "AdamW";

    /// <inheritdoc />
    protected override void Apply(ArrayView<float> w, ArrayView<float> g, long offset, long length, double extraL2, double extraL1)
    {
        if (extraL2 != 0)
            throw new NotSupportedException("AdamW decouples weight decay; use its weightDecay instead of an L2 penalty.");
        Optimizers.AdamWStep(Parameters.Device, w, g, Slice(_m, offset, length), Slice(_v, offset, length), default,
            _options with { LearningRate = LearningRate, L1 = _options.L1 + extraL1 }, StepCount);
    }
}

/// <summary>A learning-rate schedule: the rate for an epoch (counting from 0) given the base rate.</summary>
public interface ILearningRateSchedule
{
    /// <summary>The learning rate for <paramref name="epoch"/>.</summary>
    double At(int epoch, double baseRate);
}

/// <summary><c>torch.optim.lr_scheduler.StepLR</c>: the rate times <c>gamma^(epoch / stepSize)</c>.</summary>
public sealed record StepSchedule(int StepSize, double Gamma = 0.1) : ILearningRateSchedule
{
    /// <inheritdoc />
    public double At(int epoch, double baseRate) => baseRate * Math.Pow(Gamma, epoch / Math.Max(1, StepSize));
}

/// <summary><c>CosineAnnealingLR</c>: <c>min + (base - min)·(1 + cos(π·epoch/epochs))/2</c>.</summary>
public sealed record CosineSchedule(int Epochs, double MinRate = 0) : ILearningRateSchedule
{
    /// <inheritdoc />
    public double At(int epoch, double baseRate) =>
        MinRate + (baseRate - MinRate) * (1 + Math.Cos(Math.PI * Math.Min(epoch, Epochs) / Math.Max(1, Epochs))) / 2;
}
