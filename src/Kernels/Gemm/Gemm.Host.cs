using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ILGPU;

namespace GpuNet.Kernels;

/// <summary>
/// A register-blocked GEMM micro-kernel of the host engine: <c>C[MR×NR] = alpha·Σ_p a_p ⊗ b_p + beta·C</c> over packed
/// panels, where <c>a_p = ap[p·MR .. p·MR+MR)</c> and <c>b_p = bp[p·NR .. p·NR+NR)</c>. C is row-major with stride
/// <c>ldc</c>; when beta is 0, C is not read.
/// </summary>
internal interface IGemmMicroKernel
{
    static abstract int MR { get; }
    static abstract int NR { get; }
    static abstract bool IsSupported { get; }
    static abstract unsafe void Run(int kc, float* ap, float* bp, float* c, int ldc, float alpha, float beta);
    /// <summary>As <see cref="Run"/> for the first <paramref name="rows"/> rows of the strip only (the last strip of C).</summary>
    static abstract unsafe void RunRows(int rows, int kc, float* ap, float* bp, float* c, int ldc, float alpha, float beta);
}

/// <summary>The portable micro-kernel: 4 rows × 2 <see cref="Vector{T}"/>, for machines without AVX2/AVX-512.</summary>
internal readonly struct VectorMicroKernel4x2 : IGemmMicroKernel
{
    public static int MR => 4;
    public static int NR => 2 * Vector<float>.Count;
    public static bool IsSupported => true;

    public static unsafe void Run(int kc, float* ap, float* bp, float* c, int ldc, float alpha, float beta)
    {
        int w = Vector<float>.Count;
        Vector<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector.Load(bp);
            var b1 = Vector.Load(bp + w);
            var a = new Vector<float>(ap[0]); c00 = HostFma.MultiplyAdd(a, b0, c00); c01 = HostFma.MultiplyAdd(a, b1, c01);
            a = new Vector<float>(ap[1]); c10 = HostFma.MultiplyAdd(a, b0, c10); c11 = HostFma.MultiplyAdd(a, b1, c11);
            a = new Vector<float>(ap[2]); c20 = HostFma.MultiplyAdd(a, b0, c20); c21 = HostFma.MultiplyAdd(a, b1, c21);
            a = new Vector<float>(ap[3]); c30 = HostFma.MultiplyAdd(a, b0, c30); c31 = HostFma.MultiplyAdd(a, b1, c31);
            ap += 4;
            bp += 2 * w;
        }
        StoreRow(c, c00, c01, alpha, beta, w);
        StoreRow(c + ldc, c10, c11, alpha, beta, w);
        StoreRow(c + 2 * ldc, c20, c21, alpha, beta, w);
        StoreRow(c + 3 * ldc, c30, c31, alpha, beta, w);
    }

    public static unsafe void RunRows(int rows, int kc, float* ap, float* bp, float* c, int ldc, float alpha, float beta)
    {
        // Rare path (no AVX2): compute the whole strip into a scratch tile, then write the real rows.
        float* tile = stackalloc float[4 * 2 * Vector<float>.Count];
        int nr = NR;
        Run(kc, ap, bp, tile, nr, 1f, 0f);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < nr; j++)
                c[i * ldc + j] = beta == 0f ? alpha * tile[i * nr + j] : MathF.FusedMultiplyAdd(tile[i * nr + j], alpha, c[i * ldc + j] * beta);
    }

    private static unsafe void StoreRow(float* row, Vector<float> x0, Vector<float> x1, float alpha, float beta, int w)
    {
        if (beta == 0f)
        {
            Vector.Store(x0 * alpha, row);
            Vector.Store(x1 * alpha, row + w);
        }
        else
        {
            Vector.Store(HostFma.MultiplyAdd(x0, new Vector<float>(alpha), Vector.Load(row) * beta), row);
            Vector.Store(HostFma.MultiplyAdd(x1, new Vector<float>(alpha), Vector.Load(row + w) * beta), row + w);
        }
    }
}

