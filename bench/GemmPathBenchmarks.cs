using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Bench;

/// <summary>
/// The host GEMM's two algorithms on the small and narrow products of the 784-256-128-10 MLP's training step
/// (<c>MxKxN:XY</c>, X and Y the transposes of A and B): the packed, cache-blocked one and the direct one, forced in turn,
/// to choose where the automatic choice (<c>Gemm.UsesDirectPath</c>) switches. Reported in GFLOP/s.
/// Run: <c>dotnet run -c Release --project bench -- --filter '*GemmPath*'</c>.
/// </summary>
[Config(typeof(GemmPathConfig))]
public class GemmPathBenchmarks
{
    private GpuNet.Device? _device;
    private MemoryBuffer1D<float, Stride1D.Dense>? _a, _b, _c;
    private (int M, int K, int N, Transpose TA, Transpose TB) _shape;

    [Params("64x128x10:NT", "256x128x10:NT", "10x64x128:TN", "10x256x128:TN", "64x10x128:NN", "256x10x128:NN",
        "64x256x128:NT", "64x128x256:NN", "128x64x256:TN")]
    public string Shape { get; set; } = "64x128x10:NT";

    [Params(GemmPath.Packed, GemmPath.Direct)]
    public GemmPath Path { get; set; }

    private HostGemmPath Forced => Path == GemmPath.Packed ? HostGemmPath.Packed : HostGemmPath.Direct;

    [GlobalSetup]
    public void Setup()
    {
        _shape = Parse(Shape);
        _device = GpuNet.Device.Open("cpu");
        var rng = new Random(42);
        _a = Upload((long)_shape.M * _shape.K, rng);
        _b = Upload((long)_shape.K * _shape.N, rng);
        _c = _device.Allocate((long)_shape.M * _shape.N);
        GpuNet.Kernels.Gemm.ForceHostPath = Forced;
        Run();
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Upload(long n, Random rng)
    {
        var data = new float[n];
        for (int i = 0; i < data.Length; i++) data[i] = 2f * rng.NextSingle() - 1f;
        var buffer = _device!.Allocate(n);
        buffer.View.AsDense().CopyFromCPU(_device.Accelerator.DefaultStream, data);
        _device.Synchronize();
        return buffer;
    }

    internal static (int M, int K, int N, Transpose TA, Transpose TB) Parse(string shape)
    {
        var parts = shape.Split(':');
        var dims = parts[0].Split('x').Select(int.Parse).ToArray();
        static Transpose T(char c) => c == 'T' ? Transpose.Yes : Transpose.No;
        return (dims[0], dims[1], dims[2], T(parts[1][0]), T(parts[1][1]));
    }

    [Benchmark]
    public void Gemm()
    {
        // The path is forced per thread, and BenchmarkDotNet may call setup and the benchmark on different threads.
        GpuNet.Kernels.Gemm.ForceHostPath = Forced;
        Run();
    }

    private void Run()
    {
        var (m, k, n, ta, tb) = _shape;
        GpuNet.Kernels.Gemm.Run(_device!, ta, tb, m, n, k, 1f, _a!.View, _b!.View, 0f, _c!.View);
        _device!.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        GpuNet.Kernels.Gemm.ForceHostPath = HostGemmPath.Auto;
        _a?.Dispose();
        _b?.Dispose();
        _c?.Dispose();
        _device?.Dispose();
    }
}

/// <summary>The host GEMM algorithm a benchmark forces.</summary>
public enum GemmPath
{
    /// <summary>Packed panels and a register-blocked micro-kernel.</summary>
    Packed,
    /// <summary>op(B) copied once, op(A) read in place.</summary>
    Direct,
}

internal sealed class GemmPathConfig : ManualConfig
{
    public GemmPathConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10));
        AddColumn(new GflopsColumn());
    }
}
