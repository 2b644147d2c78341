using System.Diagnostics;
using System.Globalization;
using GpuNet.Kernels;
using GpuNet.Neighbors;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Experiments.Commands;

/// <summary>
/// The timings of <c>gpunet check</c>, each on the shapes the PyTorch peers of <c>scripts/gpu-check.sh</c> time
/// (<c>bench/peers/gemm.py</c>, <c>mlp_epoch.py</c>, <c>knn_torch.py</c>), so the two can be put side by side:
/// GEMM GFLOP/s (through <see cref="GemmBench"/>), seconds per MLP epoch (through <see cref="EpochBench"/>), the k-NN test
/// search on random data of Fashion-MNIST's shape, and the launch overhead of an empty kernel.
/// </summary>
internal static class CheckTimings
{
    /// <summary>One group of timings; each adds its rows as it finishes, so a report written in between keeps them.</summary>
    public sealed record Group(string Name, Action<Device, List<TimingRow>, TextWriter> Run);

    /// <summary>The timing groups of a mode, in the order they run.</summary>
    public static IReadOnlyList<Group> Groups(bool quick) =>
    [
        new("launch overhead", (d, rows, log) => LaunchOverhead(d, rows, log, launches: quick ? 200 : 2000)),
        new("launches per step", (d, rows, log) => StepLaunches(d, rows, log, batch: quick ? 16 : 64)),
        // --quick: one shape of each kind ILGPU's simulated threads run in a fraction of a second.
        new("GEMM", (d, rows, log) => Gemm(d, rows, log, quick ? "64,8x784x256:NT" : "1024,2048,4096,8192,mlp64,mlp256", seconds: quick ? 0.02 : 0.5)),
        new("MLP epoch", (d, rows, log) =>
        {
            foreach (int batch in quick ? new[] { 16 } : new[] { 64, 256, 1024 })
                Epoch(d, rows, log, batch, samples: quick ? 32 : 60_000, epochs: quick ? 1 : 3);
        }),
        new("k-NN search", (d, rows, log) =>
        {
            foreach (var metric in new[] { KnnMetric.L2, KnnMetric.L1 })
                KnnSearch(d, rows, log, metric, queries: quick ? 16 : 10_000, references: quick ? 256 : 60_000, k: quick ? 21 : 201);
        }),
    ];

    private static void Gemm(Device device, List<TimingRow> rows, TextWriter log, string sizes, double seconds)
    {
        var shapes = GemmBench.ParseShapes(sizes);
        var gflops = GemmBench.Run(device, shapes, seconds, log);
        for (int i = 0; i < shapes.Count; i++)
            rows.Add(new TimingRow("gemm", shapes[i].ToString(), gflops[i], "GFLOP/s", "median of timed batches"));
    }

    private static void Epoch(Device device, List<TimingRow> rows, TextWriter log, int batch, int samples, int epochs)
    {
        double seconds = EpochBench.Run(device, batch, epochs, samples, log);
        rows.Add(new TimingRow("epoch", $"batch={batch} samples={samples}", seconds, "s",
            $"784-256-128-10 MLP, SGD, random data; median of {epochs} epochs after a warm-up"));
    }

