using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class SoftmaxCrossEntropy
{
    // -------------------------------------------------------------------------------------------------------------
    // Version 2 of the hard-label kernels: one warp per row, several rows per group. Why it is faster than version 1
    // (one group per row, Reduce's shared-memory trees) for up to WarpRowLimit classes:
    //  - the row's max/argmax and sum are folded with warp shuffles (log2(warp) ShuffleXor steps, registers only):
    //    no shared memory and no group barrier per tree level;
    //  - a 10-class row keeps one warp busy instead of a whole group, and a group of 256 threads does 8 rows at once.
    // Every lane ends a butterfly with the same value (x + y = y + x in IEEE arithmetic), so the result does not depend
    // on which lane writes it. Rows are walked per warp; loops are uniform within a warp, and there is no group barrier,
    // so warps of one group may run different numbers of rows. Version 1 stays for rows over WarpRowLimit classes, where
    // one warp per row would leave too few warps for the work, and for OpenCL devices without sub-groups (ILGPU needs
    // them for shuffles).
    // -------------------------------------------------------------------------------------------------------------

    /// <summary>The widest row the warp kernels take.</summary>
    internal const int WarpRowLimit = Reduce.WarpRowLimit;

    private static (float Value, int Index) WarpRowArgmax(ArrayView<float> x, long offset, int cols) => Reduce.WarpRowArgmax(x, offset, cols);

    private static float WarpSum(float value) => Reduce.WarpSum(value);

    [GpuKernel(NeedsSubGroups = true)]
    private static void ForwardWarpKernel(ArrayView<float> logits, ArrayView<int> labels, int rows, int cols, ArrayView<float> rowLoss,
        ArrayView<int> correct)
    {
        int warps = Group.DimX / Warp.WarpSize;
        for (int r = Grid.IdxX * warps + Warp.WarpIdx; r < rows; r += Grid.DimX * warps)
        {
            long offset = (long)r * cols;
            var (max, index) = WarpRowArgmax(logits, offset, cols);
            float partial = 0f;
            for (int c = Warp.LaneIdx; c < cols; c += Warp.WarpSize)
                partial += XMath.Exp(logits[offset + c] - max);
            float sum = WarpSum(partial);
            if (Warp.LaneIdx == 0)
            {
                int label = labels[r];
                if ((uint)label < (uint)cols)
                {
                    rowLoss[r] = (max - logits[offset + label]) + XMath.Log(sum);
                    if (index == label) Atomic.Add(ref correct[0], 1);
                }
                else
                {
                    rowLoss[r] = float.NaN;
                }
            }
        }
    }

    [GpuKernel(NeedsSubGroups = true)]
    private static void BackwardWarpKernel(ArrayView<float> logits, ArrayView<int> labels, int rows, int cols, ArrayView<float> dlogits,
        float coefficient)
    {
        int warps = Group.DimX / Warp.WarpSize;
        for (int r = Grid.IdxX * warps + Warp.WarpIdx; r < rows; r += Grid.DimX * warps)
        {
            long offset = (long)r * cols;
            float max = WarpRowArgmax(logits, offset, cols).Value;
            float partial = 0f;
            for (int c = Warp.LaneIdx; c < cols; c += Warp.WarpSize)
                partial += XMath.Exp(logits[offset + c] - max);
            float inverse = 1f / WarpSum(partial);
            int label = labels[r];
            bool valid = (uint)label < (uint)cols;
            for (int c = Warp.LaneIdx; c < cols; c += Warp.WarpSize)
            {
                float p = XMath.Exp(logits[offset + c] - max) * inverse;
                float g = valid ? p - (c == label ? 1f : 0f) : float.NaN;
                dlogits[offset + c] += coefficient * g;
            }
        }
    }

    /// <summary>Whether the row ops run the warp kernels on <paramref name="device"/> for rows of
    /// <paramref name="classes"/> (<see cref="Reduce.UsesWarpRows"/>: up to <see cref="WarpRowLimit"/> classes, on CUDA
    /// and the CPU accelerators).</summary>
    internal static bool UsesWarpKernels(Device device, int classes) => Reduce.UsesWarpRows(device, classes);

    private static KernelConfig WarpRowConfig(Device device, int rows) => Reduce.WarpRowConfig(device, rows);

    private static void ForwardWarp(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> rowLoss, ArrayView<int> correct)
    {
        correct.AsDense().MemSetToZero(device.Accelerator.DefaultStream);
        var kernel = device.Kernel<ArrayView<float>, ArrayView<int>, int, int, ArrayView<float>, ArrayView<int>>(ForwardWarpKernel);
        kernel(WarpRowConfig(device, batch), logits, labels, batch, classes, rowLoss, correct);
        device.AfterLaunch();
    }

    private static void BackwardWarp(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> dlogits, float coefficient)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<int>, int, int, ArrayView<float>, float>(BackwardWarpKernel);
        kernel(WarpRowConfig(device, batch), logits, labels, batch, classes, dlogits, coefficient);
        device.AfterLaunch();
    }
}
