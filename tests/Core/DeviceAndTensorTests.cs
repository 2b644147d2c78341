using GpuNet.Kernels;

namespace GpuNet.Tests.Core;

[Collection("devices")]
public class DeviceAndTensorTests(DeviceFixture devices)
{
    [Theory]
    [InlineData("cpu", DeviceKind.Cpu, true)]
    [InlineData("ilgpu-cpu", DeviceKind.IlgpuCpu, false)]
    [InlineData(" CPU ", DeviceKind.Cpu, true)]
    public void Open_picks_the_backend(string spec, DeviceKind kind, bool host)
    {
        using var device = Device.Open(spec);
        Assert.Equal(kind, device.Kind);
        Assert.Equal(host, device.UsesHostEngine);
        Assert.InRange(device.GroupSize, 1, device.MaxGroupSize);
    }

    [Fact]
    public void Auto_is_the_first_gpu_else_the_host_engine()
    {
        // On a GPU machine auto picks the first GPU Device.List names; without one, the host engine.
        string? gpu = GpuFactAttribute.GpuSpec;
        using var device = Device.Open("auto");
        if (gpu is null) Assert.Equal(DeviceKind.Cpu, device.Kind);
        else Assert.True(device.IsGpu, $"auto opened {device.Spec} on a machine with {gpu}");
    }

