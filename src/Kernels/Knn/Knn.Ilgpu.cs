using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>The scalar arguments of the L1 distance kernel.</summary>
internal readonly struct L1Args(int m, int n, int dim, int tileK)
{
    public readonly int M = m;
    public readonly int N = n;
    public readonly int Dim = dim;
    /// <summary>The depth of one shared-memory panel.</summary>
    public readonly int TileK = tileK;
}

public static partial class Knn
{
    // ---------------------------------------------------------------------------------------------------------------
    // Row norms and the L2 fix-up: one thread per row, and one per element of the block.
    // ---------------------------------------------------------------------------------------------------------------

    [GpuKernel]
    private static void RowSquaredNormsKernel(ArrayView<float> x, int rows, int cols, ArrayView<float> norms)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int r = Grid.GlobalIndex.X; r < rows; r += stride)
        {
            long offset = (long)r * cols;
            float sum = 0f;
            for (int c = 0; c < cols; c++)
            {
                float v = x[offset + c];
                sum += v * v;
            }
            norms[r] = sum;
        }
    }

    // d = (|q_i|² + |r_j|²) + (−2·q_i·r_j), with the GEMM's result already in d; below 0 only by rounding, so clamped
    // (written as a compare so that NaN stays NaN, as on the host).
    [GpuKernel]
    private static void AddNormsKernel(ArrayView<float> queryNorms, ArrayView<float> referenceNorms, int n, ArrayView<float> d)
    {
        long total = d.Length;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long idx = Grid.GlobalIndex.X; idx < total; idx += stride)
        {
            long i = idx / n;
            long j = idx - i * n;
            float v = (queryNorms[i] + referenceNorms[j]) + d[idx];
            d[idx] = 0f > v ? 0f : v;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // L1 distances: the tiled GEMM kernel's structure (see Gemm.TiledKernel for why it is faster than one thread per
    // element) with |q − r| in place of q·r. Both operands are stored with the depth contiguous (Q is m×dim, R is
    // n×dim), so the staging loads walk the depth index fastest. A group of TX×TY threads computes a (4·TY)×(4·TX) tile
    // of the block; each thread keeps a 4×4 block of sums in registers, its rows ty + c·TY and columns tx + c·TX.
    // ---------------------------------------------------------------------------------------------------------------
    [GpuKernel]
    private static void L1Kernel(ArrayView<float> q, ArrayView<float> r, ArrayView<float> d, L1Args p)
    {
        int tx = Group.IdxX;
        int ty = Group.IdxY;
        int groupX = Group.DimX;
        int groupY = Group.DimY;
        int tileM = groupY * 4;
        int tileN = groupX * 4;
        int tileK = p.TileK;
        int strideA = tileM + 1;
        int strideB = tileN + 1;
        int groupX2 = 2 * groupX, groupX3 = 3 * groupX, groupY2 = 2 * groupY, groupY3 = 3 * groupY;
        int thread = ty * groupX + tx;
        int threads = groupX * groupY;

        var shared = SharedMemory.GetDynamic<float>();
        var sa = shared.SubView(0, tileK * strideA);               // sa[t·strideA + row] = Q[row0 + row, k0 + t]
        var sb = shared.SubView(tileK * strideA, tileK * strideB); // sb[t·strideB + col] = R[col0 + col, k0 + t]

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

            for (int k0 = 0; k0 < p.Dim; k0 += tileK)
            {
                int depth = p.Dim - k0 < tileK ? p.Dim - k0 : tileK;
                for (int l = thread; l < tileM * depth; l += threads)
                {
                    int row = l / depth;
                    int t = l - row * depth;
                    sa[t * strideA + row] = row0 + row < p.M ? q[(row0 + row) * p.Dim + k0 + t] : 0f;
                }
                for (int l = thread; l < tileN * depth; l += threads)
                {
                    int col = l / depth;
                    int t = l - col * depth;
                    sb[t * strideB + col] = col0 + col < p.N ? r[(col0 + col) * p.Dim + k0 + t] : 0f;
                }
                Group.Barrier();

                for (int t = 0, ia = ty, ib = tx; t < depth; t++, ia += strideA, ib += strideB)
                {
                    float a0 = sa[ia], a1 = sa[ia + groupY], a2 = sa[ia + groupY2], a3 = sa[ia + groupY3];
                    float b0 = sb[ib], b1 = sb[ib + groupX], b2 = sb[ib + groupX2], b3 = sb[ib + groupX3];
                    c00 += XMath.Abs(a0 - b0); c01 += XMath.Abs(a0 - b1); c02 += XMath.Abs(a0 - b2); c03 += XMath.Abs(a0 - b3);
                    c10 += XMath.Abs(a1 - b0); c11 += XMath.Abs(a1 - b1); c12 += XMath.Abs(a1 - b2); c13 += XMath.Abs(a1 - b3);
                    c20 += XMath.Abs(a2 - b0); c21 += XMath.Abs(a2 - b1); c22 += XMath.Abs(a2 - b2); c23 += XMath.Abs(a2 - b3);
                    c30 += XMath.Abs(a3 - b0); c31 += XMath.Abs(a3 - b1); c32 += XMath.Abs(a3 - b2); c33 += XMath.Abs(a3 - b3);
                }
                Group.Barrier();
            }

            int r0 = row0 + ty, r1 = r0 + groupY, r2 = r1 + groupY, r3 = r2 + groupY;
            int s0 = col0 + tx, s1 = s0 + groupX, s2 = s1 + groupX, s3 = s2 + groupX;
            StoreL1(d, p, r0, s0, c00); StoreL1(d, p, r0, s1, c01); StoreL1(d, p, r0, s2, c02); StoreL1(d, p, r0, s3, c03);
            StoreL1(d, p, r1, s0, c10); StoreL1(d, p, r1, s1, c11); StoreL1(d, p, r1, s2, c12); StoreL1(d, p, r1, s3, c13);
            StoreL1(d, p, r2, s0, c20); StoreL1(d, p, r2, s1, c21); StoreL1(d, p, r2, s2, c22); StoreL1(d, p, r2, s3, c23);
            StoreL1(d, p, r3, s0, c30); StoreL1(d, p, r3, s1, c31); StoreL1(d, p, r3, s2, c32); StoreL1(d, p, r3, s3, c33);
        }
    }

    private static void StoreL1(ArrayView<float> d, L1Args p, int row, int col, float sum)
    {
        if (row < p.M && col < p.N) d[row * p.N + col] = sum;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Top-k, version 1 (version 2, one warp per row, is in Knn.Warp.cs and runs on devices that launch like a GPU
    // wherever a warp's list fits in shared memory, except on OpenCL): one thread per row keeps the row's sorted list in the output views. A candidate is first compared with the
    // list's last entry (the threshold), which rejects almost every column once the list is full; an accepted one is
    // inserted by moving the larger entries down one slot. Simple, and cheap next to the distance block it reads.
    // ---------------------------------------------------------------------------------------------------------------
    [GpuKernel]
    private static void TopKKernel(ArrayView<float> distances, ArrayView<float> bestD, ArrayView<int> bestI, ArrayView<int> exclude, TopKArgs a)
    {
        int stride = Grid.DimX * Group.DimX;
        int k = a.K;
        for (int row = Grid.GlobalIndex.X; row < a.Rows; row += stride)
        {
            long b = (long)row * k;
            if (a.Merge == 0)
            {
                for (int t = 0; t < k; t++)
                {
                    bestD[b + t] = float.PositiveInfinity;
                    bestI[b + t] = -1;
                }
            }
            int skip = a.HasExclude != 0 ? exclude[row] : -1;
            float lastD = bestD[b + k - 1];
            int lastI = bestI[b + k - 1];
            long offset = (long)row * a.Cols;
            for (int j = 0; j < a.Cols; j++)
            {
                float d = distances[offset + j];
                int index = a.ColumnOffset + j;
                if (float.IsNaN(d) || index == skip || !Before(d, index, lastD, lastI)) continue;
                int t = k - 1;
                while (t > 0 && Before(d, index, bestD[b + t - 1], bestI[b + t - 1]))
                {
                    bestD[b + t] = bestD[b + t - 1];
                    bestI[b + t] = bestI[b + t - 1];
                    t--;
                }
                bestD[b + t] = d;
                bestI[b + t] = index;
                lastD = bestD[b + k - 1];
                lastI = bestI[b + k - 1];
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Votes: one thread per row. Without per-thread arrays, each class's weight is summed over the k neighbours in
    // neighbour order (classes·k steps: 2,010 for ten classes at k = 201), the same additions in the same order as the
    // host's per-class accumulators, so both give the same sums.
    // ---------------------------------------------------------------------------------------------------------------
    [GpuKernel]
    private static void VoteKernel(ArrayView<float> bestD, ArrayView<int> bestI, ArrayView<int> labels, ArrayView<int> predictions, VoteArgs a)
    {
        int stride = Grid.DimX * Group.DimX;
        long labelCount = labels.Length;
        for (int row = Grid.GlobalIndex.X; row < a.Rows; row += stride)
        {
            long b = (long)row * a.KMax;
            bool exact = false;
            if (a.DistanceWeights != 0)
                for (int t = 0; t < a.K; t++)
                    if (bestI[b + t] >= 0 && bestD[b + t] == 0f) exact = true;
            int best = -1;
            float bestWeight = 0f;
            for (int c = 0; c < a.Classes; c++)
            {
                float sum = 0f;
                bool any = false;
                for (int t = 0; t < a.K; t++)
                {
                    int index = bestI[b + t];
                    if (index < 0 || index >= labelCount || labels[index] != c) continue;
                    any = true;
                    sum += Weight(bestD[b + t], a, exact);
                }
                if (any && (best < 0 || sum > bestWeight))
                {
                    best = c;
                    bestWeight = sum;
                }
            }
            predictions[row] = best;
        }
    }

    /// <summary>The vote of a neighbour at distance <paramref name="d"/>: 1, or 1/d (1/√d for squared distances), or
    /// under scikit-learn's rule when some neighbour is at distance 0 (<paramref name="exact"/>), 1 at 0 and 0 elsewhere.</summary>
    private static float Weight(float d, VoteArgs a, bool exact)
    {
        if (a.DistanceWeights == 0) return 1f;
        if (exact) return d == 0f ? 1f : 0f;
        return 1f / (a.Squared != 0 ? XMath.Sqrt(d) : d);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Launchers
    // ---------------------------------------------------------------------------------------------------------------

    private static void RowSquaredNormsIlgpu(Device device, ArrayView<float> x, int rows, int cols, ArrayView<float> norms)
    {
        var kernel = device.Kernel<ArrayView<float>, int, int, ArrayView<float>>(RowSquaredNormsKernel);
        kernel(device.Config1D(rows), x, rows, cols, norms);
        device.AfterLaunch();
    }

    private static void AddNormsIlgpu(Device device, ArrayView<float> queryNorms, ArrayView<float> referenceNorms, int m, int n, ArrayView<float> d)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, int, ArrayView<float>>(AddNormsKernel);
        kernel(device.Config1D((long)m * n), queryNorms, referenceNorms, n, d);
        device.AfterLaunch();
    }

    private static void L1Ilgpu(Device device, ArrayView<float> q, int m, ArrayView<float> r, int n, int dim, ArrayView<float> d)
    {
        var group = Gemm.DefaultGroupShape(device);
        // As in the GEMM: depth 16 on GPUs; the whole depth on ILGPU's CPU accelerator, where barriers are expensive.
        int depth = device.LaunchesLikeGpu ? 16 : Math.Clamp(dim, 1, 1024);
        while (depth > 1 && L1SharedFloats(group, depth) * sizeof(float) > device.Accelerator.MaxSharedMemoryPerGroup)
            depth /= 2;
        int tileM = group.Y * 4, tileN = group.X * 4;
        long tiles = (long)((m + tileM - 1) / tileM) * ((n + tileN - 1) / tileN);
        var acc = device.Accelerator;
        long cap = Math.Max(1L, (long)acc.NumMultiprocessors * Math.Max(1, acc.MaxNumThreadsPerMultiprocessor / group.Threads) * 4);
        var config = new KernelConfig(new Index2D((int)Math.Clamp(tiles, 1, cap), 1), new Index2D(group.X, group.Y),
            SharedMemoryConfig.RequestDynamic<float>(L1SharedFloats(group, depth)));
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, L1Args>(L1Kernel);
        kernel(config, q, r, d, new L1Args(m, n, dim, depth));
        device.AfterLaunch();
    }

    private static int L1SharedFloats(GemmGroupShape group, int depth) => depth * (group.Y * 4 + 1) + depth * (group.X * 4 + 1);

    private static void SelectTopKIlgpu(Device device, ArrayView<float> distances, ArrayView<float> bestD, ArrayView<int> bestI,
        ArrayView<int> exclude, TopKArgs args)
    {
        int warps = TopKWarps(device, args.K);
        if (warps > 0)
        {
            SelectTopKWarp(device, distances, bestD, bestI, exclude, args, warps);
            return;
        }
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, TopKArgs>(TopKKernel);
        kernel(device.Config1D(args.Rows), distances, bestD, bestI, exclude, args);
        device.AfterLaunch();
    }

    private static void VoteIlgpu(Device device, ArrayView<float> bestD, ArrayView<int> bestI, ArrayView<int> labels,
        ArrayView<int> predictions, VoteArgs args)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<int>, VoteArgs>(VoteKernel);
        kernel(device.Config1D(args.Rows), bestD, bestI, labels, predictions, args);
        device.AfterLaunch();
    }
}
