using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ILGPU;

namespace GpuNet.Kernels;

public static partial class Reduce
{
    // ---------------------------------------------------------------------------------------------------------------
    // Host engine. Every op is written once, generic over the SIMD width (ISimd: AVX-512, AVX2 or Vector<T>), and the
    // public entry picks the widest width this processor runs (HostRowSimd.Width). Work is split into blocks whose bounds
    // depend only on the shape, never on the thread count, and whatever a block adds up is combined in block order, so
    // the result has the same bits with 1 thread or many. Inputs of one block run inline, without the thread pool and
    // without allocating.
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Elements per chunk of a sum: each chunk is summed on its own and the chunk sums are added in order.</summary>
    internal const int HostChunk = 1 << 16;

    /// <summary>About this many elements per block of rows: enough to pay for a trip through the thread pool.</summary>
    internal const int HostBlockElements = 1 << 15;

    // ----- sums ------------------------------------------------------------------------------------------------------

    private static void SumHost<TTerm>(Device device, ArrayView<float> x, ArrayView<float> result, float scale, int width = -1)
        where TTerm : struct, IReduceTerm
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: SumHost<Vector512<float>, Simd512, TTerm>(device, x, result, scale); break;
            case 1: SumHost<V256x2, Simd256x2, TTerm>(device, x, result, scale); break;
            default: SumHost<V128x4, Simd128x4, TTerm>(device, x, result, scale); break;
        }
    }

    /// <summary>The host <see cref="Sum"/> (with <see cref="ValueTerm"/>) or <see cref="SumOfSquares"/> at SIMD width <paramref name="width"/> (0: 512, 1: 256, 2: <see cref="Vector{T}"/>; tests pick each).</summary>
    internal static void SumHostAt<TTerm>(Device device, ArrayView<float> x, ArrayView<float> result, int width) where TTerm : struct, IReduceTerm =>
        SumHost<TTerm>(device, x, result, 1f, width);

    private static unsafe void SumHost<TVec, TSimd, TTerm>(Device device, ArrayView<float> x, ArrayView<float> result, float scale)
        where TVec : struct where TSimd : ISimd<TVec> where TTerm : struct, IReduceTerm
    {
        long n = x.Length;
        double total = n == 0 ? 0
            : n <= HostChunk ? SumChunk<TVec, TSimd, TTerm>(HostView.Ptr(x), (int)n)
            : SumChunks<TVec, TSimd, TTerm>(device, x);
        *HostView.Ptr(result) = (float)(total * scale);
    }

    private static unsafe double SumChunks<TVec, TSimd, TTerm>(Device device, ArrayView<float> x)
        where TVec : struct where TSimd : ISimd<TVec> where TTerm : struct, IReduceTerm
    {
        long n = x.Length;
        var partial = new double[(n + HostChunk - 1) / HostChunk];
        nint start0 = (nint)HostView.Ptr(x);
        HostParallel.ForRanges(device, n, HostChunk,
            (start, count) => partial[start / HostChunk] = SumChunk<TVec, TSimd, TTerm>((float*)start0 + start, count));
        double total = 0;
        foreach (double p in partial) total += p; // chunk order, whatever order the chunks finished in
        return total;
    }

    /// <summary>
    /// <c>Σ term(p[i])</c> for <c>i &lt; n</c>: the terms in float32, the sum in float64 (four vector accumulators of
    /// float64 lanes, so a chunk of 65536 floats loses nothing to rounding that a float32 result would notice).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe double SumChunk<TVec, TSimd, TTerm>(float* p, int n)
        where TVec : struct where TSimd : ISimd<TVec> where TTerm : struct, IReduceTerm
    {
        int w = TSimd.Count;
        TVec a0 = TSimd.Zero, a1 = TSimd.Zero, a2 = TSimd.Zero, a3 = TSimd.Zero;
        int i = 0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            var v0 = default(TTerm).Apply<TVec, TSimd>(TSimd.Load(p + i));
            var v1 = default(TTerm).Apply<TVec, TSimd>(TSimd.Load(p + i + w));
            a0 = TSimd.AddWidenedLower(a0, v0);
            a1 = TSimd.AddWidenedUpper(a1, v0);
            a2 = TSimd.AddWidenedLower(a2, v1);
            a3 = TSimd.AddWidenedUpper(a3, v1);
        }
        if (i < n)
        {
            // One full or partial vector, then maybe one partial: zero lanes add nothing (every term maps 0 to 0).
            var v = default(TTerm).Apply<TVec, TSimd>(TSimd.LoadTail(p + i, Math.Min(w, n - i), TSimd.Zero));
            a0 = TSimd.AddWidenedLower(a0, v);
            a1 = TSimd.AddWidenedUpper(a1, v);
            i += w;
            if (i < n)
            {
                v = default(TTerm).Apply<TVec, TSimd>(TSimd.LoadTail(p + i, n - i, TSimd.Zero));
                a2 = TSimd.AddWidenedLower(a2, v);
                a3 = TSimd.AddWidenedUpper(a3, v);
            }
        }
        return (TSimd.SumAcrossWidened(a0) + TSimd.SumAcrossWidened(a1)) + (TSimd.SumAcrossWidened(a2) + TSimd.SumAcrossWidened(a3));
    }

    // ----- row helpers, shared with SoftmaxCrossEntropy -----------------------------------------------------------

    /// <summary>Blocks of whole rows of about <see cref="HostBlockElements"/> elements.</summary>
    internal static int RowsPerBlock(int cols) => Math.Max(1, HostBlockElements / Math.Max(cols, 1));

    /// <summary>
    /// Runs <paramref name="block"/> over <c>[0, rows)</c> in blocks of <see cref="RowsPerBlock"/> rows (in parallel
    /// when there are several and the device has threads) and returns the blocks' totals added in block order.
    /// </summary>
    internal static BlockTotals ForRowBlocks<TBlock>(Device device, int rows, int cols, TBlock block) where TBlock : struct, IRowBlock
    {
        int perBlock = RowsPerBlock(cols);
        int blocks = (int)(((long)rows + perBlock - 1) / perBlock);
        if (blocks <= 1 || device.HostThreads <= 1)
        {
            var total = default(BlockTotals);
            for (int b = 0; b < blocks; b++)
            {
                int first = b * perBlock;
                total = total.Then(block.Run(first, Math.Min(perBlock, rows - first)));
            }
            return total;
        }
        return ForRowBlocksParallel(device, rows, perBlock, blocks, block);
    }

    // Separate from ForRowBlocks so that the inline path does not allocate the lambda's closure.
    private static BlockTotals ForRowBlocksParallel<TBlock>(Device device, int rows, int perBlock, int blocks, TBlock block)
        where TBlock : struct, IRowBlock
    {
        var results = new BlockTotals[blocks];
        HostParallel.For(device, blocks, b =>
        {
            int first = b * perBlock;
            results[b] = block.Run(first, Math.Min(perBlock, rows - first));
        });
        var total = default(BlockTotals);
        foreach (var r in results) total = total.Then(r);
        return total;
    }

    /// <summary>The largest element of <c>p[0, n)</c>, n &gt;= 1; NaN elements may or may not be seen (callers check).</summary>
    internal static unsafe float RowMax<TVec, TSimd>(float* p, int n) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        var ninf = TSimd.Broadcast(float.NegativeInfinity);
        TVec m0 = ninf, m1 = ninf;
        int i = 0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            m0 = TSimd.MaxNative(m0, TSimd.Load(p + i));
            m1 = TSimd.MaxNative(m1, TSimd.Load(p + i + w));
        }
        for (; i < n; i += w)
            m0 = TSimd.MaxNative(m0, TSimd.LoadTail(p + i, Math.Min(w, n - i), ninf));
        return TSimd.MaxAcross(TSimd.MaxNative(m0, m1));
    }

    /// <summary><c>Σ exp(p[i] - max)</c> for <c>i &lt; n</c>, in float32 vector lanes; NaN when any term is NaN.</summary>
    internal static unsafe float RowExpSum<TVec, TSimd>(float* p, int n, float max) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        var m = TSimd.Broadcast(max);
        TVec s0 = TSimd.Zero, s1 = TSimd.Zero;
        int i = 0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            s0 = TSimd.Add(s0, TSimd.Exp(TSimd.Subtract(TSimd.Load(p + i), m)));
            s1 = TSimd.Add(s1, TSimd.Exp(TSimd.Subtract(TSimd.Load(p + i + w), m)));
        }
        // -inf fill: exp(-inf - max) = 0 in the lanes past the row.
        var ninf = TSimd.Broadcast(float.NegativeInfinity);
        for (; i < n; i += w)
            s0 = TSimd.Add(s0, TSimd.Exp(TSimd.Subtract(TSimd.LoadTail(p + i, Math.Min(w, n - i), ninf), m)));
        return TSimd.SumAcross(TSimd.Add(s0, s1));
    }

    /// <summary>
    /// The row sum of exps (as the overload without <paramref name="exps"/>) that also stores each <c>exp(p[i] - max)</c> at <c>exps[i]</c> (whole vectors:
    /// <paramref name="exps"/> has room for <c>n</c> rounded up to a vector), for a pass that needs them again.
    /// </summary>
    internal static unsafe float RowExpSum<TVec, TSimd>(float* p, int n, float max, float* exps) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        var m = TSimd.Broadcast(max);
        TVec s0 = TSimd.Zero, s1 = TSimd.Zero;
        int i = 0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            var e0 = TSimd.Exp(TSimd.Subtract(TSimd.Load(p + i), m));
            var e1 = TSimd.Exp(TSimd.Subtract(TSimd.Load(p + i + w), m));
            TSimd.Store(exps + i, e0);
            TSimd.Store(exps + i + w, e1);
            s0 = TSimd.Add(s0, e0);
            s1 = TSimd.Add(s1, e1);
        }
        var ninf = TSimd.Broadcast(float.NegativeInfinity);
        for (; i < n; i += w)
        {
            var e = TSimd.Exp(TSimd.Subtract(TSimd.LoadTail(p + i, Math.Min(w, n - i), ninf), m));
            TSimd.Store(exps + i, e);
            s0 = TSimd.Add(s0, e);
        }
        return TSimd.SumAcross(TSimd.Add(s0, s1));
    }

    /// <summary>The first <c>i &lt; n</c> with <c>p[i] == value</c>, or -1.</summary>
    internal static unsafe int FirstEqual<TVec, TSimd>(float* p, int n, float value) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        var v = TSimd.Broadcast(value);
        var nan = TSimd.Broadcast(float.NaN); // never equal, so the lanes past the row never match
        for (int i = 0; i < n; i += w)
        {
            var eq = TSimd.Equals(i <= n - w ? TSimd.Load(p + i) : TSimd.LoadTail(p + i, n - i, nan), v);
            if (TSimd.AnySet(eq)) return i + TSimd.FirstSet(eq);
        }
        return -1;
    }

    /// <summary>The first NaN of <c>p[0, n)</c>, or -1.</summary>
    internal static unsafe int FirstNaN<TVec, TSimd>(float* p, int n) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        for (int i = 0; i < n; i += w)
        {
            var isNaN = TSimd.IsNaN(i <= n - w ? TSimd.Load(p + i) : TSimd.LoadTail(p + i, n - i, TSimd.Zero));
            if (TSimd.AnySet(isNaN)) return i + TSimd.FirstSet(isNaN);
        }
        return -1;
    }

    /// <summary>
    /// The argmax of <c>p[0, n)</c> with the semantics of <see cref="Beats"/>: the first NaN if there is one, else the
    /// first element equal to the maximum (so <c>-0</c> and <c>+0</c> tie and the first wins).
    /// </summary>
    internal static unsafe int RowArgmax<TVec, TSimd>(float* p, int n) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        if (n <= w)
        {
            // One vector: everything in registers. The -inf fill never beats a real column (a real -inf comes first).
            var v = TSimd.LoadTail(p, n, TSimd.Broadcast(float.NegativeInfinity));
            var isNaN = TSimd.IsNaN(v);
            if (TSimd.AnySet(isNaN)) return TSimd.FirstSet(isNaN);
            return TSimd.FirstSet(TSimd.Equals(v, TSimd.Broadcast(TSimd.MaxAcross(v))));
        }
        var ninf = TSimd.Broadcast(float.NegativeInfinity);
        TVec m0 = ninf, m1 = ninf, nan = TSimd.Zero;
        int i = 0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            var v0 = TSimd.Load(p + i);
            var v1 = TSimd.Load(p + i + w);
            m0 = TSimd.MaxNative(m0, v0);
            m1 = TSimd.MaxNative(m1, v1);
            nan = TSimd.Or(nan, TSimd.Or(TSimd.IsNaN(v0), TSimd.IsNaN(v1)));
        }
        for (; i < n; i += w)
        {
            var v = TSimd.LoadTail(p + i, Math.Min(w, n - i), ninf);
            m0 = TSimd.MaxNative(m0, v);
            nan = TSimd.Or(nan, TSimd.IsNaN(v));
        }
        if (TSimd.AnySet(nan)) return FirstNaN<TVec, TSimd>(p, n);
        return FirstEqual<TVec, TSimd>(p, n, TSimd.MaxAcross(TSimd.MaxNative(m0, m1)));
    }

    /// <summary>
    /// <see cref="ISimd{TVec}.LoadTransposed"/>: tile row <c>c</c> holds column <c>c</c> of <paramref name="n"/> rows.
    /// Ops on short rows use it to work on Count rows at once with lane-wise operations instead of a reduction across
    /// lanes per row.
    /// </summary>
    internal static unsafe void LoadTransposed<TVec, TSimd>(float* tile, float* rows, int cols, int n)
        where TVec : struct where TSimd : ISimd<TVec> =>
        TSimd.LoadTransposed(tile, rows, cols, n);

    /// <summary>
    /// <paramref name="p"/> rounded up to a multiple of 64 bytes (allocate 16 floats more). A vector that straddles two
    /// cache lines is slower to store and load again, which the transposed tiles do several times per row.
    /// </summary>
    internal static unsafe float* Align64(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary>The index of the first maximum of <paramref name="row"/> by <see cref="Beats"/> (NaN largest, lowest index on ties).</summary>
    internal static int HostArgmax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int c = 1; c < row.Length; c++)
            if (Beats(row[c], c, row[best], best)) best = c;
        return best;
    }

    // ----- argmax and accuracy ---------------------------------------------------------------------------------------

    private static void RowArgmaxHost(Device device, ArrayView<float> x, int rows, int cols, ArrayView<int> result, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: RowArgmaxHost<Vector512<float>, Simd512>(device, x, rows, cols, result, default); break;
            case 1: RowArgmaxHost<V256x2, Simd256x2>(device, x, rows, cols, result, default); break;
            default: RowArgmaxHost<V128x4, Simd128x4>(device, x, rows, cols, result, default); break;
        }
    }

    private static void CountCorrectHost(Device device, ArrayView<float> logits, ArrayView<int> labels, int rows, int cols,
        ArrayView<int> count, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: RowArgmaxHost<Vector512<float>, Simd512>(device, logits, rows, cols, labels, count); break;
            case 1: RowArgmaxHost<V256x2, Simd256x2>(device, logits, rows, cols, labels, count); break;
            default: RowArgmaxHost<V128x4, Simd128x4>(device, logits, rows, cols, labels, count); break;
        }
    }

    /// <summary>The host <see cref="RowArgmax"/> at SIMD width <paramref name="width"/> (see <see cref="SumHostAt{TTerm}"/>).</summary>
    internal static void RowArgmaxHostAt(Device device, ArrayView<float> x, int rows, int cols, ArrayView<int> result, int width) =>
        RowArgmaxHost(device, x, rows, cols, result, width);

    /// <summary>The host <see cref="CountCorrect"/> at SIMD width <paramref name="width"/> (see <see cref="SumHostAt{TTerm}"/>).</summary>
    internal static void CountCorrectHostAt(Device device, ArrayView<float> logits, ArrayView<int> labels, int rows, int cols,
        ArrayView<int> count, int width) =>
        CountCorrectHost(device, logits, labels, rows, cols, count, width);

    // With a count view: counts the rows whose argmax equals the label into count[0]. Without: writes each row's argmax
    // into the second view.
    private static unsafe void RowArgmaxHost<TVec, TSimd>(Device device, ArrayView<float> x, int rows, int cols, ArrayView<int> output,
        ArrayView<int> count) where TVec : struct where TSimd : ISimd<TVec>
    {
        bool counting = count.IsValid;
        var block = new ArgmaxBlock<TVec, TSimd>
        {
            X = rows == 0 ? null : HostView.Ptr(x),
            Output = rows == 0 ? null : HostView.Ptr(output),
            Cols = cols,
            Counting = counting,
        };
        var total = ForRowBlocks(device, rows, cols, block);
        if (counting) *HostView.Ptr(count) = (int)total.Count;
    }

    private unsafe struct ArgmaxBlock<TVec, TSimd> : IRowBlock where TVec : struct where TSimd : ISimd<TVec>
    {
        public float* X;
        public int* Output;
        public int Cols;
        public bool Counting;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly BlockTotals Run(int first, int count)
        {
            if (TSimd.CanTranspose && Cols <= TSimd.Count) return RunTransposed(first, count);
            long right = 0;
            for (int r = first; r < first + count; r++)
            {
                int best = RowArgmax<TVec, TSimd>(X + (long)r * Cols, Cols);
                if (!Counting) Output[r] = best;
                else if (best == Output[r]) right++;
            }
            return new BlockTotals(0, right);
        }

        // Rows of at most one vector, Count rows at a time through a transposed tile (see LoadTransposed): the max is a
        // lane-wise max over the columns, and the argmax the lowest column equal to it, found by a select per column.
        private readonly BlockTotals RunTransposed(int first, int count)
        {
            int cols = Cols, w = TSimd.Count;
            float* tileMemory = stackalloc float[w * w + 16];
            float* tile = Align64(tileMemory);
            float* lanes = stackalloc float[w];
            float* flags = stackalloc float[w];
            long right = 0;
            for (int g = first; g < first + count; g += w)
            {
                int n = Math.Min(w, first + count - g);
                LoadTransposed<TVec, TSimd>(tile, X + (long)g * cols, cols, n);
                var max = TSimd.Load(tile);
                var nan = TSimd.IsNaN(max);
                for (int c = 1; c < cols; c++)
                {
                    var column = TSimd.Load(tile + c * w);
                    max = TSimd.MaxNative(max, column);
                    nan = TSimd.Or(nan, TSimd.IsNaN(column));
                }
                var best = TSimd.Zero;
                for (int c = cols - 1; c >= 0; c--)
                    best = TSimd.Select(TSimd.Equals(TSimd.Load(tile + c * w), max), TSimd.Broadcast(c), best);
                if (Counting && !TSimd.AnySet(nan))
                {
                    right += TSimd.CountSet(TSimd.Equals(best, TSimd.LoadInt32(Output + g, n, -1))); // -1 past n never matches
                    continue;
                }
                TSimd.Store(lanes, best);
                // Rows with a NaN: the first NaN wins (rows past n are -inf, never NaN). A set mask lane is a NaN float.
                if (TSimd.AnySet(nan))
                {
                    TSimd.Store(flags, nan);
                    for (int i = 0; i < n; i++)
                        if (float.IsNaN(flags[i])) lanes[i] = FirstNaN<TVec, TSimd>(X + (long)(g + i) * cols, cols);
                }
                for (int i = 0; i < n; i++)
                {
                    int index = (int)lanes[i];
                    if (!Counting) Output[g + i] = index;
                    else if (index == Output[g + i]) right++;
                }
            }
            return new BlockTotals(0, right);
        }
    }
}

/// <summary>A block of rows of a host op: runs rows <c>[first, first + count)</c> and returns what it adds up.</summary>
internal interface IRowBlock
{
    BlockTotals Run(int first, int count);
}

/// <summary>What a block of a host op adds up: a float64 sum and a count. Blocks are combined in block order.</summary>
internal readonly record struct BlockTotals(double Sum, long Count)
{
    public BlockTotals Then(BlockTotals next) => new(Sum + next.Sum, Count + next.Count);
}
