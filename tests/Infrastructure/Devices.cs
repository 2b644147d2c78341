namespace GpuNet.Tests;

/// <summary>
/// The devices kernel tests run on, shared by every test in the <c>devices</c> collection (opening an accelerator and
/// compiling kernels is the slow part): ILGPU's CPU accelerator with its default shape (<c>ilgpu-cpu</c>), the same
/// shaped like an NVIDIA GPU (<c>ilgpu-cpu:nvidia</c>: warp 32, 256-thread groups, 16×16 GEMM tiles; opened on first
/// use) and the host engine (<c>cpu</c>). Tests name devices by spec and get them from <see cref="Get"/>.
/// </summary>
public sealed class DeviceFixture : IDisposable
{
    /// <summary>The ILGPU kernels on the default CPU accelerator, then the host engine: every op's reference and parity tests.</summary>
    public static readonly string[] Specs = ["ilgpu-cpu", "cpu"];

    /// <summary>
    /// <see cref="Specs"/> plus <c>ilgpu-cpu:nvidia</c>, for tests whose sizes are small enough for GPU-shaped groups on
    /// the CPU (each barrier there costs about 4 ms per group: keep to a few groups, edge shapes just past one tile).
    /// </summary>
    public static readonly string[] SpecsWithGpuShapes = ["ilgpu-cpu", Device.NvidiaShapedSpec, "cpu"];

    private readonly Lazy<Device> _nvidia = new(() => Device.Open(Device.NvidiaShapedSpec));

    public Device Ilgpu { get; } = Device.Open("ilgpu-cpu");
    public Device Host { get; } = Device.Open("cpu");

    /// <summary>ILGPU's CPU accelerator shaped like an NVIDIA GPU.</summary>
    public Device Nvidia => _nvidia.Value;

    /// <summary>The shared device for <paramref name="spec"/>: <c>ilgpu-cpu</c>, <c>ilgpu-cpu:nvidia</c> or <c>cpu</c>.</summary>
    public Device Get(string spec) => spec switch
    {
        "cpu" => Host,
        "ilgpu-cpu" => Ilgpu,
        Device.NvidiaShapedSpec => Nvidia,
        _ => throw new ArgumentOutOfRangeException(nameof(spec), spec, "not a device of the test fixture"),
    };

    /// <summary>Theory rows for <paramref name="specs"/>.</summary>
    public static TheoryData<string> Rows(IEnumerable<string> specs)
    {
        var data = new TheoryData<string>();
        foreach (string s in specs) data.Add(s);
        return data;
    }

    public void Dispose()
    {
        Ilgpu.Dispose();
        Host.Dispose();
        if (_nvidia.IsValueCreated) _nvidia.Value.Dispose();
    }
}

[CollectionDefinition("devices")]
public sealed class DevicesCollection : ICollectionFixture<DeviceFixture>;

/// <summary>Tests that need a CUDA or OpenCL GPU. On a machine without one they are skipped, and say so.</summary>
[CollectionDefinition("gpu", DisableParallelization = true)]
public sealed class GpuCollection;

/// <summary>
/// A fact that runs only where a CUDA or OpenCL device is present; elsewhere it is skipped with a reason. When listing the
/// devices itself fails (a broken driver install, an ILGPU error), the fact is not skipped: it runs and fails with that
/// error, so a broken GPU setup does not pass for a machine without a GPU.
/// </summary>
public sealed class GpuFactAttribute : FactAttribute
{
    private static readonly (string? Spec, Exception? Error) Found = FindGpu();

    /// <summary>The first GPU's spec, or null when the machine has none.</summary>
    /// <exception cref="InvalidOperationException">Listing the devices failed; the inner exception says how.</exception>
    public static string? GpuSpec => Found.Error is null ? Found.Spec
        : throw new InvalidOperationException($"listing the devices failed, so whether this machine has a GPU is unknown: {Found.Error.Message}", Found.Error);

    public GpuFactAttribute()
    {
        if (Found.Error is null && Found.Spec is null) Skip = "no CUDA or OpenCL GPU on this machine: GPU tests skipped";
    }

    private static (string?, Exception?) FindGpu()
    {
        try
        {
            return (Device.List().FirstOrDefault(d => d.Kind is DeviceKind.Cuda or DeviceKind.OpenCL)?.Spec, null);
        }
        catch (Exception e)
        {
            return (null, e);
        }
    }
}
