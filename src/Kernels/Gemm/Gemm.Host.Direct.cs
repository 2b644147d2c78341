using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GpuNet.Kernels;

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
    // The direct path, for products too narrow or too small for packing to pay: the forward of a 10-class output layer
    // (n = 10, where the packed path's 32-column tiles are two-thirds padding), and products of a few thousand
    // multiply-adds, where packing both operands costs as much as the arithmetic.
    //
    // op(B) is copied once into a scratch panel with rows padded to whole vectors (zeros in the padding), so the inner
    // loop only makes full-width loads whatever the transposes; op(A) is read in place through two strides. C is computed
    // in blocks of 4 rows × 2 vectors (8 accumulators: per depth step 2 loads of B, 4 broadcasts of A and 8 FMAs), or
    // 4 rows × 1 vector for the last columns, with rows past a multiple of 4 one at a time.
    //
    // Determinism: each element of C is one accumulator summed over the whole depth in order, then scaled once, whatever
    // the thread count; threads take disjoint row ranges. The choice between the paths depends on the shape only.

    /// <summary>The widest C that always takes the direct path.</summary>
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
        _ => n <= DirectMaxN || (long)m * n * k <= DirectMaxMacs,
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
        int w = TSimd.Count;
        int ldb = (n + w - 1) / w * w;
        float* bt = (t_packB ??= new PackBuffer()).Get((long)k * ldb);
        if (transB)
        {
            // B is n×k: read its rows in order, write them as columns of the panel.
            for (int j = 0; j < n; j++)
            {
                float* src = b + (long)j * k;
                float* dst = bt + j;
                for (int p = 0; p < k; p++) dst[(long)p * ldb] = src[p];
            }
        }
        else
        {
            for (int p = 0; p < k; p++) Unsafe.CopyBlockUnaligned(bt + (long)p * ldb, b + (long)p * n, (uint)(n * sizeof(float)));
        }
        if (ldb > n)
            for (int p = 0; p < k; p++)
                new Span<float>(bt + (long)p * ldb + n, ldb - n).Clear();
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
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, p =>
        {
            int b0 = (int)((long)blocks * p / parts), b1 = (int)((long)blocks * (p + 1) / parts);
            job.Rows(b0 * 4, Math.Min(m, b1 * 4));
        });
    }

    private unsafe struct DirectJob<TVec, TSimd> where TVec : struct where TSimd : ISimd<TVec>
    {
        public float* A, Bt, C;
        public int M, N, K, Ldb, RowStride, DepthStride;
        public float Alpha, Beta;

        /// <summary>Rows [i0, i1) of C.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Rows(int i0, int i1)
        {
            int w = TSimd.Count;
            int i = i0;
            for (; i + 4 <= i1; i += 4)
            {
                int j = 0;
                for (; j + 2 * w <= Ldb; j += 2 * w) Block4x2(i, j);
                if (j < Ldb) Block4x1(i, j);
            }
            for (; i < i1; i++)
                for (int j = 0; j < Ldb; j += w) Block1x1(i, j);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Block4x2(int i, int j)
        {
            int w = TSimd.Count, rs = RowStride, ds = DepthStride;
            float* a = A + (long)i * rs;
            float* bp = Bt + j;
            TVec c00 = TSimd.Zero, c01 = TSimd.Zero, c10 = TSimd.Zero, c11 = TSimd.Zero;
            TVec c20 = TSimd.Zero, c21 = TSimd.Zero, c30 = TSimd.Zero, c31 = TSimd.Zero;
            for (int p = 0; p < K; p++)
            {
                var b0 = TSimd.Load(bp);
                var b1 = TSimd.Load(bp + w);
                var x = TSimd.Broadcast(a[0]); c00 = TSimd.MultiplyAdd(x, b0, c00); c01 = TSimd.MultiplyAdd(x, b1, c01);
                x = TSimd.Broadcast(a[rs]); c10 = TSimd.MultiplyAdd(x, b0, c10); c11 = TSimd.MultiplyAdd(x, b1, c11);
                x = TSimd.Broadcast(a[2 * rs]); c20 = TSimd.MultiplyAdd(x, b0, c20); c21 = TSimd.MultiplyAdd(x, b1, c21);
                x = TSimd.Broadcast(a[3 * rs]); c30 = TSimd.MultiplyAdd(x, b0, c30); c31 = TSimd.MultiplyAdd(x, b1, c31);
                a += ds;
                bp += Ldb;
            }
            Store(i, j, c00); Store(i, j + w, c01);
            Store(i + 1, j, c10); Store(i + 1, j + w, c11);
            Store(i + 2, j, c20); Store(i + 2, j + w, c21);
            Store(i + 3, j, c30); Store(i + 3, j + w, c31);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private readonly void Block4x1(int i, int j)
        {
            int rs = RowStride, ds = DepthStride;
            float* a = A + (long)i * rs;
            float* bp = Bt + j;
            TVec c0 = TSimd.Zero, c1 = TSimd.Zero, c2 = TSimd.Zero, c3 = TSimd.Zero;
            for (int p = 0; p < K; p++)
            {
                var b0 = TSimd.Load(bp);
                c0 = TSimd.MultiplyAdd(TSimd.Broadcast(a[0]), b0, c0);
                c1 = TSimd.MultiplyAdd(TSimd.Broadcast(a[rs]), b0, c1);
                c2 = TSimd.MultiplyAdd(TSimd.Broadcast(a[2 * rs]), b0, c2);
                c3 = TSimd.MultiplyAdd(TSimd.Broadcast(a[3 * rs]), b0, c3);
                a += ds;
                bp += Ldb;
            }
            Store(i, j, c0); Store(i + 1, j, c1); Store(i + 2, j, c2); Store(i + 3, j, c3);
        }

        private readonly void Block1x1(int i, int j)
        {
            int ds = DepthStride;
            float* a = A + (long)i * RowStride;
            float* bp = Bt + j;
            TVec c0 = TSimd.Zero;
            for (int p = 0; p < K; p++)
            {
                c0 = TSimd.MultiplyAdd(TSimd.Broadcast(*a), TSimd.Load(bp), c0);
                a += ds;
                bp += Ldb;
            }
            Store(i, j, c0);
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
