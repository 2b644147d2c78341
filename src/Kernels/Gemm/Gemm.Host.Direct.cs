using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GpuNet.Kernels;

/// <summary>A number of rows as a type, so that generic kernels are compiled once per count with the other rows' code removed.</summary>
internal interface IRowCount
{
    static abstract int Rows { get; }
}

internal readonly struct One : IRowCount { public static int Rows => 1; }
internal readonly struct Two : IRowCount { public static int Rows => 2; }
internal readonly struct Three : IRowCount { public static int Rows => 3; }
internal readonly struct Four : IRowCount { public static int Rows => 4; }
internal readonly struct Eight : IRowCount { public static int Rows => 8; }

/// <summary>Which algorithm the host engine's GEMM uses; tests and benchmarks force one to compare them on the same shapes.</summary>
internal enum HostGemmPath
{
    /// <summary>Chosen from the shape (<see cref="Gemm.UsesDirectPath"/>).</summary>
    Auto,
    /// <summary>Always the packed, cache-blocked algorithm.</summary>
    Packed,
    /// <summary>Always the direct algorithm.</summary>
    Direct,
}

public static partial class Gemm
{
    // The direct path, for products too narrow or too small for packing to pay: the forward of a 10-class
    // output layer (n = 10, where the packed path's 32-column tiles are two-thirds padding), its weight gradient (m = 10),
    // and products of a few thousand multiply-adds, where packing both operands costs as much as the
    // arithmetic. (Measured with bench's GemmPathBenchmarks, which forces each path on the MLP's shapes.)
    //
    // op(B) is copied once into a scratch panel with rows padded to whole vectors (zeros in the padding), so the inner
    // loop only makes full-width loads whatever the transposes (B is read in place when it is not transposed and its
    // rows are whole 16-float units already); op(A) is read in place through two strides. C is computed
    // in blocks of 4 rows × 2 vectors (8 accumulators: per depth step 2 loads of B, 4 broadcasts of A and 8 FMAs), and
    // on AVX-512, where the padded width can be an odd number of vectors, 8 rows × 1 vector for the last 16 columns.
    //
    // Determinism: each element of C is one chain of fused multiply-adds over the whole depth in order, then scaled
    // once, whatever the thread count (threads take disjoint row ranges) and whatever the SIMD width (the block shapes
    // only decide which elements are computed together). The choice between the paths depends on the shape only.

    /// <summary>C at most this wide, or this tall, always takes the direct path (a 10-class layer's output, and its weight
    /// gradient, where each element of op(B) is used only 10 times and packing it would cost as much as the product).</summary>
    internal const int DirectMaxN = 16;

    /// <summary>Products of at most this many multiply-adds take the direct path whatever their shape.</summary>
    internal const long DirectMaxMacs = 1L << 15;

    [ThreadStatic] private static HostGemmPath t_forcePath;

    /// <summary>
    /// Forces a path for GEMMs called from this thread, in tests and benchmarks (per thread, so tests running beside each
    /// other are not affected); production code leaves it at <see cref="HostGemmPath.Auto"/>.
    /// </summary>
    internal static HostGemmPath ForceHostPath
    {
        get => t_forcePath;
        set => t_forcePath = value;
    }

    /// <summary>True when the host engine computes an <paramref name="m"/>×<paramref name="n"/>×<paramref name="k"/> product by the direct path.</summary>
    internal static bool UsesDirectPath(int m, int n, int k) => ForceHostPath switch
    {
        HostGemmPath.Packed => false,
        HostGemmPath.Direct => true,
        _ => n <= DirectMaxN || m <= DirectMaxN || (long)m * n * k <= DirectMaxMacs,
    };

    /// <summary>The direct path at one SIMD width (0: AVX-512, 1: AVX2, 2: <see cref="Vector{T}"/>), for the tests.</summary>
    internal static unsafe void RunDirectAt(int width, Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        ILGPU.ArrayView<float> a, ILGPU.ArrayView<float> b, float beta, ILGPU.ArrayView<float> c, int maxThreads) =>
        RunDirect(transA == Transpose.Yes, transB == Transpose.Yes, m, n, k, alpha, HostView.Ptr(a), HostView.Ptr(b), beta,
            HostView.Ptr(c), maxThreads < 1 ? Environment.ProcessorCount : maxThreads, width);

