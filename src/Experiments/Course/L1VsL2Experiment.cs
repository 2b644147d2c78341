using System.Globalization;
using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run l1-vs-l2</c>: (a) the course's quiz (<see cref="L1L2QuizRun"/>, one run with the first seed): a linear model
/// on four (nearly) identical features trained with MSE without a penalty, with L2 and with a proximal L1 penalty: L2
/// spreads the weight evenly, L1 puts it on one copy when something breaks the tie; (b) a 784-256-10 MLP swept over L1
/// (proximal) and L2 strengths with every seed, the L1 and L2 settings of matched mean validation accuracy compared by
/// seed: exact zeros and near-zero weights (<see cref="WeightSparsity"/>, measured from each run's checkpoint), and the
/// first seed's first-layer histograms and weight maps.
/// </summary>
public sealed class L1VsL2Experiment : ICourseExperiment
{
    /// <summary>The L1 strengths of the MLP sweep (applied by soft-thresholding by <c>lr·λ</c> after every SGD step).</summary>
    public static readonly double[] L1Strengths = [5e-5, 1e-4, 2e-4, 5e-4, 1e-3];

    /// <summary>The L2 strengths of the MLP sweep (PyTorch's <c>weight_decay</c>).</summary>
    public static readonly double[] L2Strengths = [1e-3, 3e-3, 1e-2, 2e-2, 5e-2];

    /// <summary>The MLP.</summary>
    public static readonly MlpSpec Model = new([256]);

    /// <summary>Training images of a full run (1,000 per class).</summary>
    public const int TrainImages = 20000;

    /// <summary>Validation images of a full run, for choosing the epoch and matching the accuracies.</summary>
    public const int ValidationImages = 2000;

    /// <summary>Plain SGD's learning rate, constant: without momentum, the SGD step followed by the soft-threshold is exactly
    /// proximal gradient descent (ISTA) on the mini-batch loss.</summary>
    public const double LearningRate = 0.1;

    /// <summary>Batch size.</summary>
    public const int BatchSize = 64;

    /// <summary>Epochs of a full run.</summary>
    public const int Epochs = 20;

    /// <summary>Training images of a quick run.</summary>
    public const int QuickTrainImages = 500;

    /// <summary>Validation images of a quick run.</summary>
    public const int QuickValidationImages = 500;

    /// <summary>Epochs of a quick run.</summary>
    public const int QuickEpochs = 2;

    /// <summary>The matched L1 run is the strongest whose validation accuracy is at most this far below the unpenalised run's.</summary>
    public const double AccuracyBudget = 0.01;

    /// <summary>A weight with a smaller magnitude counts as near zero.</summary>
    public const double NearZero = 1e-3;

    /// <summary>Hidden units shown as 28x28 weight maps per penalty.</summary>
    public const int MapUnits = 16;

    /// <inheritdoc />
    public string Name => "l1-vs-l2";

