using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace GpuNet.Experiments.Reporting;

/// <summary>
/// Two <c>gpunet run all</c> folders compared verdict by verdict (<c>gpunet table --out A --compare B</c>): for every
/// experiment, each word its summary.json commits to (every <c>*verdict</c> field: a gain, a loss, within noise, an
/// optimizer rate's good/too slow/divergent...; and every choice: the chosen configuration, the best single cure, the best
/// rate per optimizer and the rates tied with it, the rates that diverged on some seed, k-NN's selected metric, weighting
/// and k, the matched L1/L2 pair, the sizes where distillation helps, the epoch of the lowest test loss) side by side, and
/// the count of those that differ. Numbers that are not decisions (accuracies, intervals) are left out: they differ between
/// machines in their last digits without changing what the course concludes.
/// </summary>
public static partial class VerdictComparison
{
    /// <summary>One decision of one experiment in both folders (null: absent from that folder).</summary>
    /// <param name="Experiment">The experiment's name.</param>
    /// <param name="What">The field's path in the experiment's summary.json.</param>
    /// <param name="Left">Its value in the first folder.</param>
    /// <param name="Right">Its value in the second folder.</param>
    public sealed record Row(string Experiment, string What, string? Left, string? Right)
    {
        /// <summary>Both folders hold it with the same value.</summary>
        public bool Agrees => Left is not null && Left == Right;
    }

    /// <summary>The result: every row, and the markdown that shows them.</summary>
    /// <param name="Rows">Every decision, in the experiments' order.</param>
    /// <param name="Markdown">The comparison as a markdown page.</param>
    public sealed record Result(IReadOnlyList<Row> Rows, string Markdown)
    {
        /// <summary>Rows whose values differ, or that only one folder holds.</summary>
        public int Disagreements => Rows.Count(r => !r.Agrees);
    }

    // The fields that are decisions, by their path in an experiment's summary.json (array items are numbered).
    private static readonly Regex[] Decisions =
    [
        VerdictField(),
        new(@"^(chosen|helps)$"),
        new(@"^(chosen|best_single)\.label$"),
        new(@"^selected\.(metric|weights|k)$"),
        new(@"^best_learning_rate\.[^.]+$"),
        new(@"^best_rate\.[^.]+\.tied_with$"),
        new(@"^optimizers\.[^.]+\..+\.divergent_seeds$"),
        new(@"^mlp\.matched\.(l1|l2)$"),
        new(@"^overfitting\.min_test_loss_epoch$"),
    ];

    [GeneratedRegex(@"(^|\.)[a-z0-9_]*verdict$")]
    private static partial Regex VerdictField();

    /// <summary>The decisions in one experiment's summary.json, by path (an array item with a <c>name</c> is called
    /// <c>[name]</c>, others by their index), in the file's order. Per-seed lists
    /// (<c>verdicts</c>) are left out: the experiment's own verdict over the seeds is what it concludes.</summary>
    public static IReadOnlyList<(string Path, string Value)> Of(JsonObject summary)
    {
        var found = new List<(string, string)>();
        Walk(summary, "", found);
        return found;
    }

