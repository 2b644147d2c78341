using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>The scalar arguments of the GEMM kernels, passed as one kernel parameter.</summary>
/// <remarks>Indices are <c>int</c>: <see cref="Gemm.Validate"/> guarantees every matrix has at most
/// <see cref="int.MaxValue"/> elements, so no offset overflows.</remarks>
internal readonly struct GemmArgs(int m, int n, int k, float alpha, float beta, Transpose transA, Transpose transB, int tileK,
    bool hasBias = false, ActivationKind activation = ActivationKind.Identity, int splits = 1, int kChunk = 0, bool distance = false)
{
    public readonly int M = m;
    public readonly int N = n;
    public readonly int K = k;
    public readonly float Alpha = alpha;
    public readonly float Beta = beta;
    /// <summary>1 when <c>a</c> stores Aᵀ (k×m), 0 when it stores A (m×k).</summary>
    public readonly int TransA = transA == Transpose.Yes ? 1 : 0;
    /// <summary>1 when <c>b</c> stores Bᵀ (n×k), 0 when it stores B (k×n).</summary>
    public readonly int TransB = transB == Transpose.Yes ? 1 : 0;
    /// <summary>The depth of one shared-memory tile (the tiled kernel only).</summary>
    public readonly int TileK = tileK;
    /// <summary>1 when the epilogue adds <c>bias[col]</c> to every element of C.</summary>
    public readonly int HasBias = hasBias ? 1 : 0;
    /// <summary>1 when the epilogue applies ReLU (<c>x &gt; 0 ? x : 0</c>, as <see cref="ReluOp"/>) last.</summary>
    public readonly int Relu = activation == ActivationKind.Relu ? 1 : 0;
    /// <summary>1 for the squared-distance epilogue of k-NN: <c>max((rowNorms[row] + bias[col]) + alpha·acc, 0)</c>, the bias
    /// holding the column norms; NaN stays NaN. <see cref="HasBias"/> and <see cref="Relu"/> are then 0.</summary>
    public readonly int Distance = distance ? 1 : 0;
    /// <summary>Kernel 3: how many slices the depth is split into (split-K); above 1 each writes raw partial sums to a
    /// workspace that <see cref="Gemm"/>'s reduce kernel adds up in order and finishes with the epilogue.</summary>
    public readonly int Splits = splits;
    /// <summary>Kernel 3: the depth each split covers (a multiple of the tile depth; <c>K</c> without split-K).</summary>
    public readonly int KChunk = splits > 1 ? kChunk : k;
}

/// <summary>The thread-group shape of the tiled GEMM kernel: <see cref="X"/> threads along the columns of C,
/// <see cref="Y"/> along its rows.</summary>
internal readonly record struct GemmGroupShape(int X, int Y)
{
    public int Threads => X * Y;
    public override string ToString() => $"{X}x{Y}";
}

public static partial class Gemm
{
    // Each thread of the tiled kernel computes a RegRows × RegCols block of C held in 16 scalar locals (ILGPU has no
    // per-thread arrays); changing these means changing the kernel body too.
    internal const int RegRows = 4;
    internal const int RegCols = 4;

    // Largest group the tiled kernel asks for even when the accelerator allows more: 16×16 threads with 4×4 registers
    // each is a 64×64 tile of C, the classic shape that balances registers, shared memory and occupancy.
    private const int MaxTiledThreads = 256;

