using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

public static partial class MeanSquaredError
{
    // One group per row, grid-stride over rows; Reduce.GroupSum needs one float of shared memory per thread. The loop
    // over rows is uniform across the group, so the barrier inside GroupSum is safe.
    private const int SharedPerThread = 1;

    [GpuKernel]
    private static void ForwardKernel(ArrayView<float> prediction, ArrayView<float> target, int rows, int cols, ArrayView<float> rowLoss)
    {
        var shared = SharedMemory.GetDynamic<float>();
        for (int r = Grid.IdxX; r < rows; r += Grid.DimX)
        {
            long offset = (long)r * cols;
            float partial = 0f;
            for (int c = Group.IdxX; c < cols; c += Group.DimX)
            {
                float d = prediction[offset + c] - target[offset + c];
                partial += d * d;
            }
            float sum = Reduce.GroupSum(shared, partial);
            if (Group.IdxX == 0) rowLoss[r] = sum;
        }
    }

    [GpuKernel]
    private static void BackwardKernel(ArrayView<float> prediction, ArrayView<float> target, ArrayView<float> dprediction, float coefficient)
    {
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < prediction.IntLength; i += stride)
            dprediction[i] += coefficient * (prediction[i] - target[i]);
    }

    private static void ForwardIlgpu(Device device, ArrayView<float> prediction, ArrayView<float> target, int rows, int cols,
        ArrayView<float> rowLoss)
    {
        int group = Reduce.RowGroupSize(device, cols);
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, int, int, ArrayView<float>>(ForwardKernel);
        kernel(Reduce.RowConfig(device, rows, group, SharedPerThread), prediction, target, rows, cols, rowLoss);
        device.AfterLaunch();
    }

    private static void BackwardIlgpu(Device device, ArrayView<float> prediction, ArrayView<float> target, ArrayView<float> dprediction,
        float coefficient)
    {
        var kernel = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, float>(BackwardKernel);
        kernel(device.Config1D(prediction.Length), prediction, target, dprediction, coefficient);
        device.AfterLaunch();
    }
}
