using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run all</c>: every experiment of <see cref="ExperimentRegistry.All"/> in the course's order, each in its own
/// sub-folder of the run folder with the same device, seed, <c>--epochs</c> and <c>--quick</c>, then an index report.md
/// that links each report and puts each experiment's key numbers (<see cref="IExperiment.KeyNumbers"/>) and run time in
/// one table, and results.md, the README's results table (<see cref="ResultsTable"/>). An experiment that fails is recorded
/// with its error and the others still run; the exit code is then 1.
/// </summary>
public sealed class AllExperiment : IExperiment
{
    /// <inheritdoc />
    public string Name => "all";

    /// <inheritdoc />
    public string Summary => "Every experiment in the course's order, then an index report with each one's key numbers.";

    /// <summary>What one experiment of the sweep gave.</summary>
    private sealed record Entry(IExperiment Experiment, int ExitCode, double Seconds, double CpuSeconds, string KeyNumbers, string? Error)
    {
        public bool Ok => ExitCode == Cli.ExitOk && Error is null;
    }

    /// <summary>
    /// Runs (or, with <paramref name="reportOnly"/>, only reports) every experiment with one engine: the device is opened
    /// and the data loaded once, and the runs go to one store, <c>OUT/runs</c>, so a run that several experiments plan
    /// (the overfitting baseline of overfit, augment, regularize and combo) is fitted once. With <c>--shard</c> each
    /// experiment fits its shard of its runs and no report is written.
    /// </summary>
    public int Run(RunOptions options, RunConsole console, bool reportOnly)
    {
        var folder = new RunFolder(options.OutDir);
        var experiments = ExperimentRegistry.All;
        var clock = Stopwatch.StartNew();
        var entries = new List<Entry>();
        var store = Engine.ExperimentRunner.StoreFor(options.OutDir);
        using var engine = new Engine.ExperimentEngine(options.Device, options.DataDir, store, console, fits: !reportOnly);
        for (int i = 0; i < experiments.Count; i++)
        {
            var experiment = experiments[i];
            var sub = options with { OutDir = folder.File(experiment.Name) };
            console.WriteLine($"== [{i + 1}/{experiments.Count}] {experiment.Name}: {experiment.Summary}");
            console.BeginExperiment();
            var watch = Stopwatch.StartNew();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            int code = Cli.ExitOk;
            string? error = null;
            try
            {
                if (!reportOnly) error = engine.Run([(experiment, sub)], options.Shard)[0];
                else if (engine.Missing(experiment, sub with { Shard = null }) is { Count: > 0 } missing)
                    error = $"{missing.Count} runs are not finished, for example {missing[0]}";
                else engine.Report(experiment, sub with { Shard = null });
            }
            catch (Exception e) when (e is not UsageException and not DeviceNotAvailableException)
            {
                // The same device and data would fail the rest as well; anything else is this experiment's own failure.
                error = $"{e.GetType().Name}: {e.Message}";
            }
            if (error is not null)
            {
                code = Cli.ExitFailure;
                console.WriteLine($"{experiment.Name} failed: {error}");
            }
            watch.Stop();
            double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            string keys = code == Cli.ExitOk && options.Shard is null ? ReadKeyNumbers(experiment, sub.OutDir) : "-";
            entries.Add(new Entry(experiment, code, watch.Elapsed.TotalSeconds, cpuSeconds, keys, error));
        }
        double total = clock.Elapsed.TotalSeconds;
        foreach (var e in entries)
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {e.Experiment.Name,-14} {e.Seconds,8:F1} s wall {e.CpuSeconds,8:F1} s CPU{(e.Ok ? "" : "  (failed)")}"));
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {"total",-14} {total,8:F1} s wall {entries.Sum(e => e.CpuSeconds),8:F1} s CPU (CPU: every thread of this process; a fairer figure than wall time on a shared machine)"));
        if (options.Shard is { } shard)
        {
            console.WriteLine($"all: shard {shard} done in {RunFiles.Duration(total)}; when every shard is, write the reports with " +
                $"`gpunet report all --out {options.OutDir} {options.Arguments()}`.");
            return entries.All(e => e.Ok) ? Cli.ExitOk : Cli.ExitFailure;
        }
        Write(folder, options, entries, total);
        console.WriteLine($"all: {entries.Count(e => e.Ok)} of {entries.Count} experiments done in {RunFiles.Duration(total)}; index: {folder.File("report.md")}");
        return entries.All(e => e.Ok) ? Cli.ExitOk : Cli.ExitFailure;
    }