    /// <summary>
    /// The k-NN test search of <c>gpunet run knn</c> (distances and top-k of every query against every reference) on
    /// uniform random pixels in [0, 1] of Fashion-MNIST's size; the data set itself is not needed.
    /// </summary>
    private static void KnnSearch(Device device, List<TimingRow> rows, TextWriter log, KnnMetric metric, int queries, int references, int k)
    {
        const int dim = 784;
        var rng = new Random(5);
        float[] Fill(long n)
        {
            var a = new float[n];
            for (long i = 0; i < n; i++) a[i] = (float)rng.NextDouble();
            return a;
        }
        using var q = Tensor.FromArray(device, Fill((long)queries * dim), queries, dim);
        using var r = Tensor.FromArray(device, Fill((long)references * dim), references, dim);
        // A small search first: kernel compilation and host scratch buffers stay out of the timing.
        int warmQueries = Math.Min(queries, 8), warmReferences = Math.Min(references, 64);
        using (NeighborLists.Search(device, q.View.SubView(0, (long)warmQueries * dim), warmQueries,
                   r.View.SubView(0, (long)warmReferences * dim), warmReferences, dim, metric, Math.Min(k, warmReferences))) { }
        device.Synchronize();
        var timings = new KnnTimings();
        var clock = Stopwatch.StartNew();
        using (NeighborLists.Search(device, q.View, queries, r.View, references, dim, metric, k, timings: timings)) { }
        device.Synchronize();
        double seconds = clock.Elapsed.TotalSeconds;
        string name = metric.ToString().ToLowerInvariant();
        string shape = $"{name} {queries}x{references}x{dim} k={k}";
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"knn-search {shape} {device.Spec} {seconds:F3} s (distances {timings.DistanceSeconds:F3} s, top-k {timings.TopKSeconds:F3} s)"));
        rows.Add(new TimingRow("knn-search", shape, seconds, "s", string.Create(CultureInfo.InvariantCulture,
            $"distances {timings.DistanceSeconds:F3} s + top-k {timings.TopKSeconds:F3} s; random pixels in [0, 1]")));
    }

    /// <summary>What one SGD step of the 784-256-128-10 ReLU MLP launches on <paramref name="device"/> (after a warm-up
    /// step): kernel launches, stream clears, and the launches by kernel.</summary>
    internal static (long Launches, long Clears, IReadOnlyDictionary<string, long> ByKernel) CountStep(Device device, int batch)
    {
        const int features = 784, classes = 10;
        var rng = new Random(7);
        var x = new float[batch * features];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var y = new int[batch];
        for (int i = 0; i < batch; i++) y[i] = rng.Next(classes);
        using var xs = Tensor.FromArray(device, x, batch, features);
        using var labels = device.Accelerator.Allocate1D(y);
        using var model = new Nn.Sequential(device, features, 42, new Nn.Linear(784, 256), new Nn.ReLU(), new Nn.Linear(256, 128),
            new Nn.ReLU(), new Nn.Linear(128, 10));
        using var loss = new Nn.CrossEntropyLoss(device);
        using var sgd = new Nn.Sgd(model.Parameters, lr: 0.1);
        model.Train();
        void Step()
        {
            sgd.ZeroGrad();
            var logits = model.Forward(xs);
            model.Backward(loss.ForwardBackward(logits, labels.View));
            sgd.Step();
        }
        Step();
        device.Synchronize();
        long launches = device.KernelLaunches, clears = device.StreamClears;
        var before = device.LaunchesByKernel;
        Step();
        device.Synchronize();
        var byKernel = device.LaunchesByKernel
            .Select(kv => (kv.Key, Count: kv.Value - before.GetValueOrDefault(kv.Key)))
            .Where(kv => kv.Count > 0)
            .ToDictionary(kv => kv.Key, kv => kv.Count, StringComparer.Ordinal);
        return (device.KernelLaunches - launches, device.StreamClears - clears, byKernel);
    }

    private static void StepLaunches(Device device, List<TimingRow> rows, TextWriter log, int batch)
    {
        if (device.UsesHostEngine)
        {
            log.WriteLine("launches per step: skipped, the host engine launches no kernels");
            return;
        }
        var (launches, clears, byKernel) = CountStep(device, batch);
        string kernels = string.Join(", ", byKernel.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value}"));
        log.WriteLine($"launches per step {device.Spec}: {launches} kernels + {clears} clears ({kernels})");
        rows.Add(new TimingRow("launches", $"one SGD step, 784-256-128-10 ReLU, batch {batch}", launches, "launches",
            $"counted by the device, after a warm-up step; plus {clears} stream clears; {kernels}"));
    }

    /// <summary>
    /// Launch overhead of an empty kernel of one group: launches queued back to back (the cost a training step pays per
    /// op), and one launch followed by a synchronisation (the round trip a read-back pays).
    /// </summary>
    private static void LaunchOverhead(Device device, List<TimingRow> rows, TextWriter log, int launches)
    {
        if (device.UsesHostEngine)
        {
            log.WriteLine("launch overhead: skipped, the host engine launches no kernels");
            return;
        }
        using var sink = device.Accelerator.Allocate1D<int>(1);
        void kernel() => LaunchProbe.Launch(device, sink.View);
        kernel();
        device.Synchronize();

        var clock = Stopwatch.StartNew();
        for (int i = 0; i < launches; i++) kernel();
        device.Synchronize();
        double queued = clock.Elapsed.TotalSeconds / launches * 1e6;

        int roundTrips = Math.Max(1, launches / 10);
        clock.Restart();
        for (int i = 0; i < roundTrips; i++)
        {
            kernel();
            device.Synchronize();
        }
        double synced = clock.Elapsed.TotalSeconds / roundTrips * 1e6;
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"launch {device.Spec}: {queued:F2} us per queued launch, {synced:F2} us per launch + synchronize"));
        rows.Add(new TimingRow("launch", "empty kernel, queued", queued, "us", $"mean of {launches} launches back to back"));
        rows.Add(new TimingRow("launch", "empty kernel + synchronize", synced, "us", $"mean of {roundTrips} round trips"));
    }
}
