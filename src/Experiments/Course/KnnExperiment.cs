using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Kernels;
using GpuNet.Neighbors;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run knn</c>: k-nearest-neighbour classification of Fashion-MNIST on raw pixels (÷255), by brute force on the
/// device, with squared-L2 (GEMM) and L1 distances, uniform and distance-weighted votes, for k from 1 to 201. The 201
/// nearest training images of every test image (and of a training subset, each without itself) are found once per
/// metric and every k votes from those lists. Nothing is trained: each seed's sweep is one run of the engine, and the
/// seed only picks the subsets (the leave-one-out images; in a quick run also the references and test images). The report
/// reads the bias/variance trade-off off the error curves.
/// </summary>
public sealed class KnnExperiment : ICourseExperiment
{
    /// <summary>The k values of the sweep.</summary>
    public static readonly int[] KValues = [1, 3, 5, 7, 9, 15, 25, 51, 101, 201];

    /// <summary>Test images of a quick run (stratified).</summary>
    public const int QuickTestImages = 1000;

    /// <summary>Reference (training) images of a quick run (stratified).</summary>
    public const int QuickReferenceImages = 5000;

    /// <summary>Training images whose leave-one-out error is measured in a full run (stratified, among the references).</summary>
    public const int TrainErrorImages = 5000;

    /// <summary>Training images whose leave-one-out error is measured in a quick run.</summary>
    public const int QuickTrainErrorImages = 500;

    /// <summary>The metrics, in the order they run.</summary>
    public static readonly KnnMetric[] Metrics = [KnnMetric.L2, KnnMetric.L1];

    /// <summary>The votes.</summary>
    public static readonly KnnWeights[] Weightings = [KnnWeights.Uniform, KnnWeights.Distance];

    // The salts of the subsets a seed draws (CourseData.Subset): references, leave-one-out images, test images.
    private const int ReferenceSalt = 11, LeaveOneOutSalt = 12, TestSalt = 13;

    /// <inheritdoc />
    public string Name => "knn";

