using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Engine;
using GpuNet.Kernels;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run dropout-table</c>: standard vs inverted dropout on the course's 4x4 layer output and mask, computed by
/// the dropout kernels with the given mask (1 marks a kept unit), in training and at test time. One run of the engine
/// (the table is deterministic: no data, and the seed decides nothing), so <c>gpunet run all</c> treats it like the others.
/// </summary>
public sealed class DropoutTable : ICourseExperiment
{
    /// <summary>The layer output of the exercise.</summary>
    public static readonly float[,] Output =
    {
        { 1.6f, -0.7f, -0.2f, 1.9f },
        { -2.3f, 2.5f, 2.5f, -0.9f },
        { -0.5f, 3.2f, 3.7f, -0.4f },
        { 1.3f, -0.4f, -2.6f, 1.2f },
    };

    /// <summary>The mask of the exercise: 1 keeps a unit, 0 drops it.</summary>
    public static readonly float[,] Mask =
    {
        { 1, 0, 0, 1 },
        { 0, 1, 1, 0 },
        { 0, 1, 1, 0 },
        { 1, 0, 0, 1 },
    };

    /// <inheritdoc />
    public string Name => "dropout-table";

    /// <inheritdoc />
    public string Summary => "Standard vs inverted dropout on a given 4x4 layer output and mask, train and test.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary)
    {
        static string Row(JsonNode? m) => m is JsonArray rows && rows.Count > 0 ? rows[0]!.ToJsonString().Replace(",", ", ", StringComparison.Ordinal) : "-";
        return $"p_keep {Summaries.Number(summary, "p_keep")}: row 1 in training {Row(summary["standard"]?["train"])} (standard) vs " +
            $"{Row(summary["inverted"]?["train"])} (inverted); at test {Row(summary["standard"]?["test"])} (standard) vs {Row(summary["inverted"]?["test"])} (inverted)";
    }

    /// <summary>The four results of the exercise.</summary>
    public sealed record Result(float PKeep, float[,] StandardTrain, float[,] StandardTest, float[,] InvertedTrain, float[,] InvertedTest);

    /// <summary>Computes the four tables on <paramref name="device"/> with the dropout kernels.</summary>
    public static Result Compute(Device device)
    {
        int kept = 0;
        foreach (float m in Mask) kept += m != 0 ? 1 : 0;
        float pKeep = kept / (float)Mask.Length;

        using var x = Tensor.FromArray(device, Output);
        using var mask = Tensor.FromArray(device, Mask);
        float[,] Apply(DropoutMode mode, bool train)
        {
            using var y = Tensor.Zeros(device, 4, 4);
            if (train) Dropout.ForwardTrain(device, mode, x.View, mask.View, y.View, pKeep);
            else Dropout.ForwardEval(device, mode, x.View, y.View, pKeep);
            return y.ToArray2D();
        }

        return new Result(pKeep,
            Apply(DropoutMode.Standard, train: true), Apply(DropoutMode.Standard, train: false),
            Apply(DropoutMode.Inverted, train: true), Apply(DropoutMode.Inverted, train: false));
    }

    /// <summary>Seeds by default: the table computes the same numbers with every seed, so one run is all there is.</summary>
    public int DefaultSeeds => 1;

