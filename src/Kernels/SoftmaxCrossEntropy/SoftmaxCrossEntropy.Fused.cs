using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>The scalar arguments of the fused hard-label forward and backward.</summary>
internal readonly struct CrossEntropyArgs(int rows, int cols, float coefficient, float inverseBatch)
{
    public readonly int Rows = rows;
    public readonly int Cols = cols;
    /// <summary><c>scale / batch</c>: the factor of <c>softmax - onehot</c> in the gradient.</summary>
    public readonly float Coefficient = coefficient;
    /// <summary><c>1 / batch</c>: the mean's factor.</summary>
    public readonly float InverseBatch = inverseBatch;
}

public static partial class SoftmaxCrossEntropy
{
    // -------------------------------------------------------------------------------------------------------------
    // The fused hard-label forward and backward (ForwardBackward): one launch where the unfused ops take three (the
    // forward, the sum of the row losses, the backward) plus the clears of the correct count and of the gradient.
    // One group, one warp per row (rows walked warp by warp): each warp folds its rows' max/argmax and sum of
    // exponentials with shuffles, as ForwardWarpKernel does, writes the row loss and the gradient from the same max
    // and sum (the backward's recomputation is gone), and keeps its rows' loss sum and correct count in registers;
    // one barrier, then thread 0 adds the warps' partials in warp order and writes the mean loss and the count (no
    // atomics, no clears: the gradient and both results are written, not accumulated). Being one group, it is for the
    // training step's batches (up to FusedRowsPerWarp rows per warp: 1,024 rows in a 256-thread group); larger
    // batches run the three launches. The row losses, the count and the gradient have the bits of the unfused warp
    // kernels; the mean adds the rows in another order than Reduce's tree.
    // -------------------------------------------------------------------------------------------------------------

    /// <summary>The most rows per warp the fused kernel's single group takes.</summary>
    internal const int FusedRowsPerWarp = 128;

    [GpuKernel(NeedsSubGroups = true)]
    private static void ForwardBackwardWarpKernel(ArrayView<float> logits, ArrayView<int> labels, ArrayView<float> rowLoss,
        ArrayView<float> loss, ArrayView<int> correct, ArrayView<float> dlogits, CrossEntropyArgs a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int warps = Group.DimX / Warp.WarpSize;
        int lane = Warp.LaneIdx;
        float lossSum = 0f;
        int hits = 0;
        for (int r = Warp.WarpIdx; r < a.Rows; r += warps)
        {
            long offset = (long)r * a.Cols;
            var (max, index) = WarpRowArgmax(logits, offset, a.Cols);
            float partial = 0f;
            for (int c = lane; c < a.Cols; c += Warp.WarpSize)
                partial += XMath.Exp(logits[offset + c] - max);
            float sum = WarpSum(partial);
            int label = labels[r];
            bool valid = (uint)label < (uint)a.Cols;
            float rl = float.NaN;
            if (valid)
            {
                rl = (max - logits[offset + label]) + XMath.Log(sum);
                if (index == label) hits++;
            }
            lossSum += rl;
            if (lane == 0) rowLoss[r] = rl;
            float inverse = 1f / sum;
            for (int c = lane; c < a.Cols; c += Warp.WarpSize)
            {
                float p = XMath.Exp(logits[offset + c] - max) * inverse;
                float g = valid ? p - (c == label ? 1f : 0f) : float.NaN;
                dlogits[offset + c] = a.Coefficient * g;
            }
        }
        var warpLoss = shared.SubView(0, warps);
        var warpHits = shared.SubView(warps, warps).Cast<int>();
        if (lane == 0)
        {
            warpLoss[Warp.WarpIdx] = lossSum;
            warpHits[Warp.WarpIdx] = hits;
        }
        Group.Barrier();
        if (Group.IdxX == 0)
        {
            float total = 0f;
            int count = 0;
            for (int w = 0; w < warps; w++)
            {
                total += warpLoss[w];
                count += warpHits[w];
            }
            loss[0] = total * a.InverseBatch;
            correct[0] = count;
        }
    }

    /// <summary>Whether <see cref="ForwardBackward"/> is one launch on <paramref name="device"/> for this batch: the warp
    /// kernels run there (<see cref="UsesWarpKernels"/>) and the batch fits one group's warps.</summary>
    internal static bool FusesForwardBackward(Device device, int batch, int classes) =>
        !UnfusedForwardBackward && UsesWarpKernels(device, classes)
        && batch <= (long)device.GroupSize / device.Accelerator.WarpSize * FusedRowsPerWarp;

    /// <summary>Tests set this (on their own thread) to run <see cref="ForwardBackward"/> as the separate ops (forward,
    /// mean, clear, backward), as before the fusion, to compare the two and count what it saves.</summary>
    [ThreadStatic]
    internal static bool UnfusedForwardBackward;

