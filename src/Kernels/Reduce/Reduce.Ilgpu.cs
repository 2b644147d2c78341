using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class Reduce
{
    // Elements per thread before a sum uses a second group: up to GroupSize·16 elements one group does everything in one
    // launch (a batch's losses); above that the groups' partials are added by a second, one-group launch.
    private const int SumItemsPerThread = 16;

    // ---------------------------------------------------------------------------------------------------------------
    // Group-level building blocks, shared with the row kernels of other ops (softmax cross-entropy). Every thread of the
    // group must call them (they contain barriers), and they leave the shared memory free for reuse when they return.
    // They work for any group size, not only powers of two.
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>The sum of <paramref name="value"/> over the threads of the group; needs <c>Group.DimX</c> floats of shared memory.</summary>
    internal static float GroupSum(ArrayView<float> shared, float value)
    {
        int tid = Group.IdxX;
        int n = Group.DimX;
        shared[tid] = value;
        Group.Barrier();
        int half = LargestPowerOfTwoAtMost(n);
        // Fold the part above the largest power of two first, then halve: a plain tree with no idle tail.
        if (tid < n - half) shared[tid] += shared[tid + half];
        Group.Barrier();
        for (int s = half / 2; s > 0; s /= 2)
        {
            if (tid < s) shared[tid] += shared[tid + s];
            Group.Barrier();
        }
        float total = shared[0];
        Group.Barrier();
        return total;
    }

    /// <summary>
    /// The winner (by <see cref="Beats"/>) of the threads' candidates; needs <c>2·Group.DimX</c> floats of shared memory
    /// (values, then indices reinterpreted as ints).
    /// </summary>
    internal static Candidate GroupArgmax(ArrayView<float> shared, float value, int index)
    {
        int tid = Group.IdxX;
        int n = Group.DimX;
        var values = shared.SubView(0, n);
        var indices = shared.SubView(n, n).Cast<int>();
        values[tid] = value;
        indices[tid] = index;
        Group.Barrier();
        int half = LargestPowerOfTwoAtMost(n);
        if (tid < n - half) KeepBetter(values, indices, tid, tid + half);
        Group.Barrier();
        for (int s = half / 2; s > 0; s /= 2)
        {
            if (tid < s) KeepBetter(values, indices, tid, tid + s);
            Group.Barrier();
        }
        var best = new Candidate(values[0], indices[0]);
        Group.Barrier();
        return best;
    }

    /// <summary>
    /// The argmax of the row <c>x[offset .. offset + cols)</c>, computed by the whole group (thread <c>t</c> scans columns
    /// <c>t, t + DimX, …</c>); needs <c>2·Group.DimX</c> floats of shared memory.
    /// </summary>
    internal static Candidate GroupRowArgmax(ArrayView<float> shared, ArrayView<float> x, long offset, int cols)
    {
        var (best, bestIndex) = ScanRowArgmax(x, offset, cols, Group.IdxX, Group.DimX);
        return GroupArgmax(shared, best, bestIndex);
    }

    /// <summary>The winner by <see cref="Beats"/> among columns <c>first, first + stride, …</c> of the row at
    /// <paramref name="offset"/>: one thread's share of a group's or a warp's row argmax.</summary>
    internal static (float Value, int Index) ScanRowArgmax(ArrayView<float> x, long offset, int cols, int first, int stride)
    {
        // The sentinel loses to every real column: a real -inf ties on value and wins on its smaller index.
        float best = float.NegativeInfinity;
        int bestIndex = cols;
        for (int c = first; c < cols; c += stride)
        {
            float v = x[offset + c];
            if (Beats(v, c, best, bestIndex))
            {
                best = v;
                bestIndex = c;
            }
        }
        return (best, bestIndex);
    }

    private static void KeepBetter(ArrayView<float> values, ArrayView<int> indices, int mine, int other)
    {
        float v = values[other];
        int i = indices[other];
        if (Beats(v, i, values[mine], indices[mine]))
        {
            values[mine] = v;
            indices[mine] = i;
        }
    }

    private static int LargestPowerOfTwoAtMost(int n)
    {
        int p = 1;
        while (p <= n / 2) p *= 2;
        return p;
    }

    /// <summary>
    /// Threads per group for a kernel that gives each row of <paramref name="cols"/> columns to one group: the device's
    /// group size, but no more than the row needs (rounded up to a warp), so ten classes do not idle 246 threads.
    /// </summary>
    internal static int RowGroupSize(Device device, int cols)
    {
        long warp = Math.Max(1, device.Accelerator.WarpSize);
        long needed = (cols + warp - 1) / warp * warp;
        return (int)Math.Clamp(needed, 1, device.GroupSize);
    }

    /// <summary>One group per row (grid-stride over rows beyond the cap), with <paramref name="sharedPerThread"/> floats of shared memory per thread.</summary>
    internal static KernelConfig RowConfig(Device device, int rows, int group, int sharedPerThread)
    {
        int groups = (int)Math.Clamp(rows, 1, MaxGroups(device, group));
        return new KernelConfig(new Index1D(groups), new Index1D(group), SharedMemoryConfig.RequestDynamic<float>(group * sharedPerThread));
    }

    // The same fill-the-device cap as Device.Config1D: kernels loop over whatever the grid does not cover.
    private static long MaxGroups(Device device, int group)
    {
        var a = device.Accelerator;
        return Math.Max(1, (long)a.NumMultiprocessors * Math.Max(1, a.MaxNumThreadsPerMultiprocessor / group) * 4);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Kernels
    // ---------------------------------------------------------------------------------------------------------------

    // Each thread sums a grid-stride slice, the group folds the slices in shared memory, and one thread per group writes
    // the group's total, times scale, to output[group]: the result itself when the grid is one group, else the device's
    // partials buffer, which FinishSumKernel then adds up. No float atomics: every sum is added in an order fixed by the
    // launch shape, so the result has the same bits run to run, and a NaN flows through like any other value (ILGPU's
    // CPU accelerator emulates a float Atomic.Add with a compare-exchange loop that compares floats, and once the target
    // held a NaN the loop never ended, since NaN != NaN).
    [GpuKernel(typeof(ValueTerm), typeof(SquareTerm))]
    private static void SumKernel<TTerm>(ArrayView<float> x, ArrayView<float> output, float scale, TTerm term)
        where TTerm : struct, IReduceTerm
    {
        var shared = SharedMemory.GetDynamic<float>();
        int stride = Grid.DimX * Group.DimX;
        float sum = 0f;
        for (int i = Grid.GlobalIndex.X; i < x.IntLength; i += stride)
            sum += term.Apply(x[i]);
        float total = GroupSum(shared, sum);
        if (Group.IdxX == 0) output[Grid.IdxX] = total * scale;
    }

    // One group adds up the first `count` partials of SumKernel: thread t takes partials t, t + DimX, … in order, the
    // group folds them with its fixed tree, and thread 0 writes result[0]. Launched right behind SumKernel on the same
    // stream, so it needs no synchronisation.
    [GpuKernel]
    private static void FinishSumKernel(ArrayView<float> partials, int count, ArrayView<float> result, float scale)
    {
        var shared = SharedMemory.GetDynamic<float>();
        float sum = 0f;
        for (int i = Group.IdxX; i < count; i += Group.DimX)
            sum += partials[i];
        float total = GroupSum(shared, sum);
        if (Group.IdxX == 0) result[0] = total * scale;
    }

    [GpuKernel]
    private static void RowArgmaxKernel(ArrayView<float> x, int rows, int cols, ArrayView<int> result)
    {
        var shared = SharedMemory.GetDynamic<float>();
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            var best = GroupRowArgmax(shared, x, (long)r * cols, cols);
            if (Group.IdxX == 0) result[r] = best.Index;
        }
    }

    [GpuKernel]
    private static void CountCorrectKernel(ArrayView<float> logits, ArrayView<int> labels, int rows, int cols, ArrayView<int> count)
    {
        var shared = SharedMemory.GetDynamic<float>();
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            var best = GroupRowArgmax(shared, logits, (long)r * cols, cols);
            if (Group.IdxX == 0 && best.Index == labels[r]) Atomic.Add(ref count[0], 1);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Launchers
    // ---------------------------------------------------------------------------------------------------------------

    private static void SumIlgpu<TTerm>(Device device, ArrayView<float> x, ArrayView<float> result, float scale, TTerm term)
        where TTerm : struct, IReduceTerm
    {
        if (x.Length == 0)
        {
            result.AsDense().MemSetToZero(device.Accelerator.DefaultStream);
            device.AfterLaunch();
            return;
        }
        int group = device.GroupSize;
        long perGroup = (long)group * SumItemsPerThread;
        long maxGroups = MaxGroups(device, group);
        int groups = (int)Math.Clamp((x.Length + perGroup - 1) / perGroup, 1, maxGroups);
        var config = new KernelConfig(new Index1D(groups), new Index1D(group), SharedMemoryConfig.RequestDynamic<float>(group));
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, float, TTerm>(SumKernel);
        if (groups == 1)
        {
            kernel(config, x, result, scale, term);
            device.AfterLaunch();
            return;
        }
        // The partials buffer is the device's own, sized for the largest grid; reusing it is safe because launches on
        // the default stream run in order (the finish of one sum precedes the partials of the next).
        var partials = device.Scratch(PartialsKey, maxGroups).SubView(0, groups);
        kernel(config, x, partials, 1f, term);
        device.AfterLaunch();
        var finish = device.Kernel<ArrayView<float>, int, ArrayView<float>, float>(FinishSumKernel);
        finish(new KernelConfig(new Index1D(1), new Index1D(group), SharedMemoryConfig.RequestDynamic<float>(group)),
            partials, groups, result, scale);
        device.AfterLaunch();
    }

    // The key of the partial sums' buffer among the device's scratch buffers.
    private static readonly object PartialsKey = new();

    private static void RowArgmaxIlgpu(Device device, ArrayView<float> x, int rows, int cols, ArrayView<int> result)
    {
        if (!ForceGroupRows && UsesWarpRows(device, cols))
        {
            var warp = device.Kernel<ArrayView<float>, int, int, ArrayView<int>>(RowArgmaxWarpKernel);
            warp(WarpRowConfig(device, rows), x, rows, cols, result);
            device.AfterLaunch();
            return;
        }
        int group = RowGroupSize(device, cols);
        var kernel = device.Kernel<ArrayView<float>, int, int, ArrayView<int>>(RowArgmaxKernel);
        kernel(RowConfig(device, rows, group, 2), x, rows, cols, result);
        device.AfterLaunch();
    }

    private static void CountCorrectIlgpu(Device device, ArrayView<float> logits, ArrayView<int> labels, int rows, int cols, ArrayView<int> count)
    {
        count.AsDense().MemSetToZero(device.Accelerator.DefaultStream);
        if (rows > 0 && !ForceGroupRows && UsesWarpRows(device, cols))
        {
            var warp = device.Kernel<ArrayView<float>, ArrayView<int>, int, int, ArrayView<int>>(CountCorrectWarpKernel);
            warp(WarpRowConfig(device, rows), logits, labels, rows, cols, count);
        }
        else if (rows > 0)
        {
            int group = RowGroupSize(device, cols);
            var kernel = device.Kernel<ArrayView<float>, ArrayView<int>, int, int, ArrayView<int>>(CountCorrectKernel);
            kernel(RowConfig(device, rows, group, 2), logits, labels, rows, cols, count);
        }
        device.AfterLaunch();
    }
}

/// <summary>An argmax candidate: a value and its index.</summary>
internal readonly struct Candidate(float value, int index)
{
    public readonly float Value = value;
    public readonly int Index = index;
}
