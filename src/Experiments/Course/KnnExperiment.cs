using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Data;
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
/// metric and every k votes from those lists. The report reads the bias/variance trade-off off the error curves.
/// </summary>
public sealed class KnnExperiment : ISelfRunExperiment
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
        string Seconds(string metric) =>
            Summaries.Number(summary, $"timings.{metric}.test_search_seconds") is { } t ? t.ToString("F1", CultureInfo.InvariantCulture) + " s" : "-";
        return $"chosen by leave-one-out: {Summaries.Text(summary, "selected.metric")} {Summaries.Text(summary, "selected.weights")} " +
            $"k={Summaries.Number(summary, "selected.k")}, test accuracy {RunFiles.Pct(Summaries.Number(summary, "test_accuracy") ?? double.NaN)}; " +
            $"uniform k=5: L2 {At("l2", 5)}, L1 {At("l1", 5)}; test search L2 {Seconds("l2")}, L1 {Seconds("l1")}";
    }

    /// <summary>The name of a metric in files: <c>l2</c> or <c>l1</c>.</summary>
    public static string MetricName(KnnMetric metric) => metric == KnnMetric.L2 ? "l2" : "l1";

    /// <summary>The name of a weighting in files: <c>uniform</c> or <c>distance</c>.</summary>
    public static string WeightsName(KnnWeights weights) => weights == KnnWeights.Uniform ? "uniform" : "distance";

    /// <summary>One point of the sweep.</summary>
    private sealed record Point(int K, KnnMetric Metric, KnnWeights Weights, int TrainWrong, int TrainWrongWithSelf, int TrainCount,
        int TestWrong, int TestCount)
    {
        public double TrainError => (double)TrainWrong / TrainCount;
        public double TrainErrorWithSelf => (double)TrainWrongWithSelf / TrainCount;
        public double TestError => (double)TestWrong / TestCount;
    }

    /// <summary>The wall times of one metric's searches.</summary>
    private sealed record MetricTimes(KnnMetric Metric, KnnTimings Test, KnnTimings Train, double VoteSeconds);

    /// <inheritdoc />
    public int Run(RunOptions options, RunConsole console)
    {
        using var run = CourseRun.Open(Name, options, console);
        var data = run.Data;
        var device = run.Device;
        bool quick = options.Quick;
        int classes = data.TrainSet.Classes, dim = data.TrainSet.PixelsPerImage;

        int[] allTrain = Enumerable.Range(0, data.TrainSet.Count).ToArray();
        int[] references = quick ? data.Subset(allTrain, QuickReferenceImages, 11) : allTrain;
        int[] test = quick ? StratifiedTest(data, QuickTestImages) : data.TestIndices;
        // The leave-one-out queries: positions in `references`, so that each excludes itself by its reference index.
        int trainCount = Math.Min(quick ? QuickTrainErrorImages : TrainErrorImages, references.Length);
        var referenceLabels = references.Select(i => data.TrainSet.Labels[i]).ToArray();
        int[] trainPositions = trainCount == references.Length
            ? Enumerable.Range(0, references.Length).ToArray()
            : DataSplit.Stratified(referenceLabels, classes, trainCount, (ulong)options.Seed * 0x9E3779B97F4A7C15UL + 12).Validation;
        int kMax = Math.Min(KValues[^1], references.Length - 1);
        int[] ks = KValues.Where(k => k <= kMax).ToArray();
        if (ks.Length == 0) throw new InvalidOperationException($"k-NN needs at least 2 reference images; the data has {references.Length}.");

        run.WriteConfig(Name, new JsonObject
        {
            ["features"] = "pixel / 255 (raw pixels; no mean/std normalisation)",
            ["reference_images"] = references.Length,
            ["references"] = quick ? "stratified subset of the official training set" : "the whole official training set (not the training split)",
            ["test_images"] = test.Length,
            ["train_error_images"] = trainPositions.Length,
            ["train_error"] = "leave-one-out: each of a stratified subset of the references, against all references but itself",
            ["k_values"] = new JsonArray(ks.Select(k => (JsonNode)k).ToArray()),
            ["k_max"] = kMax,
            ["metrics"] = new JsonArray(Metrics.Select(m => (JsonNode)MetricName(m)).ToArray()),
            ["weights"] = new JsonArray(Weightings.Select(w => (JsonNode)WeightsName(w)).ToArray()),
            ["reference_chunk"] = new KnnSearchOptions().ReferenceChunk,
        });
        console.WriteLine($"k-NN: {test.Length:N0} test and {trainPositions.Length:N0} training queries against {references.Length:N0} " +
            $"reference images of {dim} pixels (÷255), top-{kMax} per metric");

        var testLabels = test.Select(i => (int)data.TestSet.Labels[i]).ToArray();
        var trainLabels = trainPositions.Select(p => (int)referenceLabels[p]).ToArray();
        using var owned = new DisposableList();
        ArrayView<float> refs = quick ? Gather(device, data.Train.Pixels.View, dim, references, owned) : data.Train.Pixels.View;
        ArrayView<int> refLabels = quick ? GatherLabels(device, data.Train.Labels.View, references, owned) : data.Train.Labels.View;
        ArrayView<float> testQueries = quick ? Gather(device, data.Test.Pixels.View, dim, test, owned) : data.Test.Pixels.View;
        ArrayView<float> trainQueries = Gather(device, refs, dim, trainPositions, owned);

        var points = new List<Point>();
        var times = new List<MetricTimes>();
        foreach (var metric in Metrics)
        {
            string name = MetricName(metric);
            var testTimes = new KnnTimings();
            var trainTimes = new KnnTimings();
            using var testLists = NeighborLists.Search(device, testQueries, test.Length, refs, references.Length, dim, metric, kMax, timings: testTimes);
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {test.Length:N0} x {references.Length:N0}: distances {testTimes.DistanceSeconds:F2} s, top-{kMax} {testTimes.TopKSeconds:F2} s"));
            using var trainLists = NeighborLists.Search(device, trainQueries, trainPositions.Length, refs, references.Length, dim, metric, kMax,
                exclude: trainPositions, timings: trainTimes);
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {trainPositions.Length:N0} x {references.Length:N0} without self: distances {trainTimes.DistanceSeconds:F2} s, top-{kMax} {trainTimes.TopKSeconds:F2} s"));
            using var withSelf = WithSelf(device, trainLists, trainPositions);

            var votes = new KnnTimings();
            foreach (var weights in Weightings)
                foreach (int k in ks)
                {
                    int testWrong = Wrong(testLists.Predict(k, refLabels, classes, weights, votes), testLabels);
                    int trainWrong = Wrong(trainLists.Predict(k, refLabels, classes, weights, votes), trainLabels);
                    int selfWrong = Wrong(withSelf.Predict(k, refLabels, classes, weights, votes), trainLabels);
                    points.Add(new Point(k, metric, weights, trainWrong, selfWrong, trainLabels.Length, testWrong, testLabels.Length));
                }
            times.Add(new MetricTimes(metric, testTimes, trainTimes, votes.VoteSeconds));
            foreach (var weights in Weightings)
                console.WriteLine($"{name} {WeightsName(weights),-8} test error " + string.Join(", ",
                    points.Where(p => p.Metric == metric && p.Weights == weights).Select(p => $"k={p.K} {RunFiles.Pct(p.TestError)}")));
        }

        Write(run, points, times, ks, kMax, references.Length, test.Length, trainPositions.Length);
        return Cli.ExitOk;
    }

    // ----- data ------------------------------------------------------------------------------------------------------

    private static int[] StratifiedTest(CourseData data, int count)
    {
        if (count >= data.TestSet.Count) return data.TestIndices;
        return DataSplit.Stratified(data.TestSet.Labels, data.TestSet.Classes, count, (ulong)data.Seed * 0x9E3779B97F4A7C15UL + 13).Validation;
    }

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

    // ----- files -----------------------------------------------------------------------------------------------------

    private static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string F2(double v) => v.ToString("F2", CultureInfo.InvariantCulture);

    private void Write(CourseRun run, List<Point> points, List<MetricTimes> times, int[] ks, int kMax, int referenceCount, int testCount, int trainCount)
    {
        var folder = run.Folder;
        var metrics = new StringBuilder("metric,weights,k,train_error,train_error_with_self,test_error,train_wrong,train_wrong_with_self,train_images,test_wrong,test_images\n");
        foreach (var p in points)
            metrics.AppendLine(string.Join(",", MetricName(p.Metric), WeightsName(p.Weights), p.K.ToString(CultureInfo.InvariantCulture),
                R(p.TrainError), R(p.TrainErrorWithSelf), R(p.TestError), p.TrainWrong.ToString(CultureInfo.InvariantCulture),
                p.TrainWrongWithSelf.ToString(CultureInfo.InvariantCulture), p.TrainCount.ToString(CultureInfo.InvariantCulture),
                p.TestWrong.ToString(CultureInfo.InvariantCulture), p.TestCount.ToString(CultureInfo.InvariantCulture)));
        folder.WriteText("metrics.csv", metrics.ToString());
        var timing = new StringBuilder("metric,search,queries,references,distance_seconds,topk_seconds\n");
        foreach (var t in times)
        {
            timing.AppendLine(string.Join(",", MetricName(t.Metric), "test", testCount, referenceCount, F3(t.Test.DistanceSeconds), F3(t.Test.TopKSeconds)));
            timing.AppendLine(string.Join(",", MetricName(t.Metric), "train", trainCount, referenceCount, F3(t.Train.DistanceSeconds), F3(t.Train.TopKSeconds)));
        }
        folder.WriteText("timing.csv", timing.ToString());

        var series = new List<Series>();
        int group = 0;
        foreach (var metric in Metrics)
            foreach (var weights in Weightings)
            {
                var line = points.Where(p => p.Metric == metric && p.Weights == weights).OrderBy(p => p.K).ToList();
                double[] x = line.Select(p => (double)p.K).ToArray();
                string label = $"{MetricName(metric)} {WeightsName(weights)}";
                series.Add(new Series($"{label} train (leave-one-out)", x, line.Select(p => p.TrainError * 100).ToArray(), Dashed: true, Group: group));
                series.Add(new Series($"{label} test", x, line.Select(p => p.TestError * 100).ToArray(), Group: group));
                group++;
            }
        Plots.LinesLogX(folder.File("error_vs_k.png"), "k-NN: training (leave-one-out, dashed) and test error vs k", "k", "error (%)",
            series, ks.Select(k => (double)k).ToList(), legend: ScottPlot.Alignment.UpperLeft);

        var chosen = Metrics.SelectMany(m => Weightings.Select(w => Choose(points, m, w))).ToList();
        var overall = chosen.MinBy(p => (p.TrainError, p.Metric, p.Weights))!;
        var summary = new JsonObject
        {
            ["results"] = new JsonArray(points.Select(p => (JsonNode)new JsonObject
            {
                ["k"] = p.K,
                ["metric"] = MetricName(p.Metric),
                ["weights"] = WeightsName(p.Weights),
                ["train_error"] = p.TrainError,
                ["test_error"] = p.TestError,
                ["train_error_with_self"] = p.TrainErrorWithSelf,
                ["test_wrong"] = p.TestWrong,
                ["train_wrong"] = p.TrainWrong,
            }).ToArray()),
            ["test_images"] = testCount,
            ["reference_images"] = referenceCount,
            ["train_error_images"] = trainCount,
            ["k_max"] = kMax,
            ["selected"] = new JsonObject
            {
                ["rule"] = "lowest leave-one-out training error over metric, weights and k (ties: smaller k)",
                ["metric"] = MetricName(overall.Metric),
                ["weights"] = WeightsName(overall.Weights),
                ["k"] = overall.K,
                ["train_error"] = overall.TrainError,
                ["test_error"] = overall.TestError,
            },
            ["test_accuracy"] = 1 - overall.TestError,
            ["timings"] = new JsonObject(times.Select(t => new KeyValuePair<string, JsonNode?>(MetricName(t.Metric), new JsonObject
            {
                ["test_distance_seconds"] = Math.Round(t.Test.DistanceSeconds, 3),
                ["test_topk_seconds"] = Math.Round(t.Test.TopKSeconds, 3),
                ["test_search_seconds"] = Math.Round(t.Test.DistanceSeconds + t.Test.TopKSeconds, 3),
                ["train_distance_seconds"] = Math.Round(t.Train.DistanceSeconds, 3),
                ["train_topk_seconds"] = Math.Round(t.Train.TopKSeconds, 3),
                ["vote_seconds"] = Math.Round(t.VoteSeconds, 3),
            }))),
            ["seconds"] = Math.Round(run.Clock.Elapsed.TotalSeconds, 1),
        };
        folder.WriteJson("summary.json", summary);
        run.Console.WriteLine($"selected by leave-one-out error: {MetricName(overall.Metric)} {WeightsName(overall.Weights)} k={overall.K}, " +
            $"test error {RunFiles.Pct(overall.TestError)}");
        run.Finish(Report(run, points, times, ks, kMax, referenceCount, testCount, trainCount, overall));
    }

    private static string F3(double v) => v.ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>The k with the lowest leave-one-out error for a metric and weighting (ties: the smaller k).</summary>
    private static Point Choose(List<Point> points, KnnMetric metric, KnnWeights weights) =>
        points.Where(p => p.Metric == metric && p.Weights == weights).MinBy(p => (p.TrainWrong, p.K))!;

    // ----- report ----------------------------------------------------------------------------------------------------

    private static string Report(CourseRun run, List<Point> points, List<MetricTimes> times, int[] ks, int kMax, int referenceCount,
        int testCount, int trainCount, Point overall)
    {
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
            $"gives it with each image counted as its own nearest neighbour (distance 0), the training error in the textbook sense."));
        text.AppendLine();
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
        var bestL2 = points.Where(p => p.Metric == KnnMetric.L2).MinBy(p => (p.TestWrong, p.K))!;
        var bestL1 = points.Where(p => p.Metric == KnnMetric.L1).MinBy(p => (p.TestWrong, p.K))!;
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Chosen by the leave-one-out error alone (no test image involved): **{MetricName(overall.Metric)}, {WeightsName(overall.Weights)} votes, " +
            $"k = {overall.K}**, test error **{RunFiles.Pct(overall.TestError)}** (accuracy {RunFiles.Pct(1 - overall.TestError)}). The lowest test " +
            $"errors of each metric are {RunFiles.Pct(bestL2.TestError)} for L2 ({WeightsName(bestL2.Weights)}, k = {bestL2.K}) and " +
            $"{RunFiles.Pct(bestL1.TestError)} for L1 ({WeightsName(bestL1.Weights)}, k = {bestL1.K}). With {testCount:N0} test images the " +
            $"standard error of an error rate near {RunFiles.Pct(overall.TestError)} is " +
            $"{Math.Sqrt(overall.TestError * (1 - overall.TestError) / testCount) * 100:F2} pp, and of a leave-one-out error on {trainCount:N0} images " +
            $"{Math.Sqrt(overall.TrainError * (1 - overall.TrainError) / trainCount) * 100:F2} pp: differences of a few tenths of a point " +
            $"between neighbouring k are within noise."));
        text.AppendLine();

        text.AppendLine("## Time");
        text.AppendLine();
        text.Append(RunFiles.Table(["metric", "search", "queries x references", "distances", "top-k", "total"],
            times.SelectMany(t => new[]
            {
                (IReadOnlyList<string>)[MetricName(t.Metric), "test", $"{testCount:N0} x {referenceCount:N0}", $"{F2(t.Test.DistanceSeconds)} s",
                    $"{F2(t.Test.TopKSeconds)} s", $"{F2(t.Test.DistanceSeconds + t.Test.TopKSeconds)} s"],
                [MetricName(t.Metric), "train (leave-one-out)", $"{trainCount:N0} x {referenceCount:N0}", $"{F2(t.Train.DistanceSeconds)} s",
                    $"{F2(t.Train.TopKSeconds)} s", $"{F2(t.Train.DistanceSeconds + t.Train.TopKSeconds)} s"],
            }), "lllrrr"));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"L2 distances are `|a|² + |b|² − 2·a·b` through the GEMM; L1 distances have their own kernel. Top-k keeps the {kMax} nearest " +
            $"while the references stream past in chunks of {new KnnSearchOptions().ReferenceChunk:N0}. The {Metrics.Length * ks.Length * Weightings.Length * 3} votes (test, leave-one-out and with itself) took " +
            $"{F2(times.Sum(t => t.VoteSeconds))} s in all. `bash bench/peers/knn_ratio.sh` times scikit-learn's brute-force k-NN on the same " +
            $"data and compares its accuracies at k = 1, 5 and 9."));
        text.AppendLine();
        text.AppendLine(run.Footer());
        return text.ToString();
    }

    /// <summary>The bias/variance reading of one metric's curves, from the numbers.</summary>
    private static string Reading(List<Point> u, List<Point> d)
    {
        static string P(double v) => RunFiles.Pct(v);
        static string Pp(double v) => (v * 100).ToString("F2", CultureInfo.InvariantCulture) + " pp";
        var first = u[0];
        var last = u[^1];
        var bestTest = u.MinBy(p => (p.TestWrong, p.K))!;
        var bestLoo = u.MinBy(p => (p.TrainWrong, p.K))!;
        var lines = new List<string>();

        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"- **Small k, variance.** At k = {first.K}, with itself among the references, a training image is its own nearest neighbour: " +
            $"training error {P(first.TrainErrorWithSelf)}. Left out, its nearest other neighbour gets {P(first.TrainError)} wrong, and the " +
            $"test error is {P(first.TestError)}: the rule memorises the training set, and a prediction rests on one image, noise included."));
        double gain = first.TestError - bestTest.TestError;
        double noise = Math.Sqrt(first.TestError * (1 - first.TestError) / first.TestCount);
        string size = gain < 2 * noise ? $"; about the size of the noise, whose standard error is {Pp(noise)}" : "";
        if (bestTest.K > first.K && gain > 0)
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"- **Averaging helps up to a point.** The test error is lowest at k = {bestTest.K}, {P(bestTest.TestError)} " +
                $"({Pp(gain)} below k = {first.K}{size}); the leave-one-out error is lowest at k = {bestLoo.K} " +
                $"({P(bestLoo.TrainError)}). A vote of several neighbours depends less on any single one: its variance falls."));
        else
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"- **No gain from averaging here.** No k above {first.K} lowers the test error (lowest: {P(bestTest.TestError)} at k = {bestTest.K}); " +
                $"the leave-one-out error is lowest at k = {bestLoo.K} ({P(bestLoo.TrainError)})."));
        double testRise = last.TestError - bestTest.TestError, looRise = last.TrainError - bestLoo.TrainError;
        if (last.K > bestTest.K && testRise > 0.005 && looRise > 0)
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"- **Large k, bias.** Beyond that both errors rise: at k = {last.K} the leave-one-out error is {P(last.TrainError)} " +
                $"(+{Pp(looRise)}) and the test error {P(last.TestError)} (+{Pp(testRise)}). The vote now reaches into other classes' " +
                $"regions, so the prediction is pulled towards what is common in a wide neighbourhood instead of what is true locally: " +
                $"a systematic error, which a still wider vote only makes larger."));
        else
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"- **Large k.** At k = {last.K} the test error is {P(last.TestError)} and the leave-one-out error {P(last.TrainError)}: " +
                $"{(testRise > 0 ? $"{Pp(testRise)} above the best test error" : "no worse than the best")}, so over this range of k the bias of a wide vote " +
                $"hardly shows."));
        double gapFirst = first.TestError - first.TrainErrorWithSelf, gapLast = last.TestError - last.TrainErrorWithSelf;
        string picture = last.TrainErrorWithSelf > first.TrainErrorWithSelf && Math.Abs(gapLast) < Math.Abs(gapFirst)
            ? "the textbook picture of a model losing variance and gaining bias as k grows"
            : "not the textbook picture of a steadily rising training error and a closing gap";
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"- **Training error with itself** goes from {P(first.TrainErrorWithSelf)} at k = {first.K} to {P(last.TrainErrorWithSelf)} at k = {last.K}, " +
            $"and the test error minus it from {Pp(gapFirst)} to {Pp(gapLast)}: {picture}. With distance weights an image at distance 0 " +
            $"outvotes all others, so that training error is at most {P(d.Max(p => p.TrainErrorWithSelf))} at every k."));
        double maxGap = u.Max(p => Math.Abs(p.TrainError - p.TestError));
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"- **Leave-one-out tracks test.** Its error is within {Pp(maxGap)} of the test error at every k, so k can be chosen from the " +
            $"training images alone: it picks k = {bestLoo.K}, test error {P(bestLoo.TestError)}."));
        var dLast = d[^1];
        string effect = dLast.TestError < last.TestError
            ? "(far neighbours weigh less, which softens the large-k bias)"
            : dLast.TestError > last.TestError ? "(here weighting does not soften the large-k bias)" : "(the same)";
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"- **Distance weights** give test error {P(dLast.TestError)} at k = {dLast.K} against {P(last.TestError)} uniform {effect}" +
            $", and {P(d.Min(p => p.TestError))} at their best k against {P(bestTest.TestError)}."));
        return string.Join("\n", lines);
    }
}
