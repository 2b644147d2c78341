using System.Numerics;
using System.Runtime.InteropServices;
using ILGPU;

namespace GpuNet.Kernels;

public static partial class Gemm
{
    // The host engine's GEMM: correct for every transpose, cache-blocked and vectorised with Vector<float>, on all cores.
    // (The packed AVX-512/AVX2 GEMM comes later; this is the simple but decent version.)
    //
    // C is cut into blocks of HostRows rows × HostCols columns; each block is one parallel task and is computed by that
    // task alone, over the whole depth k, in the same order whatever the number of threads. So the result never depends
    // on the thread count.
    // Inside a block: for each depth panel of HostDepth, a strip of 2 vectors of columns of B (HostDepth × 2V floats,
    // 16 KiB with AVX2) stays in L1 while the block's rows go past it 4 at a time; each 4-row × 2-vector piece of C is
    // accumulated in 8 vector registers over the panel and then added to C once.
    private const int HostRows = 32;
    private const int HostCols = 256;
    private const int HostDepth = 256;

    // Below this many multiply-adds, starting tasks costs more than it saves.
    private const long HostParallelThreshold = 1L << 16;

    /// <summary>The host engine's GEMM on CPU-addressable views. Arguments are not validated: call <see cref="Validate"/>
    /// first. <paramref name="maxThreads"/> caps the parallelism (-1: no cap); the result does not depend on it.</summary>
    internal static unsafe void RunHost(Transpose transA, Transpose transB, int m, int n, int k, float alpha,
        ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c, int maxThreads)
    {
        if (m == 0 || n == 0) return;
        float* pa = k > 0 ? HostView.Ptr(a) : null;
        float* pb = k > 0 ? HostView.Ptr(b) : null;
        float* pc = HostView.Ptr(c);
        float* transposedB = null;
        try
        {
            if (transB == Transpose.Yes && k > 0)
            {
                // Bᵀ is stored n×k; the kernel wants op(B) as a k×n row-major matrix. One O(n·k) copy against O(m·n·k) work.
                transposedB = (float*)NativeMemory.AlignedAlloc((nuint)((long)k * n * sizeof(float)), 64);
                TransposeInto(pb, n, k, transposedB, maxThreads);
                pb = transposedB;
            }

            var job = new HostJob(transA == Transpose.Yes, m, n, k, alpha, beta, pa, pb, pc);
            int rowBlocks = (m + HostRows - 1) / HostRows;
            int colBlocks = (n + HostCols - 1) / HostCols;
            int tasks = rowBlocks * colBlocks;
            if ((long)m * n * Math.Max(k, 1) < HostParallelThreshold || maxThreads == 1)
            {
                for (int t = 0; t < tasks; t++) job.Block(t / colBlocks, t % colBlocks);
            }
            else
            {
                var options = new ParallelOptions { MaxDegreeOfParallelism = maxThreads };
                Parallel.For(0, tasks, options, t => job.Block(t / colBlocks, t % colBlocks));
            }
        }
        finally
        {
            if (transposedB != null) NativeMemory.AlignedFree(transposedB);
        }
    }

    /// <summary>Writes the transpose of the <paramref name="rows"/>×<paramref name="cols"/> row-major matrix
    /// <paramref name="src"/> to <paramref name="dst"/> (cols×rows), in 32×32 tiles so both sides stay in cache.</summary>
    private static unsafe void TransposeInto(float* src, int rows, int cols, float* dst, int maxThreads)
    {
        const int T = 32;
        nint s = (nint)src, d = (nint)dst;
        int rowTiles = (rows + T - 1) / T;
        void Tile(int rt)
        {
            float* from = (float*)s, to = (float*)d;
            int r0 = rt * T, r1 = Math.Min(rows, r0 + T);
            for (int c0 = 0; c0 < cols; c0 += T)
            {
                int c1 = Math.Min(cols, c0 + T);
                for (int r = r0; r < r1; r++)
                    for (int c = c0; c < c1; c++)
                        to[(long)c * rows + r] = from[(long)r * cols + c];
            }
        }
        if ((long)rows * cols < HostParallelThreshold || maxThreads == 1)
            for (int rt = 0; rt < rowTiles; rt++) Tile(rt);
        else
            Parallel.For(0, rowTiles, new ParallelOptions { MaxDegreeOfParallelism = maxThreads }, Tile);
    }

    /// <summary>One host GEMM call: op(A) is read through <see cref="TransA"/>; B is already k×n row-major.</summary>
    private readonly unsafe struct HostJob(bool transA, int m, int n, int k, float alpha, float beta, float* a, float* b, float* c)
    {
        private readonly bool TransA = transA;
        private readonly int M = m, N = n, K = k;
        private readonly float Alpha = alpha, Beta = beta;
        private readonly float* A = a, B = b, C = c;

        /// <summary>Computes the block of C at row block <paramref name="rowBlock"/>, column block <paramref name="colBlock"/>.</summary>
        public void Block(int rowBlock, int colBlock)
        {
            int i0 = rowBlock * HostRows, rows = Math.Min(HostRows, M - i0);
            int j0 = colBlock * HostCols, cols = Math.Min(HostCols, N - j0);
            float* cBlock = C + (long)i0 * N + j0;

            // C = beta·C first (C is not read when beta is 0), then C += alpha·(A·B) one depth panel at a time.
            for (int r = 0; r < rows; r++)
            {
                var row = new Span<float>(cBlock + (long)r * N, cols);
                if (Beta == 0f) row.Clear();
                else if (Beta != 1f) Scale(row, Beta);
            }
            if (K == 0) return;

            // op(A) = Aᵀ is stored k×m: pack the block's rows of the panel contiguously (rows × depth) so the inner loops
            // read it like a row-major A.
            float* packed = stackalloc float[TransA ? HostRows * HostDepth : 1];
            for (int p0 = 0; p0 < K; p0 += HostDepth)
            {
                int depth = Math.Min(HostDepth, K - p0);
                float* aPanel;
                int lda;
                if (TransA)
                {
                    for (int q = 0; q < depth; q++)
                    {
                        float* src = A + (long)(p0 + q) * M + i0;
                        for (int r = 0; r < rows; r++) packed[r * depth + q] = src[r];
                    }
                    aPanel = packed;
                    lda = depth;
                }
                else
                {
                    aPanel = A + (long)i0 * K + p0;
                    lda = K;
                }
                Panel(aPanel, lda, B + (long)p0 * N + j0, N, cBlock, N, rows, cols, depth, Alpha);
            }
        }
    }