    private static unsafe void RunDirect(bool transA, bool transB, int m, int n, int k, float alpha, float* a, float* b, float beta,
        float* c, int threads, int width = -1)
    {
        switch (width < 0 ? HostRowSimd.Width : width)
        {
            case 0: RunDirect<Vector512<float>, Simd512>(transA, transB, m, n, k, alpha, a, b, beta, c, threads); break;
            case 1: RunDirect<Vector256<float>, Simd256>(transA, transB, m, n, k, alpha, a, b, beta, c, threads); break;
            default: RunDirect<Vector<float>, SimdVector>(transA, transB, m, n, k, alpha, a, b, beta, c, threads); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RunDirect<TVec, TSimd>(bool transA, bool transB, int m, int n, int k, float alpha, float* a, float* b,
        float beta, float* c, int threads) where TVec : struct where TSimd : ISimd<TVec>
    {
        // The panel's rows are padded to whole 16-column units on every width (see Columns).
        if (16 % TSimd.Count != 0) throw new PlatformNotSupportedException($"The host GEMM's direct path needs a vector width that divides 16 floats, not {TSimd.Count}.");
        int ldb = (n + 15) / 16 * 16;
        float* bt = !transB && ldb == n ? b : (t_packB ??= new HostScratch()).Get((long)k * ldb);
        if (bt == b)
        {
            // op(B) = B with rows of whole vectors already: read in place.
        }
        else if (transB)
        {
            // B is n×k; the panel's row p is B's column p. With 16-float rows, 16 columns at a time go through the
            // AVX-512 register transpose, which also writes the padding's zeros (B's rows from n on read as zero).
            int p = 0;
            if (Avx512F.IsSupported && ldb == 16)
                for (; p + 16 <= k; p += 16)
                    Transpose16x16(b + p, k, bt + (long)p * 16, 16, srcRows: n);
            if (p < k)
            {
                new Span<float>(bt + (long)p * ldb, checked((int)((long)(k - p) * ldb))).Clear();
                for (int j = 0; j < n; j++)
                {
                    float* src = b + (long)j * k;
                    float* dst = bt + j;
                    for (int q = p; q < k; q++) dst[(long)q * ldb] = src[q];
                }
            }
        }
        else
        {
            // Whole-panel clear for the padding: one call costs less than a few floats' clear per row.
            if (ldb > n) new Span<float>(bt, checked((int)((long)k * ldb))).Clear();
            for (int p = 0; p < k; p++) Unsafe.CopyBlockUnaligned(bt + (long)p * ldb, b + (long)p * n, (uint)(n * sizeof(float)));
        }
        var job = new DirectJob<TVec, TSimd>
        {
            A = a, Bt = bt, C = c, M = m, N = n, K = k, Ldb = ldb, Alpha = alpha, Beta = beta,
            RowStride = transA ? 1 : k, DepthStride = transA ? m : 1,
        };
        int blocks = (m + 3) / 4;
        int parts = Math.Min(threads, blocks);
        if (parts <= 1 || (long)m * n * k < HostParallelThreshold)
        {
            job.Rows(0, m);
            return;
        }
        Action<int> part = p =>
        {
            int b0 = (int)((long)blocks * p / parts), b1 = (int)((long)blocks * (p + 1) / parts);
            job.Rows(b0 * 4, Math.Min(m, b1 * 4));
        };
        if (!HostWorkers.TryRun(parts, part)) Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part);
    }

    private unsafe struct DirectJob<TVec, TSimd> where TVec : struct where TSimd : ISimd<TVec>
    {
        public float* A, Bt, C;
        public int M, N, K, Ldb, RowStride, DepthStride;
        public float Alpha, Beta;

        /// <summary>
        /// Rows [i0, i1) of C. The columns in pairs of vectors (<see cref="Block2{TR}"/>, 4 rows at a time), and a last single
        /// vector where the padded width is an odd number of vectors (only on AVX-512: the width is padded to 16 columns)
        /// 8 rows at a time (<see cref="Block1{TR}"/>, 8 independent chains, enough to hide the FMA latency); then the 1 to
        /// 7 rows left as one block.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Rows(int i0, int i1)
        {
            int w = TSimd.Count, pairsEnd = Ldb / (2 * w) * (2 * w);
            bool single = pairsEnd < Ldb;
            int i = i0;
            for (; i + 8 <= i1; i += 8)
            {
                for (int j = 0; j < pairsEnd; j += 2 * w) { Block2<Four>(i, j); Block2<Four>(i + 4, j); }
                if (single) Block1<Eight>(i, pairsEnd);
            }
            int left = i1 - i;
            if (left >= 4)
            {
                for (int j = 0; j < pairsEnd; j += 2 * w) Block2<Four>(i, j);
                if (single) Block1<Four>(i, pairsEnd);
                i += 4;
                left -= 4;
            }
            switch (left)
            {
                case 3: Pairs<Three>(i, pairsEnd); if (single) Block1<Three>(i, pairsEnd); break;
                case 2: Pairs<Two>(i, pairsEnd); if (single) Block1<Two>(i, pairsEnd); break;
                case 1: Pairs<One>(i, pairsEnd); if (single) Block1<One>(i, pairsEnd); break;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Pairs<TR>(int i, int pairsEnd) where TR : struct, IRowCount
        {
            for (int j = 0; j < pairsEnd; j += 2 * TSimd.Count) Block2<TR>(i, j);
        }

        // R rows × 2 vectors. The row count is a type, so the JIT drops the unused rows' code and keeps the accumulators
        // in registers.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Block2<TR>(int i, int j) where TR : struct, IRowCount
        {
            int w = TSimd.Count, rs = RowStride, ds = DepthStride, r = TR.Rows;
            float* a = A + (long)i * rs;
            float* bp = Bt + j;
            TVec c00 = TSimd.Zero, c01 = TSimd.Zero, c10 = TSimd.Zero, c11 = TSimd.Zero;
            TVec c20 = TSimd.Zero, c21 = TSimd.Zero, c30 = TSimd.Zero, c31 = TSimd.Zero;
            for (int p = 0; p < K; p++)
            {
                var b0 = TSimd.Load(bp);
                var b1 = TSimd.Load(bp + w);
                var x = TSimd.Broadcast(a[0]); c00 = TSimd.MultiplyAdd(x, b0, c00); c01 = TSimd.MultiplyAdd(x, b1, c01);
                if (r > 1) { x = TSimd.Broadcast(a[rs]); c10 = TSimd.MultiplyAdd(x, b0, c10); c11 = TSimd.MultiplyAdd(x, b1, c11); }
                if (r > 2) { x = TSimd.Broadcast(a[2 * rs]); c20 = TSimd.MultiplyAdd(x, b0, c20); c21 = TSimd.MultiplyAdd(x, b1, c21); }
                if (r > 3) { x = TSimd.Broadcast(a[3 * rs]); c30 = TSimd.MultiplyAdd(x, b0, c30); c31 = TSimd.MultiplyAdd(x, b1, c31); }
                a += ds;
                bp += Ldb;
            }
            Store(i, j, c00); Store(i, j + w, c01);
            if (r > 1) { Store(i + 1, j, c10); Store(i + 1, j + w, c11); }
            if (r > 2) { Store(i + 2, j, c20); Store(i + 2, j + w, c21); }
            if (r > 3) { Store(i + 3, j, c30); Store(i + 3, j + w, c31); }
        }

        // R (up to 8) rows × 1 vector: the last 16 columns on AVX-512 (all of a 10-column C). One chain per row, as in
        // Block2, so that each element is summed the same way on every width; 8 rows give 8 independent chains.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Block1<TR>(int i, int j) where TR : struct, IRowCount
        {
            int rs = RowStride, ds = DepthStride, r = TR.Rows;
            float* a = A + (long)i * rs;
            float* bp = Bt + j;
            TVec c0 = TSimd.Zero, c1 = TSimd.Zero, c2 = TSimd.Zero, c3 = TSimd.Zero;
            TVec c4 = TSimd.Zero, c5 = TSimd.Zero, c6 = TSimd.Zero, c7 = TSimd.Zero;
            for (int p = 0; p < K; p++)
            {
                var b = TSimd.Load(bp);
                c0 = TSimd.MultiplyAdd(TSimd.Broadcast(a[0]), b, c0);
                if (r > 1) c1 = TSimd.MultiplyAdd(TSimd.Broadcast(a[rs]), b, c1);
                if (r > 2) c2 = TSimd.MultiplyAdd(TSimd.Broadcast(a[2 * rs]), b, c2);
                if (r > 3) c3 = TSimd.MultiplyAdd(TSimd.Broadcast(a[3 * rs]), b, c3);
                if (r > 4) c4 = TSimd.MultiplyAdd(TSimd.Broadcast(a[4 * rs]), b, c4);
                if (r > 5) c5 = TSimd.MultiplyAdd(TSimd.Broadcast(a[5 * rs]), b, c5);
                if (r > 6) c6 = TSimd.MultiplyAdd(TSimd.Broadcast(a[6 * rs]), b, c6);
                if (r > 7) c7 = TSimd.MultiplyAdd(TSimd.Broadcast(a[7 * rs]), b, c7);
                a += ds;
                bp += Ldb;
            }
            Store(i, j, c0);
            if (r > 1) Store(i + 1, j, c1);
            if (r > 2) Store(i + 2, j, c2);
            if (r > 3) Store(i + 3, j, c3);
            if (r > 4) Store(i + 4, j, c4);
            if (r > 5) Store(i + 5, j, c5);
            if (r > 6) Store(i + 6, j, c6);
            if (r > 7) Store(i + 7, j, c7);
        }

        /// <summary>C[i, j..] = alpha·acc + beta·C[i, j..] for the columns of the vector that are inside C (C not read when beta is 0).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Store(int i, int j, TVec acc)
        {
            int w = TSimd.Count, count = Math.Min(w, N - j);
            float* at = C + (long)i * N + j;
            var result = TSimd.Multiply(acc, TSimd.Broadcast(Alpha));
            if (count == w)
            {
                if (Beta != 0f) result = TSimd.MultiplyAdd(TSimd.Load(at), TSimd.Broadcast(Beta), result);
                TSimd.Store(at, result);
            }
            else
            {
                if (Beta != 0f) result = TSimd.MultiplyAdd(TSimd.LoadTail(at, count, TSimd.Zero), TSimd.Broadcast(Beta), result);
                TSimd.StoreTail(at, result, count);
            }
        }
    }
}
