using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ILGPU;

namespace GpuNet.Kernels;

public static partial class MeanSquaredError
{
    // Host engine. The forward runs rows in blocks that depend only on the shape (Reduce.ForRowBlocks): each row's sum of
    // squares goes through two vector accumulators and a fixed-tree SumAcross, and each block adds up its row losses in
    // float64 while they are in cache; blocks are combined in order, so the bits do not depend on the thread count. The
    // backward is an elementwise driver (HostSimd.Map), which computes each element on its own.

    private static void ForwardHost(Device device, ArrayView<float> prediction, ArrayView<float> target, int rows, int cols,
        ArrayView<float> rowLoss, ArrayView<float> loss, float scale, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: ForwardHost<Vector512<float>, Simd512>(device, prediction, target, rows, cols, rowLoss, loss, scale); break;
            case 1: ForwardHost<V256x2, Simd256x2>(device, prediction, target, rows, cols, rowLoss, loss, scale); break;
            default: ForwardHost<V128x4, Simd128x4>(device, prediction, target, rows, cols, rowLoss, loss, scale); break;
        }
    }

    // For the tests, which run every SIMD width this processor has (0: 512, 1: 256, 2: Vector<T>).
    internal static void ForwardHostAt(Device device, ArrayView<float> prediction, ArrayView<float> target, int rows, int cols,
        ArrayView<float> rowLoss, ArrayView<float> loss, int width) =>
        ForwardHost(device, prediction, target, rows, cols, rowLoss, loss, (float)(1.0 / ((double)rows * cols)), width);

    private static unsafe void ForwardHost<TVec, TSimd>(Device device, ArrayView<float> prediction, ArrayView<float> target, int rows,
        int cols, ArrayView<float> rowLoss, ArrayView<float> loss, float scale)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        var block = new ForwardBlock<TVec, TSimd>
        {
            Prediction = HostView.Ptr(prediction),
            Target = HostView.Ptr(target),
            RowLoss = HostView.Ptr(rowLoss),
            Cols = cols,
        };
        var total = Reduce.ForRowBlocks(device, rows, cols, block);
        *HostView.Ptr(loss) = (float)(total.Sum * scale);
    }

    private unsafe struct ForwardBlock<TVec, TSimd> : IRowBlock where TVec : struct where TSimd : ISimd<TVec>
    {
        public float* Prediction;
        public float* Target;
        public float* RowLoss;
        public int Cols;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly BlockTotals Run(int first, int count)
        {
            int cols = Cols, w = TSimd.Count;
            for (int r = first; r < first + count; r++)
            {
                float* p = Prediction + (long)r * cols;
                float* t = Target + (long)r * cols;
                var a0 = TSimd.Zero;
                var a1 = TSimd.Zero;
                int c = 0;
                for (; c + 2 * w <= cols; c += 2 * w)
                {
                    var d0 = TSimd.Subtract(TSimd.Load(p + c), TSimd.Load(t + c));
                    var d1 = TSimd.Subtract(TSimd.Load(p + c + w), TSimd.Load(t + c + w));
                    a0 = TSimd.MultiplyAdd(d0, d0, a0);
                    a1 = TSimd.MultiplyAdd(d1, d1, a1);
                }
                for (; c < cols; c += w)
                {
                    int n = Math.Min(w, cols - c);
                    // Both tails padded with 0, so the padded lanes add 0.
                    var d = TSimd.Subtract(TSimd.LoadTail(p + c, n, TSimd.Zero), TSimd.LoadTail(t + c, n, TSimd.Zero));
                    a0 = TSimd.MultiplyAdd(d, d, a0);
                }
                RowLoss[r] = TSimd.SumAcross(TSimd.Add(a0, a1));
            }
            return new BlockTotals(Reduce.SumChunk<TVec, TSimd, ValueTerm>(RowLoss + first, count), 0);
        }
    }

    private static void BackwardHost(Device device, ArrayView<float> prediction, ArrayView<float> target, ArrayView<float> dprediction,
        float coefficient) =>
        HostSimd.Map(device, prediction, target, dprediction, dprediction, new BackwardOp(coefficient));

    /// <summary><c>g + k·(p - t)</c>.</summary>
    private readonly struct BackwardOp(float coefficient) : ITernaryHostOp
    {
        private readonly float _k = coefficient;

        public TV Invoke<TV>(TV p, TV t, TV g) where TV : struct, IHostVector<TV> => g + TV.Create(_k) * (p - t);
    }
}
