using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Bench;

/// <summary>
/// The host engine's softmax cross-entropy (forward + backward) and sum at large sizes, in GB/s of bytes read and
/// written, next to a plain memory copy (one thread and two) as the bandwidth they should approach. Run with
/// <c>dotnet run -c Release --project bench -- --filter *LossBenchmarks*</c>.
/// </summary>
/// <remarks>
/// Bytes counted: a copy reads and writes each float once. Softmax cross-entropy forward reads the logits and labels and
/// writes the row losses; backward reads the logits and labels and reads and writes the gradient: 16·B·C + 16·B bytes
/// in all. A sum reads each float once. Re-reads that hit the cache (a row read again for its exps) are not counted.
/// 65536×10 (5.8 MB in all) fits in the last-level cache of most server processors; 8192×1000 (66 MB) does not.
/// </remarks>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 5)]
[Config(typeof(Columns))]
public class LossBenchmarks
{
    private const int CopyLength = 32 << 20;
    private const int SumLength = 16 << 20;

    private static readonly Dictionary<string, double> BytesPerCall = new()
    {
        [nameof(CopyOneThread)] = 2.0 * CopyLength * sizeof(float),
        [nameof(CopyTwoThreads)] = 2.0 * CopyLength * sizeof(float),
        [nameof(SoftmaxCrossEntropy_65536x10)] = LossBytes(65536, 10),
        [nameof(SoftmaxCrossEntropy_8192x1000)] = LossBytes(8192, 1000),
        [nameof(Sum_16M)] = (double)SumLength * sizeof(float),
    };

    private static double LossBytes(int batch, int classes) => 16.0 * batch * classes + 16.0 * batch;

    private Device _device = null!;
    private float[] _source = null!, _destination = null!;
    private LossBuffers _small = null!, _large = null!;
    private MemoryBuffer1D<float, Stride1D.Dense> _sumInput = null!, _sumResult = null!;

    [GlobalSetup]
    public void Setup()
    {
        _device = Device.Open("cpu");
        _source = new float[CopyLength];
        _destination = new float[CopyLength];
        new Random(1).NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_source.AsSpan()));
        _small = new LossBuffers(_device, 65536, 10);
        _large = new LossBuffers(_device, 8192, 1000);
        _sumInput = _device.Allocate(SumLength);
        _sumInput.CopyFromCPU(Uniform(SumLength, 3));
        _sumResult = _device.Allocate(1);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _small.Dispose();
        _large.Dispose();
        _sumInput.Dispose();
        _sumResult.Dispose();
        _device.Dispose();
    }

    /// <summary>The bandwidth reference: <see cref="Span{T}.CopyTo"/> of 32M floats on one thread.</summary>
    [Benchmark]
    public void CopyOneThread() => _source.AsSpan().CopyTo(_destination);

    /// <summary>The same copy, each half on its own thread (the host engine's ops use both cores).</summary>
    [Benchmark]
    public void CopyTwoThreads() => Parallel.For(0, 2, half =>
    {
        const int n = CopyLength / 2;
        _source.AsSpan(half * n, n).CopyTo(_destination.AsSpan(half * n, n));
    });

    [Benchmark]
    public void SoftmaxCrossEntropy_65536x10() => _small.ForwardBackward(_device);

    [Benchmark]
    public void SoftmaxCrossEntropy_8192x1000() => _large.ForwardBackward(_device);

    [Benchmark]
    public void Sum_16M() => Reduce.Sum(_device, _sumInput.View, _sumResult.View);

    private static float[] Uniform(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 8 - 4);
        return a;
    }

    private sealed class LossBuffers : IDisposable
    {
        private readonly int _batch, _classes;
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _logits, _rowLoss, _loss, _dlogits;
        private readonly MemoryBuffer1D<int, Stride1D.Dense> _labels, _correct;

        public LossBuffers(Device device, int batch, int classes)
        {
            _batch = batch;
            _classes = classes;
            _logits = device.Allocate((long)batch * classes);
            _logits.CopyFromCPU(Uniform(batch * classes, classes));
            var rng = new Random(batch);
            _labels = device.Accelerator.Allocate1D(Enumerable.Range(0, batch).Select(_ => rng.Next(classes)).ToArray());
            _rowLoss = device.Allocate(batch);
            _loss = device.Allocate(1);
            _correct = device.Accelerator.Allocate1D<int>(1);
            _dlogits = device.Allocate((long)batch * classes);
            _dlogits.MemSetToZero();
            device.Synchronize();
        }

        public void ForwardBackward(Device device)
        {
            SoftmaxCrossEntropy.Forward(device, _logits.View, _labels.View, _batch, _classes, _rowLoss.View, _loss.View, _correct.View);
            SoftmaxCrossEntropy.Backward(device, _logits.View, _labels.View, _batch, _classes, _dlogits.View);
        }

        public void Dispose()
        {
            _logits.Dispose();
            _labels.Dispose();
            _rowLoss.Dispose();
            _loss.Dispose();
            _correct.Dispose();
            _dlogits.Dispose();
        }
    }

    /// <summary>Adds the GB/s and %-of-copy columns.</summary>
    private sealed class Columns : ManualConfig
    {
        public Columns()
        {
            AddColumn(new BandwidthColumn(null), new BandwidthColumn(nameof(CopyOneThread)), new BandwidthColumn(nameof(CopyTwoThreads)));
        }
    }

    /// <summary>GB/s (10^9 bytes per second) from the mean time, or that as a percentage of a copy benchmark's GB/s.</summary>
    private sealed class BandwidthColumn(string? reference) : CustomColumn(
        $"{nameof(BandwidthColumn)}.{reference}",
        reference is null ? "GB/s" : $"% of {reference}",
        reference is null ? 0 : 1,
        reference is null ? "Bytes read + written per call / mean time, in 10^9 bytes per second" : $"GB/s as a percentage of {reference}'s GB/s")
    {
        protected override string Value(Summary summary, BenchmarkCase benchmarkCase)
        {
            double? gbs = Bandwidth(summary, benchmarkCase);
            if (gbs is null) return "-";
            if (reference is null) return gbs.Value.ToString("F1", CultureInfo.InvariantCulture);
            var copy = summary.BenchmarksCases.FirstOrDefault(c => c.Descriptor.WorkloadMethod.Name == reference);
            double? copyGbs = copy is null ? null : Bandwidth(summary, copy);
            return copyGbs is null ? "-" : (100 * gbs.Value / copyGbs.Value).ToString("F0", CultureInfo.InvariantCulture) + "%";
        }

        private static double? Bandwidth(Summary summary, BenchmarkCase benchmarkCase)
        {
            double? ns = summary[benchmarkCase]?.ResultStatistics?.Mean;
            if (ns is null || !BytesPerCall.TryGetValue(benchmarkCase.Descriptor.WorkloadMethod.Name, out double bytes)) return null;
            return bytes / ns.Value; // bytes per ns = GB/s
        }
    }
}