    private static string ReadKeyNumbers(IExperiment experiment, string dir)
    {
        string path = Path.Combine(dir, "summary.json");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) is JsonObject summary ? experiment.KeyNumbers(summary) : "(summary.json is not an object)";
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidOperationException or FormatException)
        {
            return $"(summary.json unreadable: {e.Message})";
        }
    }

    private static void Write(RunFolder folder, RunOptions options, List<Entry> entries, double total)
    {
        folder.WriteJson("summary.json", new JsonObject
        {
            ["seed"] = options.Seed,
            ["quick"] = options.Quick,
            ["epochs"] = options.Epochs,
            ["device"] = options.Device,
            ["total_seconds"] = Math.Round(total, 1),
            ["total_cpu_seconds"] = Math.Round(entries.Sum(e => e.CpuSeconds), 1),
            ["experiments"] = new JsonArray(entries.Select(e => (JsonNode)new JsonObject
            {
                ["name"] = e.Experiment.Name,
                ["ok"] = e.Ok,
                ["exit_code"] = e.ExitCode,
                ["seconds"] = Math.Round(e.Seconds, 1),
                ["cpu_seconds"] = Math.Round(e.CpuSeconds, 1),
                ["report"] = $"{e.Experiment.Name}/report.md",
                ["key_numbers"] = e.KeyNumbers,
                ["error"] = e.Error,
            }).ToArray()),
        });

        var text = new StringBuilder();
        text.AppendLine("# The course, every experiment");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"{entries.Count} experiments in the course's order, seed {options.Seed}{(options.Quick ? ", **quick** (small subsets: smoke-test numbers, not results)" : "")}" +
            $"{(options.Epochs is { } ep ? $", every training run cut to {ep} epochs" : "")}; {entries.Count(e => e.Ok)} finished, in " +
            $"{RunFiles.Duration(total)} in all. Each row links the experiment's own report, which says how its numbers were measured."));
        text.AppendLine();
        text.Append(RunFiles.Table(["#", "experiment", "what it shows", "key numbers", "time"],
            entries.Select((e, i) => (IReadOnlyList<string>)[
                (i + 1).ToString(CultureInfo.InvariantCulture),
                e.Ok ? $"[{e.Experiment.Name}]({e.Experiment.Name}/report.md)" : $"{e.Experiment.Name} (**failed**)",
                e.Experiment.Summary.Replace("|", "\\|", StringComparison.Ordinal),
                (e.Error ?? e.KeyNumbers).Replace("|", "\\|", StringComparison.Ordinal),
                RunFiles.Duration(e.Seconds)]), "rlllr"));
        text.AppendLine();
        text.AppendLine("---");
        text.AppendLine();
        text.AppendLine($"Run with `gpunet run all{(options.Device is { } d ? $" --device {d}" : "")} --seed {options.Seed}" +
            (options.Epochs is { } e2 ? $" --epochs {e2}" : "") + (options.Quick ? " --quick" : "") + "`. " +
            $"[`{ResultsTable.FileName}`]({ResultsTable.FileName}) holds the same results as the README's table (`gpunet table --out {options.OutDir}` writes it again).");
        folder.WriteText("report.md", text.ToString());
        ResultsTable.Write(folder.Path);
    }
}
