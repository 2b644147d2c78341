using System.Runtime.CompilerServices;
using ILGPU;

namespace GpuNet.Kernels;

public static partial class Optimizers
{
    // The host engine: each rule of OptimizerRules.cs written once more, generic over IHostVector, with the same float32
    // operations in the same order (no fused multiply-adds: .NET never contracts a*b + c on its own), so that the host
    // gives the same bits as the ILGPU kernel at every SIMD width. HostSimd.Update runs it over blocks and threads, and
    // reads and writes only the state buffers the options use.

    private static void SgdHost(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> buf, SgdArgs args) =>
        HostSimd.Update(device, w, g, buf, args.UseMomentum != 0, default, false, default, false, new SgdHostOp(args));

    private static void AdagradHost(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> sum, AdagradArgs args) =>
        HostSimd.Update(device, w, g, sum, true, default, false, default, false, new AdagradHostOp(args));

    private static void RmsPropHost(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> sq, ArrayView<float> buf,
        ArrayView<float> gavg, RmsPropArgs args) =>
        HostSimd.Update(device, w, g, sq, true, buf, args.UseMomentum != 0, gavg, args.Centered != 0, new RmsPropHostOp(args));

    private static void AdamHost(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v,
        ArrayView<float> vmax, AdamArgs args) =>
        HostSimd.Update(device, w, g, m, true, v, true, vmax, args.Amsgrad != 0, new AdamHostOp(args));

    /// <summary><see cref="OptimRule.Regularize"/>: g + wd·w + l1·sign(w), each term only when its coefficient is not 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Regularize<TV>(TV g, TV w, float weightDecay, float l1) where TV : struct, IHostVector<TV>
    {
        TV d = g;
        if (weightDecay != 0f) d += TV.Create(weightDecay) * w;
        if (l1 != 0f)
        {
            TV zero = TV.Create(0f);
            TV sign = TV.IfGreater(w, zero, TV.Create(1f), TV.IfGreater(zero, w, TV.Create(-1f), zero));
            d += TV.Create(l1) * sign;
        }
        return d;
    }

    /// <summary><see cref="SgdArgs.Apply"/>; state 0 is the momentum buffer.</summary>
    private readonly struct SgdHostOp(SgdArgs a) : IUpdateHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke<TV>(ref TV w, TV g, ref TV buf, ref TV unused1, ref TV unused2) where TV : struct, IHostVector<TV>
        {
            TV d = Regularize(g, w, a.WeightDecay, a.L1);
            if (a.UseMomentum != 0)
            {
                buf = a.FirstStep != 0 ? d : TV.Create(a.Momentum) * buf + TV.Create(a.OneMinusDampening) * d;
                d = a.Nesterov != 0 ? d + TV.Create(a.Momentum) * buf : buf;
            }
            w -= TV.Create(a.LearningRate) * d;
        }
    }

    /// <summary><see cref="AdagradArgs.Apply"/>; state 0 is the sum of squares.</summary>
    private readonly struct AdagradHostOp(AdagradArgs a) : IUpdateHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke<TV>(ref TV w, TV g, ref TV sum, ref TV unused1, ref TV unused2) where TV : struct, IHostVector<TV>
        {
            TV d = Regularize(g, w, a.WeightDecay, a.L1);
            sum = (a.FirstStep != 0 ? TV.Create(a.InitialAccumulator) : sum) + d * d;
            w -= TV.Create(a.CurrentLearningRate) * (d / (TV.Sqrt(sum) + TV.Create(a.Epsilon)));
        }
    }

    /// <summary><see cref="RmsPropArgs.Apply"/>; states: square average, momentum buffer, gradient average.</summary>
    private readonly struct RmsPropHostOp(RmsPropArgs a) : IUpdateHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke<TV>(ref TV w, TV g, ref TV squareAvg, ref TV momentumBuffer, ref TV gradAvg) where TV : struct, IHostVector<TV>
        {
            if (a.FirstStep != 0)
            {
                squareAvg = default;
                momentumBuffer = default;
                gradAvg = default;
            }
            TV d = Regularize(g, w, a.WeightDecay, a.L1);
            TV alpha = TV.Create(a.Alpha), oneMinusAlpha = TV.Create(a.OneMinusAlpha);
            squareAvg = alpha * squareAvg + oneMinusAlpha * (d * d);
            TV avg = squareAvg;
            if (a.Centered != 0)
            {
                gradAvg = alpha * gradAvg + oneMinusAlpha * d;
                avg = squareAvg - gradAvg * gradAvg;
            }
            TV denom = TV.Sqrt(avg) + TV.Create(a.Epsilon);
            if (a.UseMomentum != 0)
            {
                momentumBuffer = TV.Create(a.Momentum) * momentumBuffer + d / denom;
                w -= TV.Create(a.LearningRate) * momentumBuffer;
            }
            else
            {
                w -= TV.Create(a.LearningRate) * (d / denom);
            }
        }
    }

    /// <summary><see cref="AdamArgs.Apply"/> (Adam and AdamW); states: m, v, and vmax for AMSGrad.</summary>
    private readonly struct AdamHostOp(AdamArgs a) : IUpdateHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Invoke<TV>(ref TV w, TV g, ref TV expAvg, ref TV expAvgSq, ref TV maxExpAvgSq) where TV : struct, IHostVector<TV>
        {
            if (a.FirstStep != 0)
            {
                expAvg = default;
                expAvgSq = default;
                maxExpAvgSq = default;
            }
            TV d = Regularize(g, w, a.WeightDecay, a.L1);
            w *= TV.Create(a.WeightScale);
            expAvg = TV.Create(a.Beta1) * expAvg + TV.Create(a.OneMinusBeta1) * d;
            expAvgSq = TV.Create(a.Beta2) * expAvgSq + TV.Create(a.OneMinusBeta2) * (d * d);
            TV second = expAvgSq;
            if (a.Amsgrad != 0)
            {
                maxExpAvgSq = TV.Max(maxExpAvgSq, expAvgSq);
                second = maxExpAvgSq;
            }
            TV denom = TV.Sqrt(second) / TV.Create(a.BiasCorrection2Sqrt) + TV.Create(a.Epsilon);
            w -= TV.Create(a.StepSize) * (expAvg / denom);
        }
    }
}
