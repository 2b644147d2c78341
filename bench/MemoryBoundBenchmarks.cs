using System.Globalization;
using System.Reflection;
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
/// The host engine's memory-bound ops on 32M floats (128 MiB per buffer, far past any cache) against a plain copy of the
/// same size, in one run so that the ratio means something on a shared machine, with the <c>cpu</c> device on one thread
/// and on two. Each benchmark states the bytes per element it must read and write (<see cref="TrafficAttribute"/>); the
/// GB/s column is those bytes over the mean time, and "% of copy" divides by the copy's GB/s at the same thread count.
/// Run: <c>dotnet run -c Release --project bench -- --filter '*MemoryBound*'</c>.
/// </summary>
/// <remarks>
/// The bytes are what the op must move, not what the hardware moves: a store to a line that is not in cache first reads
/// the line (write-allocate), so an op that only writes (the mask) moves about twice its counted bytes; the copy pays the
/// same for its destination.
/// </remarks>
[Config(typeof(MemoryBoundConfig))]
public class MemoryBoundBenchmarks
{
    /// <summary>Elements per buffer: 32M floats.</summary>
    public const int N = 32 << 20;

    private GpuNet.Device? _device;
    private MemoryBuffer1D<float, Stride1D.Dense>? _a, _b, _c, _d;
    private ArrayView<float> A => _a!.View;
    private ArrayView<float> B => _b!.View;
    private ArrayView<float> C => _c!.View;
    private ArrayView<float> D => _d!.View;

    /// <summary>Host threads of the <c>cpu</c> device (<see cref="DeviceOptions.Threads"/>); the copy uses as many.</summary>
    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    private static readonly SgdOptions Sgd = new() { LearningRate = 1e-3, Momentum = 0.9 };
    private static readonly AdamOptions Adam = new() { LearningRate = 1e-3 };

    [GlobalSetup]
    public void Setup()
    {
        _device = GpuNet.Device.Open("cpu", new DeviceOptions { Threads = Threads });
        _a = Filled(-1f, 1f, 1);
        _b = Filled(-1e-3f, 1e-3f, 2);
        _c = Filled(0f, 1f, 3);
        _d = Filled(0f, 1e-6f, 4);
    }

    private MemoryBuffer1D<float, Stride1D.Dense> Filled(float lo, float hi, int seed)
    {
        var rng = new Random(seed);
        var data = new float[N];
        for (int i = 0; i < data.Length; i++) data[i] = lo + (hi - lo) * rng.NextSingle();
        var buffer = _device!.Allocate(N);
        buffer.View.AsDense().CopyFromCPU(_device.Accelerator.DefaultStream, data);
        _device.Synchronize();
        return buffer;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _a?.Dispose();
        _b?.Dispose();
        _c?.Dispose();
        _d?.Dispose();
        _device?.Dispose();
    }

    /// <summary>
    /// The machine's copy bandwidth: <c>Span.CopyTo</c> (memmove) of 128 MiB on one thread, or as two halves on two.
    /// </summary>
    [Benchmark]
    [Traffic(8, IsCopy = true)]
    public void Copy() =>
        HostParallel.ForRanges(_device!, N, N / Threads, (start, count) => HostView.Span(A.SubView(start, count)).CopyTo(HostView.Span(B.SubView(start, count))));

    /// <summary>Identity forward, a copy through the host engine's 64K-element blocks.</summary>
    [Benchmark]
    [Traffic(8)]
    public void IdentityForward() => Activation.Forward(_device!, ActivationKind.Identity, A, B);

    /// <summary>ReLU forward: reads x, writes y.</summary>
    [Benchmark]
    [Traffic(8)]
    public void ReluForward() => Activation.Forward(_device!, ActivationKind.Relu, A, B);

    /// <summary>A Philox keep-mask: writes the mask.</summary>
    [Benchmark]
    [Traffic(4)]
    public void DropoutMask() => Dropout.GenerateMask(_device!, C, 0.8f, 42, 1);

    /// <summary>Inverted dropout forward: reads x and the mask, writes y.</summary>
    [Benchmark]
    [Traffic(12)]
    public void DropoutForwardTrain() => Dropout.ForwardTrain(_device!, DropoutMode.Inverted, A, C, B, 0.8f);

    /// <summary>SGD with momentum (step 2, so the buffer is read): reads w, g, buf; writes w, buf.</summary>
    [Benchmark]
    [Traffic(20)]
    public void SgdMomentumStep() => Optimizers.SgdStep(_device!, A, B, C, Sgd, 2);

    /// <summary>Adam (step 2): reads w, g, m, v; writes w, m, v.</summary>
    [Benchmark]
    [Traffic(28)]
    public void AdamStep() => Optimizers.AdamStep(_device!, A, B, C, D, default, Adam, 2);
}