/// <summary>
/// The cache blocking of the host GEMM's packed path: depth blocks of about <see cref="KC"/>, B blocks of
/// <see cref="NC"/> columns, A blocks of <see cref="MC"/> rows; <see cref="BInner"/> walks a block's tiles row strip by
/// row strip (the A strip in L1, the B block streamed from L2) rather than column strip by column strip.
/// </summary>
internal readonly record struct HostBlocking(int KC, int NC, int MC, bool BInner)
{
    /// <summary>The blocking for micro-kernel <typeparamref name="TK"/> on this machine's caches (<see cref="HostCache"/>).</summary>
    public static HostBlocking For<TK>() where TK : struct, IGemmMicroKernel => Derive(TK.MR, TK.NR, HostCache.L1, HostCache.L2);

    /// <summary>The blocking for an <paramref name="mr"/>×<paramref name="nr"/> micro-kernel and the given cache sizes in bytes.</summary>
    public static HostBlocking Derive(int mr, int nr, int l1, int l2)
    {
        const int kc = 256;
        int nc = Math.Clamp(l2 / 2 / (kc * sizeof(float)) / nr * nr, 4 * nr, 4096);
        return new HostBlocking(kc, nc, int.MaxValue, true);
    }
}

public static partial class Gemm
{
    // The host engine's GEMM, organised as in BLIS/GotoBLAS:
    //   for each depth block pc of KC
    //     pack op(A)[.., pc..] into MR-tall strips (each strip: KC columns of MR contiguous floats), once
    //     for each column block jc of NC columns of C
    //       pack op(B)[pc.., jc..] into NR-wide strips (each strip: KC rows of NR contiguous floats)
    //       for every MR×NR tile of the block: one micro-kernel call over the KC depth
    // Why this is fast: the micro-kernel keeps a 12×32 block of C in 24 AVX-512 registers and per depth step does
    // 24 FMAs for 2 vector loads and 12 broadcasts, all from packed, contiguous, cache-resident panels: an A strip
    // (12×256 floats, 12 KiB) stays in L1 while the tile loop walks the B block (256×512 floats, 512 KiB) in L2.
    // Transposes cost nothing in the inner loop: they only change how the panels are packed.
    //
    // Determinism: every element of C is accumulated by one micro-kernel call per depth block, in depth order, whatever
    // the number of threads; threads only take different tiles. So results never depend on the thread count.
    // The depth of a block (KC) is set per micro-kernel and never from the machine: where the depth is cut decides the
    // order of the additions, so a fixed KC keeps results bit-identical on every machine with the same SIMD width. The
    // width of the B block (NC) only decides which tiles are computed together, not the arithmetic: it comes from the
    // L2 size of the machine (HostBlocking).

    // Below this many multiply-adds (about 10 µs on one core) the whole product runs on the calling thread: waking a
    // second thread and joining it costs several microseconds, more than it saves below this size (bench/peers
    // gemm_ratio.sh on the MLP's 10x256x128:TN, 256x10x128 and 256x128x10:NT went from 15-52 to 76-79 GFLOP/s when this
    // was raised from 2^18).
    private const long HostParallelThreshold = 1L << 20;

    // The packing routines and the block loop are compiled fully optimised on first use (AggressiveOptimization), as the
    // micro-kernels are: through tiered compilation a short-lived process (a benchmark, the first epoch) spent its first
    // few dozen calls in unoptimised packing code.
    //
    // Packing buffers, reused per calling thread: allocating ~1 MiB per call would cost page faults on every call.
    [ThreadStatic] private static HostScratch? t_packA;
    [ThreadStatic] private static HostScratch? t_packB;

    [ThreadStatic] private static HostBlocking? t_forceBlocking;

    /// <summary>Forces the packed path's cache blocking for GEMMs called from this thread (benchmarks compare blockings
    /// with it; null: <see cref="HostBlocking.For{TK}"/>).</summary>
    internal static HostBlocking? ForceBlocking
    {
        get => t_forceBlocking;
        set => t_forceBlocking = value;
    }