    /// <inheritdoc />
    public string Summary => "k-NN on raw pixels with L2 and L1 distances, uniform and distance votes, k = 1..201: train and test error vs k.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary)
    {
        var results = (summary["results"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        string At(string metric, int k)
        {
            var r = results.FirstOrDefault(r => Summaries.Text(r, "metric") == metric && Summaries.Text(r, "weights") == "uniform"
                && Summaries.Number(r, "k") == k);
            return r is null ? "-" : RunFiles.Pct(1 - (Summaries.Number(r, "test_error") ?? double.NaN));
        }
        return $"chosen by leave-one-out: {Summaries.Text(summary, "selected.metric")} {Summaries.Text(summary, "selected.weights")} " +
            $"k={Summaries.Number(summary, "selected.k")}, test accuracy {Summaries.MeanWithInterval(summary, "over_seeds.test_accuracy", RunFiles.Pct)}; " +
            $"uniform k=5: L2 {At("l2", 5)}, L1 {At("l1", 5)}";
    }

    /// <summary>Seeds by default: one sweep is deterministic, and the seed only picks its subsets; more seeds give the spread
    /// of the leave-one-out figures (and, in a quick run, of the test figures).</summary>
    public int DefaultSeeds => 1;

    /// <summary>The name of a metric in files: <c>l2</c> or <c>l1</c>.</summary>
    public static string MetricName(KnnMetric metric) => metric == KnnMetric.L2 ? "l2" : "l1";

    /// <summary>The name of a weighting in files: <c>uniform</c> or <c>distance</c>.</summary>
    public static string WeightsName(KnnWeights weights) => weights == KnnWeights.Uniform ? "uniform" : "distance";

    /// <summary>One point of a seed's sweep.</summary>
    internal sealed record Point(int K, KnnMetric Metric, KnnWeights Weights, int TrainWrong, int TrainWrongWithSelf, int TrainCount,
        int TestWrong, int TestCount)
    {
        public double TrainError => (double)TrainWrong / TrainCount;
        public double TrainErrorWithSelf => (double)TrainWrongWithSelf / TrainCount;
        public double TestError => (double)TestWrong / TestCount;
    }

    /// <summary>One point of the sweep over seeds.</summary>
    internal sealed record Figure(int K, KnnMetric Metric, KnnWeights Weights, Estimate TrainError, Estimate TrainErrorWithSelf, Estimate TestError);

    /// <summary>The wall times of one metric's searches (seconds).</summary>
    private sealed record MetricTimes(string Metric, double TestDistance, double TestTopK, double TrainDistance, double TrainTopK, double Vote);

    /// <inheritdoc />
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context) =>
        context.Seeds.Select(seed => (PlannedRun)Sweep.Of(context.Data(seed), context.Quick)).ToList();

    // ----- the sweep of one seed (a run of the engine) ---------------------------------------------------------------

    /// <summary>Every metric, weighting and k on one seed's images: the neighbour lists are searched once per metric and every
    /// k votes from them. Its folder gets metrics.csv (one row per point, no wall times), timing.csv and timing.json (the
    /// searches' wall times), summary.json (the sizes and the seed's own leave-one-out choice).</summary>
    private sealed class Sweep : PlannedRun
    {
        private Sweep(int seed, int[] references, int[] test, int[] leaveOneOut, int[] ks, int kMax) : base("knn", seed)
        {
            References = references;
            Test = test;
            LeaveOneOut = leaveOneOut;
            Ks = ks;
            KMax = kMax;
        }

        /// <summary>Indices of the reference images in the official training set.</summary>
        public int[] References { get; }

        /// <summary>Indices of the test images.</summary>
        public int[] Test { get; }

        /// <summary>Positions in <see cref="References"/> of the leave-one-out queries (each excludes itself by its position).</summary>
        public int[] LeaveOneOut { get; }

        /// <summary>The k values that fit the references.</summary>
        public int[] Ks { get; }

        /// <summary>How many neighbours the lists hold.</summary>
        public int KMax { get; }

        /// <summary>The sweep of <paramref name="data"/>'s seed: the whole sets in a full run, stratified subsets in a quick one.</summary>
        public static Sweep Of(CourseData data, bool quick)
        {
            int[] allTrain = Enumerable.Range(0, data.TrainSet.Count).ToArray();
            int[] references = quick ? data.Subset(allTrain, QuickReferenceImages, ReferenceSalt) : allTrain;
            int[] test = quick ? data.TestSubset(QuickTestImages, TestSalt) : data.TestIndices;
            int count = Math.Min(quick ? QuickTrainErrorImages : TrainErrorImages, references.Length);
            var referenceLabels = references.Select(i => data.TrainSet.Labels[i]).ToArray();
            int[] leaveOneOut = count == references.Length
                ? Enumerable.Range(0, references.Length).ToArray()
                : CourseData.Stratified(referenceLabels, data.TrainSet.Classes, count, data.Seed, LeaveOneOutSalt);
            int kMax = Math.Min(KValues[^1], references.Length - 1);
            int[] ks = KValues.Where(k => k <= kMax).ToArray();
            if (ks.Length == 0) throw new InvalidOperationException($"k-NN needs at least 2 reference images; the data has {references.Length}.");
            return new Sweep(data.Seed, references, test, leaveOneOut, ks, kMax);
        }

        /// <inheritdoc />
        public override JsonObject Identity() => new()
        {
            ["sweep"] = "k-NN on pixel / 255",
            ["reference_images"] = References.Length,
            ["references_sha256"] = Digest(References),
            ["test_images"] = Test.Length,
            ["test_sha256"] = Digest(Test),
            ["train_error_images"] = LeaveOneOut.Length,
            ["train_error_positions_sha256"] = Digest(LeaveOneOut),
            ["k_values"] = new JsonArray(Ks.Select(k => (JsonNode)k).ToArray()),
            ["metrics"] = new JsonArray(Metrics.Select(m => (JsonNode)MetricName(m)).ToArray()),
            ["weights"] = new JsonArray(Weightings.Select(w => (JsonNode)WeightsName(w)).ToArray()),
            ["reference_chunk"] = new KnnSearchOptions().ReferenceChunk,
        };

        /// <inheritdoc />
        public override FinishedRun Read(string directory) => new SweepResult(this, directory);

        /// <inheritdoc />
        public override void Fit(RunContext context)
        {
            var data = context.Data;
            var device = context.Device;
            var console = context.Console;
            int classes = data.TrainSet.Classes, dim = data.TrainSet.PixelsPerImage;
            console.WriteLine($"k-NN (seed {Seed}): {Test.Length:N0} test and {LeaveOneOut.Length:N0} training queries against {References.Length:N0} " +
                $"reference images of {dim} pixels (÷255), top-{KMax} per metric");

            var referenceLabels = References.Select(i => data.TrainSet.Labels[i]).ToArray();
            var testLabels = Test.Select(i => (int)data.TestSet.Labels[i]).ToArray();
            var trainLabels = LeaveOneOut.Select(p => (int)referenceLabels[p]).ToArray();
            using var owned = new DisposableList();
            bool allReferences = References.Length == data.TrainSet.Count, allTest = Test.Length == data.TestSet.Count;
            ArrayView<float> refs = allReferences ? data.Train.Pixels.View : Gather(device, data.Train.Pixels.View, dim, References, owned);
            ArrayView<int> refLabels = allReferences ? data.Train.Labels.View : GatherLabels(device, data.Train.Labels.View, References, owned);
            ArrayView<float> testQueries = allTest ? data.Test.Pixels.View : Gather(device, data.Test.Pixels.View, dim, Test, owned);
            ArrayView<float> trainQueries = Gather(device, refs, dim, LeaveOneOut, owned);

            var points = new List<Point>();
            var times = new List<MetricTimes>();
            foreach (var metric in Metrics)
            {
                string name = MetricName(metric);
                var testTimes = new KnnTimings();
                var trainTimes = new KnnTimings();
                using var testLists = NeighborLists.Search(device, testQueries, Test.Length, refs, References.Length, dim, metric, KMax, timings: testTimes);
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: {Test.Length:N0} x {References.Length:N0}: distances {testTimes.DistanceSeconds:F2} s, top-{KMax} {testTimes.TopKSeconds:F2} s"));
                using var trainLists = NeighborLists.Search(device, trainQueries, LeaveOneOut.Length, refs, References.Length, dim, metric, KMax,
                    exclude: LeaveOneOut, timings: trainTimes);
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name}: {LeaveOneOut.Length:N0} x {References.Length:N0} without self: distances {trainTimes.DistanceSeconds:F2} s, top-{KMax} {trainTimes.TopKSeconds:F2} s"));
                using var withSelf = WithSelf(device, trainLists, LeaveOneOut);

                var votes = new KnnTimings();
                foreach (var weights in Weightings)
                    foreach (int k in Ks)
                    {
                        int testWrong = Wrong(testLists.Predict(k, refLabels, classes, weights, votes), testLabels);
                        int trainWrong = Wrong(trainLists.Predict(k, refLabels, classes, weights, votes), trainLabels);
                        int selfWrong = Wrong(withSelf.Predict(k, refLabels, classes, weights, votes), trainLabels);
                        points.Add(new Point(k, metric, weights, trainWrong, selfWrong, trainLabels.Length, testWrong, testLabels.Length));
                    }
                times.Add(new MetricTimes(name, testTimes.DistanceSeconds, testTimes.TopKSeconds, trainTimes.DistanceSeconds, trainTimes.TopKSeconds,
                    votes.VoteSeconds));
                foreach (var weights in Weightings)
                    console.WriteLine($"{name} {WeightsName(weights),-8} test error " + string.Join(", ",
                        points.Where(p => p.Metric == metric && p.Weights == weights).Select(p => $"k={p.K} {RunFiles.Pct(p.TestError)}")));
            }
            Write(context.Folder, points, times);
        }

        private void Write(RunFolder folder, List<Point> points, List<MetricTimes> times)
        {
            var metrics = new StringBuilder("run," + PointColumns + "\n");
            foreach (var p in points)
                metrics.AppendLine(string.Join(",", Name, MetricName(p.Metric), WeightsName(p.Weights), I(p.K), R(p.TrainError), R(p.TrainErrorWithSelf),
                    R(p.TestError), I(p.TrainWrong), I(p.TrainWrongWithSelf), I(p.TrainCount), I(p.TestWrong), I(p.TestCount)));
            folder.WriteText("metrics.csv", metrics.ToString());

            var timing = new StringBuilder(TimingColumns + "\n");
            foreach (var t in times)
            {
                timing.AppendLine(string.Join(",", t.Metric, "test", I(Test.Length), I(References.Length), F3(t.TestDistance), F3(t.TestTopK)));
                timing.AppendLine(string.Join(",", t.Metric, "train", I(LeaveOneOut.Length), I(References.Length), F3(t.TrainDistance), F3(t.TrainTopK)));
            }
            folder.WriteText("timing.csv", timing.ToString());
            folder.WriteJson(TimingFile, new JsonObject(times.Select(t => KeyValuePair.Create(t.Metric, (JsonNode?)new JsonObject
            {
                ["test_distance_seconds"] = Math.Round(t.TestDistance, 3),
                ["test_topk_seconds"] = Math.Round(t.TestTopK, 3),
                ["train_distance_seconds"] = Math.Round(t.TrainDistance, 3),
                ["train_topk_seconds"] = Math.Round(t.TrainTopK, 3),
                ["vote_seconds"] = Math.Round(t.Vote, 3),
            }))));

            var own = points.MinBy(p => (p.TrainError, p.Metric, p.Weights, p.K))!;
            folder.WriteJson(RunStore.SummaryFile, new JsonObject
            {
                ["run"] = Key,
                ["reference_images"] = References.Length,
                ["test_images"] = Test.Length,
                ["train_error_images"] = LeaveOneOut.Length,
                ["k_max"] = KMax,
                ["k_values"] = new JsonArray(Ks.Select(k => (JsonNode)k).ToArray()),
                ["selected"] = PointJson(own),
            });
        }
    }