/// <summary>The bytes a benchmark of <see cref="MemoryBoundBenchmarks"/> reads and writes per element, for its GB/s.</summary>
/// <param name="bytesPerElement">Bytes read plus bytes written per element.</param>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class TrafficAttribute(int bytesPerElement) : Attribute
{
    public int BytesPerElement { get; } = bytesPerElement;

    /// <summary>True for the copy that "% of copy" divides by.</summary>
    public bool IsCopy { get; init; }

    public static TrafficAttribute? Of(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<TrafficAttribute>();

    /// <summary>GB/s of a benchmark: its bytes over its mean time, or null when it has no result.</summary>
    public static double? GigabytesPerSecond(Summary summary, BenchmarkCase benchmarkCase)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        var traffic = Of(benchmarkCase);
        if (stats is null || traffic is null) return null;
        return (double)traffic.BytesPerElement * MemoryBoundBenchmarks.N / stats.Mean; // bytes per ns = GB/s
    }
}

/// <summary>Short runs: one launch, two warmups, five measured iterations.</summary>
internal sealed class MemoryBoundConfig : ManualConfig
{
    public MemoryBoundConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5));
        AddColumn(new GigabytesPerSecondColumn(), new PercentOfCopyColumn());
    }
}

/// <summary>Bytes read and written (from <see cref="TrafficAttribute"/>) over the mean time.</summary>
internal sealed class GigabytesPerSecondColumn() : CustomColumn(nameof(GigabytesPerSecondColumn), "GB/s", 0,
    "Bytes the op reads and writes (32M elements times its bytes per element) / mean time, in 10⁹ per second")
{
    protected override string Value(Summary summary, BenchmarkCase benchmarkCase) =>
        TrafficAttribute.GigabytesPerSecond(summary, benchmarkCase)?.ToString("F1", CultureInfo.InvariantCulture) ?? "NA";
}

/// <summary>GB/s as a percentage of the copy's GB/s in the same run, at the same thread count.</summary>
internal sealed class PercentOfCopyColumn() : CustomColumn(nameof(PercentOfCopyColumn), "% of copy", 1,
    "GB/s over the GB/s of the copy with the same Threads, measured in the same run")
{
    protected override string Value(Summary summary, BenchmarkCase benchmarkCase)
    {
        object? threads = benchmarkCase.Parameters["Threads"];
        double copy = summary.BenchmarksCases
            .Where(c => TrafficAttribute.Of(c)?.IsCopy == true && Equals(c.Parameters["Threads"], threads))
            .Select(c => TrafficAttribute.GigabytesPerSecond(summary, c) ?? 0)
            .DefaultIfEmpty(0)
            .Max();
        double? self = TrafficAttribute.GigabytesPerSecond(summary, benchmarkCase);
        if (self is null || copy <= 0) return "NA";
        return (100 * self.Value / copy).ToString("F0", CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// The benchmarks of <see cref="MemoryBoundBenchmarks"/> run in turn, round after round (copy, then each op, then again),
/// keeping each one's fastest round: on a machine shared with other work, the fastest round is the one least disturbed,
/// and interleaving gives the copy and the ops the same conditions, which BenchmarkDotNet's one-after-another runs do not.
/// Run: <c>dotnet run -c Release --project bench -- --interleaved [rounds]</c>.
/// </summary>
internal static class MemoryBoundInterleaved
{
    public static void Run(TextWriter output, int rounds)
    {
        var methods = typeof(MemoryBoundBenchmarks).GetMethods()
            .Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null)
            .Select(m => (Method: m, Traffic: m.GetCustomAttribute<TrafficAttribute>()!))
            .OrderByDescending(m => m.Traffic.IsCopy)
            .ToList();
        output.WriteLine($"{MemoryBoundBenchmarks.N} floats per buffer, fastest of {rounds} interleaved rounds");
        output.WriteLine("| Method | Threads | Best ms | GB/s | % of copy |");
        output.WriteLine("|---|---:|---:|---:|---:|");
        foreach (int threads in new[] { 1, 2 })
        {
            var bench = new MemoryBoundBenchmarks { Threads = threads };
            bench.Setup();
            try
            {
                var actions = methods.Select(m => m.Method.CreateDelegate<Action>(bench)).ToList();
                var best = Enumerable.Repeat(double.MaxValue, methods.Count).ToArray();
                foreach (var action in actions) action(); // JIT and first touch
                for (int round = 0; round < rounds; round++)
                {
                    for (int k = 0; k < actions.Count; k++)
                    {
                        long start = System.Diagnostics.Stopwatch.GetTimestamp();
                        actions[k]();
                        best[k] = Math.Min(best[k], System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    }
                }
                double GigabytesPerSecond(int k) => (double)methods[k].Traffic.BytesPerElement * MemoryBoundBenchmarks.N / (best[k] * 1e6);
                double copy = GigabytesPerSecond(0);
                for (int k = 0; k < methods.Count; k++)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {methods[k].Method.Name} | {threads} | {best[k]:F2} | {GigabytesPerSecond(k):F1} | {100 * GigabytesPerSecond(k) / copy:F0} |"));
                }
            }
            finally
            {
                bench.Cleanup();
            }
        }
    }
}
