using ILGPU;

namespace GpuNet.Kernels;

/// <summary>
/// Optimizer update steps with PyTorch's exact semantics, each one kernel launch over a flat parameter view: the
/// weights <c>w</c>, their gradient <c>g</c> and the optimizer state, all views of the same length. The caller owns the
/// state buffers and passes the step number <c>t</c>, counting from 1.
/// </summary>
/// <remarks>
/// <para>
/// Every rule first forms a local regularised gradient <c>g' = g + weightDecay·w + l1·sign(w)</c> (<c>sign(0) = 0</c>;
/// AdamW leaves out the <c>weightDecay·w</c> term and decays the weight instead). The gradient view itself is never
/// written.
/// </para>
/// <para>
/// On step 1 the contents of the state buffers are ignored and taken as their initial values (zero; Adagrad's
/// <see cref="AdagradOptions.InitialAccumulatorValue"/> for its sum), as in a freshly made torch optimizer, so the
/// buffers need not be cleared. A state buffer an option turns off (SGD's momentum buffer when momentum is 0, RMSprop's
/// momentum and gradient-average buffers, Adam's maximum buffer without AMSGrad) is neither read nor written and may be
/// an empty view.
/// </para>
/// <para>
/// Every method throws <see cref="ArgumentException"/> when a view it uses has another length than <c>w</c>, and
/// <see cref="ArgumentOutOfRangeException"/> when the step is below 1 or a hyperparameter is outside the range PyTorch
/// accepts. Per-step scalars (bias corrections, the decayed learning rate) are computed on the host in float64.
/// </para>
/// </remarks>
public static partial class Optimizers
{
    /// <summary>
    /// One step of SGD (<c>torch.optim.SGD</c>):
    /// <code>
    /// g'  = g + weightDecay·w + l1·sign(w)
    /// if momentum ≠ 0:
    ///     buf = (t == 1) ? g' : momentum·buf + (1 - dampening)·g'
    ///     g'  = nesterov ? g' + momentum·buf : buf
    /// w  -= lr·g'
    /// </code>
    /// </summary>
    /// <param name="device">The device every view lives on.</param>
    /// <param name="w">Weights, updated in place.</param>
    /// <param name="g">Gradient of the loss with respect to <paramref name="w"/>; read only.</param>
    /// <param name="momentumBuffer">Momentum buffer, updated in place; used only when momentum ≠ 0.</param>
    /// <param name="options">Hyperparameters.</param>
    /// <param name="step">The step number <c>t</c>, from 1.</param>
    /// <exception cref="ArgumentException">A used view's length differs from <paramref name="w"/>'s, or Nesterov is asked
    /// for without momentum or with dampening.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> &lt; 1 or a hyperparameter is out of range.</exception>
    public static void SgdStep(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> momentumBuffer, SgdOptions options, int step)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        CheckStep(step);
        NonNegative(options.LearningRate, "LearningRate");
        NonNegative(options.Momentum, "Momentum");
        Finite(options.Dampening, "Dampening");
        NonNegative(options.WeightDecay, "WeightDecay");
        NonNegative(options.L1, "L1");
        if (options.Nesterov && (options.Momentum <= 0 || options.Dampening != 0))
            throw new ArgumentException("Nesterov momentum requires a momentum and zero dampening.", nameof(options));
        bool useMomentum = options.Momentum != 0;
        CheckViews(device, w, g);
        if (useMomentum) CheckState(device, w, momentumBuffer, nameof(momentumBuffer));
        if (w.Length == 0) return;

