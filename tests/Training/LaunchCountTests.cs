using GpuNet.Experiments.Commands;
using GpuNet.Nn;
using Xunit.Abstractions;

namespace GpuNet.Tests.Training;

/// <summary>
/// Kernel launches in one SGD step of the course's 784-256-128-10 ReLU MLP (what <c>gpunet check</c> reports), counted by
/// the device, with the bias of each Linear layer in the GEMM's epilogue and, for comparison, as its own launch (before).
/// </summary>
[Collection("devices")]
public class LaunchCountTests(DeviceFixture devices, ITestOutputHelper output)
{
    [Theory]
    [InlineData("ilgpu-cpu")]
    [InlineData(Device.NvidiaShapedSpec)]
    public void Fusing_the_bias_into_the_gemm_saves_one_launch_per_linear_layer(string spec)
    {
        var device = devices.Get(spec);
        const int batch = 16;
        var fused = CheckTimings.CountStep(device, batch);
        (long Launches, long Clears, IReadOnlyDictionary<string, long> ByKernel) unfused;
        Linear.UnfusedBias = true;
        try { unfused = CheckTimings.CountStep(device, batch); }
        finally { Linear.UnfusedBias = false; }
        string Describe(IReadOnlyDictionary<string, long> k) => string.Join(", ", k.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}"));
        output.WriteLine($"{spec} ({device.Accelerator.NumMultiprocessors} multiprocessors), batch {batch}:");
        output.WriteLine($"  before (bias as its own launch): {unfused.Launches} launches + {unfused.Clears} clears: {Describe(unfused.ByKernel)}");
        output.WriteLine($"  after (bias in the GEMM epilogue): {fused.Launches} launches + {fused.Clears} clears: {Describe(fused.ByKernel)}");

        Assert.Equal(3, unfused.ByKernel.GetValueOrDefault("Bias.AddKernel"));
        Assert.False(fused.ByKernel.ContainsKey("Bias.AddKernel"));
        Assert.Equal(unfused.Launches - 3, fused.Launches);
        Assert.Equal(unfused.Clears, fused.Clears);
        // Every launch is some op's: the per-kernel counts add up to the total.
        Assert.Equal(fused.Launches, fused.ByKernel.Values.Sum());
    }
}