    /// <summary>A finished <see cref="Sweep"/> read back from its folder.</summary>
    private sealed class SweepResult : FinishedRun
    {
        public SweepResult(Sweep plan, string directory) : base(plan, directory)
        {
            Points = System.IO.File.ReadLines(File("metrics.csv")).Skip(1).Select(line =>
            {
                var f = line.Split(',');
                int N(int i) => int.Parse(f[i], CultureInfo.InvariantCulture);
                return new Point(N(3), f[1] == "l2" ? KnnMetric.L2 : KnnMetric.L1, f[2] == "uniform" ? KnnWeights.Uniform : KnnWeights.Distance,
                    N(7), N(8), N(9), N(10), N(11));
            }).ToList();
            var timing = RunStore.ReadObject(File(TimingFile));
            Times = Metrics.Select(MetricName).Where(timing.ContainsKey).Select(m => new MetricTimes(m,
                Summaries.Number(timing, $"{m}.test_distance_seconds") ?? 0, Summaries.Number(timing, $"{m}.test_topk_seconds") ?? 0,
                Summaries.Number(timing, $"{m}.train_distance_seconds") ?? 0, Summaries.Number(timing, $"{m}.train_topk_seconds") ?? 0,
                Summaries.Number(timing, $"{m}.vote_seconds") ?? 0)).ToList();
        }

        public int Seed => Plan.Seed;

        public IReadOnlyList<Point> Points { get; }

        public IReadOnlyList<MetricTimes> Times { get; }

        public Sweep Sweep => (Sweep)Plan;

        public Point At(Figure f) => Points.First(p => p.Metric == f.Metric && p.Weights == f.Weights && p.K == f.K);

        /// <summary>The seed's own choice: the lowest leave-one-out error (ties: L2 before L1, uniform before distance, smaller k).</summary>
        public Point Selected => Points.MinBy(p => (p.TrainError, p.Metric, p.Weights, p.K))!;
    }

    private const string PointColumns = "metric,weights,k,train_error,train_error_with_self,test_error,train_wrong,train_wrong_with_self,train_images,test_wrong,test_images";

    private const string TimingColumns = "metric,search,queries,references,distance_seconds,topk_seconds";

    private const string TimingFile = "timing.json";

    private static JsonObject PointJson(Point p) => new()
    {
        ["metric"] = MetricName(p.Metric),
        ["weights"] = WeightsName(p.Weights),
        ["k"] = p.K,
        ["train_error"] = p.TrainError,
        ["test_error"] = p.TestError,
    };

