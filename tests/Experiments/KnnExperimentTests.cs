using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace GpuNet.Tests.Experiments;

/// <summary><c>gpunet run knn --quick</c> on the small generated data set: the files, the results list and reproducibility.</summary>
[Collection("devices")]
public sealed partial class KnnExperimentTests(TinyFashion tiny) : IClassFixture<TinyFashion>
{
    private static JsonNode Json(string dir, string file) => JsonNode.Parse(File.ReadAllText(Path.Combine(dir, file)))!;

    [Fact]
    public void Quick_run_writes_the_sweep_for_both_metrics_and_weightings()
    {
        var run = tiny.Run("knn");
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("l2: ", run.Out);
        Assert.Contains("l1: ", run.Out);

        var config = Json(run.Dir, "config.json");
        Assert.Equal("knn", config["experiment"]!.GetValue<string>());
        Assert.True(config["quick"]!.GetValue<bool>());

        var summary = Json(run.Dir, "summary.json");
        Assert.Equal(TinyFashion.TestPerClass * 10, summary["test_images"]!.GetValue<int>());
        Assert.Equal(TinyFashion.TrainPerClass * 10, summary["reference_images"]!.GetValue<int>());
        var results = summary["results"]!.AsArray();
        int[] ks = [1, 3, 5, 7, 9, 15, 25, 51, 101, 201];
        Assert.Equal(ks.Length * 4, results.Count);
        foreach (string metric in new[] { "l2", "l1" })
            foreach (string weights in new[] { "uniform", "distance" })
            {
                var line = results.Where(r => r!["metric"]!.GetValue<string>() == metric && r["weights"]!.GetValue<string>() == weights).ToList();
                Assert.Equal(ks, line.Select(r => r!["k"]!.GetValue<int>()));
                foreach (var r in line)
                {
                    Assert.InRange(r!["train_error"]!.GetValue<double>(), 0, 1);
                    Assert.InRange(r["test_error"]!.GetValue<double>(), 0, 1);
                }
                // Each image is its own nearest neighbour (the generated images are all distinct).
                Assert.Equal(0, line[0]!["train_error_with_self"]!.GetValue<double>());
                // The classes are bars at different places: a few neighbours classify them almost perfectly.
                Assert.True(line[2]!["test_error"]!.GetValue<double>() < 0.1, $"{metric} {weights} k=5");
            }
        Assert.Contains(summary["selected"]!["metric"]!.GetValue<string>(), new[] { "l1", "l2" });
        // Wall times are in timing.json and timing.csv, never in the summary.
        Assert.Null(summary["timings"]);
        Assert.Null(summary["seconds"]);
        Assert.True(Json(run.Dir, "timing.json")["42"]!["l1"]!["test_distance_seconds"]!.GetValue<double>() >= 0);
        Assert.True(File.Exists(Path.Combine(run.Dir, "timing.csv")));

        // The sweep is one run of the engine, in its own folder; the aggregate metrics.csv has its seed after the run's name.
        Assert.True(File.Exists(Path.Combine(run.Dir, "runs", "knn-s42", "summary.json")));
        var metrics = File.ReadAllLines(Path.Combine(run.Dir, "metrics.csv"));
        Assert.StartsWith("run,seed,metric,weights,k,train_error,", metrics[0]);
        Assert.All(metrics.Skip(1), row => Assert.StartsWith("knn,42,", row));
        Assert.Equal(results.Count + 1, metrics.Length);
        Assert.DoesNotContain("second", metrics[0]);

        string report = File.ReadAllText(Path.Combine(run.Dir, "report.md"));
        var embedded = ImageLinks().Matches(report).Select(m => m.Groups[1].Value).ToHashSet();
        var plots = Directory.GetFiles(run.Dir, "*.png").Select(Path.GetFileName).ToHashSet();
        Assert.Equal(["error_vs_k.png"], plots);
        Assert.Equal(plots.Order(), embedded.Order());
        Assert.Contains("variance", report);
        Assert.Contains("--quick", report);
        Assert.Empty(Directory.GetFiles(run.Dir, "*.tmp"));
    }

    [Fact]
    public void Same_seed_gives_the_same_metrics()
    {
        var a = tiny.Run("knn");
        var b = tiny.Run("knn", tag: "-again");
        Assert.True(a.Code == 0 && b.Code == 0, a.Err + b.Err);
        Assert.Equal(File.ReadAllText(Path.Combine(a.Dir, "metrics.csv")), File.ReadAllText(Path.Combine(b.Dir, "metrics.csv")));
    }

    [Fact]
    public void Two_seeds_give_two_sweeps_and_the_spread_of_the_leave_one_out_error()
    {
        var run = tiny.Run("knn", seeds: 2);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.True(File.Exists(Path.Combine(run.Dir, "runs", "knn-s42", "summary.json")));
        Assert.True(File.Exists(Path.Combine(run.Dir, "runs", "knn-s43", "summary.json")));
        var summary = Json(run.Dir, "summary.json");
        Assert.Equal([42, 43], summary["seeds"]!.AsArray().Select(s => s!.GetValue<int>()));
        // Each seed's leave-one-out error is counted again from metrics.csv (wrong / images of that seed's row), and the
        // reported error is their mean.
        var lines = File.ReadAllLines(Path.Combine(run.Dir, "metrics.csv"));
        var header = lines[0].Split(',').ToList();
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        string Field(string[] row, string column) => row[header.IndexOf(column)];
        Assert.All(new[] { "seed", "metric", "weights", "k", "train_wrong", "train_images" }, c => Assert.Contains(c, header));
        foreach (var r in summary["results"]!.AsArray())
        {
            var loo = r!["over_seeds"]!["train_error"]!;
            Assert.Equal(2, loo["n"]!.GetValue<int>());
            Assert.Equal(2, loo["ci95"]!.AsArray().Count);
            double[] counted = [.. new[] { "42", "43" }.Select(seed => rows.Single(row => Field(row, "seed") == seed
                    && Field(row, "metric") == r["metric"]!.GetValue<string>() && Field(row, "weights") == r["weights"]!.GetValue<string>()
                    && Field(row, "k") == r["k"]!.GetValue<int>().ToString(CultureInfo.InvariantCulture)))
                .Select(row => double.Parse(Field(row, "train_wrong"), CultureInfo.InvariantCulture) / double.Parse(Field(row, "train_images"), CultureInfo.InvariantCulture))];
            Assert.Equal(counted, loo["values"]!.AsArray().Select(v => v!.GetValue<double>()), (a, b) => Math.Abs(a - b) <= 1e-12);
            Assert.Equal(counted.Average(), r["train_error"]!.GetValue<double>(), 12);
        }
        Assert.Equal(2, summary["selected"]!["per_seed"]!.AsArray().Count);
        Assert.Equal(2, summary["over_seeds"]!["test_accuracy"]!["ci95"]!.AsArray().Count);
        var metrics = File.ReadAllLines(Path.Combine(run.Dir, "metrics.csv"));
        Assert.Equal(2 * summary["results"]!.AsArray().Count + 1, metrics.Length);
        Assert.Contains("## Over seeds", File.ReadAllText(Path.Combine(run.Dir, "report.md")));
    }

    [GeneratedRegex(@"!\[[^\]]*\]\(([^)]+)\)")]
    private static partial Regex ImageLinks();
}
