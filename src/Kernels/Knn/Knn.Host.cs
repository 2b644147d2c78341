using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ILGPU;

namespace GpuNet.Kernels;

public static partial class Knn
{
    // ---------------------------------------------------------------------------------------------------------------
    // Host engine, generic over the SIMD width (ISimd: AVX-512, AVX2 or Vector<T>; the public entries take the widest,
    // tests pass `width` to run each). Work is cut into blocks whose bounds depend only on the shapes, and every output
    // element is computed by one block in a fixed order, so results are the same with any number of threads.
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Rows per parallel block of the row-wise ops (norms, fix-up, top-k, votes).</summary>
    private const int HostRowBlock = 16;

    /// <summary>Queries per L1 micro-kernel call: 6 rows × 2 vectors of sums, 12 accumulators, fit AVX2's 16 registers too.</summary>
    private const int L1Rows = 6;

    /// <summary>Queries per L1 work item (a multiple of <see cref="L1Rows"/>): 48 rows of 784 floats, 150 KB, stay in L2.</summary>
    private const int L1QueryBlock = 48;

    /// <summary>Reference panels per L1 work item: 8 panels of 32 references of 784 floats, 800 KB with AVX-512, in L2.</summary>
    private const int L1PanelGroup = 8;

    // Packed references, reused per calling thread (a chunk of 2,048 references is 6.4 MB).
    [ThreadStatic] private static HostScratch? t_packed;

    // ----- row norms and the L2 fix-up ---------------------------------------------------------------------------