    /// <summary>The micro-kernel the host engine's GEMM uses on this processor, for reports (for example <c>AVX-512 12x32</c>).</summary>
    public static string HostKernelName =>
        Avx512MicroKernel12x32.IsSupported ? "AVX-512 12x32" : Avx2MicroKernel6x16.IsSupported ? "AVX2+FMA 6x16" : "Vector<T> 4x2";

    /// <summary>The tile (MR rows × NR columns of C) of the micro-kernel the packed path uses here, and its blocking.</summary>
    internal static (int MR, int NR, HostBlocking Blocking) HostKernelTile =>
        Avx512MicroKernel12x32.IsSupported ? (Avx512MicroKernel12x32.MR, Avx512MicroKernel12x32.NR, HostBlocking.For<Avx512MicroKernel12x32>())
        : Avx2MicroKernel6x16.IsSupported ? (Avx2MicroKernel6x16.MR, Avx2MicroKernel6x16.NR, HostBlocking.For<Avx2MicroKernel6x16>())
        : (VectorMicroKernel4x2.MR, VectorMicroKernel4x2.NR, HostBlocking.For<VectorMicroKernel4x2>());

    /// <summary>The host engine's GEMM on CPU-addressable views. Arguments are not validated: call <see cref="Validate"/>
    /// first. <paramref name="maxThreads"/> caps the parallelism (-1: all cores); the result does not depend on it.</summary>
    internal static unsafe void RunHost(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c, int maxThreads)
    {
        if (m == 0 || n == 0) return;
        float* pc = HostView.Ptr(c);
        if (k == 0 || alpha == 0f)
        {
            ScaleHost(pc, (long)m * n, beta);
            return;
        }
        int threads = maxThreads < 1 ? Environment.ProcessorCount : maxThreads;
        if (UsesDirectPath(m, n, k))
        {
            RunDirect(transA == Transpose.Yes, transB == Transpose.Yes, m, n, k, alpha, HostView.Ptr(a), HostView.Ptr(b), beta, pc, threads);
            return;
        }
        var job = new HostGemmJob(transA == Transpose.Yes, transB == Transpose.Yes, m, n, k, alpha, HostView.Ptr(a), HostView.Ptr(b), beta, pc);
        if ((long)m * n * k < HostParallelThreshold) threads = 1;
        var forced = t_forceBlocking;
        int width = HostRowSimd.Width; // the native width, unless a test narrows it
        if (Avx512MicroKernel12x32.IsSupported && width <= 0) job.Run<Avx512MicroKernel12x32>(threads, forced ?? HostBlocking.For<Avx512MicroKernel12x32>());
        else if (Avx2MicroKernel6x16.IsSupported && width <= 1) job.Run<Avx2MicroKernel6x16>(threads, forced ?? HostBlocking.For<Avx2MicroKernel6x16>());
        else job.Run<VectorMicroKernel4x2>(threads, forced ?? HostBlocking.For<VectorMicroKernel4x2>());
    }

    /// <summary>C = beta·C, without reading C when beta is 0 (so NaN in C is overwritten, as in BLAS).</summary>
    private static unsafe void ScaleHost(float* c, long length, float beta)
    {
        var span = new Span<float>(c, checked((int)length));
        if (beta == 0f) span.Clear();
        else if (beta != 1f)
            for (int i = 0; i < span.Length; i++) span[i] *= beta;
    }