    private static void ForwardBackwardFused(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> rowLoss, ArrayView<float> loss, ArrayView<int> correct, ArrayView<float> dlogits, float coefficient)
    {
        int group = device.GroupSize;
        int warps = group / device.Accelerator.WarpSize;
        var config = new KernelConfig(new Index1D(1), new Index1D(group), SharedMemoryConfig.RequestDynamic<float>(2 * warps));
        var kernel = device.Kernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>,
            CrossEntropyArgs>(ForwardBackwardWarpKernel);
        kernel(config, logits, labels, rowLoss, loss, correct, dlogits, new CrossEntropyArgs(batch, classes, coefficient, 1f / batch));
        device.AfterLaunch();
    }

    // -------------------------------------------------------------------------------------------------------------
    // Version 2 of the soft-target (distillation) kernels: one warp per row, as the hard-label ones. The row's two
    // maxima and three sums are folded with shuffles instead of five shared-memory trees with a barrier per level.
    // -------------------------------------------------------------------------------------------------------------

    [GpuKernel(NeedsSubGroups = true)]
    private static void ForwardSoftWarpKernel(ArrayView<float> student, ArrayView<float> teacher, int rows, int cols, float temperature,
        ArrayView<float> rowLoss)
    {
        int warps = Group.DimX / Warp.WarpSize;
        for (int r = Grid.IdxX * warps + Warp.WarpIdx; r < rows; r += Grid.DimX * warps)
        {
            long offset = (long)r * cols;
            // max(s/T) = max(s)/T: division by T > 0 is monotone, also after rounding, so every exponent below is <= 0.
            float maxS = WarpRowArgmax(student, offset, cols).Value / temperature;
            float maxT = WarpRowArgmax(teacher, offset, cols).Value / temperature;
            float sumS = 0f, sumT = 0f, weighted = 0f;
            for (int c = Warp.LaneIdx; c < cols; c += Warp.WarpSize)
            {
                float shiftedS = student[offset + c] / temperature - maxS;
                float expT = XMath.Exp(teacher[offset + c] / temperature - maxT);
                sumS += XMath.Exp(shiftedS);
                sumT += expT;
                weighted += expT * shiftedS;
            }
            sumS = WarpSum(sumS);
            sumT = WarpSum(sumT);
            weighted = WarpSum(weighted);
            // Σ -q·log p = log Σ exp(s/T - M) - Σ q·(s/T - M), because Σ q = 1.
            if (Warp.LaneIdx == 0)
                rowLoss[r] = temperature * temperature * (XMath.Log(sumS) - weighted / sumT);
        }
    }

    [GpuKernel(NeedsSubGroups = true)]
    private static void BackwardSoftWarpKernel(ArrayView<float> student, ArrayView<float> teacher, int rows, int cols, float temperature,
        ArrayView<float> dlogits, float coefficient)
    {
        int warps = Group.DimX / Warp.WarpSize;
        for (int r = Grid.IdxX * warps + Warp.WarpIdx; r < rows; r += Grid.DimX * warps)
        {
            long offset = (long)r * cols;
            float maxS = WarpRowArgmax(student, offset, cols).Value / temperature;
            float maxT = WarpRowArgmax(teacher, offset, cols).Value / temperature;
            float sumS = 0f, sumT = 0f;
            for (int c = Warp.LaneIdx; c < cols; c += Warp.WarpSize)
            {
                sumS += XMath.Exp(student[offset + c] / temperature - maxS);
                sumT += XMath.Exp(teacher[offset + c] / temperature - maxT);
            }
            float inverseS = 1f / WarpSum(sumS);
            float inverseT = 1f / WarpSum(sumT);
            for (int c = Warp.LaneIdx; c < cols; c += Warp.WarpSize)
            {
                float p = XMath.Exp(student[offset + c] / temperature - maxS) * inverseS;
                float q = XMath.Exp(teacher[offset + c] / temperature - maxT) * inverseT;
                dlogits[offset + c] += coefficient * (p - q);
            }
        }
    }

    private static void ForwardSoftWarp(Device device, ArrayView<float> student, ArrayView<float> teacher, int batch, int classes,
        float temperature, ArrayView<float> rowLoss)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, int, int, float, ArrayView<float>>(ForwardSoftWarpKernel);
        kernel(WarpRowConfig(device, batch), student, teacher, batch, classes, temperature, rowLoss);
        device.AfterLaunch();
    }

    private static void BackwardSoftWarp(Device device, ArrayView<float> student, ArrayView<float> teacher, int batch, int classes,
        float temperature, ArrayView<float> dlogits, float coefficient)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, int, int, float, ArrayView<float>, float>(BackwardSoftWarpKernel);
        kernel(WarpRowConfig(device, batch), student, teacher, batch, classes, temperature, dlogits, coefficient);
        device.AfterLaunch();
    }
}
