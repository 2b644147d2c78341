using GpuNet.Experiments.Commands;
using GpuNet.Kernels;
using GpuNet.Nn;
using Xunit.Abstractions;

namespace GpuNet.Tests.Training;

/// <summary>
/// Kernel launches in one SGD step of the course's 784-256-128-10 ReLU MLP (what <c>gpunet check</c> reports), counted by
/// the device, with each fusion switched off in turn: nothing fused (bias and ReLU as their own launches, the loss's
/// forward, mean and backward separate), the bias in the GEMM epilogue only (where issue 11's second session started),
/// and everything fused (bias and ReLU in the GEMM epilogue, the loss's forward and backward in one launch).
/// </summary>
[Collection("devices")]
public class LaunchCountTests(DeviceFixture devices, ITestOutputHelper output)
{
    private static (long Launches, long Clears, IReadOnlyDictionary<string, long> ByKernel) Count(Device device, int batch,
        bool bias, bool relu, bool loss)
    {
        Linear.UnfusedBias = !bias;
        Sequential.UnfusedRelu = !relu;
        SoftmaxCrossEntropy.UnfusedForwardBackward = !loss;
        try { return CheckTimings.CountStep(device, batch); }
        finally
        {
            Linear.UnfusedBias = false;
            Sequential.UnfusedRelu = false;
            SoftmaxCrossEntropy.UnfusedForwardBackward = false;
        }
    }

    [Theory]
    [InlineData("ilgpu-cpu")]
    [InlineData(Device.NvidiaShapedSpec)]
    public void Each_fusion_saves_its_launches(string spec)
    {
        var device = devices.Get(spec);
        const int batch = 16;
        // Nothing fused only on the plain simulator: the counts are the same on both accelerators, and each step on the
        // GPU-shaped one takes seconds.
        bool plain = !device.LaunchesLikeGpu;
        var none = plain ? Count(device, batch, bias: false, relu: false, loss: false) : default;
        var biasOnly = Count(device, batch, bias: true, relu: false, loss: false);
        var all = Count(device, batch, bias: true, relu: true, loss: true);
        string Describe(IReadOnlyDictionary<string, long> k) => string.Join(", ", k.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}"));
        output.WriteLine($"{spec} ({device.Accelerator.NumMultiprocessors} multiprocessors), batch {batch}:");
        if (plain) output.WriteLine($"  nothing fused: {none.Launches} launches + {none.Clears} clears: {Describe(none.ByKernel)}");
        output.WriteLine($"  bias in the GEMM epilogue: {biasOnly.Launches} launches + {biasOnly.Clears} clears: {Describe(biasOnly.ByKernel)}");
        output.WriteLine($"  bias and ReLU in the GEMM epilogue, loss forward+backward fused: {all.Launches} launches + {all.Clears} clears: {Describe(all.ByKernel)}");

        // The bias: one Bias.Add launch per Linear layer.
        if (plain)
        {
            Assert.Equal(3, none.ByKernel.GetValueOrDefault("Bias.AddKernel"));
            Assert.Equal(none.Launches - 3, biasOnly.Launches);
            Assert.Equal(none.Launches, none.ByKernel.Values.Sum());
        }
        Assert.False(biasOnly.ByKernel.ContainsKey("Bias.AddKernel"));
        // ReLU: its two forward launches go into the GEMMs of the two hidden layers; its backward stays. (The device counts
        // launches by method, so the activation kernels are named without their operator.)
        Assert.Equal(2, biasOnly.ByKernel.GetValueOrDefault("Activation.ForwardKernel"));
        Assert.False(all.ByKernel.ContainsKey("Activation.ForwardKernel"));
        Assert.Equal(2, all.ByKernel.GetValueOrDefault("Activation.BackwardKernel"));
        // The loss: forward, the mean's sum and backward become one launch, and the gradient's clear goes.
        Assert.Equal(1, all.ByKernel.GetValueOrDefault("SoftmaxCrossEntropy.ForwardBackwardWarpKernel"));
        foreach (string gone in new[] { "SoftmaxCrossEntropy.ForwardWarpKernel", "SoftmaxCrossEntropy.BackwardWarpKernel", "Reduce.SumKernel" })
        {
            Assert.Equal(1, biasOnly.ByKernel.GetValueOrDefault(gone));
            Assert.False(all.ByKernel.ContainsKey(gone), gone);
        }
        Assert.Equal(biasOnly.Launches - 2 - 2, all.Launches);
        Assert.Equal(biasOnly.Clears - 1, all.Clears);
        // Every launch is some op's: the per-kernel counts add up to the total.
        Assert.Equal(all.Launches, all.ByKernel.Values.Sum());
    }
}