    // ----- device helpers --------------------------------------------------------------------------------------------

    /// <summary>Rows <paramref name="indices"/> of <paramref name="source"/>, copied into a new device buffer.</summary>
    private static ArrayView<float> Gather(Device device, ArrayView<float> source, int dim, int[] indices, DisposableList owned)
    {
        var idx = owned.Add(device.Accelerator.Allocate1D(indices));
        var rows = owned.Add(device.Allocate((long)indices.Length * dim));
        Kernels.Gather.Rows(device, source, dim, idx.View, rows.View);
        return rows.View;
    }

    private static ArrayView<int> GatherLabels(Device device, ArrayView<int> source, int[] indices, DisposableList owned)
    {
        var idx = owned.Add(device.Accelerator.Allocate1D(indices));
        var labels = owned.Add(device.Accelerator.Allocate1D<int>(indices.Length));
        Kernels.Gather.Values(device, source, idx.View, labels.View);
        return labels.View;
    }

    /// <summary>
    /// The leave-one-out lists with each query put back as its own nearest neighbour (distance 0, first), the last entry
    /// dropped: what the training error is when the training images are classified with themselves among the references.
    /// </summary>
    private static NeighborListsOnHost WithSelf(Device device, NeighborLists lists, int[] self)
    {
        var (d, idx) = lists.ToHost();
        int k = lists.K;
        var d2 = new float[d.Length];
        var i2 = new int[idx.Length];
        for (int r = 0; r < lists.Queries; r++)
        {
            d2[r * k] = 0f;
            i2[r * k] = self[r];
            Array.Copy(d, r * k, d2, r * k + 1, k - 1);
            Array.Copy(idx, r * k, i2, r * k + 1, k - 1);
        }
        return new NeighborListsOnHost(device, d2, i2, lists.Queries, k, lists.Metric);
    }

    /// <summary>Neighbour lists built on the host and uploaded, for <see cref="Knn.Vote"/>.</summary>
    private sealed class NeighborListsOnHost(Device device, float[] distances, int[] indices, int queries, int k, KnnMetric metric) : IDisposable
    {
        private readonly MemoryBuffer1D<float, Stride1D.Dense> _d = device.Accelerator.Allocate1D(distances);
        private readonly MemoryBuffer1D<int, Stride1D.Dense> _i = device.Accelerator.Allocate1D(indices);

        public int[] Predict(int kVote, ArrayView<int> labels, int classes, KnnWeights weights, KnnTimings timings)
        {
            var clock = Stopwatch.StartNew();
            using var predictions = device.Accelerator.Allocate1D<int>(queries);
            Knn.Vote(device, _d.View, _i.View, queries, k, kVote, labels, classes, weights, metric == KnnMetric.L2, predictions.View);
            device.Synchronize();
            var result = predictions.GetAsArray1D();
            timings.VoteSeconds += clock.Elapsed.TotalSeconds;
            return result;
        }

        public void Dispose()
        {
            _d.Dispose();
            _i.Dispose();
        }
    }

    private static int Wrong(int[] predicted, int[] labels)
    {
        int wrong = 0;
        for (int i = 0; i < labels.Length; i++)
            if (predicted[i] != labels[i]) wrong++;
        return wrong;
    }

    /// <summary>Device buffers that live as long as the run.</summary>
    private sealed class DisposableList : IDisposable
    {
        private readonly List<IDisposable> _items = [];

        public T Add<T>(T item) where T : IDisposable
        {
            _items.Add(item);
            return item;
        }

        public void Dispose()
        {
            foreach (var item in _items) item.Dispose();
        }
    }

    // ----- analysis --------------------------------------------------------------------------------------------------