    [Theory]
    [InlineData("cuda:{count}")]
    [InlineData("opencl:{count}")]
    [InlineData("cuda:99")]
    [InlineData("tpu")]
    [InlineData("cuda:x")]
    [InlineData("cpu:1")]
    public void Unknown_or_missing_devices_say_what_is_available(string spec)
    {
        // cuda:{count} is one past the last device of that backend: missing on every machine, with or without GPUs.
        if (spec.EndsWith(":{count}", StringComparison.Ordinal))
        {
            var kind = spec.StartsWith("cuda", StringComparison.Ordinal) ? DeviceKind.Cuda : DeviceKind.OpenCL;
            spec = spec.Replace("{count}", Device.List().Count(d => d.Kind == kind).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        var e = Assert.Throws<DeviceNotAvailableException>(() => { Device.Open(spec).Dispose(); });
        Assert.Contains("not available", e.Message);
        Assert.Contains("cpu", e.Message);
        Assert.Contains("ilgpu-cpu", e.Message);
    }

    [Fact]
    public void Environment_variable_sets_the_default_device()
    {
        string? before = Environment.GetEnvironmentVariable(Device.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(Device.EnvironmentVariable, "ilgpu-cpu");
            using var device = Device.Open();
            Assert.Equal(DeviceKind.IlgpuCpu, device.Kind);
            Environment.SetEnvironmentVariable(Device.EnvironmentVariable, null);
            Assert.Equal("auto", Device.DefaultSpec);
        }
        finally
        {
            Environment.SetEnvironmentVariable(Device.EnvironmentVariable, before);
        }
    }

    [Fact]
    public void Group_size_outside_the_accelerator_limit_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => { Device.Open("ilgpu-cpu", new DeviceOptions { GroupSize = 0 }).Dispose(); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { Device.Open("ilgpu-cpu", new DeviceOptions { GroupSize = 100_000 }).Dispose(); });
    }

    [Fact]
    public void List_has_both_cpu_devices_with_their_limits()
    {
        var list = Device.List();
        Assert.Contains(list, d => d.Spec == "cpu" && d.Kind == DeviceKind.Cpu);
        var sim = Assert.Single(list, d => d.Spec == "ilgpu-cpu");
        Assert.Equal(16, sim.MaxGroupSize);
        Assert.True(sim.MemoryBytes > 0);
    }

    [Fact]
    public void The_nvidia_shaped_cpu_accelerator_gets_gpu_launch_shapes()
    {
        var device = devices.Nvidia;
        Assert.Equal(DeviceKind.IlgpuCpu, device.Kind);
        Assert.Equal("ilgpu-cpu:nvidia", device.Spec);
        Assert.False(device.IsGpu);
        Assert.True(device.LaunchesLikeGpu);
        Assert.False(devices.Ilgpu.LaunchesLikeGpu);
        Assert.Equal(32, device.Accelerator.WarpSize);
        Assert.Equal(1024, device.MaxGroupSize);
        Assert.Equal(256, device.GroupSize);
        Assert.Equal(new GemmGroupShape(16, 16), Gemm.DefaultGroupShape(device));
        var listed = Assert.Single(Device.List(), d => d.Spec == "ilgpu-cpu:nvidia");
        Assert.Equal(1024, listed.MaxGroupSize);
    }

    [Fact]
    public void A_backend_without_devices_says_why()
    {
        var backends = Device.Backends();
        Assert.Equal([DeviceKind.Cuda, DeviceKind.OpenCL], backends.Select(b => b.Kind));
        foreach (var b in backends)
        {
            if (b.Devices > 0) Assert.Null(b.Reason);
            else Assert.False(string.IsNullOrWhiteSpace(b.Reason), $"{b.Kind}: no reason");
        }
        var cuda = backends[0];
        if (cuda.Devices > 0) return;
        // Asking for the missing backend fails with that reason, in one line.
        var e = Assert.Throws<DeviceNotAvailableException>(() => { Device.Open("cuda").Dispose(); });
        Assert.Contains(cuda.Reason!, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void The_driver_library_resolver_falls_back_to_the_versioned_name()
    {
        if (!OperatingSystem.IsLinux()) return;
        // What the resolver does for libcuda.so / libcuda.so.1, with a library every glibc system has only as libc.so.6.
        var assembly = typeof(ILGPU.Context).Assembly;
        Assert.Equal(IntPtr.Zero, GpuDrivers.LoadFirst(["libgpunet-no-such-library.so"], assembly, null));
        Assert.NotEqual(IntPtr.Zero, GpuDrivers.LoadFirst(["libgpunet-no-such-library.so", "libc.so.6"], assembly, null));
        Assert.Equal(["libcuda.so", "libcuda.so.1"], GpuDrivers.LinuxCandidates["cuda"]);
        Device.List();
        bool wsl = File.Exists("/proc/version") && File.ReadAllText("/proc/version").Contains("microsoft", StringComparison.OrdinalIgnoreCase)
            && Directory.Exists("/usr/lib/wsl/lib");
        Assert.Equal(!wsl, GpuDrivers.ResolverRegistered);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void Tensor_round_trips_and_views_share_memory(string spec)
    {
        var device = devices.Get(spec);
        var data = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        using var t = Tensor.FromArray(device, data, 4, 3);
        Assert.Equal(data, t.ToArray());
        Assert.Equal([4, 3], t.Shape);

        using var rows = t.Rows(1, 2);
        Assert.False(rows.OwnsMemory);
        Assert.Equal([2, 3], rows.Shape);
        Assert.Equal([3f, 4, 5, 6, 7, 8], rows.ToArray());

        // Writing through the view changes the owner: a batch is a view, not a copy.
        Activation.Forward(device, ActivationKind.Identity, rows.View, rows.View);
        rows.CopyFrom([-1f, -2, -3, -4, -5, -6]);
        Assert.Equal([0f, 1, 2, -1, -2, -3, -4, -5, -6, 9, 10, 11], t.ToArray());

        using var flat = t.Reshape(-1);
        Assert.Equal([12], flat.Shape);
        using var r = t.Reshape(2, 2, 3);
        Assert.Equal(3, r.Rank);
        Assert.Equal(3, r.Dim(-1));
        Assert.Equal(new float[,] { { 0, 1, 2 }, { -1, -2, -3 }, { -4, -5, -6 }, { 9, 10, 11 } }, t.ToArray2D());
    }

    [Fact]
    public void Tensor_shape_errors_are_argument_exceptions()
    {
        var device = devices.Host;
        Assert.Throws<ArgumentException>(() => { Tensor.FromArray(device, new float[5], 2, 3).Dispose(); });
        Assert.Throws<ArgumentException>(() => { Tensor.Zeros(device, 2, -1).Dispose(); });
        using var t = Tensor.Zeros(device, 4, 3);
        Assert.Throws<ArgumentException>(() => { t.Reshape(5, 2); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { t.Rows(3, 2); });
        Assert.Throws<ArgumentException>(() => t.CopyFrom(new float[11]));
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => t.ToArray());
    }

    [Fact]
    public void Zeros_is_zero_and_empty_tensors_work()
    {
        using var z = Tensor.Zeros(devices.Ilgpu, 33);
        Assert.All(z.ToArray(), v => Assert.Equal(0f, v));
        using var e = Tensor.Zeros(devices.Ilgpu, 0, 5);
        Assert.Empty(e.ToArray());
    }
}