    // -------------------------------------------------------------------------------------------------------------
    // Kernel 1: the simple one. One thread per element of C, each reading a whole row of op(A) and column of op(B)
    // from global memory: two loads per multiply-add, so it is bound by memory bandwidth. It is the correctness
    // baseline the tiled kernel is tested against.
    // -------------------------------------------------------------------------------------------------------------
    [GpuKernel]
    private static void SimpleKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias,
        ArrayView<float> rowNorms, GemmArgs p)
    {
        // op(A)[i, q] = a[i·aRow + q·aDepth] and op(B)[q, j] = b[q·bDepth + j·bCol]: the transpose is only a choice of strides.
        int aRow = p.TransA == 0 ? p.K : 1;
        int aDepth = p.TransA == 0 ? 1 : p.M;
        int bDepth = p.TransB == 0 ? p.N : 1;
        int bCol = p.TransB == 0 ? 1 : p.K;
        int total = p.M * p.N;
        int stride = Grid.DimX * Group.DimX;
        for (int idx = Grid.GlobalIndex.X; idx < total; idx += stride)
        {
            int i = idx / p.N;
            int j = idx - i * p.N;
            float sum = 0f;
            for (int q = 0; q < p.K; q++)
                sum += a[i * aRow + q * aDepth] * b[q * bDepth + j * bCol];
            c[idx] = Finish(c, bias, rowNorms, p, idx, i, j, sum);
        }
    }

    // -------------------------------------------------------------------------------------------------------------
    // Kernel 2: shared-memory tiles and register blocking. Why it is faster than kernel 1:
    //  - A group of TX×TY threads computes a BM×BN tile of C (BM = 4·TY, BN = 4·TX). For each depth slice of BK it
    //    stages a BM×BK panel of op(A) and a BK×BN panel of op(B) in shared memory once, with coalesced loads; every
    //    staged value is then used by TX (or TY) threads. Global traffic drops from 2 loads per multiply-add to
    //    (BM + BN)/(BM·BN) loads per multiply-add: 1/64 of kernel 1's at 64×64.
    //  - Each thread keeps a 4×4 block of C in registers. Per depth step it reads 4 values of A and 4 of B from shared
    //    memory and does 16 multiply-adds with them, so shared memory is read 8 times per 16 FMAs instead of 2 per 1.
    //  - A thread's rows are ty, ty+TY, ty+2TY, ty+3TY (and its columns tx, tx+TX, ...), not 4 adjacent ones: then
    //    neighbouring threads read neighbouring shared-memory words (no bank conflicts) and write neighbouring words of C.
    // The panels are padded by one column (stride BM+1, BN+1) so that loads along the depth axis, used when an operand
    // is stored with the depth contiguous, do not hit one bank. Transposition only changes which index a thread's
    // load varies fastest, so that global reads stay contiguous in every case.
    // Tiles of C are walked with a grid-stride loop, so the grid size never limits m or n; the loop bounds are the
    // same for every thread of a group, so all threads reach every barrier.
    // None of this helps on ILGPU's CPU accelerator, where "shared memory" is ordinary memory and every barrier is an
    // OS-thread barrier: there kernel 1 is the faster one (quiet 2-core machine, 512³: 0.85 against 0.6 GFLOP/s).
    // Run still uses kernel 2 on ilgpu-cpu, because that device exists to test the code that GPUs run.
    // -------------------------------------------------------------------------------------------------------------
    [GpuKernel]
    private static void TiledKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias,
        ArrayView<float> rowNorms, GemmArgs p)
    {
        int tx = Group.IdxX;
        int ty = Group.IdxY;
        int groupX = Group.DimX;
        int groupY = Group.DimY;
        int tileM = groupY * RegRows;
        int tileN = groupX * RegCols;
        int tileK = p.TileK;
        int strideA = tileM + 1;
        int strideB = tileN + 1;
        int groupX2 = 2 * groupX, groupX3 = 3 * groupX, groupY2 = 2 * groupY, groupY3 = 3 * groupY;
        int thread = ty * groupX + tx;
        int threads = groupX * groupY;

        var shared = SharedMemory.GetDynamic<float>();
        var sa = shared.SubView(0, tileK * strideA);            // sa[q·strideA + r] = op(A)[row0 + r, k0 + q]
        var sb = shared.SubView(tileK * strideA, tileK * strideB); // sb[q·strideB + s] = op(B)[k0 + q, col0 + s]

        int aRow = p.TransA == 0 ? p.K : 1;
        int aDepth = p.TransA == 0 ? 1 : p.M;
        int bDepth = p.TransB == 0 ? p.N : 1;
        int bCol = p.TransB == 0 ? 1 : p.K;

        int tilesN = (p.N + tileN - 1) / tileN;
        int tiles = ((p.M + tileM - 1) / tileM) * tilesN;
        for (int tile = Grid.IdxX; tile < tiles; tile += Grid.DimX)
        {
            int row0 = tile / tilesN * tileM;
            int col0 = tile % tilesN * tileN;

            float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f;
            float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
            float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f;
            float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;

            for (int k0 = 0; k0 < p.K; k0 += tileK)
            {
                int depth = p.K - k0 < tileK ? p.K - k0 : tileK;

                // Stage op(A)[row0.., k0..]: with A stored m×k the depth index is contiguous, with Aᵀ the row index is.
                for (int l = thread; l < tileM * depth; l += threads)
                {
                    int r, q;
                    if (p.TransA == 0) { r = l / depth; q = l - r * depth; }
                    else { q = l / tileM; r = l - q * tileM; }
                    int row = row0 + r;
                    sa[q * strideA + r] = row < p.M ? a[row * aRow + (k0 + q) * aDepth] : 0f;
                }

                // Stage op(B)[k0.., col0..]: with B stored k×n the column index is contiguous, with Bᵀ the depth index is.
                for (int l = thread; l < tileN * depth; l += threads)
                {
                    int s, q;
                    if (p.TransB == 0) { q = l / tileN; s = l - q * tileN; }
                    else { s = l / depth; q = l - s * depth; }
                    int col = col0 + s;
                    sb[q * strideB + s] = col < p.N ? b[(k0 + q) * bDepth + col * bCol] : 0f;
                }

                Group.Barrier();

                for (int q = 0, ia = ty, ib = tx; q < depth; q++, ia += strideA, ib += strideB)
                {
                    float a0 = sa[ia], a1 = sa[ia + groupY], a2 = sa[ia + groupY2], a3 = sa[ia + groupY3];
                    float b0 = sb[ib], b1 = sb[ib + groupX], b2 = sb[ib + groupX2], b3 = sb[ib + groupX3];
                    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
                }

                // Nobody may overwrite the panels for the next slice while another thread still reads this one.
                Group.Barrier();
            }

            int r0 = row0 + ty, r1 = r0 + groupY, r2 = r1 + groupY, r3 = r2 + groupY;
            int s0 = col0 + tx, s1 = s0 + groupX, s2 = s1 + groupX, s3 = s2 + groupX;
            Store(c, bias, rowNorms, p, r0, s0, c00); Store(c, bias, rowNorms, p, r0, s1, c01); Store(c, bias, rowNorms, p, r0, s2, c02); Store(c, bias, rowNorms, p, r0, s3, c03);
            Store(c, bias, rowNorms, p, r1, s0, c10); Store(c, bias, rowNorms, p, r1, s1, c11); Store(c, bias, rowNorms, p, r1, s2, c12); Store(c, bias, rowNorms, p, r1, s3, c13);
            Store(c, bias, rowNorms, p, r2, s0, c20); Store(c, bias, rowNorms, p, r2, s1, c21); Store(c, bias, rowNorms, p, r2, s2, c22); Store(c, bias, rowNorms, p, r2, s3, c23);
            Store(c, bias, rowNorms, p, r3, s0, c30); Store(c, bias, rowNorms, p, r3, s1, c31); Store(c, bias, rowNorms, p, r3, s2, c32); Store(c, bias, rowNorms, p, r3, s3, c33);
        }
    }

    /// <summary>The epilogue of every kernel for one element inside C: <c>C = f(alpha·acc + beta·C + bias[col])</c>, f ReLU
    /// or the identity; C is not read when beta is 0, the bias only when there is one (and k-NN's distance epilogue, see
    /// <see cref="Finish"/>).</summary>
    private static void Store(ArrayView<float> c, ArrayView<float> bias, ArrayView<float> rowNorms, GemmArgs p, int row, int col, float acc)
    {
        if (row >= p.M || col >= p.N) return;
        int idx = row * p.N + col;
        c[idx] = Finish(c, bias, rowNorms, p, idx, row, col, acc);
    }

    /// <summary>The value the epilogue writes at <paramref name="idx"/> (row <paramref name="row"/>, column
    /// <paramref name="col"/>) for the sum <paramref name="acc"/>, in the order of the unfused ops: scale, add beta·C, add
    /// the bias, then ReLU. With <see cref="GemmArgs.Distance"/>, k-NN's squared distance in the order of the unfused
    /// norms pass: <c>(rowNorms[row] + bias[col]) + v</c>, then below 0 (only rounding makes it) set to 0, as a compare
    /// that keeps NaN.</summary>
    private static float Finish(ArrayView<float> c, ArrayView<float> bias, ArrayView<float> rowNorms, GemmArgs p, int idx, int row,
        int col, float acc)
    {
        float v = p.Beta == 0f ? p.Alpha * acc : p.Alpha * acc + p.Beta * c[idx];
        if (p.Distance != 0)
        {
            float d = (rowNorms[row] + bias[col]) + v;
            return 0f > d ? 0f : d;
        }
        if (p.HasBias != 0) v += bias[col];
        if (p.Relu != 0) v = v > 0f ? v : 0f;
        return v;
    }

    // -------------------------------------------------------------------------------------------------------------
    // Launchers.
    // -------------------------------------------------------------------------------------------------------------

    /// <summary>The group shape <see cref="Run(Device, Transpose, Transpose, int, int, int, float, ArrayView{float}, ArrayView{float}, float, ArrayView{float})"/> uses on <paramref name="device"/>: the largest power-of-two shape,
    /// as square as possible (X ≥ Y), with at most min(MaxNumThreadsPerGroup, 256) threads: 16×16 on CUDA and on
    /// ilgpu-cpu:nvidia, 4×4 on ILGPU's default CPU accelerator (16 threads per group).</summary>
    internal static GemmGroupShape DefaultGroupShape(Device device)
    {
        int cap = Math.Min(device.Accelerator.MaxNumThreadsPerGroup, MaxTiledThreads);
        int y = 1;
        while (4 * y * y <= cap) y *= 2;
        int x = 2 * y * y <= cap ? 2 * y : y;
        return new GemmGroupShape(x, y);
    }

    /// <summary>The depth of the shared-memory panels. 16 on GPUs, and on ilgpu-cpu:nvidia, which exists to test GPU
    /// shapes. On ILGPU's plain CPU accelerator every barrier is a System.Threading.Barrier across 16 OS threads and
    /// costs far more than the arithmetic between two barriers, so the panel there takes the whole depth k (up to 1024): 2 barriers per tile of C instead of 2 per 16 steps of k
    /// (measured at 256³: 0.03 GFLOP/s with depth 32, 0.4 with the whole k). Shrunk if shared memory is short.</summary>
    private static int TileDepth(Device device, GemmGroupShape group, int k)
    {
        int depth = device.LaunchesLikeGpu ? 16 : Math.Clamp(k, 1, 1024);
        while (depth > 1 && SharedFloats(group, depth) * sizeof(float) > device.Accelerator.MaxSharedMemoryPerGroup)
            depth /= 2;
        return depth;
    }

    /// <summary>The kernels' arguments: with <paramref name="rowNorms"/> (not empty) the distance epilogue, the bias then
    /// holding the column norms.</summary>
    private static GemmArgs Args(int m, int n, int k, float alpha, float beta, Transpose transA, Transpose transB, int tileK,
        ArrayView<float> bias, ActivationKind activation, ArrayView<float> rowNorms, int splits = 1, int kChunk = 0) =>
        rowNorms.Length > 0
            ? new GemmArgs(m, n, k, alpha, beta, transA, transB, tileK, false, ActivationKind.Identity, splits, kChunk, distance: true)
            : new GemmArgs(m, n, k, alpha, beta, transA, transB, tileK, bias.Length > 0, activation, splits, kChunk);

    private static int SharedFloats(GemmGroupShape group, int depth) =>
        depth * (group.Y * RegRows + 1) + depth * (group.X * RegCols + 1);

    /// <summary>Runs the simple kernel (one thread per element of C). Arguments are not validated: call
    /// <see cref="Validate"/> first.</summary>
    internal static void RunSimple(Device device, Transpose transA, Transpose transB, int m, int n, int k,
        float alpha, ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c) =>
        RunSimple(device, transA, transB, m, n, k, alpha, a, b, beta, c, default, ActivationKind.Identity);

    /// <summary>Runs the simple kernel with the epilogue: an empty <paramref name="bias"/> means none.</summary>
    internal static void RunSimple(Device device, Transpose transA, Transpose transB, int m, int n, int k,
        float alpha, ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c,
        ArrayView<float> bias, ActivationKind activation, ArrayView<float> rowNorms = default)
    {
        if (m == 0 || n == 0) return;
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>(SimpleKernel);
        kernel(device.Config1D((long)m * n), a, b, c, bias.Length > 0 ? bias : c, rowNorms.Length > 0 ? rowNorms : c,
            Args(m, n, k, alpha, beta, transA, transB, 0, bias, activation, rowNorms));
        device.AfterLaunch();
    }

    /// <summary>Runs the tiled kernel with the given group shape and panel depth (tests force small shapes and depths
    /// to show the result does not depend on them; 0 picks the default depth). Arguments are not validated: call
    /// <see cref="Validate"/> first.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The group has no threads or more than the accelerator allows, or
    /// the depth is negative.</exception>
    internal static void RunTiled(Device device, Transpose transA, Transpose transB, int m, int n, int k,
        float alpha, ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c, GemmGroupShape group,
        int tileDepth = 0) =>
        RunTiled(device, transA, transB, m, n, k, alpha, a, b, beta, c, default, ActivationKind.Identity, group, tileDepth);

    /// <summary>Runs kernel 2 with the epilogue: an empty <paramref name="bias"/> means none.</summary>
    internal static void RunTiled(Device device, Transpose transA, Transpose transB, int m, int n, int k,
        float alpha, ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c,
        ArrayView<float> bias, ActivationKind activation, GemmGroupShape group, int tileDepth = 0, ArrayView<float> rowNorms = default)
    {
        if (group.X < 1 || group.Y < 1 || group.Threads > device.Accelerator.MaxNumThreadsPerGroup)
            throw new ArgumentOutOfRangeException(nameof(group), group,
                $"group shape must have 1..{device.Accelerator.MaxNumThreadsPerGroup} threads on {device.Spec}.");
        Check.NonNegative(tileDepth, nameof(tileDepth));
        if (m == 0 || n == 0) return;
        int depth = tileDepth > 0 ? tileDepth : TileDepth(device, group, k);
        int tileM = group.Y * RegRows, tileN = group.X * RegCols;
        long tiles = (long)((m + tileM - 1) / tileM) * ((n + tileN - 1) / tileN);
        // Enough groups to fill the device; the kernel loops over the remaining tiles.
        var acc = device.Accelerator;
        long cap = Math.Max(1L, (long)acc.NumMultiprocessors * Math.Max(1, acc.MaxNumThreadsPerMultiprocessor / group.Threads) * 4);
        int groups = (int)Math.Clamp(tiles, 1, cap);
        var config = new KernelConfig(new Index2D(groups, 1), new Index2D(group.X, group.Y),
            SharedMemoryConfig.RequestDynamic<float>(SharedFloats(group, depth)));
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>(TiledKernel);
        kernel(config, a, b, c, bias.Length > 0 ? bias : c, rowNorms.Length > 0 ? rowNorms : c,
            Args(m, n, k, alpha, beta, transA, transB, depth, bias, activation, rowNorms));
        device.AfterLaunch();
    }
}
