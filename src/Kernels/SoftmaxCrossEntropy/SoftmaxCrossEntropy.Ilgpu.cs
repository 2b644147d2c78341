using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class SoftmaxCrossEntropy
{
    // Version 1: one group per row, grid-stride over rows (see the class remarks for why); version 2 (one warp per row,
    // SoftmaxCrossEntropy.Warp.cs for hard labels, SoftmaxCrossEntropy.Fused.cs for soft targets and the fused forward
    // and backward) replaces it up to 1,024 classes. Within a row, thread t handles columns
    // t, t + DimX, ...; the row's max/argmax and sums are folded with the group helpers of Reduce, which need 2 floats of
    // shared memory per thread. Every loop over rows is uniform across the group, so the barriers inside are safe.
    private const int SharedPerThread = 2;

    [GpuKernel]
    private static void ForwardKernel(ArrayView<float> logits, ArrayView<int> labels, int rows, int cols, ArrayView<float> rowLoss,
        ArrayView<int> correct)
    {
        var shared = SharedMemory.GetDynamic<float>();
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long offset = (long)r * cols;
            var best = Reduce.GroupRowArgmax(shared, logits, offset, cols);
            float max = best.Value;
            float partial = 0f;
            for (int c = Group.IdxX; c < cols; c += Group.DimX)
                partial += XMath.Exp(logits[offset + c] - max);
            float sum = Reduce.GroupSum(shared, partial);
            if (Group.IdxX == 0)
            {
                int label = labels[r];
                if ((uint)label < (uint)cols)
                {
                    // (max - z[label]) first: for logits of ±1e4 it is exact, and log(sum) is in [0, log cols].
                    rowLoss[r] = (max - logits[offset + label]) + XMath.Log(sum);
                    if (best.Index == label) Atomic.Add(ref correct[0], 1);
                }
                else
                {
                    rowLoss[r] = float.NaN;
                }
            }
        }
    }

    [GpuKernel]
    private static void BackwardKernel(ArrayView<float> logits, ArrayView<int> labels, int rows, int cols, ArrayView<float> dlogits,
        float coefficient)
    {
        var shared = SharedMemory.GetDynamic<float>();
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long offset = (long)r * cols;
            float max = Reduce.GroupRowArgmax(shared, logits, offset, cols).Value;
            float partial = 0f;
            for (int c = Group.IdxX; c < cols; c += Group.DimX)
                partial += XMath.Exp(logits[offset + c] - max);
            float inverse = 1f / Reduce.GroupSum(shared, partial);
            int label = labels[r];
            bool valid = (uint)label < (uint)cols;
            for (int c = Group.IdxX; c < cols; c += Group.DimX)
            {
                float p = XMath.Exp(logits[offset + c] - max) * inverse;
                float g = valid ? p - (c == label ? 1f : 0f) : float.NaN;
                dlogits[offset + c] += coefficient * g;
            }
        }
    }

    [GpuKernel]
    private static void ForwardSoftKernel(ArrayView<float> student, ArrayView<float> teacher, int rows, int cols, float temperature,
        ArrayView<float> rowLoss)
    {
        var shared = SharedMemory.GetDynamic<float>();
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long offset = (long)r * cols;
            // max(s/T) = max(s)/T: division by T > 0 is monotone, also after rounding, so every exponent below is <= 0.
            float maxS = Reduce.GroupRowArgmax(shared, student, offset, cols).Value / temperature;
            float maxT = Reduce.GroupRowArgmax(shared, teacher, offset, cols).Value / temperature;
            float sumS = 0f, sumT = 0f, weighted = 0f;
            for (int c = Group.IdxX; c < cols; c += Group.DimX)
            {
                float shiftedS = student[offset + c] / temperature - maxS;
                float expT = XMath.Exp(teacher[offset + c] / temperature - maxT);
                sumS += XMath.Exp(shiftedS);
                sumT += expT;
                weighted += expT * shiftedS;
            }
            sumS = Reduce.GroupSum(shared, sumS);
            sumT = Reduce.GroupSum(shared, sumT);
            weighted = Reduce.GroupSum(shared, weighted);
            // Σ -q·log p = log Σ exp(s/T - M) - Σ q·(s/T - M), because Σ q = 1.
            if (Group.IdxX == 0)
                rowLoss[r] = temperature * temperature * (XMath.Log(sumS) - weighted / sumT);
        }
    }

    [GpuKernel]
    private static void BackwardSoftKernel(ArrayView<float> student, ArrayView<float> teacher, int rows, int cols, float temperature,
        ArrayView<float> dlogits, float coefficient)
    {
        var shared = SharedMemory.GetDynamic<float>();
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long offset = (long)r * cols;
            float maxS = Reduce.GroupRowArgmax(shared, student, offset, cols).Value / temperature;
            float maxT = Reduce.GroupRowArgmax(shared, teacher, offset, cols).Value / temperature;
            float sumS = 0f, sumT = 0f;
            for (int c = Group.IdxX; c < cols; c += Group.DimX)
            {
                sumS += XMath.Exp(student[offset + c] / temperature - maxS);
                sumT += XMath.Exp(teacher[offset + c] / temperature - maxT);
            }
            float inverseS = 1f / Reduce.GroupSum(shared, sumS);
            float inverseT = 1f / Reduce.GroupSum(shared, sumT);
            for (int c = Group.IdxX; c < cols; c += Group.DimX)
            {
                float p = XMath.Exp(student[offset + c] / temperature - maxS) * inverseS;
                float q = XMath.Exp(teacher[offset + c] / temperature - maxT) * inverseT;
                dlogits[offset + c] += coefficient * (p - q);
            }
        }
    }

    /// <summary>Tests set this (on their own thread) to run version 1 (one group per row) where version 2 (one warp per row)
    /// would run, to compare the two.</summary>
    [ThreadStatic]
    internal static bool ForceGroupKernels;

    private static void ForwardIlgpu(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> rowLoss, ArrayView<int> correct)
    {
        if (!ForceGroupKernels && UsesWarpKernels(device, classes))
        {
            ForwardWarp(device, logits, labels, batch, classes, rowLoss, correct);
            return;
        }
        correct.AsDense().MemSetToZero(device.Accelerator.DefaultStream);
        int group = Reduce.RowGroupSize(device, classes);
        var kernel = device.Kernel<ArrayView<float>, ArrayView<int>, int, int, ArrayView<float>, ArrayView<int>>(ForwardKernel);
        kernel(Reduce.RowConfig(device, batch, group, SharedPerThread), logits, labels, batch, classes, rowLoss, correct);
        device.AfterLaunch();
    }

    private static void BackwardIlgpu(Device device, ArrayView<float> logits, ArrayView<int> labels, int batch, int classes,
        ArrayView<float> dlogits, float coefficient)
    {
        if (!ForceGroupKernels && UsesWarpKernels(device, classes))
        {
            BackwardWarp(device, logits, labels, batch, classes, dlogits, coefficient);
            return;
        }
        int group = Reduce.RowGroupSize(device, classes);
        var kernel = device.Kernel<ArrayView<float>, ArrayView<int>, int, int, ArrayView<float>, float>(BackwardKernel);
        kernel(Reduce.RowConfig(device, batch, group, SharedPerThread), logits, labels, batch, classes, dlogits, coefficient);
        device.AfterLaunch();
    }

    private static void ForwardSoftIlgpu(Device device, ArrayView<float> student, ArrayView<float> teacher, int batch, int classes,
        float temperature, ArrayView<float> rowLoss)
    {
        if (!ForceGroupKernels && UsesWarpKernels(device, classes))
        {
            ForwardSoftWarp(device, student, teacher, batch, classes, temperature, rowLoss);
            return;
        }
        int group = Reduce.RowGroupSize(device, classes);
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, int, int, float, ArrayView<float>>(ForwardSoftKernel);
        kernel(Reduce.RowConfig(device, batch, group, SharedPerThread), student, teacher, batch, classes, temperature, rowLoss);
        device.AfterLaunch();
    }

    private static void BackwardSoftIlgpu(Device device, ArrayView<float> student, ArrayView<float> teacher, int batch, int classes,
        float temperature, ArrayView<float> dlogits, float coefficient)
    {
        if (!ForceGroupKernels && UsesWarpKernels(device, classes))
        {
            BackwardSoftWarp(device, student, teacher, batch, classes, temperature, dlogits, coefficient);
            return;
        }
        int group = Reduce.RowGroupSize(device, classes);
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, int, int, float, ArrayView<float>, float>(BackwardSoftKernel);
        kernel(Reduce.RowConfig(device, batch, group, SharedPerThread), student, teacher, batch, classes, temperature, dlogits, coefficient);
        device.AfterLaunch();
    }
}
