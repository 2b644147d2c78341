using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class Knn
{
    // ---------------------------------------------------------------------------------------------------------------
    // Version 2 of the top-k: one warp per query row, the row's running list in shared memory. Why it is faster than
    // version 1 (TopKKernel: one thread per row, the list in global memory) on a GPU:
    //  - the warp reads the row's distances 32 at a time, coalesced (version 1's threads each walk their own row, so a
    //    warp's loads are cols floats apart);
    //  - a block of 2,048 queries is 2,048 warps (65,536 threads) instead of 2,048 threads, enough to fill a GPU;
    //  - the list lives in shared memory: the threshold test, the binary search for the slot and the shift of the
    //    larger entries touch no global memory; the shift moves 32 entries per step, one per lane.
    // Per chunk of 32 columns each lane tests its column against the list's last entry; a butterfly OR gathers which
    // lanes hold a candidate (ILGPU has no ballot), and the warp takes them in lane order: a shuffle broadcasts one, every
    // lane tests it against the last entry as it is now, a binary search over the shared list finds its slot and the
    // warp shifts the larger entries. Once the list is full almost every chunk costs one load and the five shuffles of
    // the OR. The k smallest pairs of a strict order (distance, then index) are one set whatever order they arrive in,
    // so the lists are those of version 1, bit for bit. Version 1 stays where the shared memory cannot hold one warp's
    // list (2·k words), for warps wider than 32 lanes (the mask is an int), and for OpenCL devices, where ILGPU's
    // shuffles need sub-groups.
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Bit <c>l</c> set for each lane <c>l</c> that passes true, on every lane (a butterfly OR; warps of at most
    /// 32 lanes).</summary>
    private static int WarpBallot(bool flag)
    {
        int bits = flag ? 1 << Warp.LaneIdx : 0;
        for (int mask = Warp.WarpSize / 2; mask > 0; mask >>= 1)
            bits |= Warp.ShuffleXor(bits, mask);
        return bits;
    }

    [GpuKernel(NeedsSubGroups = true)]
    private static void TopKWarpKernel(ArrayView<float> distances, ArrayView<float> bestD, ArrayView<int> bestI, ArrayView<int> exclude,
        TopKArgs a)
    {
        int lanes = Warp.WarpSize;
        int lane = Warp.LaneIdx;
        int warps = Group.DimX / lanes;
        int k = a.K;
        var shared = SharedMemory.GetDynamic<float>();
        var listD = shared.SubView(Warp.WarpIdx * 2 * k, k);
        var listI = shared.SubView(Warp.WarpIdx * 2 * k + k, k).Cast<int>();
        for (int row = Grid.IdxX * warps + Warp.WarpIdx; row < a.Rows; row += Grid.DimX * warps)
        {
            long b = (long)row * k;
            for (int t = lane; t < k; t += lanes)
            {
                listD[t] = a.Merge != 0 ? bestD[b + t] : float.PositiveInfinity;
                listI[t] = a.Merge != 0 ? bestI[b + t] : -1;
            }
            Warp.Barrier();
            int skip = a.HasExclude != 0 ? exclude[row] : -1;
            float lastD = listD[k - 1];
            int lastI = listI[k - 1];
            long offset = (long)row * a.Cols;
            for (int j0 = 0; j0 < a.Cols; j0 += lanes)
            {
                int j = j0 + lane;
                bool inside = j < a.Cols;
                float d = inside ? distances[offset + j] : 0f;
                int index = a.ColumnOffset + j;
                bool pending = inside && !float.IsNaN(d) && index != skip && Before(d, index, lastD, lastI);
                // The lanes holding a candidate, as a bit mask on every lane; then each candidate in lane order is
                // broadcast, tested against the list's last entry as it is now, and inserted.
                for (int lanesLeft = WarpBallot(pending); lanesLeft != 0; lanesLeft &= lanesLeft - 1)
                {
                    int source = 0;
                    while (((lanesLeft >> source) & 1) == 0) source++;
                    float cd = Warp.Shuffle(d, source);
                    int ci = Warp.Shuffle(index, source);
                    if (!Before(cd, ci, lastD, lastI)) continue;
                    // Its slot: the number of entries before it (the list is sorted; empty slots come last). Every lane
                    // searches the same shared words, so all agree without a shuffle.
                    int lo = 0, hi = k - 1;
                    while (lo < hi)
                    {
                        int mid = (lo + hi) >> 1;
                        if (Before(cd, ci, listD[mid], listI[mid])) hi = mid;
                        else lo = mid + 1;
                    }
                    int slot = lo;
                    // Move entries slot .. k-2 down by one, a warp's width at a time from the end: each lane reads, then
                    // all write.
                    for (int top = k - 1; top > slot; top -= lanes)
                    {
                        int p = top - lane;
                        bool move = p > slot;
                        float md = move ? listD[p - 1] : 0f;
                        int mi = move ? listI[p - 1] : 0;
                        Warp.Barrier();
                        if (move)
                        {
                            listD[p] = md;
                            listI[p] = mi;
                        }
                    }
                    Warp.Barrier();
                    if (lane == 0)
                    {
                        listD[slot] = cd;
                        listI[slot] = ci;
                    }
                    Warp.Barrier();
                    lastD = listD[k - 1];
                    lastI = listI[k - 1];
                }
            }
            for (int t = lane; t < k; t += lanes)
            {
                bestD[b + t] = listD[t];
                bestI[b + t] = listI[t];
            }
            // The next row overwrites the list only after every lane has copied this one out.
            Warp.Barrier();
        }
    }

    /// <summary>Tests set this (on their own thread) to run version 1 of the top-k (one thread per row) where version 2
    /// (one warp per row) would run, to compare the two.</summary>
    [ThreadStatic]
    internal static bool ForceThreadPerRowTopK;

    /// <summary>Tests set this (on their own thread) to run version 2 on the plain <c>ilgpu-cpu</c> simulator too, where
    /// version 1 runs by default.</summary>
    [ThreadStatic]
    internal static bool ForceWarpTopK;

    /// <summary>
    /// Warps per group of version 2 for lists of <paramref name="k"/> on <paramref name="device"/>, or 0 for version 1.
    /// Version 2 runs where kernels launch like a GPU's (CUDA, <c>ilgpu-cpu:nvidia</c>); the plain <c>ilgpu-cpu</c>
    /// simulator keeps version 1, as it keeps GEMM kernel 2: there every shuffle and warp barrier is a wait across OS
    /// threads (the k-NN tests took 90 s instead of 14 with version 2), and tests force version 2 on it
    /// (<see cref="ForceWarpTopK"/>).
    /// </summary>
    internal static int TopKWarps(Device device, int k)
    {
        if (ForceThreadPerRowTopK || !(device.LaunchesLikeGpu || ForceWarpTopK)) return 0;
        return TopKWarpsPerGroup(device, k);
    }

    /// <summary>Warps per group of the warp top-k on <paramref name="device"/> for lists of <paramref name="k"/>: the
    /// device's group size in whole warps, fewer when shared memory cannot hold that many lists (2·k words each); 0 when
    /// version 1 must run (OpenCL, warps over 32 lanes, a group size that is not whole warps, or not even one list fits).</summary>
    internal static int TopKWarpsPerGroup(Device device, int k)
    {
        var acc = device.Accelerator;
        int warp = acc.WarpSize;
        if (device.Kind == DeviceKind.OpenCL || warp < 1 || warp > 32 || device.GroupSize % warp != 0) return 0;
        long perList = 2L * k * sizeof(float);
        long fit = acc.MaxSharedMemoryPerGroup / perList;
        return (int)Math.Min(device.GroupSize / warp, fit);
    }

    /// <summary>
    /// Queries a k-NN distance block should hold on <paramref name="device"/> so that the top-k (one warp per query)
    /// fills it: every multiprocessor's resident warps (<c>multiprocessors · threads per multiprocessor / warp</c>: 8,448
    /// on a 132-multiprocessor GPU with 2,048 threads each). 0 on the host engine, which has no such limit.
    /// </summary>
    public static int QueriesToFill(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.UsesHostEngine) return 0;
        var acc = device.Accelerator;
        return QueriesToFill(acc.NumMultiprocessors, acc.MaxNumThreadsPerMultiprocessor, acc.WarpSize);
    }

    internal static int QueriesToFill(int multiprocessors, int threadsPerMultiprocessor, int warpSize) =>
        (int)Math.Clamp((long)Math.Max(1, multiprocessors) * Math.Max(1, threadsPerMultiprocessor) / Math.Max(1, warpSize), 1, 1 << 20);

    private static void SelectTopKWarp(Device device, ArrayView<float> distances, ArrayView<float> bestD, ArrayView<int> bestI,
        ArrayView<int> exclude, TopKArgs args, int warpsPerGroup)
    {
        var acc = device.Accelerator;
        int group = warpsPerGroup * acc.WarpSize;
        long groups = (args.Rows + warpsPerGroup - 1) / warpsPerGroup;
        long cap = Math.Max(1, (long)acc.NumMultiprocessors * Math.Max(1, acc.MaxNumThreadsPerMultiprocessor / group) * 4);
        var config = new KernelConfig(new Index1D((int)Math.Clamp(groups, 1, cap)), new Index1D(group),
            SharedMemoryConfig.RequestDynamic<float>(2 * warpsPerGroup * args.K));
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, TopKArgs>(TopKWarpKernel);
        kernel(config, distances, bestD, bestI, exclude, args);
        device.AfterLaunch();
    }
}
