using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ILGPU;

namespace GpuNet.Kernels;

public static partial class SoftmaxCrossEntropy
{
    // ---------------------------------------------------------------------------------------------------------------
    // Host engine: the same formulas as the kernels in SIMD (generic over the width, see ISimd), rows in blocks that
    // depend only on the shape (Reduce.ForRowBlocks), so results have the same bits on any thread count.
    //
    // Why it is fast:
    // - Rows of at most one vector (10 classes: AVX-512 has 16 lanes) go Count rows at a time through a transposed tile,
    //   one class per vector and one row per lane: max, exps, sum and argmax are lane-wise, with no reduction across
    //   lanes per row (which cost more than the exps), and the backward writes dz in whole vectors (RunTransposed).
    //   Wider rows (1000 classes) go one row at a time, two accumulators per pass. The Vector<T> fallback, which has no
    //   register transpose, takes the row-at-a-time path for every width.
    // - exp is a vector polynomial (ISimd.Exp), not MathF.Exp per element, and log(sum) is the vector Log.
    // - NaN costs nothing in the hot loop: a NaN logit makes its row's sum of exps NaN, and only then does the row go
    //   through the scalar argmax (first NaN wins).
    // - The forward adds up its mean loss (float64, per block, blocks in order) while the row losses are in cache,
    //   instead of reading them again in a separate sum.
    // ---------------------------------------------------------------------------------------------------------------

    // Rows whose log(sum of exps) is taken together in the forward.
    private const int LogRows = 256;

    // The widest row whose exps the backward keeps on the stack between passes (16 KiB).
    private const int SavedExps = 4096;