    private static void Walk(JsonNode? node, string path, List<(string, string)> found)
    {
        // A decision is a value or a list of values; an object of that name (combo's `chosen`) is looked into.
        if (node is not JsonObject && path.Length > 0 && Decisions.Any(d => d.IsMatch(path)) && !path.Contains(".verdicts.", StringComparison.Ordinal))
        {
            found.Add((path, Text(node)));
            return;
        }
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o) Walk(value, path.Length == 0 ? key : $"{path}.{key}", found);
                break;
            case JsonArray a:
                // An item with a name is called by it (regularize's runs), so the rows say which run a verdict is of.
                for (int i = 0; i < a.Count; i++)
                    Walk(a[i], $"{path}.{(a[i] is JsonObject item && Summaries.Text(item, "name") is { } n ? $"[{n}]" : i.ToString(CultureInfo.InvariantCulture))}", found);
                break;
        }
    }

    private static string Text(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray a => a.Count == 0 ? "(none)" : string.Join(", ", a.Select(Text)),
        JsonValue v when v.TryGetValue(out string? s) => s.Length == 0 ? "(none)" : s,
        _ => node.ToJsonString(),
    };

    /// <summary>Compares the run-all index <paramref name="left"/> with <paramref name="right"/>, reading each experiment's
    /// summary.json through <paramref name="leftFile"/> and <paramref name="rightFile"/> (experiment name to the parsed object,
    /// null when missing).</summary>
    /// <param name="left">The first folder's run-all summary.json.</param>
    /// <param name="leftName">What to call the first folder.</param>
    /// <param name="leftFile">The first folder's experiment summaries.</param>
    /// <param name="right">The second folder's run-all summary.json.</param>
    /// <param name="rightName">What to call the second folder.</param>
    /// <param name="rightFile">The second folder's experiment summaries.</param>
    public static Result Compare(JsonObject left, string leftName, Func<string, JsonObject?> leftFile,
        JsonObject right, string rightName, Func<string, JsonObject?> rightFile)
    {
        static List<string> Names(JsonObject index) =>
            (index["experiments"] as JsonArray ?? []).OfType<JsonObject>().Select(e => Summaries.Text(e, "name") ?? "?").ToList();
        static bool Ok(JsonObject index, string name) => (index["experiments"] as JsonArray ?? []).OfType<JsonObject>()
            .Any(e => Summaries.Text(e, "name") == name && e["ok"] is JsonValue v && v.TryGetValue(out bool b) && b);
        var names = Names(left).Concat(Names(right)).Distinct().ToList();
        var rows = new List<Row>();
        foreach (string name in names)
        {
            var a = Ok(left, name) ? leftFile(name) : null;
            var b = Ok(right, name) ? rightFile(name) : null;
            string Status(JsonObject index, JsonObject? summary) => !Names(index).Contains(name) ? "(not run)" : !Ok(index, name) ? "(failed)"
                : summary is null ? "(no summary.json)" : "ok";
            rows.Add(new Row(name, "finished", Status(left, a), Status(right, b)));
            var da = a is null ? [] : Of(a);
            var db = b is null ? [] : Of(b);
            var lookup = db.ToDictionary(d => d.Path, d => d.Value);
            var seen = new HashSet<string>();
            foreach (var (path, value) in da)
            {
                seen.Add(path);
                rows.Add(new Row(name, path, value, lookup.GetValueOrDefault(path)));
            }
            foreach (var (path, value) in db.Where(d => !seen.Contains(d.Path)))
                rows.Add(new Row(name, path, null, value));
        }

        var text = new StringBuilder();
        text.AppendLine("# Verdicts of two `gpunet run all` folders");
        text.AppendLine();
        string Setup(JsonObject index) => string.Create(CultureInfo.InvariantCulture,
            $"device `{Summaries.Text(index, "device") ?? "default"}`, first seed {Summaries.Number(index, "seed")}" +
            $"{(index["quick"] is JsonValue q && q.TryGetValue(out bool quick) && quick ? ", quick" : "")}" +
            $"{(Summaries.Number(index, "epochs") is { } ep ? $", {ep} epochs" : "")}");
        string setupA = Setup(left), setupB = Setup(right);
        text.AppendLine($"- A: `{leftName}` ({setupA})");
        text.AppendLine($"- B: `{rightName}` ({setupB})");
        if (StripDevice(left) != StripDevice(right))
            text.AppendLine("- **The two runs differ in seed, --quick or --epochs: their verdicts need not agree.**");
        text.AppendLine();
        int disagreements = rows.Count(r => !r.Agrees);
        int experimentsDiffering = rows.Where(r => !r.Agrees).Select(r => r.Experiment).Distinct().Count();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"{rows.Count} verdicts and choices compared over {names.Count} experiments: **{(disagreements == 0 ? "all agree" : $"{disagreements} differ")}**" +
            $"{(disagreements == 0 ? "" : $" (in {experimentsDiffering} {(experimentsDiffering == 1 ? "experiment" : "experiments")})")}. " +
            $"A verdict is the word the paired 95% interval allows (a gain, a loss, within noise) or a rule's reading (good, too slow, divergent...); " +
            $"a choice is what the experiment picked from its runs."));
        text.AppendLine();
        if (disagreements > 0)
        {
            text.AppendLine("## Where they differ");
            text.AppendLine();
            text.Append(RunFiles.Table(["experiment", "verdict or choice", "A", "B"],
                rows.Where(r => !r.Agrees).Select(r => (IReadOnlyList<string>)[$"`{r.Experiment}`", $"`{r.What}`", Cell(r.Left), Cell(r.Right)]), "llll"));
            text.AppendLine();
            text.AppendLine("## Every verdict and choice");
            text.AppendLine();
        }
        text.Append(RunFiles.Table(["experiment", "verdict or choice", "A", "B", ""],
            rows.Select(r => (IReadOnlyList<string>)[$"`{r.Experiment}`", $"`{r.What}`", Cell(r.Left), Cell(r.Right), r.Agrees ? "same" : "**differs**"]), "lllll"));
        return new Result(rows, text.ToString());
    }

    private static string StripDevice(JsonObject index) =>
        $"{Summaries.Number(index, "seed")}|{index["quick"]?.ToJsonString()}|{Summaries.Number(index, "epochs")}";

    private static string Cell(string? value) => value ?? "(absent)";

    /// <summary>Compares the run-all folders <paramref name="left"/> and <paramref name="right"/> from their files.</summary>
    /// <exception cref="FileNotFoundException">A folder holds no run-all summary.json.</exception>
    public static Result Compare(string left, string right)
    {
        JsonObject Index(string dir)
        {
            string path = Path.Combine(dir, "summary.json");
            if (!File.Exists(path)) throw new FileNotFoundException($"{path} is missing: {dir} is not a `gpunet run all` folder.", path);
            return Read(path) ?? throw new InvalidDataException($"{path} is not a JSON object.");
        }
        return Compare(Index(left), left, name => Read(Path.Combine(left, name, "summary.json")),
            Index(right), right, name => Read(Path.Combine(right, name, "summary.json")));
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