    /// <summary>One host GEMM call: the operands as raw pointers, and how to cut it between threads.</summary>
    private readonly unsafe struct HostGemmJob(bool transA, bool transB, int m, int n, int k, float alpha, float* a, float* b, float beta, float* c)
    {
        private readonly nint _a = (nint)a, _b = (nint)b, _c = (nint)c;

        // Threads take disjoint column ranges of C (whole NR strips), or row ranges when C is too narrow, and each runs
        // the blocked algorithm on its part alone: one fork and join per call (on the host workers), no sharing of
        // packed panels.
        // Every element of C gets the same sequence of FMAs whichever part it falls in, so the cut changes nothing.
        public void Run<TK>(int threads, HostBlocking blocking) where TK : struct, IGemmMicroKernel
        {
            int nStrips = (n + TK.NR - 1) / TK.NR, mStrips = (m + TK.MR - 1) / TK.MR;
            // A column split makes every thread pack all of op(A), a row split all of op(B): duplicate the cheaper one.
            // Packing an operand that must be transposed (A not transposed, B transposed) costs about three times a copy,
            // a little more for A, whose strips fill 6 or 12 of a transpose's 8 or 16 lanes. (bench --gemm-threads:
            // 256x784x256:NT cost 14% more CPU split by columns, 4% by rows.)
            long dupA = (long)m * k * (transA ? 1 : 4), dupB = (long)n * k * (transB ? 3 : 1);
            bool colsFill = nStrips >= threads, rowsFill = mStrips >= threads;
            bool byColumns = colsFill && rowsFill ? dupA <= dupB : colsFill || (!rowsFill && nStrips >= mStrips);
            int strips = byColumns ? nStrips : mStrips;
            int parts = Math.Min(threads, strips);
            if (parts <= 1)
            {
                Part<TK>(0, m, 0, n, blocking);
                return;
            }
            var self = this;
            int rowsAll = m, colsAll = n;
            Action<int> part = p =>
            {
                int s0 = (int)((long)strips * p / parts), s1 = (int)((long)strips * (p + 1) / parts);
                if (byColumns) self.Part<TK>(0, rowsAll, s0 * TK.NR, Math.Min(colsAll, s1 * TK.NR), blocking);
                else self.Part<TK>(s0 * TK.MR, Math.Min(rowsAll, s1 * TK.MR), 0, colsAll, blocking);
            };
            if (!HostWorkers.TryRun(parts, part)) Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part);
        }

