using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ILGPU;

namespace GpuNet.Kernels;

public static partial class Bias
{
    // ---------------------------------------------------------------------------------------------------------------
    // Host engine, generic over the SIMD width (see ISimd). Add runs blocks of rows; Gradient runs blocks of columns,
    // each summing its columns down all the rows in float64, so every column sum is one fixed sequence of additions
    // whatever the thread count.
    // ---------------------------------------------------------------------------------------------------------------

    // Columns per block of Gradient: a multiple of every vector width; its float64 sums (2 KiB) stay in L1.
    private const int ColumnBlock = 256;

    private static void AddHost(Device device, ArrayView<float> y, ArrayView<float> bias, int rows, int cols, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: AddHost<Vector512<float>, Simd512>(device, y, bias, rows, cols); break;
            case 1: AddHost<V256x2, Simd256x2>(device, y, bias, rows, cols); break;
            default: AddHost<V128x4, Simd128x4>(device, y, bias, rows, cols); break;
        }
    }

    private static void GradientHost(Device device, ArrayView<float> dy, ArrayView<float> dbias, int rows, int cols, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: GradientHost<Vector512<float>, Simd512>(device, dy, dbias, rows, cols); break;
            case 1: GradientHost<V256x2, Simd256x2>(device, dy, dbias, rows, cols); break;
            default: GradientHost<V128x4, Simd128x4>(device, dy, dbias, rows, cols); break;
        }
    }

    /// <summary>The host <see cref="Add"/> at SIMD width <paramref name="width"/> (0: 512, 1: 256, 2: <see cref="Vector{T}"/>; tests pick each).</summary>
    internal static void AddHostAt(Device device, ArrayView<float> y, ArrayView<float> bias, int rows, int cols, int width) =>
        AddHost(device, y, bias, rows, cols, width);

    /// <summary>The host <see cref="Gradient"/> at SIMD width <paramref name="width"/> (see <see cref="AddHostAt"/>).</summary>
    internal static void GradientHostAt(Device device, ArrayView<float> dy, ArrayView<float> dbias, int rows, int cols, int width) =>
        GradientHost(device, dy, dbias, rows, cols, width);

    private static unsafe void AddHost<TVec, TSimd>(Device device, ArrayView<float> y, ArrayView<float> bias, int rows, int cols)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        var block = new AddBlock<TVec, TSimd> { Y = HostView.Ptr(y), Bias = HostView.Ptr(bias), Cols = cols };
        Reduce.ForRowBlocks(device, rows, cols, block);
    }

    private unsafe struct AddBlock<TVec, TSimd> : IRowBlock where TVec : struct where TSimd : ISimd<TVec>
    {
        public float* Y;
        public float* Bias;
        public int Cols;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly BlockTotals Run(int first, int count)
        {
            int cols = Cols, w = TSimd.Count;
            if (cols < w)
            {
                // A row is less than a vector: go over the block's rows as one flat array in whole vectors, adding a
                // pattern of the bias repeated (lane j of vector k is column (k·Count + j) mod cols, which repeats every
                // cols vectors). A masked load and store per row would wait for the previous row's store to the same line.
                float* pattern = stackalloc float[w * cols];
                for (int i = 0; i < w * cols; i++) pattern[i] = Bias[i % cols];
                float* y = Y + (long)first * cols;
                long length = (long)count * cols;
                long k = 0;
                for (int p = 0; k <= length - w; k += w, p = p == cols - 1 ? 0 : p + 1)
                    TSimd.Store(y + k, TSimd.Add(TSimd.Load(y + k), TSimd.Load(pattern + p * w)));
                if (k < length)
                {
                    int p = (int)(k / w % cols), tail = (int)(length - k);
                    TSimd.StoreTail(y + k, TSimd.Add(TSimd.LoadTail(y + k, tail, TSimd.Zero), TSimd.Load(pattern + p * w)), tail);
                }
                return default;
            }
            int last = cols - w;
            for (int r = first; r < first + count; r++)
            {
                float* y = Y + (long)r * cols;
                // The last vector ends at the row's end and may overlap the one before: compute it from the row as it
                // was, store it after the others, and the overlapped elements get the same value twice (as
                // TensorPrimitives does), with no masked tail.
                var end = TSimd.Add(TSimd.Load(y + last), TSimd.Load(Bias + last));
                for (int c = 0; c < last; c += w)
                    TSimd.Store(y + c, TSimd.Add(TSimd.Load(y + c), TSimd.Load(Bias + c)));
                TSimd.Store(y + last, end);
            }
            return default;
        }
    }

    private static unsafe void GradientHost<TVec, TSimd>(Device device, ArrayView<float> dy, ArrayView<float> dbias, int rows, int cols)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        var block = new GradientBlock<TVec, TSimd> { Dy = HostView.Ptr(dy), Dbias = HostView.Ptr(dbias), Rows = rows, Cols = cols };
        int blocks = (cols + ColumnBlock - 1) / ColumnBlock;
        if (blocks == 1 || (long)rows * cols < Reduce.HostBlockElements || device.HostThreads <= 1)
        {
            for (int b = 0; b < blocks; b++) block.Run(b);
            return;
        }
        GradientParallel(device, blocks, block);
    }

    // Separate from GradientHost so that the inline path does not allocate the lambda's closure.
    private static void GradientParallel<TBlock>(Device device, int blocks, TBlock block) where TBlock : struct, IColumnBlock =>
        HostParallel.For(device, blocks, block.Run);

    private interface IColumnBlock
    {
        void Run(int block);
    }

    private unsafe struct GradientBlock<TVec, TSimd> : IColumnBlock where TVec : struct where TSimd : ISimd<TVec>
    {
        public float* Dy;
        public float* Dbias;
        public int Rows;
        public int Cols;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int block)
        {
            int cols = Cols, w = TSimd.Count;
            int start = block * ColumnBlock;
            int width = Math.Min(ColumnBlock, cols - start);
            float* column = Dy + start;
            if (width <= w)
            {
                // One vector of columns (for example a 10-class output layer): the float64 sums stay in two registers.
                TVec lower = TSimd.Zero, upper = TSimd.Zero;
                for (int r = 0; r < Rows; r++)
                {
                    var v = TSimd.LoadTail(column + (long)r * cols, width, TSimd.Zero);
                    lower = TSimd.AddWidenedLower(lower, v);
                    upper = TSimd.AddWidenedUpper(upper, v);
                }
                double* sums = stackalloc double[2 * w];
                TSimd.Store((float*)sums, lower);
                TSimd.Store((float*)(sums + w / 2), upper);
                Finish(sums, start, width);
                return;
            }
            // Rows outer, columns inner: dy is read in memory order, a row's block of columns at a time. The float64 sums
            // of column c sit at acc[c - start]: vector j's lower half widens into acc[j, j + w/2), its upper half after.
            double* acc = stackalloc double[ColumnBlock];
            new Span<double>(acc, ColumnBlock).Clear();
            for (int r = 0; r < Rows; r++)
            {
                float* row = column + (long)r * cols;
                for (int c = 0; c < width; c += w)
                {
                    var v = c <= width - w ? TSimd.Load(row + c) : TSimd.LoadTail(row + c, width - c, TSimd.Zero);
                    float* lower = (float*)(acc + c), upper = (float*)(acc + c + w / 2);
                    TSimd.Store(lower, TSimd.AddWidenedLower(TSimd.Load(lower), v));
                    TSimd.Store(upper, TSimd.AddWidenedUpper(TSimd.Load(upper), v));
                }
            }
            Finish(acc, start, width);
        }

        // dbias[c] += sum, rounded once, as the scalar version did.
        private readonly void Finish(double* sums, int start, int width)
        {
            for (int c = 0; c < width; c++) Dbias[start + c] = (float)(Dbias[start + c] + sums[c]);
        }
    }
}