        var args = new SgdArgs
        {
            LearningRate = (float)options.LearningRate,
            Momentum = (float)options.Momentum,
            OneMinusDampening = (float)(1 - options.Dampening),
            WeightDecay = (float)options.WeightDecay,
            L1 = (float)options.L1,
            UseMomentum = useMomentum ? 1 : 0,
            Nesterov = options.Nesterov ? 1 : 0,
            FirstStep = step == 1 ? 1 : 0,
        };
        // An unused state view is replaced by w so that no kernel ever gets an empty view; the rule never touches it.
        var buf = useMomentum ? momentumBuffer : w;
        if (device.UsesHostEngine) SgdHost(device, w, g, buf, args);
        else SgdIlgpu(device, w, g, buf, args);
    }

    /// <summary>
    /// One step of Adagrad (<c>torch.optim.Adagrad</c>):
    /// <code>
    /// g'   = g + weightDecay·w + l1·sign(w)
    /// clr  = lr / (1 + (t - 1)·lrDecay)
    /// sum += g'²                        (sum starts at initialAccumulatorValue)
    /// w   -= clr·g' / (sqrt(sum) + eps)
    /// </code>
    /// </summary>
    /// <param name="device">The device every view lives on.</param>
    /// <param name="w">Weights, updated in place.</param>
    /// <param name="g">Gradient; read only.</param>
    /// <param name="sum">Sum of squared gradients, updated in place.</param>
    /// <param name="options">Hyperparameters.</param>
    /// <param name="step">The step number <c>t</c>, from 1.</param>
    /// <exception cref="ArgumentException">A view's length differs from <paramref name="w"/>'s.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> &lt; 1 or a hyperparameter is out of range.</exception>
    public static void AdagradStep(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> sum, AdagradOptions options, int step)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        CheckStep(step);
        NonNegative(options.LearningRate, "LearningRate");
        NonNegative(options.LearningRateDecay, "LearningRateDecay");
        NonNegative(options.WeightDecay, "WeightDecay");
        NonNegative(options.InitialAccumulatorValue, "InitialAccumulatorValue");
        NonNegative(options.Epsilon, "Epsilon");
        NonNegative(options.L1, "L1");
        CheckViews(device, w, g);
        CheckState(device, w, sum, nameof(sum));
        if (w.Length == 0) return;

        var args = new AdagradArgs
        {
            CurrentLearningRate = (float)(options.LearningRate / (1 + (step - 1) * options.LearningRateDecay)),
            Epsilon = (float)options.Epsilon,
            WeightDecay = (float)options.WeightDecay,
            L1 = (float)options.L1,
            InitialAccumulator = (float)options.InitialAccumulatorValue,
            FirstStep = step == 1 ? 1 : 0,
        };
        if (device.UsesHostEngine) AdagradHost(device, w, g, sum, args);
        else AdagradIlgpu(device, w, g, sum, args);
    }

    /// <summary>
    /// One step of RMSprop (<c>torch.optim.RMSprop</c>):
    /// <code>
    /// g'    = g + weightDecay·w + l1·sign(w)
    /// sq    = alpha·sq + (1 - alpha)·g'²
    /// if centered: gavg = alpha·gavg + (1 - alpha)·g';  avg = sq - gavg²
    /// else:        avg  = sq
    /// denom = sqrt(avg) + eps
    /// if momentum &gt; 0: buf = momentum·buf + g'/denom;  w -= lr·buf
    /// else:             w  -= lr·g'/denom
    /// </code>
    /// </summary>
    /// <param name="device">The device every view lives on.</param>
    /// <param name="w">Weights, updated in place.</param>
    /// <param name="g">Gradient; read only.</param>
    /// <param name="squareAvg">Running average of squared gradients <c>sq</c>, updated in place.</param>
    /// <param name="momentumBuffer">Momentum buffer <c>buf</c>; used only when momentum &gt; 0.</param>
    /// <param name="gradAvg">Running average of gradients <c>gavg</c>; used only when centered.</param>
    /// <param name="options">Hyperparameters.</param>
    /// <param name="step">The step number <c>t</c>, from 1.</param>
    /// <exception cref="ArgumentException">A used view's length differs from <paramref name="w"/>'s.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> &lt; 1 or a hyperparameter is out of range.</exception>
    public static void RmsPropStep(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> squareAvg,
        ArrayView<float> momentumBuffer, ArrayView<float> gradAvg, RmsPropOptions options, int step)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        CheckStep(step);
        NonNegative(options.LearningRate, "LearningRate");
        NonNegative(options.Alpha, "Alpha");
        NonNegative(options.Epsilon, "Epsilon");
        NonNegative(options.WeightDecay, "WeightDecay");
        NonNegative(options.Momentum, "Momentum");
        NonNegative(options.L1, "L1");
        bool useMomentum = options.Momentum > 0;
        CheckViews(device, w, g);
        CheckState(device, w, squareAvg, nameof(squareAvg));
        if (useMomentum) CheckState(device, w, momentumBuffer, nameof(momentumBuffer));
        if (options.Centered) CheckState(device, w, gradAvg, nameof(gradAvg));
        if (w.Length == 0) return;

        var args = new RmsPropArgs
        {
            LearningRate = (float)options.LearningRate,
            Alpha = (float)options.Alpha,
            OneMinusAlpha = (float)(1 - options.Alpha),
            Epsilon = (float)options.Epsilon,
            WeightDecay = (float)options.WeightDecay,
            L1 = (float)options.L1,
            Momentum = (float)options.Momentum,
            UseMomentum = useMomentum ? 1 : 0,
            Centered = options.Centered ? 1 : 0,
            FirstStep = step == 1 ? 1 : 0,
        };
        var buf = useMomentum ? momentumBuffer : w;
        var gavg = options.Centered ? gradAvg : w;
        if (device.UsesHostEngine) RmsPropHost(device, w, g, squareAvg, buf, gavg, args);
        else RmsPropIlgpu(device, w, g, squareAvg, buf, gavg, args);
    }

    /// <summary>
    /// One step of Adam (<c>torch.optim.Adam</c>), with L2 weight decay added to the gradient:
    /// <code>
    /// g'   = g + weightDecay·w + l1·sign(w)
    /// m    = beta1·m + (1 - beta1)·g'
    /// v    = beta2·v + (1 - beta2)·g'²
    /// vmax = max(vmax, v)                          (AMSGrad only; then vmax replaces v below)
    /// mhat = m / (1 - beta1^t);  vhat = v / (1 - beta2^t)
    /// w   -= lr·mhat / (sqrt(vhat) + eps)          (eps outside the square root)
    /// </code>
    /// computed as PyTorch arranges it: <c>w -= (lr / (1 - beta1^t))·m / (sqrt(v) / sqrt(1 - beta2^t) + eps)</c>.
    /// </summary>
    /// <param name="device">The device every view lives on.</param>
    /// <param name="w">Weights, updated in place.</param>
    /// <param name="g">Gradient; read only.</param>
    /// <param name="expAvg">First moment <c>m</c>, updated in place.</param>
    /// <param name="expAvgSq">Second moment <c>v</c>, updated in place.</param>
    /// <param name="maxExpAvgSq">Running maximum <c>vmax</c> of <c>v</c>; used only with AMSGrad.</param>
    /// <param name="options">Hyperparameters.</param>
    /// <param name="step">The step number <c>t</c>, from 1.</param>
    /// <exception cref="ArgumentException">A used view's length differs from <paramref name="w"/>'s.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> &lt; 1 or a hyperparameter is out of range.</exception>
    public static void AdamStep(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> expAvg, ArrayView<float> expAvgSq,
        ArrayView<float> maxExpAvgSq, AdamOptions options, int step)
    {
        ArgumentNullException.ThrowIfNull(options);
        NonNegative(options.WeightDecay, "WeightDecay");
        AdamCore(device, w, g, expAvg, expAvgSq, maxExpAvgSq, options.LearningRate, options.Beta1, options.Beta2, options.Epsilon,
            l2: options.WeightDecay, decoupled: 0, options.L1, options.Amsgrad, step);
    }

    /// <summary>
    /// One step of AdamW (<c>torch.optim.AdamW</c>): decoupled weight decay, then the Adam step without L2 on the gradient:
    /// <code>
    /// g'   = g + l1·sign(w)                        (w before the decay)
    /// w   *= 1 - lr·weightDecay
    /// m    = beta1·m + (1 - beta1)·g'
    /// v    = beta2·v + (1 - beta2)·g'²
    /// vmax = max(vmax, v)                          (AMSGrad only; then vmax replaces v below)
    /// w   -= lr·mhat / (sqrt(vhat) + eps),  mhat = m / (1 - beta1^t),  vhat = v / (1 - beta2^t)
    /// </code>
    /// </summary>
    /// <param name="device">The device every view lives on.</param>
    /// <param name="w">Weights, updated in place.</param>
    /// <param name="g">Gradient; read only.</param>
    /// <param name="expAvg">First moment <c>m</c>, updated in place.</param>
    /// <param name="expAvgSq">Second moment <c>v</c>, updated in place.</param>
    /// <param name="maxExpAvgSq">Running maximum <c>vmax</c> of <c>v</c>; used only with AMSGrad.</param>
    /// <param name="options">Hyperparameters.</param>
    /// <param name="step">The step number <c>t</c>, from 1.</param>
    /// <exception cref="ArgumentException">A used view's length differs from <paramref name="w"/>'s.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> &lt; 1 or a hyperparameter is out of range.</exception>
    public static void AdamWStep(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> expAvg, ArrayView<float> expAvgSq,
        ArrayView<float> maxExpAvgSq, AdamWOptions options, int step)
    {
        ArgumentNullException.ThrowIfNull(options);
        NonNegative(options.WeightDecay, "WeightDecay");
        AdamCore(device, w, g, expAvg, expAvgSq, maxExpAvgSq, options.LearningRate, options.Beta1, options.Beta2, options.Epsilon,
            l2: 0, decoupled: options.WeightDecay, options.L1, options.Amsgrad, step);
    }

    private static void AdamCore(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> expAvg, ArrayView<float> expAvgSq,
        ArrayView<float> maxExpAvgSq, double lr, double beta1, double beta2, double eps, double l2, double decoupled, double l1,
        bool amsgrad, int step)
    {
        ArgumentNullException.ThrowIfNull(device);
        CheckStep(step);
        NonNegative(lr, "LearningRate");
        NonNegative(eps, "Epsilon");
        NonNegative(l1, "L1");
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException("options", beta1, "Beta1 must be in [0, 1).");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException("options", beta2, "Beta2 must be in [0, 1).");
        CheckViews(device, w, g);
        CheckState(device, w, expAvg, nameof(expAvg));
        CheckState(device, w, expAvgSq, nameof(expAvgSq));
        if (amsgrad) CheckState(device, w, maxExpAvgSq, nameof(maxExpAvgSq));
        if (w.Length == 0) return;

        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        var args = new AdamArgs
        {
            StepSize = (float)(lr / biasCorrection1),
            BiasCorrection2Sqrt = (float)Math.Sqrt(biasCorrection2),
            Beta1 = (float)beta1,
            OneMinusBeta1 = (float)(1 - beta1),
            Beta2 = (float)beta2,
            OneMinusBeta2 = (float)(1 - beta2),
            Epsilon = (float)eps,
            WeightDecay = (float)l2,
            WeightScale = (float)(1 - lr * decoupled),
            L1 = (float)l1,
            Amsgrad = amsgrad ? 1 : 0,
            FirstStep = step == 1 ? 1 : 0,
        };
        var vmax = amsgrad ? maxExpAvgSq : w;
        if (device.UsesHostEngine) AdamHost(device, w, g, expAvg, expAvgSq, vmax, args);
        else AdamIlgpu(device, w, g, expAvg, expAvgSq, vmax, args);
    }

    private static void CheckStep(int step)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "step counts from 1.");
    }

    private static void NonNegative(double value, string option)
    {
        if (!(value >= 0 && double.IsFinite(value)))
            throw new ArgumentOutOfRangeException("options", value, $"{option} must be finite and at least 0.");
    }

    private static void Finite(double value, string option)
    {
        if (!double.IsFinite(value)) throw new ArgumentOutOfRangeException("options", value, $"{option} must be finite.");
    }

    private static void CheckViews(Device device, ArrayView<float> w, ArrayView<float> g)
    {
        Check.SameLength(w, g, nameof(w), nameof(g));
        Check.Device(device, w, nameof(w));
        Check.Device(device, g, nameof(g));
    }

    private static void CheckState(Device device, ArrayView<float> w, ArrayView<float> state, string name)
    {
        Check.SameLength(w, state, nameof(w), name);
        Check.Device(device, state, name);
    }
}