    /// <inheritdoc />
    public void Analyse(ExperimentContext context, RunSet runs)
    {
        var sweeps = runs.Of("knn").Cast<SweepResult>().ToList();
        var first = sweeps[0];
        var plan = first.Sweep;
        var seeds = sweeps.Select(s => s.Seed).ToList();
        var folder = context.Folder;
        context.WriteConfig(new JsonObject
        {
            ["features"] = "pixel / 255 (raw pixels; no mean/std normalisation)",
            ["reference_images"] = plan.References.Length,
            ["references"] = context.Quick ? "stratified subset of the official training set" : "the whole official training set (not the training split)",
            ["test_images"] = plan.Test.Length,
            ["train_error_images"] = plan.LeaveOneOut.Length,
            ["train_error"] = "leave-one-out: each of a stratified subset of the references, against all references but itself",
            ["k_values"] = new JsonArray(plan.Ks.Select(k => (JsonNode)k).ToArray()),
            ["k_max"] = plan.KMax,
            ["metrics"] = new JsonArray(Metrics.Select(m => (JsonNode)MetricName(m)).ToArray()),
            ["weights"] = new JsonArray(Weightings.Select(w => (JsonNode)WeightsName(w)).ToArray()),
            ["reference_chunk"] = new KnnSearchOptions().ReferenceChunk,
        });
        WriteFiles(folder, sweeps);

        var figures = first.Points.Select(p => new Figure(p.K, p.Metric, p.Weights,
            Estimate.Of(seeds, sweeps.Select(s => s.Points.First(q => q.Metric == p.Metric && q.Weights == p.Weights && q.K == p.K).TrainError)),
            Estimate.Of(seeds, sweeps.Select(s => s.Points.First(q => q.Metric == p.Metric && q.Weights == p.Weights && q.K == p.K).TrainErrorWithSelf)),
            Estimate.Of(seeds, sweeps.Select(s => s.Points.First(q => q.Metric == p.Metric && q.Weights == p.Weights && q.K == p.K).TestError)))).ToList();
        // The choice of the sweep: the lowest mean leave-one-out error (no test image involved; ties: L2, uniform, smaller k).
        var selected = figures.MinBy(f => (f.TrainError.Mean, f.Metric, f.Weights, f.K))!;
        var accuracy = Estimate.Of(seeds, selected.TestError.Values.Select(e => 1 - e));

        var series = new List<Series>();
        int group = 0;
        foreach (var metric in Metrics)
            foreach (var weights in Weightings)
            {
                var line = first.Points.Where(p => p.Metric == metric && p.Weights == weights).OrderBy(p => p.K).ToList();
                double[] x = line.Select(p => (double)p.K).ToArray();
                string label = $"{MetricName(metric)} {WeightsName(weights)}";
                series.Add(new Series($"{label} train (leave-one-out)", x, line.Select(p => p.TrainError * 100).ToArray(), Dashed: true, Group: group));
                series.Add(new Series($"{label} test", x, line.Select(p => p.TestError * 100).ToArray(), Group: group));
                group++;
            }
        string ofSeed = sweeps.Count > 1 ? $", seed {first.Seed}" : "";
        Plots.LinesLogX(folder.File("error_vs_k.png"), $"k-NN: training (leave-one-out, dashed) and test error vs k{ofSeed}", "k", "error (%)",
            series, plan.Ks.Select(k => (double)k).ToList(), legend: ScottPlot.Alignment.UpperLeft);

        JsonObject OverSeeds(Figure f) => new()
        {
            ["train_error"] = f.TrainError.ToJson(),
            ["test_error"] = f.TestError.ToJson(),
            ["train_error_with_self"] = f.TrainErrorWithSelf.ToJson(),
        };
        var summary = new JsonObject
        {
            ["results"] = new JsonArray(figures.Select(f => (JsonNode)new JsonObject
            {
                ["k"] = f.K,
                ["metric"] = MetricName(f.Metric),
                ["weights"] = WeightsName(f.Weights),
                ["train_error"] = f.TrainError.Mean,
                ["test_error"] = f.TestError.Mean,
                ["train_error_with_self"] = f.TrainErrorWithSelf.Mean,
                ["over_seeds"] = OverSeeds(f),
            }).ToArray()),
            ["seeds"] = new JsonArray(seeds.Select(s => (JsonNode)s).ToArray()),
            ["test_images"] = plan.Test.Length,
            ["reference_images"] = plan.References.Length,
            ["train_error_images"] = plan.LeaveOneOut.Length,
            ["k_max"] = plan.KMax,
            ["selected"] = new JsonObject
            {
                ["rule"] = "lowest leave-one-out training error (mean over seeds) over metric, weights and k (ties: L2, uniform, smaller k)",
                ["metric"] = MetricName(selected.Metric),
                ["weights"] = WeightsName(selected.Weights),
                ["k"] = selected.K,
                ["train_error"] = selected.TrainError.Mean,
                ["test_error"] = selected.TestError.Mean,
                ["over_seeds"] = OverSeeds(selected),
                ["per_seed"] = new JsonArray(sweeps.Select(s =>
                {
                    var o = PointJson(s.Selected);
                    o["seed"] = s.Seed;
                    return (JsonNode)o;
                }).ToArray()),
            },
            ["test_accuracy"] = accuracy.Mean,
            ["over_seeds"] = new JsonObject { ["test_accuracy"] = accuracy.ToJson() },
        };
        folder.WriteJson("summary.json", summary);
        context.Console.WriteLine($"selected by leave-one-out error: {MetricName(selected.Metric)} {WeightsName(selected.Weights)} k={selected.K}, " +
            $"test error {selected.TestError.Describe(RunFiles.Pct)}");
        context.Finish(Report(context, sweeps, figures, selected));
    }

    // The aggregate metrics.csv (each run's rows with its seed after the run's name), timing.csv and timing.json (wall times).
    private static void WriteFiles(RunFolder folder, List<SweepResult> sweeps)
    {
        var metrics = new StringBuilder("run,seed," + PointColumns + "\n");
        var timing = new StringBuilder("seed," + TimingColumns + "\n");
        var times = new JsonObject();
        foreach (var s in sweeps)
        {
            string seed = I(s.Seed);
            foreach (string line in File.ReadLines(s.File("metrics.csv")).Skip(1))
            {
                int cut = line.IndexOf(',');
                metrics.Append(line, 0, cut).Append(',').Append(seed).Append(line, cut, line.Length - cut).Append('\n');
            }
            foreach (string line in File.ReadLines(s.File("timing.csv")).Skip(1)) timing.Append(seed).Append(',').Append(line).Append('\n');
            times[seed] = RunStore.ReadObject(s.File(TimingFile));
        }
        folder.WriteText("metrics.csv", metrics.ToString());
        folder.WriteText("timing.csv", timing.ToString());
        folder.WriteJson(TimingFile, times);
    }

    private static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string F2(double v) => v.ToString("F2", CultureInfo.InvariantCulture);

    private static string F3(double v) => v.ToString("F3", CultureInfo.InvariantCulture);

    // ----- report ----------------------------------------------------------------------------------------------------