    /// <inheritdoc />
    public string Summary => "L1 vs L2: the four-identical-features quiz (L2 spreads, L1 concentrates) and an MLP's weights at matched accuracy.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary)
    {
        static string Weights(JsonNode? node) => node is JsonArray a
            ? "[" + string.Join(", ", a.Select(v => v is JsonValue j && j.TryGetValue(out double d) ? d.ToString("F2", CultureInfo.InvariantCulture) : "?")) + "]"
            : "-";
        var runs = (summary["mlp"]?["runs"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        string Run(string? name)
        {
            var r = runs.FirstOrDefault(r => Summaries.Text(r, "name") == name);
            return r is null ? "-" : $"{name} validation {Summaries.MeanStd(r, "validation_accuracy", RunFiles.Pct, v => RunFiles.Points(v).TrimStart('+'))}, " +
                $"{RunFiles.Pct(Summaries.Number(r, "exact_zero_fraction.mean") ?? double.NaN)} weights exactly 0";
        }
        string near = Summaries.Number(summary, "mlp.matched.near_zero_gap.mean") is not null
            ? $"; L1 - L2 paired by seed: near-zero share {Summaries.MeanWithInterval(summary, "mlp.matched.near_zero_gap", RunFiles.Points)} " +
              $"({Summaries.Text(summary, "mlp.matched.near_zero_gap_verdict")}), test accuracy {Summaries.Difference(summary, "mlp.matched.test_gap", RunFiles.Points)}" : "";
        return $"quiz L2 {Weights(summary["quiz"]?["l2"])}, L1 {Weights(summary["quiz"]?["l1"])}; MLP at matched accuracy (mean over seeds): " +
            $"{Run(Summaries.Text(summary, "mlp.matched.l1"))}; {Run(Summaries.Text(summary, "mlp.matched.l2"))}{near}";
    }

    /// <summary>Seeds by default: the MLP comparison pairs the matched L1 and L2 settings by seed.</summary>
    public int DefaultSeeds => 3;

    /// <summary>The MLP sweep's settings (penalty, strength), the unpenalised one first.</summary>
    public static IReadOnlyList<(string Kind, double Strength)> Sweep =>
        [("none", 0), .. L1Strengths.Select(s => ("L1", s)), .. L2Strengths.Select(s => ("L2", s))];

    /// <summary>A setting's name in the reports: <c>none</c>, <c>L1=1e-4</c>, <c>L2=0.01</c>.</summary>
    public static string Label(string kind, double strength) => kind == "none" ? "none" : $"{kind}={RunFiles.Strength(strength)}";

    /// <summary>The configuration of one MLP run. Its name carries the experiment's, because <c>regularize</c> sweeps
    /// penalties of the same names on another network.</summary>
    public static TrainingConfig Config(ExperimentContext context, int seed, string kind, double strength)
    {
        var data = context.Data(seed);
        bool quick = context.Quick;
        int[] train = data.Subset(data.TrainSplit, quick ? QuickTrainImages : TrainImages, 6);
        int[] validation = data.Subset(data.ValidationSplit, quick ? QuickValidationImages : ValidationImages, 7);
        return new TrainingConfig($"l1-vs-l2 {Label(kind, strength)}", Model, LearningRate, 0, BatchSize, context.Epochs(Epochs, QuickEpochs), Cosine: true, "none",
            kind switch { "L1" => new Regularization(L1: strength, ProximalL1: true), "L2" => new Regularization(L2: strength), _ => Regularization.None },
            train, validation, seed) { Test = context.QuickTest(data) };
    }

    /// <summary>The extras key of the share of weights exactly 0 after each epoch (the live model, before the best epoch is restored).</summary>
    public const string ExactZeroByEpoch = "exact_zero_fraction_by_epoch";

    /// <inheritdoc />
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context) =>
    [
        new L1L2QuizRun(context.Seed),
        .. from seed in context.Seeds
           from s in Sweep
           select (PlannedRun)new TrainingPlan(Config(context, seed, s.Kind, s.Strength))
           {
               AfterEpoch = (_, model, extras) =>
               {
                   var w = model.Parameters.Values.Rows(0, (int)model.Parameters.WeightCount).ToArray();
                   if (extras[ExactZeroByEpoch] is not JsonArray shares) extras[ExactZeroByEpoch] = shares = [];
                   shares.Add(w.Count(v => v == 0f) / (double)w.Length);
               },
               ExtraIdentity = new JsonObject { ["extras"] = ExactZeroByEpoch },
           },
    ];

    /// <summary>One setting of the MLP sweep over the seeds: its runs in seed order and their weights' sparsity.</summary>
    internal sealed class Setting(string kind, double strength, IReadOnlyList<TrainedRun> runs)
    {
        public string Kind { get; } = kind;
        public double Strength { get; } = strength;
        public IReadOnlyList<TrainedRun> Runs { get; } = runs;
        public string Name => Label(Kind, Strength);
        public IReadOnlyList<int> Seeds => Runs.Select(r => r.Seed).ToList();

        /// <summary>Each run's weights measured from its checkpoint (the selected model).</summary>
        public IReadOnlyList<WeightSparsity> Sparsity { get; } =
            runs.Select(r =>
            {
                var (all, first) = WeightSparsity.Weights(r.CheckpointPath);
                return WeightSparsity.Measure(all, first, NearZero);
            }).ToList();

        public Estimate Of(Func<TrainedRun, double> figure) => Estimate.Of(Seeds, Runs.Select(figure));
        public Estimate Of(Func<WeightSparsity, double> figure) => Estimate.Of(Seeds, Sparsity.Select(figure));
        public Estimate Validation => Of(r => r.Best.ValidationAccuracy);
        public Estimate Test => Of(r => r.TestAccuracy);
        public Estimate LastEpochExactZero => Of(r => r.Extras[ExactZeroByEpoch] is JsonArray a && a.Count > 0 ? a[^1]!.GetValue<double>() : double.NaN);

        /// <summary>The first seed's run, whose weights the plots show.</summary>
        public TrainedRun First => Runs[0];
    }

    /// <summary>The matched pair: the strongest L1 setting whose mean validation accuracy is within <see cref="AccuracyBudget"/>
    /// of the unpenalised one's (the weakest L1 setting if none is), and the L2 setting whose mean validation accuracy is closest to it.</summary>
    internal static (Setting L1, Setting L2) Match(IReadOnlyList<Setting> settings)
    {
        var none = settings[0];
        var l1 = settings.Where(e => e.Kind == "L1" && e.Validation.Mean >= none.Validation.Mean - AccuracyBudget).MaxBy(e => e.Strength)
            ?? settings.Where(e => e.Kind == "L1").MinBy(e => e.Strength)!;
        var l2 = settings.Where(e => e.Kind == "L2").MinBy(e => Math.Abs(e.Validation.Mean - l1.Validation.Mean))!;
        return (l1, l2);
    }

    /// <summary>The matched pair compared by seed (L1 minus L2), and the matched L1 setting against no penalty.</summary>
    internal sealed record Comparison(Estimate Validation, Estimate Test, Estimate NearZero, Estimate ExactZero, Estimate L1VsNoneTest)
    {
        public static Comparison Of(Setting none, Setting l1, Setting l2) => new(
            Estimate.Paired(l1.Validation, l2.Validation), Estimate.Paired(l1.Test, l2.Test),
            Estimate.Paired(l1.Of(s => s.NearZero), l2.Of(s => s.NearZero)), Estimate.Paired(l1.Of(s => s.ExactZero), l2.Of(s => s.ExactZero)),
            Estimate.Paired(l1.Test, none.Test));
    }

    /// <inheritdoc />
    public void Analyse(ExperimentContext context, RunSet runs)
    {
        var quiz = (L1L2QuizRun.FinishedQuiz)runs.Get("l1-vs-l2-quiz", context.Seed);
        var settings = Sweep.Select(s => new Setting(s.Kind, s.Strength, runs.Trained($"l1-vs-l2 {Label(s.Kind, s.Strength)}"))).ToList();
        var none = settings[0];
        var (l1, l2) = Match(settings);
        var comparison = Comparison.Of(none, l1, l2);
        var c = none.First.Config;

        var folder = context.Folder;
        context.WriteConfig(new JsonObject
        {
            ["quiz"] = ((L1L2QuizRun)quiz.Plan).Settings(),
            ["mlp"] = new JsonObject
            {
                ["model"] = Model.ToString(),
                ["optimizer"] = c.Optimizer,
                ["batch_size"] = BatchSize,
                ["epochs"] = c.Epochs,
                ["train_images"] = c.Train.Length,
                ["validation_images"] = c.Validation.Length,
                ["l1_strengths"] = new JsonArray(L1Strengths.Select(s => (JsonNode)s).ToArray()),
                ["l1_method"] = "proximal",
                ["l2_strengths"] = new JsonArray(L2Strengths.Select(s => (JsonNode)s).ToArray()),
                ["accuracy_budget"] = AccuracyBudget,
                ["near_zero_threshold"] = NearZero,
            },
        });
        RunFiles.WriteMetrics(folder, [.. settings.SelectMany(s => s.Runs)]);
        File.Copy(quiz.File(L1L2QuizRun.PathsFile), folder.File(L1L2QuizRun.PathsFile), overwrite: true);
        string checkpoint = RunFiles.CopyCheckpoint(folder, l1.First);

        // Plots: the quiz's paths; accuracy and sparsity by strength (means over seeds); the first seed's weights.
        Plots.Panels(folder.File("quiz_paths.png"), $"quiz: the four weights during training (every run from the same start, seed {quiz.Plan.Seed})", "step", "weight",
            quiz.Variants.SelectMany(q => q.Fits.Select(f => ($"{q.Problem.Variant}, {L1VsL2Report.PenaltyLabel(f.Penalty)}", (IReadOnlyList<Series>)Enumerable.Range(0, 4)
                .Select(i => new Series($"w{i + 1}", f.Steps.Select(s => (double)s).ToArray(), f.Path.Select(w => (double)w[i]).ToArray(), Group: i))
                .ToList()))).ToList(), columns: 3);
        double lo = Math.Log10(L1Strengths.Concat(L2Strengths).Min()), hi = Math.Log10(L1Strengths.Concat(L2Strengths).Max());
        var accuracy = new List<Series>();
        var sparsity = new List<Series>();
        foreach (var (kind, group) in new[] { ("L1", 0), ("L2", 1) })
        {
            var list = settings.Where(e => e.Kind == kind).OrderBy(e => e.Strength).ToList();
            double[] x = list.Select(e => Math.Log10(e.Strength)).ToArray();
            accuracy.Add(new Series($"{kind}: validation", x, list.Select(e => e.Validation.Mean * 100).ToArray(), Group: group));
            accuracy.Add(new Series($"{kind}: test", x, list.Select(e => e.Test.Mean * 100).ToArray(), Dashed: true, Group: group));
            sparsity.Add(new Series($"{kind}: exactly 0", x, list.Select(e => e.Of(s => s.ExactZero).Mean * 100).ToArray(), Group: group));
            sparsity.Add(new Series($"{kind}: |w| < {NearZero:G}", x, list.Select(e => e.Of(s => s.NearZero).Mean * 100).ToArray(), Dashed: true, Group: group));
        }
        accuracy.Add(new Series("no penalty: validation", [lo, hi], [none.Validation.Mean * 100, none.Validation.Mean * 100], Group: 2));
        accuracy.Add(new Series("no penalty: test", [lo, hi], [none.Test.Mean * 100, none.Test.Mean * 100], Dashed: true, Group: 2));
        double noneNear = none.Of(s => s.NearZero).Mean * 100;
        sparsity.Add(new Series($"no penalty: |w| < {NearZero:G}", [lo, hi], [noneNear, noneNear], Dashed: true, Group: 2));
        string over = $"mean over {context.Seeds.Count} {(context.Seeds.Count == 1 ? "seed" : "seeds")}";
        Plots.Lines(folder.File("mlp_accuracy.png"), $"MLP: accuracy by penalty strength (selected epoch, {over})", "log10(strength)", "accuracy (%)", accuracy,
            legend: ScottPlot.Alignment.LowerLeft);
        Plots.Lines(folder.File("mlp_sparsity.png"), $"MLP: share of weights at zero by penalty strength (selected epoch, {over})", "log10(strength)",
            "weights (%)", sparsity, legend: ScottPlot.Alignment.UpperLeft);
        var shown = new[] { none, l1, l2 };
        var firstLayers = shown.Select(e => WeightSparsity.Weights(e.First.CheckpointPath).First).ToArray();
        double range = WeightMaps.HistogramRange(firstLayers[0]);
        Plots.Histograms(folder.File("mlp_histograms.png"),
            string.Create(CultureInfo.InvariantCulture, $"first-layer weights, seed {none.First.Seed}, |w| <= {range:G2} (larger ones in the end bins)"), "weight value",
            shown.Select((e, i) => (e.Name, firstLayers[i].Select(v => (double)v).ToArray())).ToList(), bins: 101, range: (-range, range));
        int[] units = WeightMaps.StrongestUnits(firstLayers[1], MapUnits);
        var cells = shown.SelectMany((e, i) => units.Select(u => new ImageGrid.Cell(WeightMaps.Map(firstLayers[i], u), $"{e.Name} #{u}"))).ToList();
        ImageGrid.WritePng(folder.File("weight_maps.png"), cells, FashionMnist.Side, FashionMnist.Side, columns: MapUnits, scale: 3,
            title: $"first-layer weights of {MapUnits} hidden units as 28x28 maps, seed {none.First.Seed}: rows none, matched L1, matched L2 (grey 0, white +, black -)");

        var summary = RunFiles.ModelSummary(l1.First, checkpoint);
        summary["checkpoint_run"] = l1.Name;
        summary["seeds"] = new JsonArray(context.Seeds.Select(s => (JsonNode)s).ToArray());
        var gains = quiz.Variants.Single(q => q.Problem.Variant == "gains");
        var quizJson = L1L2QuizRun.FinishedQuiz.Json(gains.Problem, gains.Fits);
        quizJson["seed"] = quiz.Plan.Seed;
        quizJson["variants"] = new JsonObject(quiz.Variants.Select(q => KeyValuePair.Create(q.Problem.Variant, (JsonNode?)L1L2QuizRun.FinishedQuiz.Json(q.Problem, q.Fits))));
        summary["quiz"] = quizJson;
        summary["mlp"] = new JsonObject
        {
            ["near_zero_threshold"] = NearZero,
            ["accuracy_budget"] = AccuracyBudget,
            ["matched"] = new JsonObject
            {
                ["l1"] = l1.Name,
                ["l2"] = l2.Name,
                ["validation_gap"] = comparison.Validation.ToJson(),
                ["validation_gap_verdict"] = comparison.Validation.Word(),
                ["test_gap"] = comparison.Test.ToJson(),
                ["test_gap_verdict"] = comparison.Test.Word(),
                ["near_zero_gap"] = comparison.NearZero.ToJson(),
                ["near_zero_gap_verdict"] = L1VsL2Report.More(comparison.NearZero),
                ["exact_zero_gap"] = comparison.ExactZero.ToJson(),
                ["exact_zero_gap_verdict"] = L1VsL2Report.More(comparison.ExactZero),
                ["l1_minus_none_test"] = comparison.L1VsNoneTest.ToJson(),
                ["l1_minus_none_test_verdict"] = comparison.L1VsNoneTest.Word(),
            },
            ["runs"] = new JsonArray(settings.Select(e =>
            {
                var o = new JsonObject
                {
                    ["name"] = e.Name,
                    ["run"] = e.First.Config.Name,
                    ["penalty"] = e.Kind,
                    ["strength"] = e.Strength,
                    ["best_epoch"] = new JsonArray(e.Runs.Select(r => (JsonNode)r.Result.BestEpoch).ToArray()),
                    ["validation_accuracy"] = e.Validation.ToJson(),
                    ["test_accuracy"] = e.Test.ToJson(),
                    ["test_loss"] = e.Of(r => r.TestLoss).ToJson(),
                };
                foreach (var (key, figure) in WeightSparsity.Figures) o[key] = e.Of(figure).ToJson();
                o["exact_zero_fraction_last_epoch"] = e.LastEpochExactZero.ToJson();
                o["diverged"] = e.Runs.Any(r => r.Result.Diverged);
                return (JsonNode)o;
            }).ToArray()),
        };
        folder.WriteJson("summary.json", summary);

        foreach (var e in settings)
            context.Console.WriteLine($"{e.Name,-9} validation {e.Validation.Describe(RunFiles.Pct)}, test {RunFiles.Pct(e.Test.Mean)}, " +
                $"exactly zero {RunFiles.Pct(e.Of(s => s.ExactZero).Mean)}, |w| < {NearZero:G} {RunFiles.Pct(e.Of(s => s.NearZero).Mean)}");
        context.Console.WriteLine($"matched: {l1.Name} and {l2.Name}, validation L1 - L2 {comparison.Validation.DescribeDifference(RunFiles.Points)}; " +
            $"near-zero share L1 - L2 {comparison.NearZero.Describe(RunFiles.Points)}: {L1VsL2Report.More(comparison.NearZero)}");
        context.Finish(L1VsL2Report.Write(context, quiz.Variants, quiz.Plan.Seed, settings, l1, l2, comparison, firstLayers, units, range));
    }
}
