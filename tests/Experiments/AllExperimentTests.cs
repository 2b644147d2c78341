using System.Text.Json.Nodes;
using GpuNet.Experiments;

namespace GpuNet.Tests.Experiments;

/// <summary><c>gpunet run all --quick</c> on the small generated data set: every experiment runs, in order, and the index links them.</summary>
[Collection("devices")]
public sealed class AllExperimentTests(TinyFashion tiny) : IClassFixture<TinyFashion>
{
    [Fact]
    public void Quick_run_all_runs_every_experiment_in_order_and_writes_an_index_with_their_key_numbers()
    {
        var run = tiny.Run("all");
        Assert.True(run.Code == 0, run.Err + run.Out);
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run.Dir, "summary.json")))!;
        var entries = summary["experiments"]!.AsArray().Select(e => e!.AsObject()).ToList();
        Assert.Equal(ExperimentRegistry.All.Select(e => e.Name), entries.Select(e => e["name"]!.GetValue<string>()));
        Assert.True(summary["quick"]!.GetValue<bool>());

        string index = File.ReadAllText(Path.Combine(run.Dir, "report.md"));
        foreach (var e in entries)
        {
            string name = e["name"]!.GetValue<string>();
            Assert.True(e["ok"]!.GetValue<bool>(), $"{name}: {e["error"]}");
            string keys = e["key_numbers"]!.GetValue<string>();
            Assert.False(keys == "-" || keys.StartsWith('('), $"{name} has no key numbers: {keys}");
            Assert.True(File.Exists(Path.Combine(run.Dir, name, "report.md")), $"{name}/report.md");
            Assert.True(File.Exists(Path.Combine(run.Dir, name, "summary.json")), $"{name}/summary.json");
            Assert.Contains($"]({name}/report.md)", index);
            Assert.Contains(keys.Replace("|", "\\|", StringComparison.Ordinal), index);
        }
        Assert.Contains("gpunet run all", index);

        // The times each experiment took are printed at the end and kept in the index: wall and CPU seconds, and the totals.
        foreach (var e in entries)
        {
            string name = e["name"]!.GetValue<string>();
            Assert.True(e["seconds"]!.GetValue<double>() >= 0 && e["cpu_seconds"]!.GetValue<double>() >= 0, name);
            Assert.Matches($@"\n  {System.Text.RegularExpressions.Regex.Escape(name)} +[0-9.]+ s wall +[0-9.]+ s CPU", run.Out);
        }
        Assert.Matches(@"\n  total +[0-9.]+ s wall +[0-9.]+ s CPU", run.Out);
        Assert.Equal(entries.Sum(e => e["cpu_seconds"]!.GetValue<double>()), summary["total_cpu_seconds"]!.GetValue<double>(), 0.1 * entries.Count);
    }

    [Fact]
    public void A_run_all_folder_compared_with_itself_agrees_on_every_verdict_and_choice()
    {
        var run = tiny.Run("all");
        Assert.True(run.Code == 0, run.Err + run.Out);
        var (code, output, err) = TinyFashion.Cli("table", "--out", run.Dir, "--compare", run.Dir);
        Assert.True(code == 0, err + output);
        Assert.Contains("all agree", output);
        // The real summaries' decisions are found: verdicts and choices of the experiments that make them.
        foreach (string row in new[] { "| `knn` | `selected.k` |", "| `regularize` | `chosen` |", "| `combo` | `chosen.label` |",
                     "| `optimizers` | `best_learning_rate.sgd` |", "| `l1-vs-l2` | `mlp.matched.l1` |", "| `distill` | `helps` |", "| `augment` | `over_seeds.gain_verdict` |" })
            Assert.Contains(row, output);
    }

    [Fact]
    public void All_is_a_name_run_accepts_and_help_lists()
    {
        Assert.Contains("all", ExperimentRegistry.Names);
        Assert.Same(ExperimentRegistry.RunAll, ExperimentRegistry.Get("all"));
        var (code, output, _) = TinyFashion.Cli("run", "--help");
        Assert.Equal(0, code);
        Assert.Contains("all", output);
    }
}
