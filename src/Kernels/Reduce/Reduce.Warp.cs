using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class Reduce
{
    // -------------------------------------------------------------------------------------------------------------
    // Version 2 of the row argmax and the correct count: one warp per row, several rows per group, the winner folded
    // with warp shuffles (log2(warp) ShuffleXor steps, registers only). Why it is faster than version 1 (one group per
    // row, GroupArgmax's shared-memory tree with a barrier per level): no shared memory and no group barrier, and a
    // 10-class row keeps one warp busy instead of a group, so a 256-thread group does 8 rows at once. Beats is a total
    // order, so the winner is version 1's. Version 1 stays for rows over WarpRowLimit classes, group sizes that are not
    // whole warps, and OpenCL devices (ILGPU's shuffles need sub-groups there).
    // -------------------------------------------------------------------------------------------------------------

    /// <summary>The widest row the warp-per-row kernels take (here and in <see cref="SoftmaxCrossEntropy"/>).</summary>
    internal const int WarpRowLimit = 1024;

    /// <summary>Whether rows of <paramref name="cols"/> go one warp per row on <paramref name="device"/>: up to
    /// <see cref="WarpRowLimit"/> columns, on CUDA and the CPU accelerators (OpenCL shuffles need sub-groups, which
    /// ILGPU does not assume), with a group size of whole warps.</summary>
    internal static bool UsesWarpRows(Device device, int cols) =>
        cols <= WarpRowLimit && device.Kind != DeviceKind.OpenCL && device.Accelerator.WarpSize >= 1
        && device.GroupSize % device.Accelerator.WarpSize == 0;

    /// <summary>Tests set this (on their own thread) to run version 1 (one group per row) where version 2 (one warp per
    /// row) would run, to compare the two.</summary>
    [ThreadStatic]
    internal static bool ForceGroupRows;

    /// <summary>The row's winner by <see cref="Beats"/> (largest value, NaN first, lowest index on ties), on every lane of
    /// the warp; lane <c>l</c> scans columns <c>l, l + warp, …</c>.</summary>
    internal static (float Value, int Index) WarpRowArgmax(ArrayView<float> x, long offset, int cols)
    {
        var (best, bestIndex) = ScanRowArgmax(x, offset, cols, Warp.LaneIdx, Warp.WarpSize);
        for (int mask = Warp.WarpSize / 2; mask > 0; mask >>= 1)
        {
            float v = Warp.ShuffleXor(best, mask);
            int i = Warp.ShuffleXor(bestIndex, mask);
            if (Beats(v, i, best, bestIndex))
            {
                best = v;
                bestIndex = i;
            }
        }
        return (best, bestIndex);
    }

    /// <summary>The sum of every lane's <paramref name="value"/>, on every lane (a butterfly: the same bits on every lane).</summary>
    internal static float WarpSum(float value)
    {
        for (int mask = Warp.WarpSize / 2; mask > 0; mask >>= 1)
            value += Warp.ShuffleXor(value, mask);
        return value;
    }

    [GpuKernel(NeedsSubGroups = true)]
    private static void RowArgmaxWarpKernel(ArrayView<float> x, int rows, int cols, ArrayView<int> result)
    {
        int warps = Group.DimX / Warp.WarpSize;
        for (int r = Grid.IdxX * warps + Warp.WarpIdx; r < rows; r += Grid.DimX * warps)
        {
            int index = WarpRowArgmax(x, (long)r * cols, cols).Index;
            if (Warp.LaneIdx == 0) result[r] = index;
        }
    }

    [GpuKernel(NeedsSubGroups = true)]
    private static void CountCorrectWarpKernel(ArrayView<float> logits, ArrayView<int> labels, int rows, int cols, ArrayView<int> count)
    {
        int warps = Group.DimX / Warp.WarpSize;
        for (int r = Grid.IdxX * warps + Warp.WarpIdx; r < rows; r += Grid.DimX * warps)
        {
            int index = WarpRowArgmax(logits, (long)r * cols, cols).Index;
            if (Warp.LaneIdx == 0 && index == labels[r]) Atomic.Add(ref count[0], 1);
        }
    }

    /// <summary>A launch of the warp-per-row kernels: groups of the device's group size (whole warps), one warp per row.</summary>
    internal static KernelConfig WarpRowConfig(Device device, int rows)
    {
        var a = device.Accelerator;
        int group = device.GroupSize;
        int warps = group / a.WarpSize;
        long groups = ((long)rows + warps - 1) / warps;
        return new KernelConfig(new Index1D((int)Math.Clamp(groups, 1, MaxGroups(device, group))), new Index1D(group));
    }
}
