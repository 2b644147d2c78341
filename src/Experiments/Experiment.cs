using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;

namespace GpuNet.Experiments;

/// <summary>What <c>gpunet run</c> was asked for.</summary>
/// <param name="Device">The device specification, or null for the default.</param>
/// <param name="Seed">The seed of every random choice.</param>
/// <param name="Epochs">An override of the experiment's epoch count.</param>
/// <param name="Quick">Run on a small subset.</param>
/// <param name="OutDir">The run folder.</param>
/// <param name="DataDir">The Fashion-MNIST folder (null: <c>$GPUNET_DATA</c>, else <c>./data/fashion-mnist</c>).</param>
public sealed record RunOptions(string? Device, int Seed, int? Epochs, bool Quick, string OutDir, string? DataDir = null);

/// <summary>One experiment of the course, run by <c>gpunet run NAME</c>.</summary>
public interface IExperiment
{
    /// <summary>The name on the command line.</summary>
    string Name { get; }

    /// <summary>One line saying what it shows.</summary>
    string Summary { get; }

    /// <summary>Runs the experiment and writes its run folder, showing text and training progress on <paramref name="console"/>.</summary>
    /// <returns>The exit code.</returns>
    int Run(RunOptions options, RunConsole console);

    /// <summary>
    /// The experiment's headline numbers, read from the summary.json its <see cref="Run"/> wrote, for the index that
    /// <c>gpunet run all</c> writes. By default the test accuracy of the reported model.
    /// </summary>
    string KeyNumbers(JsonObject summary) =>
        Summaries.Number(summary, "test_accuracy") is { } a ? $"test accuracy {RunFiles.Pct(a)}" : "-";
}

/// <summary>Reading numbers back from a summary.json.</summary>
public static class Summaries
{
    /// <summary>The number at <paramref name="path"/> (keys separated by '.'), or null when it is missing or not a number.</summary>
    public static double? Number(JsonNode? node, string path)
    {
        foreach (string key in path.Split('.'))
            node = node is JsonObject o && o.TryGetPropertyValue(key, out var child) ? child : null;
        return node is JsonValue v && v.TryGetValue(out double d) ? d : null;
    }

    /// <summary>The string at <paramref name="path"/>, or null.</summary>
    public static string? Text(JsonNode? node, string path)
    {
        foreach (string key in path.Split('.'))
            node = node is JsonObject o && o.TryGetPropertyValue(key, out var child) ? child : null;
        return node is JsonValue v && v.TryGetValue(out string? s) ? s : null;
    }
}

/// <summary>Every experiment, in the course's order.</summary>
public static class ExperimentRegistry
{
    /// <summary>All experiments.</summary>
    public static IReadOnlyList<IExperiment> All { get; } =
        [new MlpExperiment(), new OverfitExperiment(), new AugmentExperiment(), new RegularizeExperiment(), new DropoutTable(), new ComboExperiment(), new OptimizersExperiment(),
            new KnnExperiment(), new L1VsL2Experiment(), new DistillExperiment()];

    /// <summary><c>gpunet run all</c>: every experiment of <see cref="All"/>, then an index report.</summary>
    public static IExperiment RunAll { get; } = new AllExperiment();

    /// <summary>The names <c>gpunet run</c> accepts: every experiment, then <c>all</c>.</summary>
    public static IEnumerable<string> Names => All.Select(e => e.Name).Append(RunAll.Name);

    /// <summary>The experiment called <paramref name="name"/>.</summary>
    /// <exception cref="UsageException">No experiment has that name.</exception>
    public static IExperiment Get(string name) =>
        (name == RunAll.Name ? RunAll : All.FirstOrDefault(e => e.Name == name))
        ?? throw new UsageException($"unknown experiment '{name}'; choose one of: {string.Join(", ", Names)}.");
}

/// <summary>A run's output folder: config.json, summary.json, metrics.csv, plots and report.md.</summary>
public sealed class RunFolder
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Creates (or reuses) the folder.</summary>
    public RunFolder(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(Path);
    }

    /// <summary>The folder's full path.</summary>
    public string Path { get; }

    /// <summary>The full path of a file in the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes a JSON document, indented, atomically (temporary file, then rename).</summary>
    public void WriteJson(string name, JsonNode node) => WriteText(name, node.ToJsonString(Indented) + "\n");

    /// <summary>Writes a text file atomically (temporary file, then rename).</summary>
    public void WriteText(string name, string text)
    {
        string target = File(name);
        string temp = target + ".tmp";
        System.IO.File.WriteAllText(temp, text);
        System.IO.File.Move(temp, target, overwrite: true);
    }

    /// <summary>The config.json every run writes: what is needed to run it again.</summary>
    public void WriteConfig(string experiment, RunOptions options, Device device, JsonObject? extra = null)
    {
        var config = new JsonObject
        {
            ["experiment"] = experiment,
            ["device"] = device.Spec,
            ["device_name"] = device.Name,
            ["seed"] = options.Seed,
            ["epochs"] = options.Epochs,
            ["quick"] = options.Quick,
            ["command"] = $"gpunet run {experiment} --device {device.Spec} --seed {options.Seed}"
                + (options.Epochs is { } e ? $" --epochs {e}" : "") + (options.Quick ? " --quick" : ""),
        };
        if (extra is not null)
            foreach (var (key, value) in extra.ToList())
            {
                extra.Remove(key);
                config[key] = value;
            }
        WriteJson("config.json", config);
    }
}