    private static void RowSquaredNormsHost(Device device, ArrayView<float> x, int rows, int cols, ArrayView<float> norms, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: RowSquaredNormsHost<Vector512<float>, Simd512>(device, x, rows, cols, norms); break;
            case 1: RowSquaredNormsHost<V256x2, Simd256x2>(device, x, rows, cols, norms); break;
            default: RowSquaredNormsHost<V128x4, Simd128x4>(device, x, rows, cols, norms); break;
        }
    }

    /// <summary>The host <see cref="RowSquaredNorms"/> at SIMD width <paramref name="width"/> (0: 512, 1: 256, 2: <see cref="Vector{T}"/>).</summary>
    internal static void RowSquaredNormsHostAt(Device device, ArrayView<float> x, int rows, int cols, ArrayView<float> norms, int width) =>
        RowSquaredNormsHost(device, x, rows, cols, norms, width);

    // Each row's sum is Reduce's float64 chunk sum (exact enough that the float result is the correctly rounded norm in
    // practice), so the norms are as good as the GEMM they are combined with can use.
    private static unsafe void RowSquaredNormsHost<TVec, TSimd>(Device device, ArrayView<float> x, int rows, int cols, ArrayView<float> norms)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        nint px = (nint)HostView.Ptr(x), pn = (nint)HostView.Ptr(norms);
        HostParallel.ForRanges(device, rows, HostRowBlock, (start, count) =>
        {
            for (long r = start; r < start + count; r++)
                ((float*)pn)[r] = (float)Reduce.SumChunk<TVec, TSimd, SquareTerm>((float*)px + r * cols, cols);
        });
    }

    private static void AddNormsHost(Device device, ArrayView<float> queryNorms, ArrayView<float> referenceNorms, int m, int n,
        ArrayView<float> d, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: AddNormsHost<Vector512<float>, Simd512>(device, queryNorms, referenceNorms, m, n, d); break;
            case 1: AddNormsHost<V256x2, Simd256x2>(device, queryNorms, referenceNorms, m, n, d); break;
            default: AddNormsHost<V128x4, Simd128x4>(device, queryNorms, referenceNorms, m, n, d); break;
        }
    }

    /// <summary>The host <see cref="SquaredL2Distances"/> with its fix-up at SIMD width <paramref name="width"/> (see <see cref="RowSquaredNormsHostAt"/>).</summary>
    internal static void SquaredL2DistancesHostAt(Device device, ArrayView<float> queries, ArrayView<float> queryNorms, int m,
        ArrayView<float> references, ArrayView<float> referenceNorms, int n, int dim, ArrayView<float> distances, int width)
    {
        Gemm.Run(device, Transpose.No, Transpose.Yes, m, n, dim, -2f, queries, references, 0f, distances);
        AddNormsHost(device, queryNorms, referenceNorms, m, n, distances, width);
    }

    // d = (|q_i|² + |r_j|²) + d, then d < 0 → 0 (a compare and select, so NaN stays NaN and -0 stays -0, as on ILGPU).
    private static unsafe void AddNormsHost<TVec, TSimd>(Device device, ArrayView<float> queryNorms, ArrayView<float> referenceNorms,
        int m, int n, ArrayView<float> d) where TVec : struct where TSimd : ISimd<TVec>
    {
        nint pq = (nint)HostView.Ptr(queryNorms), pr = (nint)HostView.Ptr(referenceNorms), pd = (nint)HostView.Ptr(d);
        int rowsPerBlock = Math.Max(1, Reduce.HostBlockElements / n);
        HostParallel.ForRanges(device, m, rowsPerBlock, (start, count) =>
        {
            int w = TSimd.Count;
            float* rn = (float*)pr;
            var zero = TSimd.Zero;
            for (long i = start; i < start + count; i++)
            {
                float* row = (float*)pd + i * n;
                var qn = TSimd.Broadcast(((float*)pq)[i]);
                int j = 0;
                for (; j <= n - w; j += w)
                {
                    var v = TSimd.Add(TSimd.Add(qn, TSimd.Load(rn + j)), TSimd.Load(row + j));
                    TSimd.Store(row + j, TSimd.Select(TSimd.LessThan(v, zero), zero, v));
                }
                if (j < n)
                {
                    int tail = n - j;
                    var v = TSimd.Add(TSimd.Add(qn, TSimd.LoadTail(rn + j, tail, zero)), TSimd.LoadTail(row + j, tail, zero));
                    TSimd.StoreTail(row + j, TSimd.Select(TSimd.LessThan(v, zero), zero, v), tail);
                }
            }
        });
    }

    // ----- L1 distances ----------------------------------------------------------------------------------------------
    //
    // |q − r| = 2·max(q, r) − q − r, so D[i, j] = 2·Σ_p max(Q[i,p], R[j,p]) − Σ_p Q[i,p] − Σ_p R[j,p]: the inner loop is
    // one max and one add per pair (a subtract, an and-not of the sign and an add would be three), and the row sums cost
    // one pass over each matrix. The references are packed into panels of 2·Count references, transposed, so that
    // panel[p·2W + c] = R[panel·2W + c, p] (zeros past n): one load gives the p-th element of Count references. The
    // micro-kernel keeps a 6 × 2W block of sums in 12 registers and per p does 2 loads, 6 broadcasts, 12 max and 12 add.
    // Work items are 48 queries × 8 panels (about 1 MB with AVX-512, in L2): each panel is reused by 8 micro-blocks of
    // queries, and each query block by 8 panels.
    // Determinism: each sum is one lane of one accumulator, added in order of p, whatever the width or thread count.

    private static void L1Host(Device device, ArrayView<float> q, int m, ArrayView<float> r, int n, int dim, ArrayView<float> d, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: L1Host<Vector512<float>, Simd512>(device, q, m, r, n, dim, d); break;
            // The native widths: a sum never crosses lanes here, and the 12 accumulators of the 16-lane types would not
            // fit AVX2's 16 registers.
            case 1: L1Host<Vector256<float>, Simd256>(device, q, m, r, n, dim, d); break;
            default: L1Host<Vector<float>, SimdVector>(device, q, m, r, n, dim, d); break;
        }
    }

    /// <summary>The host <see cref="L1Distances"/> at SIMD width <paramref name="width"/> (see <see cref="RowSquaredNormsHostAt"/>).</summary>
    internal static void L1HostAt(Device device, ArrayView<float> q, int m, ArrayView<float> r, int n, int dim, ArrayView<float> d, int width) =>
        L1Host(device, q, m, r, n, dim, d, width);

    private static unsafe void L1Host<TVec, TSimd>(Device device, ArrayView<float> q, int m, ArrayView<float> r, int n, int dim, ArrayView<float> d)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int pw = 2 * TSimd.Count;
        int panels = (n + pw - 1) / pw;
        long panelFloats = (long)dim * pw;
        // One buffer: the packed panels, then each reference's sum (padded to whole panels), then each query's sum.
        float* buffer = (t_packed ??= new HostScratch()).Get(panels * panelFloats + (long)panels * pw + m);
        nint packed = (nint)buffer;
        nint refSums = (nint)(buffer + panels * panelFloats);
        nint querySums = refSums + (nint)panels * pw * sizeof(float);
        nint pq = (nint)HostView.Ptr(q), pr = (nint)HostView.Ptr(r), pd = (nint)HostView.Ptr(d);

        HostParallel.For(device, panels, b => PackPanel((float*)pr, n, dim, b, pw, (float*)packed + b * panelFloats, (float*)refSums + (long)b * pw));
        HostParallel.ForRanges(device, m, 64, (start, count) =>
        {
            for (long i = start; i < start + count; i++) ((float*)querySums)[i] = RowSum((float*)pq + i * dim, dim);
        });

        int queryBlocks = (m + L1QueryBlock - 1) / L1QueryBlock;
        int panelGroups = (panels + L1PanelGroup - 1) / L1PanelGroup;
        HostParallel.For(device, queryBlocks * panelGroups, item =>
        {
            int qb = item / panelGroups, pg = item - qb * panelGroups;
            int rowEnd = Math.Min(m, (qb + 1) * L1QueryBlock);
            int panelEnd = Math.Min(panels, (pg + 1) * L1PanelGroup);
            float* tile = stackalloc float[L1Rows * 2 * TSimd.Count];
            float* Q = (float*)pq;
            for (int b = pg * L1PanelGroup; b < panelEnd; b++)
            {
                float* panel = (float*)packed + b * panelFloats;
                for (int i0 = qb * L1QueryBlock; i0 < rowEnd; i0 += L1Rows)
                {
                    int rows = Math.Min(L1Rows, rowEnd - i0);
                    // Past the last row the micro-kernel reads the last row again; those sums are not stored.
                    float* q0 = Q + (long)i0 * dim;
                    float* q1 = Q + (long)(rows > 1 ? i0 + 1 : i0) * dim;
                    float* q2 = Q + (long)(rows > 2 ? i0 + 2 : i0) * dim;
                    float* q3 = Q + (long)(rows > 3 ? i0 + 3 : i0) * dim;
                    float* q4 = Q + (long)(rows > 4 ? i0 + 4 : i0) * dim;
                    float* q5 = Q + (long)(rows > 5 ? i0 + 5 : i0) * dim;
                    MaxSums<TVec, TSimd>(q0, q1, q2, q3, q4, q5, panel, dim, tile);
                    StoreL1<TVec, TSimd>(tile, rows, (float*)querySums + i0, (float*)refSums + (long)b * pw,
                        (float*)pd + (long)i0 * n + (long)b * pw, n, Math.Min(pw, n - b * pw));
                }
            }
        });
    }

    /// <summary>Packs references <c>[b·pw, b·pw + pw)</c> transposed into <paramref name="panel"/> (zeros past <paramref name="n"/>) and
    /// writes their sums to <paramref name="sums"/>.</summary>
    private static unsafe void PackPanel(float* r, int n, int dim, int b, int pw, float* panel, float* sums)
    {
        int first = b * pw, count = Math.Min(pw, n - first);
        for (int c = 0; c < count; c++) sums[c] = RowSum(r + (long)(first + c) * dim, dim);
        for (int c = count; c < pw; c++) sums[c] = 0f;
        for (int p = 0; p < dim; p++)
        {
            float* to = panel + (long)p * pw;
            float* from = r + (long)first * dim + p;
            for (int c = 0; c < count; c++) to[c] = from[(long)c * dim];
            for (int c = count; c < pw; c++) to[c] = 0f;
        }
    }

    /// <summary>A row's sum, in float64 in order (the same for every width), rounded to float.</summary>
    private static unsafe float RowSum(float* row, int dim)
    {
        double sum = 0;
        for (int p = 0; p < dim; p++) sum += row[p];
        return (float)sum;
    }

    /// <summary><c>tile[c·2W + l] = Σ_p max(q_c[p], panel[p·2W + l])</c> for the six query rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MaxSums<TVec, TSimd>(float* q0, float* q1, float* q2, float* q3, float* q4, float* q5,
        float* panel, int dim, float* tile) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        TVec c00 = TSimd.Zero, c01 = TSimd.Zero, c10 = TSimd.Zero, c11 = TSimd.Zero, c20 = TSimd.Zero, c21 = TSimd.Zero;
        TVec c30 = TSimd.Zero, c31 = TSimd.Zero, c40 = TSimd.Zero, c41 = TSimd.Zero, c50 = TSimd.Zero, c51 = TSimd.Zero;
        for (int p = 0; p < dim; p++, panel += 2 * w)
        {
            TVec b0 = TSimd.Load(panel), b1 = TSimd.Load(panel + w);
            TVec a = TSimd.Broadcast(q0[p]);
            c00 = TSimd.Add(c00, TSimd.MaxNative(a, b0)); c01 = TSimd.Add(c01, TSimd.MaxNative(a, b1));
            a = TSimd.Broadcast(q1[p]);
            c10 = TSimd.Add(c10, TSimd.MaxNative(a, b0)); c11 = TSimd.Add(c11, TSimd.MaxNative(a, b1));
            a = TSimd.Broadcast(q2[p]);
            c20 = TSimd.Add(c20, TSimd.MaxNative(a, b0)); c21 = TSimd.Add(c21, TSimd.MaxNative(a, b1));
            a = TSimd.Broadcast(q3[p]);
            c30 = TSimd.Add(c30, TSimd.MaxNative(a, b0)); c31 = TSimd.Add(c31, TSimd.MaxNative(a, b1));
            a = TSimd.Broadcast(q4[p]);
            c40 = TSimd.Add(c40, TSimd.MaxNative(a, b0)); c41 = TSimd.Add(c41, TSimd.MaxNative(a, b1));
            a = TSimd.Broadcast(q5[p]);
            c50 = TSimd.Add(c50, TSimd.MaxNative(a, b0)); c51 = TSimd.Add(c51, TSimd.MaxNative(a, b1));
        }
        TSimd.Store(tile, c00); TSimd.Store(tile + w, c01);
        TSimd.Store(tile + 2 * w, c10); TSimd.Store(tile + 3 * w, c11);
        TSimd.Store(tile + 4 * w, c20); TSimd.Store(tile + 5 * w, c21);
        TSimd.Store(tile + 6 * w, c30); TSimd.Store(tile + 7 * w, c31);
        TSimd.Store(tile + 8 * w, c40); TSimd.Store(tile + 9 * w, c41);
        TSimd.Store(tile + 10 * w, c50); TSimd.Store(tile + 11 * w, c51);
    }

    /// <summary><c>D[c, l] = max((2·tile[c, l] − querySums[c]) − refSums[l], 0)</c> for the first <paramref name="rows"/>
    /// rows and <paramref name="cols"/> columns of the tile.</summary>
    private static unsafe void StoreL1<TVec, TSimd>(float* tile, int rows, float* querySums, float* refSums, float* d, int n, int cols)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        var zero = TSimd.Zero;
        var r0 = TSimd.Load(refSums);
        var r1 = TSimd.Load(refSums + w);
        for (int c = 0; c < rows; c++)
        {
            var qs = TSimd.Broadcast(querySums[c]);
            var s0 = TSimd.Load(tile + 2 * w * c);
            var s1 = TSimd.Load(tile + 2 * w * c + w);
            var v0 = TSimd.Subtract(TSimd.Subtract(TSimd.Add(s0, s0), qs), r0);
            var v1 = TSimd.Subtract(TSimd.Subtract(TSimd.Add(s1, s1), qs), r1);
            v0 = TSimd.Select(TSimd.LessThan(v0, zero), zero, v0);
            v1 = TSimd.Select(TSimd.LessThan(v1, zero), zero, v1);
            float* row = d + (long)c * n;
            if (cols >= 2 * w)
            {
                TSimd.Store(row, v0);
                TSimd.Store(row + w, v1);
            }
            else if (cols > w)
            {
                TSimd.Store(row, v0);
                TSimd.StoreTail(row + w, v1, cols - w);
            }
            else TSimd.StoreTail(row, v0, cols);
        }
    }

    // ----- top-k -----------------------------------------------------------------------------------------------------
    //
    // Per row, the sorted list lives in the output views. A vector of distances is compared with the list's last entry
    // at once; only a vector with a lane not above it goes to the scalar test, and a lane that passes is appended to a
    // small buffer rather than inserted: when the buffer is full (and at the end of the row) it is sorted and merged
    // into the list in one pass. Inserting one by one moves k/2 entries per candidate (about 100 ns at k = 201); the
    // merge moves k entries per 32 candidates. Once the list is full the threshold rejects almost every vector with one
    // compare: over n references in random order about k·(1 + ln(n/k)) candidates pass (1,350 for k = 201, n = 60,000).
    // The result is the k first pairs of a total order, so it depends neither on the buffer size nor on the order in
    // which the columns are visited.

    /// <summary>Candidates gathered before they are merged into a row's list.</summary>
    private const int TopKBuffer = 32;

    private static void SelectTopKHost(Device device, ArrayView<float> distances, ArrayView<float> bestD, ArrayView<int> bestI,
        ArrayView<int> exclude, TopKArgs args, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: SelectTopKHost<Vector512<float>, Simd512>(device, distances, bestD, bestI, exclude, args); break;
            case 1: SelectTopKHost<V256x2, Simd256x2>(device, distances, bestD, bestI, exclude, args); break;
            default: SelectTopKHost<V128x4, Simd128x4>(device, distances, bestD, bestI, exclude, args); break;
        }
    }

    /// <summary>The host <see cref="SelectTopK"/> at SIMD width <paramref name="width"/> (see <see cref="RowSquaredNormsHostAt"/>); arguments as checked there.</summary>
    internal static void SelectTopKHostAt(Device device, ArrayView<float> distances, int rows, int cols, int columnOffset, int k,
        ArrayView<float> bestD, ArrayView<int> bestI, bool merge, ArrayView<int> exclude, int width) =>
        SelectTopKHost(device, distances, bestD, bestI, exclude, new TopKArgs(rows, cols, columnOffset, k, merge, exclude.IsValid), width);

    private static unsafe void SelectTopKHost<TVec, TSimd>(Device device, ArrayView<float> distances, ArrayView<float> bestD,
        ArrayView<int> bestI, ArrayView<int> exclude, TopKArgs a) where TVec : struct where TSimd : ISimd<TVec>
    {
        nint pd = (nint)HostView.Ptr(distances), pbd = (nint)HostView.Ptr(bestD), pbi = (nint)HostView.Ptr(bestI);
        nint pex = a.HasExclude != 0 ? (nint)HostView.Ptr(exclude) : 0;
        HostParallel.ForRanges(device, a.Rows, HostRowBlock, (start, count) =>
        {
            var scratchD = new float[a.K + TopKBuffer];
            var scratchI = new int[a.K + TopKBuffer];
            fixed (float* sd = scratchD)
            fixed (int* si = scratchI)
            {
                for (long r = start; r < start + count; r++)
                {
                    var list = new TopKList((float*)pbd + r * a.K, (int*)pbi + r * a.K, a.K, sd, si);
                    if (a.Merge == 0) list.Clear();
                    int skip = pex != 0 ? ((int*)pex)[r] : -1;
                    SelectRow<TVec, TSimd>((float*)pd + r * a.Cols, a.Cols, a.ColumnOffset, skip, ref list);
                }
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void SelectRow<TVec, TSimd>(float* row, int cols, int offset, int skip, ref TopKList list)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        var threshold = TSimd.Broadcast(list.Threshold);
        int j = 0;
        for (; j <= cols - w; j += w)
        {
            // Lanes above the threshold cannot enter; NaN lanes pass this test and are dropped by Offer.
            uint pass = Candidates<TVec, TSimd>(threshold, TSimd.Load(row + j));
            if (pass == 0) continue;
            bool merged = false;
            for (; pass != 0; pass &= pass - 1)
            {
                int l = BitOperations.TrailingZeroCount(pass);
                merged |= list.Offer(row[j + l], offset + j + l, skip);
            }
            if (merged) threshold = TSimd.Broadcast(list.Threshold);
        }
        for (; j < cols; j++) list.Offer(row[j], offset + j, skip);
        list.Flush();
    }

    /// <summary>A bit per lane of <paramref name="v"/> that is not above <paramref name="threshold"/> (or is NaN). A width
    /// with no lane mask to extract would set every lane's bit when any lane passes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Candidates<TVec, TSimd>(TVec threshold, TVec v) where TVec : struct where TSimd : ISimd<TVec>
    {
        var above = TSimd.LessThan(threshold, v);
        if (typeof(TVec) == typeof(Vector512<float>))
            return ~(uint)Unsafe.As<TVec, Vector512<float>>(ref above).ExtractMostSignificantBits() & 0xFFFFu;
        if (typeof(TVec) == typeof(V256x2))
            return ~Simd256x2.Bits(Unsafe.As<TVec, V256x2>(ref above)) & 0xFFFFu;
        if (typeof(TVec) == typeof(V128x4))
            return ~Simd128x4.Bits(Unsafe.As<TVec, V128x4>(ref above)) & 0xFFFFu;
        int w = TSimd.Count;
        return TSimd.CountSet(above) == w ? 0u : w >= 32 ? ~0u : (1u << w) - 1;
    }

    /// <summary>
    /// One row's sorted top-k list, in place in the output views, and a buffer of candidates not yet merged into it
    /// (<see cref="TopKBuffer"/> pairs after the <c>k</c> scratch pairs the merge writes to).
    /// </summary>
    private unsafe struct TopKList(float* distances, int* indices, int k, float* scratchD, int* scratchI)
    {
        private int _pending;

        /// <summary>Fills the list with empty slots (+∞, −1).</summary>
        public readonly void Clear()
        {
            new Span<float>(distances, k).Fill(float.PositiveInfinity);
            new Span<int>(indices, k).Fill(-1);
        }

        /// <summary>No candidate with a larger distance can enter: the last entry's distance (+∞ while a slot is empty).</summary>
        public readonly float Threshold => indices[k - 1] < 0 ? float.PositiveInfinity : distances[k - 1];

        /// <summary>Buffers <c>(d, index)</c> if it beats the list's last entry; true when that filled the buffer and
        /// merged it (so the threshold changed).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Offer(float d, int index, int skip)
        {
            if (float.IsNaN(d) || index == skip || !Before(d, index, distances[k - 1], indices[k - 1])) return false;
            // Insertion sort into the buffer (at most 32 entries).
            float* bd = scratchD + k;
            int* bi = scratchI + k;
            int t = _pending++;
            while (t > 0 && Before(d, index, bd[t - 1], bi[t - 1]))
            {
                bd[t] = bd[t - 1];
                bi[t] = bi[t - 1];
                t--;
            }
            bd[t] = d;
            bi[t] = index;
            if (_pending < TopKBuffer) return false;
            Flush();
            return true;
        }

        /// <summary>Merges the buffered candidates into the list, keeping its first k pairs.</summary>
        public void Flush()
        {
            int pending = _pending;
            if (pending == 0) return;
            _pending = 0;
            float* bd = scratchD + k;
            int* bi = scratchI + k;
            int a = 0, b = 0;
            for (int t = 0; t < k; t++)
            {
                if (b < pending && Before(bd[b], bi[b], distances[a], indices[a]))
                {
                    scratchD[t] = bd[b];
                    scratchI[t] = bi[b];
                    b++;
                }
                else
                {
                    scratchD[t] = distances[a];
                    scratchI[t] = indices[a];
                    a++;
                }
            }
            new Span<float>(scratchD, k).CopyTo(new Span<float>(distances, k));
            new Span<int>(scratchI, k).CopyTo(new Span<int>(indices, k));
        }
    }

    // ----- votes -----------------------------------------------------------------------------------------------------

    // Per row: one float32 weight per class, each added to in neighbour order, as the ILGPU kernel does class by class.
    private static unsafe void VoteHost(Device device, ArrayView<float> bestD, ArrayView<int> bestI, ArrayView<int> labels,
        ArrayView<int> predictions, VoteArgs a)
    {
        nint pd = (nint)HostView.Ptr(bestD), pi = (nint)HostView.Ptr(bestI), pp = (nint)HostView.Ptr(predictions);
        nint pl = labels.Length > 0 ? (nint)HostView.Ptr(labels) : 0;
        long labelCount = labels.Length;
        HostParallel.ForRanges(device, a.Rows, 256, (start, count) =>
        {
            float* weight = stackalloc float[a.Classes];
            bool* present = stackalloc bool[a.Classes];
            for (long r = start; r < start + count; r++)
            {
                float* d = (float*)pd + r * a.KMax;
                int* idx = (int*)pi + r * a.KMax;
                new Span<float>(weight, a.Classes).Clear();
                new Span<bool>(present, a.Classes).Clear();
                bool exact = false;
                if (a.DistanceWeights != 0)
                    for (int t = 0; t < a.K; t++)
                        if (idx[t] >= 0 && d[t] == 0f) exact = true;
                for (int t = 0; t < a.K; t++)
                {
                    int index = idx[t];
                    if (index < 0 || index >= labelCount) continue;
                    int c = ((int*)pl)[index];
                    if ((uint)c >= (uint)a.Classes) continue;
                    present[c] = true;
                    weight[c] += Weight(d[t], a, exact);
                }
                int best = -1;
                for (int c = 0; c < a.Classes; c++)
                    if (present[c] && (best < 0 || weight[c] > weight[best])) best = c;
                ((int*)pp)[r] = best;
            }
        });
    }
}
