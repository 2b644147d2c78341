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
/// Square GEMM, <c>C = A·B</c> with n×n matrices, through the public <see cref="Gemm.Run(Device, Transpose, Transpose, int, int, int, float, ArrayView{float}, ArrayView{float}, float, ArrayView{float})"/> on each device, reported in
/// GFLOP/s (2·n³ / mean time). 1023 is there because it is a multiple of no tile. Each invocation ends with a
/// synchronize, so the time is the kernel's, not its launch's.
/// Run: <c>dotnet run -c Release --project bench -- --filter '*Gemm*'</c>.
/// </summary>
[Config(typeof(GemmConfig))]
public class GemmBenchmarks
{
    private GemmProblem? _problem;

    [Params("ilgpu-cpu", "cpu")]
    public string Device { get; set; } = "cpu";

    [Params(256, 512, 1023, 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup() => _problem = new GemmProblem(Device, Size);

    [GlobalCleanup]
    public void Cleanup() => _problem?.Dispose();

    [Benchmark]
    public void Gemm() => _problem!.Run(GemmKernel.Run);
}

/// <summary>
/// The two ILGPU kernels side by side on the ILGPU CPU accelerator: the one-thread-per-element baseline against the
/// tiled, register-blocked kernel that <see cref="Gemm.Run(Device, Transpose, Transpose, int, int, int, float, ArrayView{float}, ArrayView{float}, float, ArrayView{float})"/> uses. (On a GPU the gap is far larger; on the CPU
/// accelerator group barriers are OS-thread barriers, which is what the tiled kernel pays for.)
/// </summary>
[Config(typeof(GemmConfig))]
public class GemmKernelBenchmarks
{
    private GemmProblem? _problem;

    [Params(GemmKernel.Simple, GemmKernel.Tiled)]
    public GemmKernel Kernel { get; set; }

    [Params(256, 512)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup() => _problem = new GemmProblem("ilgpu-cpu", Size);

    [GlobalCleanup]
    public void Cleanup() => _problem?.Dispose();

    [Benchmark]
    public void Gemm() => _problem!.Run(Kernel);
}

public enum GemmKernel
{
    /// <summary>The public entry, whatever it dispatches to on the device.</summary>
    Run,
    /// <summary>The one-thread-per-element ILGPU kernel.</summary>
    Simple,
    /// <summary>The shared-memory tiled ILGPU kernel with the device's default group shape.</summary>
    Tiled,
}

/// <summary>An open device with three n×n buffers; A and B hold uniform values in [-1, 1].</summary>
internal sealed class GemmProblem : IDisposable
{
    private readonly GpuNet.Device _device;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _a, _b, _c;
    private readonly int _n;

    public GemmProblem(string spec, int n)
    {
        _device = GpuNet.Device.Open(spec);
        _n = n;
        var rng = new Random(42);
        var data = new float[n * n];
        _a = Upload(data, rng);
        _b = Upload(data, rng);
        _c = _device.Allocate((long)n * n);
        // Load and compile the kernels before the first measurement.
        Run(GemmKernel.Run);
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Upload(float[] data, Random rng)
    {
        for (int i = 0; i < data.Length; i++) data[i] = 2f * rng.NextSingle() - 1f;
        var buffer = _device.Allocate(data.Length);
        buffer.View.AsDense().CopyFromCPU(_device.Accelerator.DefaultStream, data);
        _device.Synchronize();
        return buffer;
    }

    public void Run(GemmKernel kernel)
    {
        ArrayView<float> a = _a.View, b = _b.View, c = _c.View;
        switch (kernel)
        {
            case GemmKernel.Run:
                Gemm.Run(_device, Transpose.No, Transpose.No, _n, _n, _n, 1f, a, b, 0f, c);
                break;
            case GemmKernel.Simple:
                Gemm.RunSimple(_device, Transpose.No, Transpose.No, _n, _n, _n, 1f, a, b, 0f, c);
                break;
            case GemmKernel.Tiled:
                Gemm.RunTiled(_device, Transpose.No, Transpose.No, _n, _n, _n, 1f, a, b, 0f, c, Gemm.DefaultGroupShape(_device));
                break;
        }
        _device.Synchronize();
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
        _device.Dispose();
    }
}

/// <summary>
/// Few iterations: on the ILGPU CPU accelerator one 1024³ GEMM takes seconds. BenchmarkDotNet runs a single invocation
/// per iteration when one takes longer than the iteration time, and several otherwise.
/// </summary>
internal sealed class GemmConfig : ManualConfig
{
    public GemmConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(5));
        AddColumn(new GflopsColumn());
    }
}

/// <summary>GFLOP/s of a GEMM benchmark: 2·Size³ floating-point operations (square, a <c>Size</c> parameter) or 2·M·K·N
/// (a <c>Shape</c> parameter <c>MxKxN:XY</c>) over the mean time.</summary>
internal sealed class GflopsColumn()
    : CustomColumn(nameof(GflopsColumn), "GFLOP/s", 0, "2·M·K·N floating-point operations / mean time, in 10⁹ per second")
{
    protected override string Value(Summary summary, BenchmarkCase benchmarkCase)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (stats is null) return "NA";
        double flops;
        if (benchmarkCase.Parameters["Size"] is int size) flops = 2.0 * size * size * size;
        else if (benchmarkCase.Parameters["Shape"] is string shape)
        {
            var (m, k, n, _, _) = GemmPathBenchmarks.Parse(shape);
            flops = 2.0 * m * k * n;
        }
        else return "NA";
        return (flops / stats.Mean).ToString("F2", System.Globalization.CultureInfo.InvariantCulture); // flop per ns = GFLOP/s
    }
}