    private static string Report(ExperimentContext run, List<SweepResult> sweeps, List<Figure> figures, Figure overall)
    {
        var first = sweeps[0];
        var plan = first.Sweep;
        var points = first.Points;
        var times = first.Times;
        var ks = plan.Ks;
        int kMax = plan.KMax, referenceCount = plan.References.Length, testCount = plan.Test.Length, trainCount = plan.LeaveOneOut.Length;
        bool seeded = sweeps.Count > 1;
        var text = new StringBuilder();
        text.AppendLine("# k-nearest neighbours: bias and variance");
        text.AppendLine();
        string which = run.Options.Quick
            ? "(a stratified subset of the official training set: a quick run)"
            : "(the whole official training set, not the training split)";
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Each image is its 784 raw pixels divided by 255 (no mean/std normalisation, as in the scikit-learn peer). " +
            $"The {testCount:N0} test images are classified by their nearest neighbours among {referenceCount:N0} reference images {which}" +
            $", by brute force, with the Euclidean (L2) and the Manhattan (L1) distance, and by a uniform vote or one weighted by 1/distance " +
            $"(ties go to the smaller class, as in scikit-learn). The {kMax} nearest references of every image are found once per metric and " +
            $"every k = {string.Join(", ", ks)} votes from those lists. The training error is measured on a stratified subset of " +
            $"{trainCount:N0} reference images, each classified by the other references (**leave-one-out**: without itself); the table also " +
            $"gives it with each image counted as its own nearest neighbour (distance 0), the training error in the textbook sense. " +
            $"Nothing is trained or drawn at random besides the subsets, which the seed picks ({(run.Options.Quick ? "references, test images and leave-one-out images" : "the leave-one-out images")})."));
        text.AppendLine();
        if (seeded)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"The plot and the per-metric tables are seed {first.Seed}'s sweep; the section *Over seeds* gives the spread over the " +
                $"{sweeps.Count} seeds {string.Join(", ", sweeps.Select(s => s.Seed))}."));
            text.AppendLine();
        }
        text.AppendLine("![training and test error vs k](error_vs_k.png)");
        text.AppendLine();
        foreach (var metric in Metrics)
        {
            text.AppendLine($"## {(metric == KnnMetric.L2 ? "L2 (Euclidean)" : "L1 (Manhattan)")}");
            text.AppendLine();
            var u = points.Where(p => p.Metric == metric && p.Weights == KnnWeights.Uniform).OrderBy(p => p.K).ToList();
            var d = points.Where(p => p.Metric == metric && p.Weights == KnnWeights.Distance).OrderBy(p => p.K).ToList();
            text.Append(RunFiles.Table(["k", "uniform: train (LOO)", "train (with itself)", "test", "distance: train (LOO)", "train (with itself)", "test"],
                u.Zip(d, (a, b) => (IReadOnlyList<string>)[a.K.ToString(CultureInfo.InvariantCulture), RunFiles.Pct(a.TrainError),
                    RunFiles.Pct(a.TrainErrorWithSelf), RunFiles.Pct(a.TestError), RunFiles.Pct(b.TrainError), RunFiles.Pct(b.TrainErrorWithSelf),
                    RunFiles.Pct(b.TestError)]), "rrrrrrr"));
            text.AppendLine();
            text.AppendLine(Reading(u, d));
            text.AppendLine();
        }

        text.AppendLine("## Which k, which metric");
        text.AppendLine();
        text.AppendLine(Choice(figures, overall, testCount, trainCount, seeded));
        text.AppendLine();
        if (seeded) text.Append(OverSeeds(run, sweeps, figures, overall));

        text.AppendLine("## Time");
        text.AppendLine();
        text.Append(RunFiles.Table(["metric", "search", "queries x references", "distances", "top-k", "total"],
            times.SelectMany(t => new[]
            {
                (IReadOnlyList<string>)[t.Metric, "test", $"{testCount:N0} x {referenceCount:N0}", $"{F2(t.TestDistance)} s",
                    $"{F2(t.TestTopK)} s", $"{F2(t.TestDistance + t.TestTopK)} s"],
                [t.Metric, "train (leave-one-out)", $"{trainCount:N0} x {referenceCount:N0}", $"{F2(t.TrainDistance)} s",
                    $"{F2(t.TrainTopK)} s", $"{F2(t.TrainDistance + t.TrainTopK)} s"],
            }), "lllrrr"));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"{(seeded ? $"These are seed {first.Seed}'s wall times (every seed's are in `timing.csv`). " : "")}" +
            $"L2 distances are `|a|² + |b|² − 2·a·b` through the GEMM; L1 distances have their own kernel. Top-k keeps the {kMax} nearest " +
            $"while the references stream past in chunks of {new KnnSearchOptions().ReferenceChunk:N0}. The {Metrics.Length * ks.Length * Weightings.Length * 3} votes (test, leave-one-out and with itself) took " +
            $"{F2(times.Sum(t => t.Vote))} s in all. `bash bench/peers/knn_ratio.sh` times scikit-learn's brute-force k-NN on the same " +
            $"data and compares its accuracies at k = 1, 5 and 9."));
        text.AppendLine();
        text.AppendLine(run.Footer());
        return text.ToString();
    }

    /// <summary>The choice of rule by the leave-one-out error, and which metric has the lower test error at its best, from the
    /// numbers: a metric is called better only when the difference of the two lowest (mean) test errors exceeds twice the
    /// standard error of a difference of two error rates on <paramref name="testCount"/> images each.</summary>
    internal static string Choice(IReadOnlyList<Figure> figures, Figure overall, int testCount, int trainCount, bool seeded)
    {
        var bestL2 = figures.Where(f => f.Metric == KnnMetric.L2).MinBy(f => (f.TestError.Mean, f.K))!;
        var bestL1 = figures.Where(f => f.Metric == KnnMetric.L1).MinBy(f => (f.TestError.Mean, f.K))!;
        double testError = overall.TestError.Mean, trainError = overall.TrainError.Mean;
        string mean = seeded ? "mean " : "";
        double p = bestL2.TestError.Mean, q = bestL1.TestError.Mean;
        double twoSe = 2 * Math.Sqrt(p * (1 - p) / testCount + q * (1 - q) / testCount);
        string metrics = Math.Abs(p - q) <= twoSe
            ? string.Create(CultureInfo.InvariantCulture,
                $"At their best the two distances are within noise of each other ({(Math.Abs(p - q) * 100):F2} pp apart, less than twice the standard error of the difference, {twoSe * 100:F2} pp).")
            : string.Create(CultureInfo.InvariantCulture,
                $"At their best the {(q < p ? "L1 (Manhattan)" : "L2 (Euclidean)")} distance is better here: its lowest {mean}test error is {(Math.Abs(p - q) * 100):F2} pp below the " +
                $"{(q < p ? "L2" : "L1")} distance's, more than twice the standard error of the difference ({twoSe * 100:F2} pp).");
        return string.Create(CultureInfo.InvariantCulture,
            $"Chosen by the {mean}leave-one-out error alone (no test image involved): **{MetricName(overall.Metric)}, {WeightsName(overall.Weights)} votes, " +
            $"k = {overall.K}**, {mean}test error **{RunFiles.Pct(testError)}** (accuracy {RunFiles.Pct(1 - testError)}). The lowest {mean}test " +
            $"errors of each metric are {RunFiles.Pct(bestL2.TestError.Mean)} for L2 ({WeightsName(bestL2.Weights)}, k = {bestL2.K}) and " +
            $"{RunFiles.Pct(bestL1.TestError.Mean)} for L1 ({WeightsName(bestL1.Weights)}, k = {bestL1.K}). {metrics} With {testCount:N0} test images the " +
            $"standard error of an error rate near {RunFiles.Pct(testError)} is " +
            $"{Math.Sqrt(testError * (1 - testError) / testCount) * 100:F2} pp, and of a leave-one-out error on {trainCount:N0} images " +
            $"{Math.Sqrt(trainError * (1 - trainError) / trainCount) * 100:F2} pp: a difference between neighbouring k smaller than about twice " +
            $"those is within noise.");
    }

    // The spread over seeds: the chosen rule's errors at every k, and each seed's own leave-one-out choice.
    private static string OverSeeds(ExperimentContext run, List<SweepResult> sweeps, List<Figure> figures, Figure overall)
    {
        var text = new StringBuilder();
        text.AppendLine("## Over seeds");
        text.AppendLine();
        string what = run.Options.Quick ? "its own references, test images and leave-one-out images" : "its own leave-one-out images";
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Each of the {sweeps.Count} seeds ({string.Join(", ", sweeps.Select(s => s.Seed))}) draws {what}. For " +
            $"{MetricName(overall.Metric)} with {WeightsName(overall.Weights)} votes, the mean over seeds with its 95% interval:"));
        text.AppendLine();
        var line = figures.Where(f => f.Metric == overall.Metric && f.Weights == overall.Weights).OrderBy(f => f.K).ToList();
        text.Append(RunFiles.Table(["k", "leave-one-out error", "test error"],
            line.Select(f => (IReadOnlyList<string>)[f.K.ToString(CultureInfo.InvariantCulture), f.TrainError.Describe(RunFiles.Pct),
                f.TestError.Describe(RunFiles.Pct)]), "rll"));
        text.AppendLine();
        var picks = sweeps.Select(s => (s.Seed, Point: s.Selected)).ToList();
        bool agree = picks.All(p => p.Point.Metric == picks[0].Point.Metric && p.Point.Weights == picks[0].Point.Weights && p.Point.K == picks[0].Point.K);
        text.AppendLine("Each seed's own leave-one-out choice: " + string.Join("; ", picks.Select(p => string.Create(CultureInfo.InvariantCulture,
                $"{p.Seed}: {MetricName(p.Point.Metric)} {WeightsName(p.Point.Weights)} k = {p.Point.K} (test error {RunFiles.Pct(p.Point.TestError)})"))) +
            (agree ? ". Every seed picks the same rule." : ". The seeds do not agree: which rule the leave-one-out error picks depends on the subset it is measured on."));
        if (overall.TestError.Values.Distinct().Count() == 1)
            text.AppendLine(" The chosen rule's test error is the same for every seed: the test images and references do not depend on it.");
        text.AppendLine();
        return text.ToString();
    }

    /// <summary>
    /// True when the test errors of <paramref name="a"/> and <paramref name="b"/> (on the same test images) differ by at most
    /// twice the standard error of a difference of two independent error rates, <c>√(p(1-p)/n + q(1-q)/n)</c>. Two rules'
    /// errors on the same images are positively correlated, so the paired standard error is smaller and this calls more
    /// differences noise than a paired test would: a tie here is a conservative tie.
    /// </summary>
    internal static bool WithinNoise(Point a, Point b)
    {
        double p = a.TestError, q = b.TestError;
        double se = Math.Sqrt(p * (1 - p) / a.TestCount + q * (1 - q) / b.TestCount);
        return Math.Abs(p - q) <= 2 * se;
    }

    /// <summary>The bias/variance reading of one metric's curves (uniform votes <paramref name="u"/>, distance votes
    /// <paramref name="d"/>, both by increasing k), from the numbers.</summary>
    internal static string Reading(List<Point> u, List<Point> d)
    {
        static string P(double v) => RunFiles.Pct(v);
        static string Pp(double v) => (v * 100).ToString("F2", CultureInfo.InvariantCulture) + " pp";
        var first = u[0];
        var last = u[^1];
        var bestTest = u.MinBy(p => (p.TestWrong, p.K))!;
        var bestLoo = u.MinBy(p => (p.TrainWrong, p.K))!;
        // The k whose test error is within noise of the lowest: where the error is lowest, as far as the test images can tell.
        var near = u.Where(p => WithinNoise(p, bestTest)).Select(p => p.K).ToList();
        string range = near.Count == 1 ? $"only k = {bestTest.K}" : $"k = {string.Join(", ", near)}";
        var lines = new List<string>();

        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"- **Small k, variance.** At k = {first.K}, with itself among the references, a training image is its own nearest neighbour: " +
            $"training error {P(first.TrainErrorWithSelf)}. Left out, its nearest other neighbour gets {P(first.TrainError)} wrong, and the " +
            $"test error is {P(first.TestError)}: the rule memorises the training set, and a prediction rests on one image, noise included."));
        double gain = first.TestError - bestTest.TestError;
        if (!near.Contains(first.K))
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"- **Averaging helps up to a point.** The test error is lowest at k = {bestTest.K}, {P(bestTest.TestError)} " +
                $"({Pp(gain)} below k = {first.K}, beyond twice the standard error of the difference); within noise of it: {range}. " +
                $"The leave-one-out error is lowest at k = {bestLoo.K} ({P(bestLoo.TrainError)}). A vote of several neighbours depends less on any " +
                $"single one: its variance falls."));
        else
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"- **No clear gain from averaging here.** The lowest test error is {P(bestTest.TestError)} at k = {bestTest.K}, but k = {first.K} " +
                $"({P(first.TestError)}) is within noise of it (within noise: {range}); the leave-one-out error is lowest at k = {bestLoo.K} " +
                $"({P(bestLoo.TrainError)})."));
        double testRise = last.TestError - bestTest.TestError, looRise = last.TrainError - bestLoo.TrainError;
        if (!near.Contains(last.K) && looRise > 0)
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"- **Large k, bias.** Beyond that both errors rise: at k = {last.K} the leave-one-out error is {P(last.TrainError)} " +
                $"(+{Pp(looRise)}) and the test error {P(last.TestError)} (+{Pp(testRise)}, beyond the noise). The vote now reaches into other classes' " +
                $"regions, so the prediction is pulled towards what is common in a wide neighbourhood instead of what is true locally: " +
                $"a systematic error, which a still wider vote only makes larger."));
        else
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"- **Large k.** At k = {last.K} the test error is {P(last.TestError)} and the leave-one-out error {P(last.TrainError)}: " +
                $"{(near.Contains(last.K) ? "within noise of the lowest test error" : $"{Pp(testRise)} above the lowest test error, but the leave-one-out error does not rise with it")}, " +
                $"so over this range of k the bias of a wide vote does not show clearly."));
        double gapFirst = first.TestError - first.TrainErrorWithSelf, gapLast = last.TestError - last.TrainErrorWithSelf;
        string picture = last.TrainErrorWithSelf > first.TrainErrorWithSelf && Math.Abs(gapLast) < Math.Abs(gapFirst)
            ? "the textbook picture of a model losing variance and gaining bias as k grows"
            : "not the textbook picture of a steadily rising training error and a closing gap";
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"- **Training error with itself** goes from {P(first.TrainErrorWithSelf)} at k = {first.K} to {P(last.TrainErrorWithSelf)} at k = {last.K}, " +
            $"and the test error minus it from {Pp(gapFirst)} to {Pp(gapLast)}: {picture}. With distance weights an image at distance 0 " +
            $"outvotes all others, so that training error is at most {P(d.Max(p => p.TrainErrorWithSelf))} at every k."));
        double maxGap = u.Max(p => Math.Abs(p.TrainError - p.TestError));
        int above = u.Count(p => p.TrainError > p.TestError), below = u.Count(p => p.TrainError < p.TestError);
        string side = above == u.Count ? "above the test error at every k"
            : below == u.Count ? "below the test error at every k"
            : string.Create(CultureInfo.InvariantCulture, $"above the test error at {above} and below it at {below} of the {u.Count} k");
        lines.Add(near.Contains(bestLoo.K)
            ? string.Create(CultureInfo.InvariantCulture,
                $"- **Leave-one-out picks a good k.** Its error is within {Pp(maxGap)} of the test error at every k ({side}), and the k it picks from the training " +
                $"images alone, k = {bestLoo.K}, has a test error ({P(bestLoo.TestError)}) within noise of the lowest.")
            : string.Create(CultureInfo.InvariantCulture,
                $"- **Leave-one-out misses.** Its error is within {Pp(maxGap)} of the test error at every k ({side}), but the k it picks, k = {bestLoo.K}, has a " +
                $"test error ({P(bestLoo.TestError)}) beyond the noise of the lowest ({P(bestTest.TestError)} at k = {bestTest.K})."));
        var dLast = d[^1];
        string effect = WithinNoise(dLast, last) ? "(the same within noise)"
            : dLast.TestError < last.TestError ? "(far neighbours weigh less, which softens the large-k bias)"
            : "(here weighting makes the large-k error worse)";
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"- **Distance weights** give test error {P(dLast.TestError)} at k = {dLast.K} against {P(last.TestError)} uniform {effect}" +
            $", and {P(d.Min(p => p.TestError))} at their best k against {P(bestTest.TestError)}."));
        return string.Join("\n", lines);
    }
}