        /// <summary>Computes rows [i0, i1) × columns [j0, j1) of C on the calling thread.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Part<TK>(int i0, int i1, int j0, int j1, HostBlocking blocking) where TK : struct, IGemmMicroKernel
        {
            int mr = TK.MR, nr = TK.NR;
            int rows = i1 - i0, cols = j1 - j0;
            int depthBlocks = (k + blocking.KC - 1) / blocking.KC;
            int kcMax = (k + depthBlocks - 1) / depthBlocks; // the depth cut evenly: 784 is 4 x 196, not 3 x 256 + 16
            int mc = Math.Min(blocking.MC, (rows + mr - 1) / mr * mr), ncMax = Math.Min(blocking.NC, cols);
            float* ap = (t_packA ??= new HostScratch()).Get((long)((mc + mr - 1) / mr) * mr * kcMax);
            float* bp = (t_packB ??= new HostScratch()).Get((long)((ncMax + nr - 1) / nr) * nr * kcMax);
            float* pa = (float*)_a, pb = (float*)_b;

            // Depth blocks outer, column blocks inner: when all of this part's rows fit one A block (the usual case, MC
            // is unbounded), op(A) is packed once per depth block rather than once per depth and column block (at
            // 2048² with NC = 512 that packing, a transpose when A is not transposed, was done four times over).
            // Every element of C still gets its depth blocks in order, so the result is the same either way.
            bool oneABlock = mc >= rows;
            for (int d = 0; d < depthBlocks; d++)
            {
                int pc = (int)((long)k * d / depthBlocks), kc = (int)((long)k * (d + 1) / depthBlocks) - pc;
                float betaBlock = d == 0 ? beta : 1f; // later depth blocks add to what the first one wrote
                for (int jc = j0; jc < j1; jc += blocking.NC)
                {
                    int nc = Math.Min(blocking.NC, j1 - jc);
                    int nStrips = (nc + nr - 1) / nr;
                    int sFull = 0;
                    if (!transB && nr % Vector256<float>.Count == 0 && Vector256.IsHardwareAccelerated)
                    {
                        sFull = nc / nr;
                        PackBRows(pb, n, pc, kc, jc, sFull, nr, bp);
                    }
                    for (int s = sFull; s < nStrips; s++)
                        PackB(transB, pb, n, k, pc, kc, jc + s * nr, Math.Min(nr, nc - s * nr), nr, bp + (long)s * nr * kc);
                    for (int ic = i0; ic < i1; ic += mc)
                    {
                        int mcHere = Math.Min(mc, i1 - ic);
                        int mStrips = (mcHere + mr - 1) / mr;
                        if (!oneABlock || jc == j0)
                            for (int s = 0; s < mStrips; s++)
                                PackA(transA, pa, m, k, ic + s * mr, Math.Min(mr, mcHere - s * mr), pc, kc, mr, ap + (long)s * mr * kc);
                        if (blocking.BInner)
                        {
                            // Row strip outer, column strip inner: the A strip stays in L1 while the B block streams from L2.
                            for (int ir = 0; ir < mStrips; ir++)
                                for (int jr = 0; jr < nStrips; jr++)
                                    Tile<TK>(ap, bp, ic, mcHere, ir, jc, nc, jr, kc, betaBlock);
                        }
                        else
                        {
                            // Column strip outer, row strip inner: the B strip stays in L1 while the A block streams from L2.
                            for (int jr = 0; jr < nStrips; jr++)
                                for (int ir = 0; ir < mStrips; ir++)
                                    Tile<TK>(ap, bp, ic, mcHere, ir, jc, nc, jr, kc, betaBlock);
                        }
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Tile<TK>(float* ap, float* bp, int ic, int mcHere, int ir, int jc, int nc, int jr, int kc, float betaBlock)
            where TK : struct, IGemmMicroKernel
        {
            int mr = TK.MR, nr = TK.NR;
            int tileRows = Math.Min(mr, mcHere - ir * mr), tileCols = Math.Min(nr, nc - jr * nr);
            float* aStrip = ap + (long)ir * mr * kc;
            float* bStrip = bp + (long)jr * nr * kc;
            float* cTile = (float*)_c + (long)(ic + ir * mr) * n + jc + jr * nr;
            if (tileCols < nr) EdgeTile<TK>(kc, aStrip, bStrip, cTile, n, tileRows, tileCols, alpha, betaBlock);
            else if (tileRows < mr) TK.RunRows(tileRows, kc, aStrip, bStrip, cTile, n, alpha, betaBlock);
            else TK.Run(kc, aStrip, bStrip, cTile, n, alpha, betaBlock);
        }
    }

    /// <summary>A tile cut by the edge of C: computed whole into a scratch tile, then the valid part is written.</summary>
    private static unsafe void EdgeTile<TK>(int kc, float* ap, float* bp, float* c, int ldc, int rows, int cols, float alpha, float beta)
        where TK : struct, IGemmMicroKernel
    {
        int nr = TK.NR;
        float* scratch = stackalloc float[TK.MR * nr + 16];
        float* tile = (float*)(((nint)scratch + 63) & ~(nint)63);
        TK.Run(kc, ap, bp, tile, nr, 1f, 0f);
        for (int i = 0; i < rows; i++)
        {
            float* row = c + (long)i * ldc;
            float* t = tile + i * nr;
            if (beta == 0f)
                for (int j = 0; j < cols; j++) row[j] = alpha * t[j];
            else
                for (int j = 0; j < cols; j++) row[j] = MathF.FusedMultiplyAdd(t[j], alpha, row[j] * beta);
        }
    }

    /// <summary>Packs rows [i0, i0+rows) × depth [p0, p0+kc) of op(A) as ap[p·mr + r]; rows past the edge are zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackA(bool trans, float* a, int m, int k, int i0, int rows, int p0, int kc, int mr, float* ap)
    {
        if (!trans)
        {
            // A is m×k, so op(A)[i, p] = a[i·k + p]: a transpose of the strip's rows. Blocks of 16 depth steps go through
            // registers (AVX-512; rows past the edge come out as zeros), the remaining steps element by element.
            int pFull = 0;
            if (Vector512.IsHardwareAccelerated && mr <= 16)
            {
                pFull = kc & ~15;
                for (int p = 0; p < pFull; p += 16)
                    Transpose16x16(a + (long)i0 * k + p0 + p, k, ap + (long)p * mr, mr, srcRows: rows, dstCols: mr);
            }
            else if (Avx.IsSupported && mr <= 8)
            {
                pFull = kc & ~7;
                for (int p = 0; p < pFull; p += 8)
                    Transpose8x8(a + (long)i0 * k + p0 + p, k, ap + (long)p * mr, mr, srcRows: rows, dstCols: mr);
            }
            for (int r = 0; r < rows; r++)
            {
                float* src = a + (long)(i0 + r) * k + p0;
                for (int p = pFull; p < kc; p++) ap[p * mr + r] = src[p];
            }
        }
        else
        {
            // A is k×m, so op(A)[i, p] = a[p·m + i]: each depth step is a contiguous run of rows. Short runs are copied
            // in registers (a Memmove call per run would cost more than the copy).
            float* src = a + (long)p0 * m + i0;
            if (rows >= 8 && rows <= 16 && Vector256.IsHardwareAccelerated)
            {
                for (int p = 0; p < kc; p++, src += m)
                {
                    float* dst = ap + p * mr;
                    Vector256.Store(Vector256.Load(src), dst);
                    if (rows > 8) Vector256.Store(Vector256.Load(src + rows - 8), dst + rows - 8); // overlapping, exact
                }
            }
            else if (rows >= 4 && rows <= 8 && Vector128.IsHardwareAccelerated)
            {
                for (int p = 0; p < kc; p++, src += m)
                {
                    float* dst = ap + p * mr;
                    Vector128.Store(Vector128.Load(src), dst);
                    if (rows > 4) Vector128.Store(Vector128.Load(src + rows - 4), dst + rows - 4); // overlapping, exact
                }
            }
            else
            {
                for (int p = 0; p < kc; p++, src += m)
                    new ReadOnlySpan<float>(src, rows).CopyTo(new Span<float>(ap + p * mr, rows));
            }
        }
        if (rows < mr)
            for (int p = 0; p < kc; p++)
                new Span<float>(ap + p * mr + rows, mr - rows).Clear();
    }

    /// <summary>Packs depth [p0, p0+kc) × the <paramref name="strips"/> whole strips from column j0 of a B that is not
    /// transposed (k×n), as <see cref="PackB"/> does strip by strip (bp[s·nr·kc + p·nr + j]), for nr a multiple of 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackBRows(float* b, int n, int p0, int kc, int j0, int strips, int nr, float* bp)
    {
        // Eight rows of the block at a time, strip by strip: the reads run along eight rows (streams the prefetcher
        // follows), and each strip gets one contiguous run of 8·nr floats. Strip by strip over all kc rows instead, each
        // row of a strip is a new cache line n floats away (a page away at n = 1024), which the prefetcher does not follow.
        const int Rows = 8;
        int w = Vector256<float>.Count;
        long stripStride = (long)nr * kc;
        for (int p = 0; p < kc; p += Rows)
        {
            int rows = Math.Min(Rows, kc - p);
            float* src = b + (long)(p0 + p) * n + j0;
            float* dst = bp + (long)p * nr;
            for (int s = 0; s < strips; s++, src += nr, dst += stripStride)
                for (int q = 0; q < rows; q++)
                {
                    float* from = src + (long)q * n, to = dst + q * nr;
                    for (int j = 0; j < nr; j += w) Vector256.Store(Vector256.Load(from + j), to + j);
                }
        }
    }

    /// <summary>Packs depth [p0, p0+kc) × columns [j0, j0+cols) of op(B) as bp[p·nr + j]; columns past the edge are zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackB(bool trans, float* b, int n, int k, int p0, int kc, int j0, int cols, int nr, float* bp)
    {
        if (!trans)
        {
            // B is k×n, so op(B)[p, j] = b[p·n + j]: each depth step is a contiguous run of columns. Whole strips go
            // through PackBRows where AVX is available; this copies the edge strip, and every strip elsewhere.
            float* src = b + (long)p0 * n + j0;
            for (int p = 0; p < kc; p++, src += n)
                new ReadOnlySpan<float>(src, cols).CopyTo(new Span<float>(bp + p * nr, cols));
        }
        else
        {
            // B is n×k, so op(B)[p, j] = b[j·k + p]: a transpose. 16×16 blocks go through registers (AVX-512), the
            // edges element by element.
            int jFull = 0, pFull = 0;
            if (Vector512.IsHardwareAccelerated && nr % 16 == 0)
            {
                jFull = cols & ~15;
                pFull = kc & ~15;
                for (int j = 0; j < jFull; j += 16)
                    for (int p = 0; p < pFull; p += 16)
                        Transpose16x16(b + (long)(j0 + j) * k + p0 + p, k, bp + (long)p * nr + j, nr);
            }
            else if (Avx.IsSupported && nr % 8 == 0)
            {
                jFull = cols & ~7;
                pFull = kc & ~7;
                for (int j = 0; j < jFull; j += 8)
                    for (int p = 0; p < pFull; p += 8)
                        Transpose8x8(b + (long)(j0 + j) * k + p0 + p, k, bp + (long)p * nr + j, nr);
            }
            for (int j = 0; j < cols; j++)
            {
                float* src = b + (long)(j0 + j) * k + p0;
                for (int p = j < jFull ? pFull : 0; p < kc; p++) bp[p * nr + j] = src[p];
            }
        }
        if (cols < nr)
            for (int p = 0; p < kc; p++)
                new Span<float>(bp + p * nr + cols, nr - cols).Clear();
    }

    /// <summary>Writes the transpose of the 16×16 block at <paramref name="src"/> (row stride <paramref name="srcStride"/>)
    /// to <paramref name="dst"/> (row stride <paramref name="dstStride"/>): dst[q·dstStride + r] = src[r·srcStride + q].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Transpose16x16(float* src, int srcStride, float* dst, int dstStride, int srcRows = 16, int dstCols = 16)
    {
        // Three shuffle stages: interleave pairs of rows (2×2 blocks), then pairs of pairs as doubles (4×4 blocks inside
        // each 128-bit lane), then move whole 128-bit lanes between registers. Source rows from srcRows on read as zero;
        // only the first dstCols floats of each destination row are written.
        var r = stackalloc Vector512<float>[16];
        for (int i = 0; i < 16; i++) r[i] = i < srcRows ? Vector512.Load(src + (long)i * srcStride) : Vector512<float>.Zero;
        var t = stackalloc Vector512<float>[16];
        for (int i = 0; i < 8; i++)
        {
            t[2 * i] = Avx512F.UnpackLow(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = Avx512F.UnpackHigh(r[2 * i], r[2 * i + 1]);
        }
        var u = r; // reuse: u[4i + j] holds, in lane L, column 4L + j of rows 4i..4i+3
        for (int i = 0; i < 4; i++)
        {
            var t0 = t[4 * i].AsDouble(); var t1 = t[4 * i + 1].AsDouble();
            var t2 = t[4 * i + 2].AsDouble(); var t3 = t[4 * i + 3].AsDouble();
            u[4 * i] = Avx512F.UnpackLow(t0, t2).AsSingle();
            u[4 * i + 1] = Avx512F.UnpackHigh(t0, t2).AsSingle();
            u[4 * i + 2] = Avx512F.UnpackLow(t1, t3).AsSingle();
            u[4 * i + 3] = Avx512F.UnpackHigh(t1, t3).AsSingle();
        }
        for (int j = 0; j < 4; j++)
        {
            var v0 = Avx512F.Shuffle4x128(u[j], u[4 + j], 0x44);
            var v1 = Avx512F.Shuffle4x128(u[j], u[4 + j], 0xEE);
            var w0 = Avx512F.Shuffle4x128(u[8 + j], u[12 + j], 0x44);
            var w1 = Avx512F.Shuffle4x128(u[8 + j], u[12 + j], 0xEE);
            Put(Avx512F.Shuffle4x128(v0, w0, 0x88), dst + (long)j * dstStride, dstCols);
            Put(Avx512F.Shuffle4x128(v0, w0, 0xDD), dst + (long)(4 + j) * dstStride, dstCols);
            Put(Avx512F.Shuffle4x128(v1, w1, 0x88), dst + (long)(8 + j) * dstStride, dstCols);
            Put(Avx512F.Shuffle4x128(v1, w1, 0xDD), dst + (long)(12 + j) * dstStride, dstCols);
        }
    }

    /// <summary>As <see cref="Transpose16x16"/> for an 8×8 block with AVX: dst[q·dstStride + r] = src[r·srcStride + q] for
    /// q, r &lt; 8; source rows from <paramref name="srcRows"/> on read as zero, and only the first
    /// <paramref name="dstCols"/> floats of each destination row are written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Transpose8x8(float* src, int srcStride, float* dst, int dstStride, int srcRows = 8, int dstCols = 8)
    {
        // Written out rather than through a local function: the JIT did not inline one that captures the pointers.
        var z = Vector256<float>.Zero;
        var r0 = Vector256.Load(src);
        var r1 = srcRows > 1 ? Vector256.Load(src + srcStride) : z;
        var r2 = srcRows > 2 ? Vector256.Load(src + 2L * srcStride) : z;
        var r3 = srcRows > 3 ? Vector256.Load(src + 3L * srcStride) : z;
        var r4 = srcRows > 4 ? Vector256.Load(src + 4L * srcStride) : z;
        var r5 = srcRows > 5 ? Vector256.Load(src + 5L * srcStride) : z;
        var r6 = srcRows > 6 ? Vector256.Load(src + 6L * srcStride) : z;
        var r7 = srcRows > 7 ? Vector256.Load(src + 7L * srcStride) : z;
        // Pairs of rows interleaved, then pairs of pairs: register q of each half holds column q (lane 0) and column
        // q + 4 (lane 1) of four rows; the last step joins the halves' lanes.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Put8(Avx.Permute2x128(u0, u4, 0x20), dst, dstCols, last: false);
        Put8(Avx.Permute2x128(u1, u5, 0x20), dst + (long)dstStride, dstCols, last: false);
        Put8(Avx.Permute2x128(u2, u6, 0x20), dst + 2L * dstStride, dstCols, last: false);
        Put8(Avx.Permute2x128(u3, u7, 0x20), dst + 3L * dstStride, dstCols, last: false);
        Put8(Avx.Permute2x128(u0, u4, 0x31), dst + 4L * dstStride, dstCols, last: false);
        Put8(Avx.Permute2x128(u1, u5, 0x31), dst + 5L * dstStride, dstCols, last: false);
        Put8(Avx.Permute2x128(u2, u6, 0x31), dst + 6L * dstStride, dstCols, last: false);
        Put8(Avx.Permute2x128(u3, u7, 0x31), dst + 7L * dstStride, dstCols, last: true);
    }

    // Writes the first `count` floats of `value`. Rows of a block are written in increasing order, and when a row is
    // narrower than 8 (a 6-row A strip) the next row starts `count` floats later: a full 8-float store then only spills
    // into the next row, which its own store overwrites. The last row of a block has no next row: it is written exactly.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Put8(Vector256<float> value, float* at, int count, bool last)
    {
        if (count == 8 || !last)
        {
            Vector256.Store(value, at);
            return;
        }
        var low = value.GetLower();
        if (count >= 4)
        {
            Vector128.Store(low, at);
            low = value.GetUpper();
            at += 4;
            count -= 4;
        }
        for (int i = 0; i < count; i++) at[i] = low.GetElement(i);
    }

    private static unsafe void Put(Vector512<float> value, float* at, int count)
    {
        if (count == 16) Vector512.Store(value, at);
        else Avx512F.MaskStore(at, Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle(), value);
    }
}
