using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;

namespace GpuNet.Tests.Experiments;

/// <summary>
/// <c>gpunet table --compare</c> on made-up <c>run all</c> folders: two that agree give no disagreement and exit 0; a flipped
/// verdict, another chosen configuration, another k, another divergent count and a failed experiment each count as one and
/// are shown side by side; numbers that are not decisions are not compared.
/// </summary>
public sealed class VerdictComparisonTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gpunet-compare-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static JsonObject Regularize(string l2Verdict, string chosen, double accuracy) => new()
    {
        ["test_accuracy"] = accuracy,
        ["chosen"] = chosen,
        ["runs"] = new JsonArray(
            new JsonObject { ["name"] = "overfit" },
            new JsonObject { ["name"] = "L2=1e-3", ["vs_overfit"] = new JsonObject { ["verdict"] = l2Verdict, ["test_accuracy_difference"] = new JsonObject { ["mean"] = accuracy - 0.8 } } }),
    };

    private static JsonObject Optimizers(int divergent, string sgdVerdict) => new()
    {
        ["chosen"] = "adam lr=0.001",
        ["optimizers"] = new JsonObject
        {
            ["sgd"] = new JsonObject
            {
                ["1"] = new JsonObject
                {
                    ["verdict"] = sgdVerdict,
                    ["divergent_seeds"] = divergent,
                    // Per-seed words are the seeds', not the experiment's: left out.
                    ["verdicts"] = new JsonArray(new JsonObject { ["seed"] = 42, ["verdict"] = sgdVerdict == "mixed" ? "good" : sgdVerdict }),
                },
            },
        },
        ["best_learning_rate"] = new JsonObject { ["sgd"] = 0.1 },
        ["best_rate"] = new JsonObject { ["sgd"] = new JsonObject { ["tied_with"] = new JsonArray(0.01), ["margin_verdict"] = "within noise" } },
    };

    private static JsonObject Knn(int k) => new()
    {
        ["selected"] = new JsonObject { ["metric"] = "l1", ["weights"] = "distance", ["k"] = k, ["test_error"] = 0.14 + k / 1000.0 },
    };

    // A run-all folder with regularize, optimizers and knn (knn failed when `knnFailed`).
    private string Folder(string name, JsonObject regularize, JsonObject optimizers, JsonObject knn, bool knnFailed = false, string device = "cpu")
    {
        string dir = Path.Combine(_root, name);
        var experiments = new[] { ("regularize", regularize), ("optimizers", optimizers), ("knn", knn) };
        var index = new JsonObject
        {
            ["seed"] = 42, ["quick"] = false, ["device"] = device, ["total_seconds"] = 100.0,
            ["experiments"] = new JsonArray(experiments.Select(e => (JsonNode)new JsonObject
            {
                ["name"] = e.Item1, ["ok"] = !(knnFailed && e.Item1 == "knn"), ["seconds"] = 10.0,
            }).ToArray()),
        };
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "summary.json"), index.ToJsonString());
        foreach (var (experiment, summary) in experiments)
        {
            Directory.CreateDirectory(Path.Combine(dir, experiment));
            File.WriteAllText(Path.Combine(dir, experiment, "summary.json"), summary.ToJsonString());
        }
        return dir;
    }

    [Fact]
    public void Folders_with_the_same_verdicts_agree_even_when_their_numbers_differ()
    {
        string a = Folder("a", Regularize("a gain", "L2=1e-3", 0.85), Optimizers(2, "divergent"), Knn(5), device: "cpu");
        string b = Folder("b", Regularize("a gain", "L2=1e-3", 0.86), Optimizers(2, "divergent"), Knn(5), device: "cuda");
        var result = VerdictComparison.Compare(a, b);
        Assert.Equal(0, result.Disagreements);
        Assert.Contains("all agree", result.Markdown);
        Assert.DoesNotContain("**differs**", result.Markdown);
        // What is compared: the verdicts, the choices, the divergent counts, k-NN's pick; not the accuracies.
        var paths = result.Rows.Select(r => $"{r.Experiment} {r.What}").ToList();
        Assert.Contains("regularize runs.[L2=1e-3].vs_overfit.verdict", paths);
        Assert.Contains("regularize chosen", paths);
        Assert.Contains("optimizers optimizers.sgd.1.verdict", paths);
        Assert.Contains("optimizers optimizers.sgd.1.divergent_seeds", paths);
        Assert.Contains("optimizers best_learning_rate.sgd", paths);
        Assert.Contains("optimizers best_rate.sgd.tied_with", paths);
        Assert.Contains("optimizers best_rate.sgd.margin_verdict", paths);
        Assert.Contains("knn selected.k", paths);
        Assert.Contains("knn selected.metric", paths);
        Assert.DoesNotContain(paths, p => p.Contains("accuracy", StringComparison.Ordinal) || p.Contains("test_error", StringComparison.Ordinal));
        Assert.DoesNotContain(paths, p => p.Contains(".verdicts.", StringComparison.Ordinal));
        Assert.Contains("device `cuda`", result.Markdown);
    }

    [Fact]
    public void Each_flipped_verdict_or_choice_counts_once_and_is_shown_side_by_side()
    {
        string a = Folder("a", Regularize("a gain", "L2=1e-3", 0.85), Optimizers(2, "divergent"), Knn(5));
        string b = Folder("b", Regularize("within noise", "overfit", 0.85), Optimizers(1, "mixed"), Knn(7));
        var result = VerdictComparison.Compare(a, b);
        var differing = result.Rows.Where(r => !r.Agrees).Select(r => (r.Experiment, r.What, r.Left, r.Right)).ToList();
        Assert.Equal(
        [
            ("regularize", "chosen", "L2=1e-3", "overfit"),
            ("regularize", "runs.[L2=1e-3].vs_overfit.verdict", "a gain", "within noise"),
            ("optimizers", "optimizers.sgd.1.verdict", "divergent", "mixed"),
            ("optimizers", "optimizers.sgd.1.divergent_seeds", "2", "1"),
            ("knn", "selected.k", "5", "7"),
        ], differing);
        Assert.Equal(5, result.Disagreements);
        Assert.Contains("**5 differ** (in 3 experiments)", result.Markdown);
        Assert.Contains("| `knn` | `selected.k` | 5 | 7 | **differs** |", result.Markdown);
        // The differences come first, on their own.
        string differences = result.Markdown[result.Markdown.IndexOf("## Where they differ", StringComparison.Ordinal)..result.Markdown.IndexOf("## Every verdict", StringComparison.Ordinal)];
        Assert.Contains("| `knn` | `selected.k` | 5 | 7 |", differences);
        Assert.DoesNotContain("`selected.metric`", differences);
    }

    [Fact]
    public void A_failed_experiment_is_a_disagreement_and_its_verdicts_show_as_absent()
    {
        string a = Folder("a", Regularize("a gain", "L2=1e-3", 0.85), Optimizers(2, "divergent"), Knn(5));
        string b = Folder("b", Regularize("a gain", "L2=1e-3", 0.85), Optimizers(2, "divergent"), Knn(5), knnFailed: true);
        var result = VerdictComparison.Compare(a, b);
        Assert.Contains(result.Rows, r => r is { Experiment: "knn", What: "finished", Left: "ok", Right: "(failed)" });
        Assert.Contains(result.Rows, r => r is { Experiment: "knn", What: "selected.k", Left: "5", Right: null });
        Assert.Equal(1 + 3, result.Disagreements);
        Assert.Contains("(absent)", result.Markdown);
    }

    [Fact]
    public void The_cli_exits_0_when_the_folders_agree_and_1_when_they_do_not()
    {
        string a = Folder("a", Regularize("a gain", "L2=1e-3", 0.85), Optimizers(2, "divergent"), Knn(5));
        string same = Folder("same", Regularize("a gain", "L2=1e-3", 0.85), Optimizers(2, "divergent"), Knn(5));
        string other = Folder("other", Regularize("a loss", "L2=1e-3", 0.85), Optimizers(2, "divergent"), Knn(5));
        var (code, output, err) = TinyFashion.Cli("table", "--out", a, "--compare", same);
        Assert.True(code == 0, err + output);
        Assert.Contains("all agree", output);
        (code, output, err) = TinyFashion.Cli("table", "--out", a, "--compare", other);
        Assert.True(code == 1, err + output);
        Assert.Contains("**1 differ**", output);
        // The comparison writes nothing into either folder.
        Assert.False(File.Exists(Path.Combine(a, ResultsTable.FileName)));
        (code, _, err) = TinyFashion.Cli("table", "--out", a, "--compare", Path.Combine(_root, "no-such-folder"));
        Assert.Equal(2, code);
        Assert.Contains("error:", err);
    }
}