    private static void ForwardHost(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> rowLoss, ArrayView<float> loss, ArrayView<int> correct, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: ForwardHost<Vector512<float>, Simd512>(device, logits, labels, batch, classes, rowLoss, loss, correct); break;
            case 1: ForwardHost<V256x2, Simd256x2>(device, logits, labels, batch, classes, rowLoss, loss, correct); break;
            default: ForwardHost<V128x4, Simd128x4>(device, logits, labels, batch, classes, rowLoss, loss, correct); break;
        }
    }

    private static void BackwardHost(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> dlogits, float coefficient, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: BackwardHost<Vector512<float>, Simd512>(device, logits, labels, batch, classes, dlogits, coefficient); break;
            case 1: BackwardHost<V256x2, Simd256x2>(device, logits, labels, batch, classes, dlogits, coefficient); break;
            default: BackwardHost<V128x4, Simd128x4>(device, logits, labels, batch, classes, dlogits, coefficient); break;
        }
    }

    private static void ForwardSoftHost(Device device, ArrayView<float> student, ArrayView<float> teacher, int batch, int classes,
        float temperature, ArrayView<float> rowLoss, ArrayView<float> loss, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: SoftHost<Vector512<float>, Simd512>(device, student, teacher, batch, classes, temperature, rowLoss, loss, default, 0); break;
            case 1: SoftHost<V256x2, Simd256x2>(device, student, teacher, batch, classes, temperature, rowLoss, loss, default, 0); break;
            default: SoftHost<V128x4, Simd128x4>(device, student, teacher, batch, classes, temperature, rowLoss, loss, default, 0); break;
        }
    }

    private static void BackwardSoftHost(Device device, ArrayView<float> student, ArrayView<float> teacher, int batch, int classes,
        float temperature, ArrayView<float> dlogits, float coefficient, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: SoftHost<Vector512<float>, Simd512>(device, student, teacher, batch, classes, temperature, default, default, dlogits, coefficient); break;
            case 1: SoftHost<V256x2, Simd256x2>(device, student, teacher, batch, classes, temperature, default, default, dlogits, coefficient); break;
            default: SoftHost<V128x4, Simd128x4>(device, student, teacher, batch, classes, temperature, default, default, dlogits, coefficient); break;
        }
    }

    // Entry points for the tests, which run every SIMD width this processor has (0: 512, 1: 256, 2: Vector<T>).
    // The forwards write loss[0] as the public entries do.

    internal static void ForwardHostAt(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> rowLoss, ArrayView<float> loss, ArrayView<int> correct, int width) =>
        ForwardHost(device, logits, labels, batch, classes, rowLoss, loss, correct, width);

    internal static void BackwardHostAt(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> dlogits, float scale, int width) =>
        BackwardHost(device, logits, labels, batch, classes, dlogits, scale / batch, width);

    internal static void ForwardSoftHostAt(Device device, ArrayView<float> student, ArrayView<float> teacher, int batch, int classes,
        float temperature, ArrayView<float> rowLoss, ArrayView<float> loss, int width) =>
        ForwardSoftHost(device, student, teacher, batch, classes, temperature, rowLoss, loss, width);

    internal static void BackwardSoftHostAt(Device device, ArrayView<float> student, ArrayView<float> teacher, int batch, int classes,
        float temperature, ArrayView<float> dlogits, float scale, int width) =>
        BackwardSoftHost(device, student, teacher, batch, classes, temperature, dlogits, scale * temperature / batch, width);

    // ----- hard labels -----------------------------------------------------------------------------------------------

    private static unsafe void ForwardHost<TVec, TSimd>(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch,
        int classes, ArrayView<float> rowLoss, ArrayView<float> loss, ArrayView<int> correct)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        var block = new ForwardBlock<TVec, TSimd>
        {
            Logits = HostView.Ptr(logits),
            Labels = HostView.Ptr(labels),
            RowLoss = HostView.Ptr(rowLoss),
            Classes = classes,
        };
        var total = Reduce.ForRowBlocks(device, batch, classes, block);
        // As Reduce.Sum would: the float64 sum, times the float 1/batch, rounded once.
        *HostView.Ptr(loss) = (float)(total.Sum * (1f / batch));
        *HostView.Ptr(correct) = (int)total.Count;
    }

    private unsafe struct ForwardBlock<TVec, TSimd> : IRowBlock where TVec : struct where TSimd : ISimd<TVec>
    {
        public float* Logits;
        public int* Labels;
        public float* RowLoss;
        public int Classes;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly BlockTotals Run(int first, int count)
        {
            if (TSimd.CanTranspose && Classes <= TSimd.Count) return RunTransposed(first, count);
            int classes = Classes;
            long right = 0;
            float* sums = stackalloc float[LogRows];
            for (int start = first; start < first + count; start += LogRows)
            {
                int rows = Math.Min(LogRows, first + count - start);
                for (int i = 0; i < rows; i++)
                {
                    int r = start + i;
                    float* z = Logits + (long)r * classes;
                    float max, sum;
                    int best;
                    if (classes <= TSimd.Count)
                    {
                        var v = TSimd.LoadTail(z, classes, TSimd.Broadcast(float.NegativeInfinity));
                        max = TSimd.MaxAcross(v);
                        var m = TSimd.Broadcast(max);
                        sum = TSimd.SumAcross(TSimd.Exp(TSimd.Subtract(v, m)));
                        best = TSimd.FirstSet(TSimd.Equals(v, m));
                    }
                    else
                    {
                        max = Reduce.RowMax<TVec, TSimd>(z, classes);
                        sum = Reduce.RowExpSum<TVec, TSimd>(z, classes, max);
                        best = float.IsNaN(sum) ? 0 : Reduce.FirstEqual<TVec, TSimd>(z, classes, max);
                    }
                    // A NaN logit (or an all -inf row) makes the sum NaN, and so the loss; the argmax then follows Beats.
                    if (float.IsNaN(sum)) best = Reduce.HostArgmax(new ReadOnlySpan<float>(z, classes));
                    int label = Labels[r];
                    if ((uint)label < (uint)classes)
                    {
                        // (max - z[label]) first: for logits of ±1e4 it is exact, and log(sum) is in [0, log classes].
                        RowLoss[r] = max - z[label];
                        if (best == label) right++;
                    }
                    else
                    {
                        RowLoss[r] = float.NaN;
                    }
                    sums[i] = sum;
                }
                AddLogs(RowLoss + start, sums, rows);
            }
            return new BlockTotals(Reduce.SumChunk<TVec, TSimd, ValueTerm>(RowLoss + first, count), right);
        }

        // Rows of at most one vector (10 classes), Count rows at a time through a transposed tile (Reduce.LoadTransposed):
        // each vector holds one class of Count rows, so the max, exps, sum, argmax and the label's logit are lane-wise
        // operations with no reduction across lanes, and log(sum) is one vector Log for Count rows.
        private readonly BlockTotals RunTransposed(int first, int count)
        {
            int classes = Classes, w = TSimd.Count;
            float* tileMemory = stackalloc float[w * w + 16];
            float* tile = Reduce.Align64(tileMemory);
            float* lanes = stackalloc float[w];
            long right = 0;
            for (int g = first; g < first + count; g += w)
            {
                int n = Math.Min(w, first + count - g);
                Reduce.LoadTransposed<TVec, TSimd>(tile, Logits + (long)g * classes, classes, n);
                var label = TSimd.LoadInt32(Labels + g, n, -1); // exact: labels are far below 2^24
                var max = TSimd.Load(tile);
                for (int c = 1; c < classes; c++) max = TSimd.MaxNative(max, TSimd.Load(tile + c * w));
                // Downwards, so the lowest column equal to the max wins; a label out of range picks nothing and stays NaN.
                var sum = TSimd.Zero;
                var best = TSimd.Zero;
                var picked = TSimd.Broadcast(float.NaN);
                for (int c = classes - 1; c >= 0; c--)
                {
                    var column = TSimd.Load(tile + c * w);
                    var index = TSimd.Broadcast(c);
                    sum = TSimd.Add(sum, TSimd.Exp(TSimd.Subtract(column, max)));
                    best = TSimd.Select(TSimd.Equals(column, max), index, best);
                    picked = TSimd.Select(TSimd.Equals(label, index), column, picked);
                }
                // (max - z[label]) first: for logits of ±1e4 it is exact, and log(sum) is in [0, log classes].
                var loss = TSimd.Add(TSimd.Subtract(max, picked), TSimd.Log(sum));
                if (n == w) TSimd.Store(RowLoss + g, loss);
                else TSimd.StoreTail(RowLoss + g, loss, n);
                // A NaN sum (a NaN logit, or a row of -inf) sends the row's argmax through Beats; lanes past n are -inf rows.
                var nan = TSimd.Select(TSimd.TailMask(n), TSimd.IsNaN(sum), TSimd.Zero);
                if (!TSimd.AnySet(nan))
                {
                    right += TSimd.CountSet(TSimd.Equals(best, label)); // label -1 past n never matches
                    continue;
                }
                TSimd.Store(lanes, best);
                TSimd.Store(tile, sum);
                for (int i = 0; i < n; i++)
                {
                    int index = float.IsNaN(tile[i]) ? Reduce.HostArgmax(new ReadOnlySpan<float>(Logits + (long)(g + i) * classes, classes)) : (int)lanes[i];
                    if (index == Labels[g + i]) right++;
                }
            }
            return new BlockTotals(Reduce.SumChunk<TVec, TSimd, ValueTerm>(RowLoss + first, count), right);
        }

        // loss[i] += log(sums[i]) for i < n, in vectors.
        private static void AddLogs(float* loss, float* sums, int n)
        {
            int w = TSimd.Count;
            int i = 0;
            for (; i <= n - w; i += w)
                TSimd.Store(loss + i, TSimd.Add(TSimd.Load(loss + i), TSimd.Log(TSimd.Load(sums + i))));
            if (i < n)
            {
                var one = TSimd.Broadcast(1f);
                var sum = TSimd.LoadTail(sums + i, n - i, one);
                TSimd.StoreTail(loss + i, TSimd.Add(TSimd.LoadTail(loss + i, n - i, one), TSimd.Log(sum)), n - i);
            }
        }
    }

    private static unsafe void BackwardHost<TVec, TSimd>(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch,
        int classes, ArrayView<float> dlogits, float coefficient)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        var block = new BackwardBlock<TVec, TSimd>
        {
            Logits = HostView.Ptr(logits),
            Labels = HostView.Ptr(labels),
            Gradient = HostView.Ptr(dlogits),
            Classes = classes,
            Coefficient = coefficient,
        };
        Reduce.ForRowBlocks(device, batch, classes, block);
    }

    private unsafe struct BackwardBlock<TVec, TSimd> : IRowBlock where TVec : struct where TSimd : ISimd<TVec>
    {
        public float* Logits;
        public int* Labels;
        public float* Gradient;
        public int Classes;
        public float Coefficient;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly BlockTotals Run(int first, int count)
        {
            if (TSimd.CanTranspose && Classes <= TSimd.Count) return RunTransposed(first, count);
            int classes = Classes, w = TSimd.Count;
            // Wide rows keep their exps from the sum pass for the gradient pass (it then runs from L1 with no exp).
            float* exps = null;
            if (classes > w && classes <= SavedExps)
            {
                float* memory = stackalloc float[SavedExps + 16];
                exps = Reduce.Align64(memory);
            }
            var coefficient = TSimd.Broadcast(Coefficient);
            var one = TSimd.Broadcast(1f);
            var ninf = TSimd.Broadcast(float.NegativeInfinity);
            for (int r = first; r < first + count; r++)
            {
                float* z = Logits + (long)r * classes;
                float* dz = Gradient + (long)r * classes;
                int label = Labels[r];
                // g[c] = softmax(z)[c] - [c = label]; a label out of range makes the whole row NaN (through 1/sum).
                bool valid = (uint)label < (uint)classes;
                if (classes <= w)
                {
                    var v = TSimd.LoadTail(z, classes, ninf);
                    var e = TSimd.Exp(TSimd.Subtract(v, TSimd.Broadcast(TSimd.MaxAcross(v))));
                    var inverse = TSimd.Broadcast(valid ? 1f / TSimd.SumAcross(e) : float.NaN);
                    var oneHot = TSimd.Select(TSimd.Equals(TSimd.Indices, TSimd.Broadcast(label)), one, TSimd.Zero);
                    var g = TSimd.Subtract(TSimd.Multiply(e, inverse), oneHot);
                    TSimd.StoreTail(dz, TSimd.MultiplyAdd(coefficient, g, TSimd.LoadTail(dz, classes, TSimd.Zero)), classes);
                }
                else
                {
                    float max = Reduce.RowMax<TVec, TSimd>(z, classes);
                    float sum = exps != null ? Reduce.RowExpSum<TVec, TSimd>(z, classes, max, exps) : Reduce.RowExpSum<TVec, TSimd>(z, classes, max);
                    var m = TSimd.Broadcast(max);
                    var inverse = TSimd.Broadcast(valid ? 1f / sum : float.NaN);
                    var labelLane = TSimd.Broadcast(label);
                    var index = TSimd.Indices;
                    var step = TSimd.Broadcast(w);
                    int c = 0;
                    for (; c <= classes - w; c += w)
                    {
                        var e = exps != null ? TSimd.Load(exps + c) : TSimd.Exp(TSimd.Subtract(TSimd.Load(z + c), m));
                        var g = TSimd.Subtract(TSimd.Multiply(e, inverse), TSimd.Select(TSimd.Equals(index, labelLane), one, TSimd.Zero));
                        TSimd.Store(dz + c, TSimd.MultiplyAdd(coefficient, g, TSimd.Load(dz + c)));
                        index = TSimd.Add(index, step);
                    }
                    if (c < classes)
                    {
                        int k = classes - c;
                        var e = exps != null ? TSimd.Load(exps + c) : TSimd.Exp(TSimd.Subtract(TSimd.LoadTail(z + c, k, ninf), m));
                        var g = TSimd.Subtract(TSimd.Multiply(e, inverse), TSimd.Select(TSimd.Equals(index, labelLane), one, TSimd.Zero));
                        TSimd.StoreTail(dz + c, TSimd.MultiplyAdd(coefficient, g, TSimd.LoadTail(dz + c, k, TSimd.Zero)), k);
                    }
                }
            }
            return default;
        }

        // Rows of at most one vector, Count rows at a time. The row max and 1/sum come from a transposed tile, as in the
        // forward's RunTransposed; the gradient is then computed on the rows as they lie in memory: Count rows of
        // `classes` floats are exactly `classes` whole vectors, and each lane finds its row's max, 1/sum and label with a
        // permute (lane j of vector k is row (k·Count + j) / classes). So dz is read and written with whole-vector loads
        // and stores; a masked load and store per row would each wait for the previous row's store to the same cache line.
        private readonly BlockTotals RunTransposed(int first, int count)
        {
            int classes = Classes, w = TSimd.Count;
            float* tileMemory = stackalloc float[w * w + 16];
            float* tile = Reduce.Align64(tileMemory);
            float* rowOf = stackalloc float[w * classes];
            float* classOf = stackalloc float[w * classes];
            LaneRows(rowOf, classOf, w, classes);
            var coefficient = TSimd.Broadcast(Coefficient);
            var one = TSimd.Broadcast(1f);
            var zero = TSimd.Zero;
            var classCount = TSimd.Broadcast(classes);
            var nan = TSimd.Broadcast(float.NaN);
            var ninf = TSimd.Broadcast(float.NegativeInfinity);
            for (int g = first; g < first + count; g += w)
            {
                int n = Math.Min(w, first + count - g);
                float* z = Logits + (long)g * classes;
                Reduce.LoadTransposed<TVec, TSimd>(tile, z, classes, n);
                var label = TSimd.LoadInt32(Labels + g, n, 0); // exact: labels are far below 2^24
                var max = TSimd.Load(tile);
                for (int c = 1; c < classes; c++) max = TSimd.MaxNative(max, TSimd.Load(tile + c * w));
                var sum = TSimd.Zero;
                for (int c = 0; c < classes; c++) sum = TSimd.Add(sum, TSimd.Exp(TSimd.Subtract(TSimd.Load(tile + c * w), max)));
                // A label out of range makes its row NaN (and matches no class below).
                var valid = TSimd.Select(TSimd.LessThan(label, zero), zero, TSimd.LessThan(label, classCount));
                var inverse = TSimd.Select(valid, TSimd.Divide(one, sum), nan);
                float* dz = Gradient + (long)g * classes;
                int length = n * classes;
                for (int k = 0; k < length; k += w)
                {
                    var row = TSimd.Load(rowOf + k);
                    var e = TSimd.Exp(TSimd.Subtract(k <= length - w ? TSimd.Load(z + k) : TSimd.LoadTail(z + k, length - k, ninf), TSimd.Permute(max, row)));
                    var oneHot = TSimd.Select(TSimd.Equals(TSimd.Permute(label, row), TSimd.Load(classOf + k)), one, TSimd.Zero);
                    var gradient = TSimd.Subtract(TSimd.Multiply(e, TSimd.Permute(inverse, row)), oneHot);
                    if (k <= length - w) TSimd.Store(dz + k, TSimd.MultiplyAdd(coefficient, gradient, TSimd.Load(dz + k)));
                    else TSimd.StoreTail(dz + k, TSimd.MultiplyAdd(coefficient, gradient, TSimd.LoadTail(dz + k, length - k, TSimd.Zero)), length - k);
                }
            }
            return default;
        }
    }

    // For Count rows of `classes` floats seen as `classes` whole vectors: the row of each element as int bits (for
    // ISimd.Permute) and, when asked, its class as a float. Built without a division per element: at a few hundred
    // elements a division each cost about 1 us per call, most of a 64-row batch.
    private static unsafe void LaneRows(float* rowOf, float* classOf, int w, int classes)
    {
        for (int i = 0, row = 0, column = 0; i < w * classes; i++)
        {
            rowOf[i] = BitConverter.Int32BitsToSingle(row);
            if (classOf != null) classOf[i] = column;
            if (++column == classes) (row, column) = (row + 1, 0);
        }
    }

    // ----- soft targets ----------------------------------------------------------------------------------------------

    // Forward when Gradient is null (row losses, and the mean into loss[0]); backward otherwise.
    private static unsafe void SoftHost<TVec, TSimd>(Device device, ArrayView<float> student, ArrayView<float> teacher, int batch,
        int classes, float temperature, ArrayView<float> rowLoss, ArrayView<float> loss, ArrayView<float> dlogits, float coefficient)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        bool forward = rowLoss.IsValid;
        var block = new SoftBlock<TVec, TSimd>
        {
            Student = HostView.Ptr(student),
            Teacher = HostView.Ptr(teacher),
            RowLoss = forward ? HostView.Ptr(rowLoss) : null,
            Gradient = forward ? null : HostView.Ptr(dlogits),
            Classes = classes,
            Temperature = temperature,
            Coefficient = coefficient,
        };
        var total = Reduce.ForRowBlocks(device, batch, classes, block);
        if (forward) *HostView.Ptr(loss) = (float)(total.Sum * (1f / batch));
    }

    private unsafe struct SoftBlock<TVec, TSimd> : IRowBlock where TVec : struct where TSimd : ISimd<TVec>
    {
        public float* Student;
        public float* Teacher;
        public float* RowLoss;
        public float* Gradient;
        public int Classes;
        public float Temperature;
        public float Coefficient;

        public readonly BlockTotals Run(int first, int count) =>
            TSimd.CanTranspose && Classes <= TSimd.Count
                ? RowLoss != null ? ForwardTransposed(first, count) : BackwardTransposed(first, count)
                : RowLoss != null ? Forward(first, count) : Backward(first, count);

        // Rows of at most one vector, Count rows at a time, as the hard-label RunTransposed: student and teacher each go
        // through a transposed tile, so maxima and sums are lane-wise; the last steps of each row's loss are float64.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly BlockTotals ForwardTransposed(int first, int count)
        {
            int classes = Classes, w = TSimd.Count;
            float temperature = Temperature;
            float* memory = stackalloc float[3 * w * w + 16];
            float* tileS = Reduce.Align64(memory), tileT = tileS + w * w, sums = tileT + w * w;
            var t = TSimd.Broadcast(temperature);
            for (int g = first; g < first + count; g += w)
            {
                int n = Math.Min(w, first + count - g);
                Reduce.LoadTransposed<TVec, TSimd>(tileS, Student + (long)g * classes, classes, n);
                Reduce.LoadTransposed<TVec, TSimd>(tileT, Teacher + (long)g * classes, classes, n);
                TVec maxS = TSimd.Load(tileS), maxT = TSimd.Load(tileT);
                for (int c = 1; c < classes; c++)
                {
                    maxS = TSimd.MaxNative(maxS, TSimd.Load(tileS + c * w));
                    maxT = TSimd.MaxNative(maxT, TSimd.Load(tileT + c * w));
                }
                // max(s/T) = max(s)/T: division by T > 0 is monotone, also after rounding, so every exponent is <= 0.
                TVec ms = TSimd.Divide(maxS, t), mt = TSimd.Divide(maxT, t);
                TVec sumS = TSimd.Zero, sumT = TSimd.Zero, weighted = TSimd.Zero;
                for (int c = 0; c < classes; c++)
                {
                    var shiftedS = TSimd.Subtract(TSimd.Divide(TSimd.Load(tileS + c * w), t), ms);
                    var expT = TSimd.Exp(TSimd.Subtract(TSimd.Divide(TSimd.Load(tileT + c * w), t), mt));
                    sumS = TSimd.Add(sumS, TSimd.Exp(shiftedS));
                    sumT = TSimd.Add(sumT, expT);
                    weighted = TSimd.MultiplyAdd(expT, shiftedS, weighted);
                }
                TSimd.Store(sums, sumS);
                TSimd.Store(sums + w, sumT);
                TSimd.Store(sums + 2 * w, weighted);
                for (int i = 0; i < n; i++)
                {
                    double ws = sums[2 * w + i], ss = sums[i], st = sums[w + i];
                    RowLoss[g + i] = (float)(temperature * (double)temperature * (Math.Log(ss) - ws / st));
                }
            }
            return new BlockTotals(Reduce.SumChunk<TVec, TSimd, ValueTerm>(RowLoss + first, count), 0);
        }

        // Count rows at a time: maxima and sums from transposed tiles, then the gradient over the rows as they lie in
        // memory in whole vectors, each lane finding its row's values with a permute (as the hard-label backward).
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly BlockTotals BackwardTransposed(int first, int count)
        {
            int classes = Classes, w = TSimd.Count;
            float* memory = stackalloc float[2 * w * w + 16];
            float* tileS = Reduce.Align64(memory), tileT = tileS + w * w;
            float* rowOf = stackalloc float[w * classes];
            LaneRows(rowOf, null, w, classes);
            var t = TSimd.Broadcast(Temperature);
            var one = TSimd.Broadcast(1f);
            var ninf = TSimd.Broadcast(float.NegativeInfinity);
            var coefficient = TSimd.Broadcast(Coefficient);
            for (int g = first; g < first + count; g += w)
            {
                int n = Math.Min(w, first + count - g);
                float* s = Student + (long)g * classes, q = Teacher + (long)g * classes;
                Reduce.LoadTransposed<TVec, TSimd>(tileS, s, classes, n);
                Reduce.LoadTransposed<TVec, TSimd>(tileT, q, classes, n);
                TVec maxS = TSimd.Load(tileS), maxT = TSimd.Load(tileT);
                for (int c = 1; c < classes; c++)
                {
                    maxS = TSimd.MaxNative(maxS, TSimd.Load(tileS + c * w));
                    maxT = TSimd.MaxNative(maxT, TSimd.Load(tileT + c * w));
                }
                TVec ms = TSimd.Divide(maxS, t), mt = TSimd.Divide(maxT, t);
                TVec sumS = TSimd.Zero, sumT = TSimd.Zero;
                for (int c = 0; c < classes; c++)
                {
                    sumS = TSimd.Add(sumS, TSimd.Exp(TSimd.Subtract(TSimd.Divide(TSimd.Load(tileS + c * w), t), ms)));
                    sumT = TSimd.Add(sumT, TSimd.Exp(TSimd.Subtract(TSimd.Divide(TSimd.Load(tileT + c * w), t), mt)));
                }
                TVec inverseS = TSimd.Divide(one, sumS), inverseT = TSimd.Divide(one, sumT);
                float* dz = Gradient + (long)g * classes;
                int length = n * classes;
                for (int k = 0; k < length; k += w)
                {
                    var row = TSimd.Load(rowOf + k);
                    bool whole = k <= length - w;
                    // -inf past the rows: exp gives 0 there, not whatever exp(0 - max) would be.
                    var sv = whole ? TSimd.Load(s + k) : TSimd.LoadTail(s + k, length - k, ninf);
                    var qv = whole ? TSimd.Load(q + k) : TSimd.LoadTail(q + k, length - k, ninf);
                    var p = TSimd.Multiply(TSimd.Exp(TSimd.Subtract(TSimd.Divide(sv, t), TSimd.Permute(ms, row))), TSimd.Permute(inverseS, row));
                    var pt = TSimd.Multiply(TSimd.Exp(TSimd.Subtract(TSimd.Divide(qv, t), TSimd.Permute(mt, row))), TSimd.Permute(inverseT, row));
                    if (whole) TSimd.Store(dz + k, TSimd.MultiplyAdd(coefficient, TSimd.Subtract(p, pt), TSimd.Load(dz + k)));
                    else TSimd.StoreTail(dz + k, TSimd.MultiplyAdd(coefficient, TSimd.Subtract(p, pt), TSimd.LoadTail(dz + k, length - k, TSimd.Zero)), length - k);
                }
            }
            return default;
        }

        // Forward and backward are separate methods, each one plain loop over its rows with no per-row test of which it is.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly BlockTotals Forward(int first, int count)
        {
            int classes = Classes, w = TSimd.Count;
            float temperature = Temperature;
            var t = TSimd.Broadcast(temperature);
            var ninf = TSimd.Broadcast(float.NegativeInfinity);
            for (int r = first; r < first + count; r++)
            {
                float* s = Student + (long)r * classes;
                float* q = Teacher + (long)r * classes;
                // max(s/T) = max(s)/T: division by T > 0 is monotone, also after rounding, so every exponent is <= 0.
                var ms = TSimd.Broadcast(Reduce.RowMax<TVec, TSimd>(s, classes) / temperature);
                var mt = TSimd.Broadcast(Reduce.RowMax<TVec, TSimd>(q, classes) / temperature);
                TVec sumS = TSimd.Zero, sumT = TSimd.Zero, weighted = TSimd.Zero;
                for (int c = 0; c < classes; c += w)
                {
                    int k = Math.Min(w, classes - c);
                    // Past the row: -inf, so both exps are (about) 0; the weighted term masks its -inf shifted value to 0.
                    var shiftedS = TSimd.Subtract(TSimd.Divide(k == w ? TSimd.Load(s + c) : TSimd.LoadTail(s + c, k, ninf), t), ms);
                    var expT = TSimd.Exp(TSimd.Subtract(TSimd.Divide(k == w ? TSimd.Load(q + c) : TSimd.LoadTail(q + c, k, ninf), t), mt));
                    sumS = TSimd.Add(sumS, TSimd.Exp(shiftedS));
                    sumT = TSimd.Add(sumT, expT);
                    weighted = TSimd.MultiplyAdd(expT, k == w ? shiftedS : TSimd.Select(TSimd.TailMask(k), shiftedS, TSimd.Zero), weighted);
                }
                // Σ -q·log p = log Σ exp(s/T - M) - Σ q·(s/T - M), because Σ q = 1; the last steps in float64.
                double ws = TSimd.SumAcross(weighted), ss = TSimd.SumAcross(sumS), st = TSimd.SumAcross(sumT);
                RowLoss[r] = (float)(temperature * (double)temperature * (Math.Log(ss) - ws / st));
            }
            return new BlockTotals(Reduce.SumChunk<TVec, TSimd, ValueTerm>(RowLoss + first, count), 0);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly BlockTotals Backward(int first, int count)
        {
            int classes = Classes, w = TSimd.Count;
            float temperature = Temperature;
            var t = TSimd.Broadcast(temperature);
            var ninf = TSimd.Broadcast(float.NegativeInfinity);
            var coefficient = TSimd.Broadcast(Coefficient);
            for (int r = first; r < first + count; r++)
            {
                float* s = Student + (long)r * classes;
                float* q = Teacher + (long)r * classes;
                var ms = TSimd.Broadcast(Reduce.RowMax<TVec, TSimd>(s, classes) / temperature);
                var mt = TSimd.Broadcast(Reduce.RowMax<TVec, TSimd>(q, classes) / temperature);
                TVec sumS = TSimd.Zero, sumT = TSimd.Zero;
                for (int c = 0; c < classes; c += w)
                {
                    int k = Math.Min(w, classes - c);
                    sumS = TSimd.Add(sumS, TSimd.Exp(TSimd.Subtract(TSimd.Divide(k == w ? TSimd.Load(s + c) : TSimd.LoadTail(s + c, k, ninf), t), ms)));
                    sumT = TSimd.Add(sumT, TSimd.Exp(TSimd.Subtract(TSimd.Divide(k == w ? TSimd.Load(q + c) : TSimd.LoadTail(q + c, k, ninf), t), mt)));
                }
                var inverseS = TSimd.Broadcast(1f / TSimd.SumAcross(sumS));
                var inverseT = TSimd.Broadcast(1f / TSimd.SumAcross(sumT));
                float* dz = Gradient + (long)r * classes;
                for (int c = 0; c < classes; c += w)
                {
                    int k = Math.Min(w, classes - c);
                    var p = TSimd.Multiply(TSimd.Exp(TSimd.Subtract(TSimd.Divide(k == w ? TSimd.Load(s + c) : TSimd.LoadTail(s + c, k, ninf), t), ms)), inverseS);
                    var pt = TSimd.Multiply(TSimd.Exp(TSimd.Subtract(TSimd.Divide(k == w ? TSimd.Load(q + c) : TSimd.LoadTail(q + c, k, ninf), t), mt)), inverseT);
                    if (k == w) TSimd.Store(dz + c, TSimd.MultiplyAdd(coefficient, TSimd.Subtract(p, pt), TSimd.Load(dz + c)));
                    else TSimd.StoreTail(dz + c, TSimd.MultiplyAdd(coefficient, TSimd.Subtract(p, pt), TSimd.LoadTail(dz + c, k, TSimd.Zero)), k);
                }
            }
            return default;
        }
    }
}
