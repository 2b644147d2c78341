using ILGPU;

namespace GpuNet.Kernels;

public static partial class SoftmaxCrossEntropy
{
    // Scalar host loops, one row at a time (rows in parallel when the batch is large), with the same formulas as the
    // kernels; row sums accumulate in float64. The SIMD versions come with the host engine.

    private static void ForwardHost(ArrayView<float> logits, ArrayView<int> labels, int batch, int classes, ArrayView<float> rowLoss,
        ArrayView<int> correct)
    {
        int right = 0;
        Reduce.ForRows(batch, classes, r =>
        {
            var z = HostView.Span(logits.SubView((long)r * classes, classes));
            int best = Reduce.HostArgmax(z);
            float max = z[best];
            double sum = 0;
            foreach (float v in z) sum += MathF.Exp(v - max);
            int label = HostView.Span(labels)[r];
            float value = float.NaN;
            if ((uint)label < (uint)classes)
            {
                value = (max - z[label]) + (float)Math.Log(sum);
                if (best == label) Interlocked.Increment(ref right);
            }
            HostView.Span(rowLoss)[r] = value;
        });
        HostView.Span(correct)[0] = right;
    }

    private static void BackwardHost(ArrayView<float> logits, ArrayView<int> labels, int batch, int classes, ArrayView<float> dlogits,
        float coefficient)
    {
        Reduce.ForRows(batch, classes, r =>
        {
            var z = HostView.Span(logits.SubView((long)r * classes, classes));
            var dz = HostView.Span(dlogits.SubView((long)r * classes, classes));
            float max = z[Reduce.HostArgmax(z)];
            double sum = 0;
            foreach (float v in z) sum += MathF.Exp(v - max);
            float inverse = (float)(1 / sum);
            int label = HostView.Span(labels)[r];
            bool valid = (uint)label < (uint)classes;
            for (int c = 0; c < classes; c++)
            {
                float p = MathF.Exp(z[c] - max) * inverse;
                float g = valid ? p - (c == label ? 1f : 0f) : float.NaN;
                dz[c] += coefficient * g;
            }
        });
    }

    private static void ForwardSoftHost(ArrayView<float> student, ArrayView<float> teacher, int batch, int classes, float temperature,
        ArrayView<float> rowLoss)
    {
        Reduce.ForRows(batch, classes, r =>
        {
            var s = HostView.Span(student.SubView((long)r * classes, classes));
            var t = HostView.Span(teacher.SubView((long)r * classes, classes));
            float maxS = s[Reduce.HostArgmax(s)] / temperature;
            float maxT = t[Reduce.HostArgmax(t)] / temperature;
            double sumS = 0, sumT = 0, weighted = 0;
            for (int c = 0; c < classes; c++)
            {
                float shiftedS = s[c] / temperature - maxS;
                float expT = MathF.Exp(t[c] / temperature - maxT);
                sumS += MathF.Exp(shiftedS);
                sumT += expT;
                weighted += (double)expT * shiftedS;
            }
            HostView.Span(rowLoss)[r] = (float)(temperature * (double)temperature * (Math.Log(sumS) - weighted / sumT));
        });
    }

    private static void BackwardSoftHost(ArrayView<float> student, ArrayView<float> teacher, int batch, int classes, float temperature,
        ArrayView<float> dlogits, float coefficient)
    {
        Reduce.ForRows(batch, classes, r =>
        {
            var s = HostView.Span(student.SubView((long)r * classes, classes));
            var t = HostView.Span(teacher.SubView((long)r * classes, classes));
            var dz = HostView.Span(dlogits.SubView((long)r * classes, classes));
            float maxS = s[Reduce.HostArgmax(s)] / temperature;
            float maxT = t[Reduce.HostArgmax(t)] / temperature;
            double sumS = 0, sumT = 0;
            for (int c = 0; c < classes; c++)
            {
                sumS += MathF.Exp(s[c] / temperature - maxS);
                sumT += MathF.Exp(t[c] / temperature - maxT);
            }
            float inverseS = (float)(1 / sumS), inverseT = (float)(1 / sumT);
            for (int c = 0; c < classes; c++)
            {
                float p = MathF.Exp(s[c] / temperature - maxS) * inverseS;
                float q = MathF.Exp(t[c] / temperature - maxT) * inverseT;
                dz[c] += coefficient * (p - q);
            }
        });
    }
}
