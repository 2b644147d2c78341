namespace GpuNet.Tests;

/// <summary>
/// One ILGPU CPU accelerator (kernels simulated on the CPU) and one host-engine device, shared by every test in the
/// <c>devices</c> collection. Opening an accelerator and compiling kernels is the slow part, so tests share them.
/// </summary>
public sealed class DeviceFixture : IDisposable
{
    public Device Ilgpu { get; } = Device.Open("ilgpu-cpu");
    public Device Host { get; } = Device.Open("cpu");

    public void Dispose()
    {
        Ilgpu.Dispose();
        Host.Dispose();
    }
}

[CollectionDefinition("devices")]
public sealed class DevicesCollection : ICollectionFixture<DeviceFixture>;

/// <summary>Tests that need a CUDA or OpenCL GPU. On a machine without one they are skipped, and say so.</summary>
[CollectionDefinition("gpu", DisableParallelization = true)]
public sealed class GpuCollection;

/// <summary>A fact that runs only where a CUDA or OpenCL device is present; elsewhere it is skipped with a reason.</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    public static readonly string? GpuSpec = FindGpu();

    public GpuFactAttribute()
    {
        if (GpuSpec is null) Skip = "no CUDA or OpenCL GPU on this machine: GPU tests skipped";
    }

    private static string? FindGpu()
    {
        try
        {
            return Device.List().FirstOrDefault(d => d.Kind is DeviceKind.Cuda or DeviceKind.OpenCL)?.Spec;
        }
        catch (Exception)
        {
            return null;
        }
    }
}
