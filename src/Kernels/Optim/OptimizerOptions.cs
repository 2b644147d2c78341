namespace GpuNet.Kernels;

// Hyperparameters of the optimizer steps, with PyTorch's names (in .NET casing) and defaults. They are doubles, as
// PyTorch's Python floats are: per-step scalars (bias corrections, the decayed learning rate) are computed from them
// in float64 on the host and handed to the kernels as float32.
//
// Every optimizer also takes L1, which PyTorch's optimizers do not have: l1·sign(w) (sign(0) = 0) is added to the
// gradient together with the L2 term weightDecay·w, before anything else. It is the gradient of l1·Σ|w|.

/// <summary>Hyperparameters of <see cref="Optimizers.SgdStep"/>, as <c>torch.optim.SGD</c>.</summary>
public sealed record SgdOptions
{
    /// <summary>The learning rate <c>lr</c>, at least 0. PyTorch's default is 1e-3.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>The momentum factor, at least 0; 0 turns momentum (and the momentum buffer) off.</summary>
    public double Momentum { get; init; }

    /// <summary>Dampening of the momentum: the new gradient enters the buffer with weight <c>1 - dampening</c>.</summary>
    public double Dampening { get; init; }

    /// <summary>Nesterov momentum; needs <see cref="Momentum"/> &gt; 0 and <see cref="Dampening"/> = 0.</summary>
    public bool Nesterov { get; init; }

    /// <summary>L2 penalty: <c>weightDecay·w</c> is added to the gradient. At least 0.</summary>
    public double WeightDecay { get; init; }

    /// <summary>L1 penalty: <c>l1·sign(w)</c> is added to the gradient. At least 0.</summary>
    public double L1 { get; init; }
}

/// <summary>Hyperparameters of <see cref="Optimizers.AdagradStep"/>, as <c>torch.optim.Adagrad</c>.</summary>
public sealed record AdagradOptions
{
    /// <summary>The learning rate <c>lr</c>, at least 0.</summary>
    public double LearningRate { get; init; } = 1e-2;

    /// <summary><c>lr_decay</c>: step <c>t</c> uses <c>lr / (1 + (t - 1)·lrDecay)</c>. At least 0.</summary>
    public double LearningRateDecay { get; init; }

    /// <summary>L2 penalty: <c>weightDecay·w</c> is added to the gradient. At least 0.</summary>
    public double WeightDecay { get; init; }

    /// <summary>The value the sum of squared gradients starts from. At least 0.</summary>
    public double InitialAccumulatorValue { get; init; }

    /// <summary>Added to the square root of the sum, for stability. At least 0.</summary>
    public double Epsilon { get; init; } = 1e-10;

    /// <summary>L1 penalty: <c>l1·sign(w)</c> is added to the gradient. At least 0.</summary>
    public double L1 { get; init; }
}

/// <summary>Hyperparameters of <see cref="Optimizers.RmsPropStep"/>, as <c>torch.optim.RMSprop</c>.</summary>
public sealed record RmsPropOptions
{
    /// <summary>The learning rate <c>lr</c>, at least 0.</summary>
    public double LearningRate { get; init; } = 1e-2;

    /// <summary>Smoothing constant of the running averages, at least 0.</summary>
    public double Alpha { get; init; } = 0.99;

    /// <summary>Added to the square root of the average, for stability. At least 0.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>L2 penalty: <c>weightDecay·w</c> is added to the gradient. At least 0.</summary>
    public double WeightDecay { get; init; }

    /// <summary>The momentum factor, at least 0; 0 turns momentum (and the momentum buffer) off.</summary>
    public double Momentum { get; init; }

    /// <summary>Centered RMSprop: normalise by an estimate of the gradient's variance (needs a gradient-average buffer).</summary>
    public bool Centered { get; init; }

    /// <summary>L1 penalty: <c>l1·sign(w)</c> is added to the gradient. At least 0.</summary>
    public double L1 { get; init; }
}

/// <summary>Hyperparameters of <see cref="Optimizers.AdamStep"/>, as <c>torch.optim.Adam</c>.</summary>
public sealed record AdamOptions
{
    /// <summary>The learning rate <c>lr</c>, at least 0.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Decay of the first-moment average, in [0, 1).</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Decay of the second-moment average, in [0, 1).</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Added outside the square root of the bias-corrected second moment. At least 0.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>L2 penalty: <c>weightDecay·w</c> is added to the gradient (AdamW decays the weight instead). At least 0.</summary>
    public double WeightDecay { get; init; }

    /// <summary>AMSGrad: normalise by the running maximum of the second moment (needs a third state buffer).</summary>
    public bool Amsgrad { get; init; }

    /// <summary>L1 penalty: <c>l1·sign(w)</c> is added to the gradient. At least 0.</summary>
    public double L1 { get; init; }
}

/// <summary>Hyperparameters of <see cref="Optimizers.AdamWStep"/>, as <c>torch.optim.AdamW</c>.</summary>
public sealed record AdamWOptions
{
    /// <summary>The learning rate <c>lr</c>, at least 0.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Decay of the first-moment average, in [0, 1).</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Decay of the second-moment average, in [0, 1).</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Added outside the square root of the bias-corrected second moment. At least 0.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Decoupled weight decay: the weight is multiplied by <c>1 - lr·weightDecay</c> before the Adam step. At least 0.</summary>
    public double WeightDecay { get; init; } = 1e-2;

    /// <summary>AMSGrad: normalise by the running maximum of the second moment (needs a third state buffer).</summary>
    public bool Amsgrad { get; init; }

    /// <summary>L1 penalty: <c>l1·sign(w)</c> is added to the gradient (it is not decoupled). At least 0.</summary>
    public double L1 { get; init; }
}