    /// <summary><c>c += alpha · a·b</c> with a rows×depth (row stride lda), b depth×cols (row stride ldb), c rows×cols
    /// (row stride ldc). Every element of c sees the same operations whichever row group it falls in.</summary>
    private static unsafe void Panel(float* a, int lda, float* b, int ldb, float* c, int ldc, int rows, int cols, int depth, float alpha)
    {
        int v = Vector<float>.Count;
        var alphaV = new Vector<float>(alpha);
        int j = 0;
        for (; j + 2 * v <= cols; j += 2 * v)
        {
            int i = 0;
            for (; i + 4 <= rows; i += 4)
            {
                float* a0 = a + (long)i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
                Vector<float> x00 = default, x01 = default, x10 = default, x11 = default;
                Vector<float> x20 = default, x21 = default, x30 = default, x31 = default;
                float* bq = b + j;
                for (int q = 0; q < depth; q++, bq += ldb)
                {
                    var b0 = Vector.Load(bq);
                    var b1 = Vector.Load(bq + v);
                    var s = new Vector<float>(a0[q]);
                    x00 = Vector.MultiplyAddEstimate(s, b0, x00); x01 = Vector.MultiplyAddEstimate(s, b1, x01);
                    s = new Vector<float>(a1[q]);
                    x10 = Vector.MultiplyAddEstimate(s, b0, x10); x11 = Vector.MultiplyAddEstimate(s, b1, x11);
                    s = new Vector<float>(a2[q]);
                    x20 = Vector.MultiplyAddEstimate(s, b0, x20); x21 = Vector.MultiplyAddEstimate(s, b1, x21);
                    s = new Vector<float>(a3[q]);
                    x30 = Vector.MultiplyAddEstimate(s, b0, x30); x31 = Vector.MultiplyAddEstimate(s, b1, x31);
                }
                float* c0 = c + (long)i * ldc + j, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
                AddScaled(c0, x00, alphaV); AddScaled(c0 + v, x01, alphaV);
                AddScaled(c1, x10, alphaV); AddScaled(c1 + v, x11, alphaV);
                AddScaled(c2, x20, alphaV); AddScaled(c2 + v, x21, alphaV);
                AddScaled(c3, x30, alphaV); AddScaled(c3 + v, x31, alphaV);
            }
            for (; i < rows; i++)
            {
                float* ai = a + (long)i * lda;
                Vector<float> x0 = default, x1 = default;
                float* bq = b + j;
                for (int q = 0; q < depth; q++, bq += ldb)
                {
                    var s = new Vector<float>(ai[q]);
                    x0 = Vector.MultiplyAddEstimate(s, Vector.Load(bq), x0);
                    x1 = Vector.MultiplyAddEstimate(s, Vector.Load(bq + v), x1);
                }
                float* ci = c + (long)i * ldc + j;
                AddScaled(ci, x0, alphaV); AddScaled(ci + v, x1, alphaV);
            }
        }
        for (; j + v <= cols; j += v)
        {
            for (int i = 0; i < rows; i++)
            {
                float* ai = a + (long)i * lda;
                Vector<float> x = default;
                float* bq = b + j;
                for (int q = 0; q < depth; q++, bq += ldb)
                    x = Vector.MultiplyAddEstimate(new Vector<float>(ai[q]), Vector.Load(bq), x);
                AddScaled(c + (long)i * ldc + j, x, alphaV);
            }
        }
        for (; j < cols; j++)
        {
            for (int i = 0; i < rows; i++)
            {
                float* ai = a + (long)i * lda;
                float x = 0f;
                float* bq = b + j;
                for (int q = 0; q < depth; q++, bq += ldb)
                    x = float.MultiplyAddEstimate(ai[q], *bq, x);
                float* ci = c + (long)i * ldc + j;
                *ci = float.MultiplyAddEstimate(x, alpha, *ci);
            }
        }
    }

    private static void Scale(Span<float> x, float s)
    {
        var rows = MemoryMarshal.Cast<float, Vector<float>>(x);
        var sv = new Vector<float>(s);
        for (int i = 0; i < rows.Length; i++) rows[i] *= sv;
        for (int i = rows.Length * Vector<float>.Count; i < x.Length; i++) x[i] *= s;
    }

    private static unsafe void AddScaled(float* c, Vector<float> x, Vector<float> alpha) =>
        Vector.Store(Vector.MultiplyAddEstimate(x, alpha, Vector.Load(c)), c);
}
