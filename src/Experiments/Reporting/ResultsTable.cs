using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GpuNet.Experiments.Reporting;

/// <summary>
/// The README's results table, written from a finished <c>gpunet run all</c> folder and nothing else: one row per
/// experiment with its seeds, its key numbers as the experiment's <see cref="IExperiment.KeyNumbers"/> reads them from its
/// summary.json (means with standard deviations over the seeds, each comparison's paired 95% interval and the verdict the
/// interval allows), and its run time from the index. <c>gpunet run all</c> and <c>gpunet report all</c> write it as
/// <c>results.md</c>; <c>gpunet table --out DIR</c> writes it again from the files.
/// </summary>
public static class ResultsTable
{
    /// <summary>The table's file in the run-all folder.</summary>
    public const string FileName = "results.md";

    /// <summary>
    /// The markdown of the table from the run-all index (<c>summary.json</c> of the run-all folder) and, for each experiment
    /// it lists, its summary.json and config.json (<paramref name="file"/> returns null for a missing one).
    /// </summary>
    /// <param name="index">The run-all folder's summary.json.</param>
    /// <param name="file">The object in an experiment's file: (experiment name, file name) to the parsed object or null.</param>
    public static string Markdown(JsonObject index, Func<string, string, JsonObject?> file)
    {
        var entries = (index["experiments"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var rows = new List<IReadOnlyList<string>>();
        foreach (var e in entries)
        {
            string name = Summaries.Text(e, "name") ?? "?";
            var experiment = ExperimentRegistry.Names.Contains(name) ? ExperimentRegistry.Get(name) : null;
            bool ok = e["ok"] is JsonValue v && v.TryGetValue(out bool b) && b;
            var summary = ok ? file(name, "summary.json") : null;
            string result = !ok ? $"**failed**: {Summaries.Text(e, "error") ?? "no error recorded"}"
                : summary is null || experiment is null ? "(no summary.json)"
                : experiment.KeyNumbers(summary);
            var seeds = (file(name, "config.json")?["seeds"] as JsonArray ?? []).Select(s => s?.ToJsonString() ?? "?").ToList();
            rows.Add([$"`{name}`", seeds.Count == 0 ? "-" : $"{seeds.Count} ({string.Join(", ", seeds)})", result,
                Summaries.Number(e, "seconds") is { } s ? RunFiles.Duration(s) : "-"]);
        }
        var text = new StringBuilder();
        bool quick = index["quick"] is JsonValue q && q.TryGetValue(out bool isQuick) && isQuick;
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"From `gpunet run all` on `{Summaries.Text(index, "device") ?? "the default device"}`, first seed {Summaries.Number(index, "seed")}" +
            $"{(Summaries.Number(index, "epochs") is { } ep ? $", every training run cut to {ep} epochs" : "")}" +
            $"{(quick ? ", **quick** (small subsets: smoke-test numbers, not results)" : "")}, {RunFiles.Duration(Summaries.Number(index, "total_seconds") ?? double.NaN)} in all. " +
            $"Means ± standard deviations over the seeds; each comparison is a difference paired by seed with its 95% interval, called a gain " +
            $"or a loss only when the interval excludes zero. Written by `gpunet table` from the experiments' summary.json files."));
        text.AppendLine();
        text.Append(RunFiles.Table(["experiment", "seeds", "result", "time"], rows, "lllr"));
        return text.ToString();
    }

    /// <summary>Writes <see cref="FileName"/> into the run-all folder <paramref name="dir"/> from its files; returns the markdown.</summary>
    /// <exception cref="FileNotFoundException">The folder holds no run-all summary.json.</exception>
    public static string Write(string dir)
    {
        string indexPath = Path.Combine(dir, "summary.json");
        if (!File.Exists(indexPath)) throw new FileNotFoundException($"{indexPath} is missing: run `gpunet run all --out {dir}` first.", indexPath);
        var index = Read(indexPath) ?? throw new InvalidDataException($"{indexPath} is not a JSON object.");
        string markdown = Markdown(index, (name, file) => Read(Path.Combine(dir, name, file)));
        new RunFolder(dir).WriteText(FileName, markdown);
        return markdown;
    }

    private static JsonObject? Read(string path)
    {
        try
        {
            return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) as JsonObject : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
