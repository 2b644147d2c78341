using ILGPU.Algorithms;

namespace GpuNet.Kernels;

// The per-element update rules, shared by the ILGPU kernels and the host loops so both compute the same float32
// expressions. Each *Args struct holds one step's constants (computed on the host in float64, stored as float32) and
// applies the rule to one weight, its gradient and its state, returning the new weight and state. Flags are ints, not
// bools, so the structs marshal the same way to every backend.
//
// On the first step (FirstStep != 0) the state read from memory is ignored and taken as its initial value (zero, or
// Adagrad's initial accumulator), as in a fresh torch optimizer; so callers need not clear state buffers.

internal static class OptimRule
{
    /// <summary>g' = g + wd·w + l1·sign(w), sign(0) = 0; a zero coefficient adds nothing (not even 0·inf).</summary>
    public static float Regularize(float g, float w, float weightDecay, float l1)
    {
        float d = g;
        if (weightDecay != 0f) d += weightDecay * w;
        if (l1 != 0f) d += l1 * (w > 0f ? 1f : w < 0f ? -1f : 0f);
        return d;
    }
}

internal readonly struct SgdUpdate(float w, float momentumBuffer)
{
    public readonly float W = w;
    public readonly float MomentumBuffer = momentumBuffer;
}

internal readonly struct SgdArgs
{
    public float LearningRate { get; init; }
    public float Momentum { get; init; }
    public float OneMinusDampening { get; init; }
    public float WeightDecay { get; init; }
    public float L1 { get; init; }
    public int UseMomentum { get; init; }
    public int Nesterov { get; init; }
    public int FirstStep { get; init; }

    public SgdUpdate Apply(float w, float g, float buf)
    {
        float d = OptimRule.Regularize(g, w, WeightDecay, L1);
        if (UseMomentum != 0)
        {
            buf = FirstStep != 0 ? d : Momentum * buf + OneMinusDampening * d;
            d = Nesterov != 0 ? d + Momentum * buf : buf;
        }
        return new SgdUpdate(w - LearningRate * d, buf);
    }
}

internal readonly struct AdagradUpdate(float w, float sum)
{
    public readonly float W = w;
    public readonly float Sum = sum;
}

internal readonly struct AdagradArgs
{
    /// <summary>lr / (1 + (t - 1)·lrDecay).</summary>
    public float CurrentLearningRate { get; init; }
    public float Epsilon { get; init; }
    public float WeightDecay { get; init; }
    public float L1 { get; init; }
    public float InitialAccumulator { get; init; }
    public int FirstStep { get; init; }

    public AdagradUpdate Apply(float w, float g, float sum)
    {
        float d = OptimRule.Regularize(g, w, WeightDecay, L1);
        sum = (FirstStep != 0 ? InitialAccumulator : sum) + d * d;
        return new AdagradUpdate(w - CurrentLearningRate * (d / (XMath.Sqrt(sum) + Epsilon)), sum);
    }
}

internal readonly struct RmsPropUpdate(float w, float squareAvg, float momentumBuffer, float gradAvg)
{
    public readonly float W = w;
    public readonly float SquareAvg = squareAvg;
    public readonly float MomentumBuffer = momentumBuffer;
    public readonly float GradAvg = gradAvg;
}

internal readonly struct RmsPropArgs
{
    public float LearningRate { get; init; }
    public float Alpha { get; init; }
    public float OneMinusAlpha { get; init; }
    public float Epsilon { get; init; }
    public float WeightDecay { get; init; }
    public float L1 { get; init; }
    public float Momentum { get; init; }
    public int UseMomentum { get; init; }
    public int Centered { get; init; }
    public int FirstStep { get; init; }

    public RmsPropUpdate Apply(float w, float g, float squareAvg, float momentumBuffer, float gradAvg)
    {
        if (FirstStep != 0)
        {
            squareAvg = 0f;
            momentumBuffer = 0f;
            gradAvg = 0f;
        }
        float d = OptimRule.Regularize(g, w, WeightDecay, L1);
        squareAvg = Alpha * squareAvg + OneMinusAlpha * (d * d);
        float avg = squareAvg;
        if (Centered != 0)
        {
            gradAvg = Alpha * gradAvg + OneMinusAlpha * d;
            avg = squareAvg - gradAvg * gradAvg;
        }
        float denom = XMath.Sqrt(avg) + Epsilon;
        if (UseMomentum != 0)
        {
            momentumBuffer = Momentum * momentumBuffer + d / denom;
            w -= LearningRate * momentumBuffer;
        }
        else
        {
            w -= LearningRate * (d / denom);
        }
        return new RmsPropUpdate(w, squareAvg, momentumBuffer, gradAvg);
    }
}

internal readonly struct AdamUpdate(float w, float expAvg, float expAvgSq, float maxExpAvgSq)
{
    public readonly float W = w;
    public readonly float ExpAvg = expAvg;
    public readonly float ExpAvgSq = expAvgSq;
    public readonly float MaxExpAvgSq = maxExpAvgSq;
}

/// <summary>Adam and AdamW: AdamW is Adam with <c>WeightScale = 1 - lr·wd</c> and no L2 term on the gradient.</summary>
internal readonly struct AdamArgs
{
    /// <summary>lr / (1 - beta1^t).</summary>
    public float StepSize { get; init; }
    /// <summary>sqrt(1 - beta2^t).</summary>
    public float BiasCorrection2Sqrt { get; init; }
    public float Beta1 { get; init; }
    public float OneMinusBeta1 { get; init; }
    public float Beta2 { get; init; }
    public float OneMinusBeta2 { get; init; }
    public float Epsilon { get; init; }
    /// <summary>L2 coefficient added to the gradient (Adam); 0 for AdamW.</summary>
    public float WeightDecay { get; init; }
    /// <summary>Decoupled decay factor 1 - lr·wd (AdamW); 1 for Adam.</summary>
    public float WeightScale { get; init; }
    public float L1 { get; init; }
    public int Amsgrad { get; init; }
    public int FirstStep { get; init; }

    // PyTorch's arrangement: w -= (lr / bc1)·m / (sqrt(v) / sqrt(bc2) + eps), which is lr·mhat / (sqrt(vhat) + eps).
    public AdamUpdate Apply(float w, float g, float expAvg, float expAvgSq, float maxExpAvgSq)
    {
        if (FirstStep != 0)
        {
            expAvg = 0f;
            expAvgSq = 0f;
            maxExpAvgSq = 0f;
        }
        // The gradient's penalties see the weight before the decoupled decay, as a penalty in the loss would.
        float d = OptimRule.Regularize(g, w, WeightDecay, L1);
        w *= WeightScale;
        expAvg = Beta1 * expAvg + OneMinusBeta1 * d;
        expAvgSq = Beta2 * expAvgSq + OneMinusBeta2 * (d * d);
        float second = expAvgSq;
        if (Amsgrad != 0)
        {
            maxExpAvgSq = XMath.Max(maxExpAvgSq, expAvgSq);
            second = maxExpAvgSq;
        }
        float denom = XMath.Sqrt(second) / BiasCorrection2Sqrt + Epsilon;
        return new AdamUpdate(w - StepSize * (expAvg / denom), expAvg, expAvgSq, maxExpAvgSq);
    }
}