    /// <summary>One run, with the first seed whatever <c>--seeds</c> says: the mask is given, so the seed decides nothing.</summary>
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context) => [new TableRun(context.Seed)];

    /// <inheritdoc />
    public void Analyse(ExperimentContext context, RunSet runs)
    {
        var run = runs.All.Single();
        var result = FromJson(run.Summary);
        context.WriteConfig(new JsonObject { ["run"] = run.Plan.Key }, usesData: false);
        var summary = (JsonObject)run.Summary.DeepClone();
        summary["run"] = run.Plan.Key;
        context.Folder.WriteJson("summary.json", summary);

        var text = new StringBuilder();
        text.AppendLine($"p_keep = {Format(result.PKeep)} (the mask keeps {result.PKeep * 16:0} of 16 units)");
        text.AppendLine();
        AppendTable(text, "layer output", Output);
        AppendTable(text, "mask", Mask);
        AppendTable(text, "standard dropout, train: y = x * m", result.StandardTrain);
        AppendTable(text, $"standard dropout, test: y = x * p_keep", result.StandardTest);
        AppendTable(text, $"inverted dropout, train: y = x * m / p_keep", result.InvertedTrain);
        AppendTable(text, "inverted dropout, test: y = x", result.InvertedTest);
        foreach (string line in text.ToString().TrimEnd().Split('\n')) context.Console.WriteLine(line.TrimEnd('\r'));
        context.Finish(Report(result, text.ToString()) + "\n" + context.Footer() + "\n");
    }

    /// <summary>The table as a run of the engine: computed on the run's device by the dropout kernels, into its summary.json.</summary>
    private sealed class TableRun(int seed) : PlannedRun("dropout-table", seed)
    {
        public override bool UsesData => false;

        public override JsonObject Identity() => new()
        {
            ["kind"] = "dropout-table",
            ["output"] = ToJson(Output),
            ["mask"] = ToJson(Mask),
        };

        public override void Fit(RunContext context)
        {
            var result = Compute(context.Device);
            context.Folder.WriteJson(RunStore.SummaryFile, new JsonObject
            {
                ["p_keep"] = Round(result.PKeep),
                ["standard"] = new JsonObject { ["train"] = ToJson(result.StandardTrain), ["test"] = ToJson(result.StandardTest) },
                ["inverted"] = new JsonObject { ["train"] = ToJson(result.InvertedTrain), ["test"] = ToJson(result.InvertedTest) },
            });
        }
    }

    // The tables back from a summary.json (the values as written: rounded to six decimals).
    private static Result FromJson(JsonObject summary)
    {
        static float[,] Matrix(JsonNode? node)
        {
            var rows = node!.AsArray();
            var m = new float[rows.Count, rows[0]!.AsArray().Count];
            for (int r = 0; r < m.GetLength(0); r++)
                for (int c = 0; c < m.GetLength(1); c++) m[r, c] = (float)rows[r]![c]!.GetValue<double>();
            return m;
        }
        return new Result((float)summary["p_keep"]!.GetValue<double>(), Matrix(summary["standard"]?["train"]), Matrix(summary["standard"]?["test"]),
            Matrix(summary["inverted"]?["train"]), Matrix(summary["inverted"]?["test"]));
    }

    private static string Report(Result r, string tables) =>
        $"""
        # Dropout vs inverted dropout

        A layer's output `x` and a dropout mask `m` (1 = kept). The mask keeps {r.PKeep * 16:0} of 16 units, so
        p_keep = {Format(r.PKeep)}.

        - **Standard dropout** multiplies by the mask in training (`y = x * m`), so the expected activation in training is
          `p_keep * x`; at test time every unit is kept, and to give the next layer the same expected input the output is
          scaled down: `y = x * p_keep`.
        - **Inverted dropout** does the scaling in training instead (`y = x * m / p_keep`), so the expected activation in
          training is already `x`, and the test-time network is the plain one: `y = x`. This is what PyTorch's
          `nn.Dropout` does; inference then needs no knowledge of p_keep.

        {Factor(r)}

        ```
        {tables.TrimEnd()}
        ```

        Computed by the dropout kernels (`Dropout.ForwardTrain` with the given mask, `Dropout.ForwardEval`).
        """ + "\n";

    /// <summary>
    /// The sentence on how the two modes relate, checked on the computed tables: inverted = standard / p_keep in both phases
    /// (to float32 rounding), or, if the kernels gave anything else, the largest mismatch.
    /// </summary>
    internal static string Factor(Result r)
    {
        double worst = 0;
        foreach (var (standard, inverted) in new[] { (r.StandardTrain, r.InvertedTrain), (r.StandardTest, r.InvertedTest) })
            for (int i = 0; i < standard.GetLength(0); i++)
                for (int j = 0; j < standard.GetLength(1); j++)
                    worst = Math.Max(worst, Math.Abs(inverted[i, j] - standard[i, j] / (double)r.PKeep) / Math.Max(1, Math.Abs(inverted[i, j])));
        return worst <= 1e-5
            ? $"Both give the next layer the same expected input in training and at test; in the tables below they differ only by the constant\n" +
              $"factor 1/p_keep = {Format(1 / r.PKeep)} on every activation, in both phases."
            : $"In the tables below the inverted outputs are not the standard ones times 1/p_keep = {Format(1 / r.PKeep)}: the largest relative\n" +
              $"mismatch is {worst.ToString("G3", CultureInfo.InvariantCulture)}, which the kernels should not give.";
    }

    private static void AppendTable(StringBuilder text, string title, float[,] m)
    {
        text.AppendLine(title);
        for (int r = 0; r < m.GetLength(0); r++)
        {
            for (int c = 0; c < m.GetLength(1); c++) text.Append(Format(m[r, c]).PadLeft(7));
            text.AppendLine();
        }
        text.AppendLine();
    }

    // Values are float32 products; six decimals show them as the arithmetic gives them (0.8, not 0.800000011920929),
    // and adding 0 turns the -0 of a dropped negative unit into 0.
    private static double Round(float v) => Math.Round((double)v, 6) + 0.0;

    private static string Format(float v) => Round(v).ToString("0.######", CultureInfo.InvariantCulture);

    private static JsonArray ToJson(float[,] m)
    {
        var rows = new JsonArray();
        for (int r = 0; r < m.GetLength(0); r++)
        {
            var row = new JsonArray();
            for (int c = 0; c < m.GetLength(1); c++) row.Add(Round(m[r, c]));
            rows.Add(row);
        }
        return rows;
    }
}
