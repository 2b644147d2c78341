using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run combo</c>: every combination of augmentation, an L2 penalty and dropout on the <see cref="OverfitSetup"/>,
/// each with every seed (8 cells x 3 seeds = 24 runs by default), ranked by mean validation accuracy; the best one's test
/// accuracy is compared, paired by seed, with the overfitting run's, which is the grid's all-off cell (<c>overfit</c>'s
/// own runs, shared).
/// </summary>
public sealed class ComboExperiment : ICourseExperiment
{
    /// <summary>The augmentation levels: none, and <see cref="OverfitSetup.Augmentation"/>.</summary>
    public static readonly string[] Augmentations = ["none", OverfitSetup.Augmentation];

    /// <summary>The penalties: none, and the L2 strength picked for this grid from <c>regularize</c>'s L2 runs when the grid
    /// was set up (by validation accuracy, one seed).</summary>
    public static readonly Regularization[] Penalties = [Regularization.None, new(L2: 1e-2)];

    /// <summary>The dropout levels (after each hidden layer).</summary>
    public static readonly float[] Dropouts = [0f, 0.3f];

    /// <summary>The all-off cell's name: it is the <c>overfit</c> run, so every experiment of the setup shares it.</summary>
    public const string Baseline = "overfit";

    /// <inheritdoc />
    public string Name => "combo";

    /// <inheritdoc />
    public string Summary => "A grid over augmentation x L2 x dropout on the overfitting setup, chosen by validation accuracy.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary) =>
        $"chosen {Summaries.Text(summary, "chosen.label")}: test accuracy {Summaries.MeanWithInterval(summary, "chosen.test_accuracy", RunFiles.Pct)}, " +
        $"{Summaries.MeanWithInterval(summary, "gain_over_overfit_selected", RunFiles.Points)} vs overfit's selected model " +
        $"({Summaries.Text(summary, "verdict_over_overfit_selected")})";

    /// <summary>Seeds by default: the report compares the combinations, which needs an interval.</summary>
    public int DefaultSeeds => 3;

    /// <summary>One cell of the grid.</summary>
    private sealed record Setting(string Augment, Regularization Penalty, float Dropout)
    {
        public bool Augmented => Augment != "none";

        public bool Penalised => Penalty.IsActive;

        public bool Dropped => Dropout > 0;

        public int Cures => (Augmented ? 1 : 0) + (Penalised ? 1 : 0) + (Dropped ? 1 : 0);

        public string Name => Cures == 0 ? Baseline
            : string.Create(CultureInfo.InvariantCulture, $"aug={(Augmented ? "on" : "none")} reg={Penalty} dropout={Dropout:0.##}");

        public string Label => string.Join(" + ", new[] { Augmented ? "augment" : null, Penalised ? Penalty.ToString() : null,
            Dropped ? string.Create(CultureInfo.InvariantCulture, $"dropout {Dropout:0.##}") : null }.Where(s => s is not null)) is { Length: > 0 } s ? s : "nothing (overfit)";
    }

    private static readonly Setting[] Grid = [.. from a in Augmentations from p in Penalties from d in Dropouts select new Setting(a, p, d)];

    /// <inheritdoc />
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context) =>
        Grid.SelectMany(s => context.Seeds.Select(seed => (PlannedRun)OverfitSetup.Plan(s.Cures == 0
            ? OverfitSetup.Config(context, seed, Baseline)
            : OverfitSetup.Config(context, seed, s.Name, s.Augment, s.Penalty, s.Dropout)))).ToList();

    /// <summary>A cell's runs (one per seed, in seed order) and their figures over seeds.</summary>
    private sealed class Cell
    {
        public Cell(Setting setting, IReadOnlyList<TrainedRun> runs)
        {
            Setting = setting;
            Runs = runs;
            var seeds = runs.Select(r => r.Seed).ToList();
            Validation = Estimate.Of(seeds, runs.Select(r => r.Best.ValidationAccuracy));
            ValidationLoss = Estimate.Of(seeds, runs.Select(r => r.Best.ValidationLoss));
            Test = Estimate.Of(seeds, runs.Select(r => r.TestAccuracy));
            TestLoss = Estimate.Of(seeds, runs.Select(r => r.TestLoss));
            Peak = Estimate.Of(seeds, runs.Select(r => r.PeakTestAccuracy));
            FinalTrainAccuracy = Estimate.Of(seeds, runs.Select(r => r.Result.History[^1].TrainAccuracy));
        }

        public Setting Setting { get; }
        public string Label => Setting.Label;
        public IReadOnlyList<TrainedRun> Runs { get; }
        public TrainedRun First => Runs[0];
        public Estimate Validation { get; }
        public Estimate ValidationLoss { get; }
        public Estimate Test { get; }
        public Estimate TestLoss { get; }
        public Estimate Peak { get; }
        public Estimate FinalTrainAccuracy { get; }
    }

    /// <summary>What one factor does, paired by seed: switched on alone (against the all-off cell), and on average over the
    /// other factors' settings (per seed, the mean of the cells with it on minus the mean of those without). Accuracy
    /// differences as fractions.</summary>
    private sealed record Effect(string Factor, Estimate AloneValidation, Estimate AloneTest, Estimate AverageValidation, Estimate AverageTest);

    /// <inheritdoc />
    public void Analyse(ExperimentContext context, RunSet runs)
    {
        var cells = Grid.Select(s => new Cell(s, runs.Trained(s.Name))).ToList();
        var folder = context.Folder;
        // Mean validation accuracy decides; the mean validation loss breaks ties, then the grid order.
        var ranked = cells.Select((c, i) => (c, i)).OrderByDescending(x => x.c.Validation.Mean).ThenBy(x => x.c.ValidationLoss.Mean)
            .ThenBy(x => x.i).Select(x => x.c).ToList();
        var chosen = ranked[0];
        var baseline = cells.First(c => c.Setting.Cures == 0);
        var versus = cells.ToDictionary(c => c, c => Estimate.Paired(c.Test, baseline.Test));
        var overPeak = Estimate.Paired(chosen.Test, baseline.Peak);
        var effects = Effects(cells, baseline);

        var settings = OverfitSetup.Settings(baseline.First.Config);
        settings["grid"] = new JsonObject
        {
            ["augment"] = new JsonArray(Augmentations.Select(a => (JsonNode)a).ToArray()),
            ["l2"] = new JsonArray(Penalties.Select(p => (JsonNode)p.L2).ToArray()),
            ["l1"] = new JsonArray(Penalties.Select(p => (JsonNode)p.L1).ToArray()),
            ["dropout"] = new JsonArray(Dropouts.Select(d => (JsonNode)(double)(decimal)d).ToArray()),
        };
        context.WriteConfig(settings);
        RunFiles.WriteMetrics(folder, [.. cells.SelectMany(c => c.Runs)]);
        string checkpoint = RunFiles.CopyCheckpoint(folder, chosen.First);

        int seed = baseline.First.Seed;
        Plots.Bars(folder.File("ranking.png"), $"mean validation accuracy of every combination over {chosen.Validation.N} seeds (chosen in red)",
            "validation accuracy (%)", ranked.Select(c => (c.Label, c.Validation.Mean * 100, c == chosen)).ToList());
        Plots.Lines(folder.File("loss.png"), $"the chosen combination against the overfitting run (seed {seed})", "epoch", "cross-entropy (nats)",
            [.. RunFiles.LossCurves(baseline.First, "overfit", group: 0), .. RunFiles.LossCurves(chosen.First, "chosen", group: 1)]);
        Plots.Lines(folder.File("accuracy.png"), $"test accuracy per epoch of every combination (seed {seed})", "epoch", "test accuracy (%)",
            cells.Select((c, i) => new Series(c.Label, c.First.Result.History.Select(m => (double)m.Epoch).ToArray(),
                c.First.Result.History.Select(m => m.TestAccuracy * 100).ToArray(), Group: i)).ToList(), width: 1000, height: 600,
            legend: ScottPlot.Alignment.LowerRight);

        var summary = RunFiles.ModelSummary(chosen.First, checkpoint);
        summary["chosen"] = new JsonObject
        {
            ["label"] = chosen.Label,
            ["run"] = chosen.Setting.Name,
            ["augment"] = chosen.Setting.Augment,
            ["l2"] = chosen.Setting.Penalty.L2,
            ["l1"] = chosen.Setting.Penalty.L1,
            ["dropout"] = (double)(decimal)chosen.Setting.Dropout,
            ["validation_accuracy"] = chosen.Validation.ToJson(),
            ["test_accuracy"] = chosen.Test.ToJson(),
        };
        var overfit = RunFiles.ModelSummary(baseline.First, null);
        overfit["over_seeds"] = new JsonObject
        {
            ["test_accuracy"] = baseline.Test.ToJson(),
            ["peak_test_accuracy"] = baseline.Peak.ToJson(),
        };
        summary["overfit"] = overfit;
        summary["gain_over_overfit_selected"] = versus[chosen].ToJson();
        summary["verdict_over_overfit_selected"] = versus[chosen].Word();
        summary["gain_over_overfit_peak"] = overPeak.ToJson();
        summary["verdict_over_overfit_peak"] = overPeak.Word();
        summary["runs"] = cells.Count * chosen.Validation.N;
        summary["ranking"] = new JsonArray(ranked.Select((c, i) => (JsonNode)new JsonObject
        {
            ["rank"] = i + 1,
            ["label"] = c.Label,
            ["run"] = c.Setting.Name,
            ["augment"] = c.Setting.Augment,
            ["l2"] = c.Setting.Penalty.L2,
            ["dropout"] = (double)(decimal)c.Setting.Dropout,
            ["validation_accuracy"] = c.Validation.ToJson(),
            ["test_accuracy"] = c.Test.ToJson(),
            ["test_loss"] = c.TestLoss.ToJson(),
            ["test_accuracy_vs_overfit"] = versus[c].ToJson(),
            ["verdict_vs_overfit"] = versus[c].Word(),
        }).ToArray());
        summary["effects"] = new JsonArray(effects.Select(e => (JsonNode)new JsonObject
        {
            ["factor"] = e.Factor,
            ["alone_validation"] = e.AloneValidation.ToJson(),
            ["alone_test"] = e.AloneTest.ToJson(),
            ["alone_test_verdict"] = e.AloneTest.Word(),
            ["average_validation"] = e.AverageValidation.ToJson(),
            ["average_test"] = e.AverageTest.ToJson(),
            ["average_test_verdict"] = e.AverageTest.Word(),
        }).ToArray());
        folder.WriteJson("summary.json", summary);
        foreach (var (c, i) in ranked.Select((c, i) => (c, i)))
            context.Console.WriteLine($"{i + 1,2}. {c.Label,-40} validation {RunFiles.Pct(c.Validation.Mean)}, test {c.Test.Describe(RunFiles.Pct)}");
        context.Console.WriteLine($"chosen: {chosen.Label}, test {chosen.Test.Describe(RunFiles.Pct)}; vs overfit's selected model " +
            $"{versus[chosen].DescribeDifference(RunFiles.Points)}; vs its best epoch {overPeak.DescribeDifference(RunFiles.Points)}");
        context.Finish(Report(context, cells, ranked, baseline, versus, overPeak, effects));
    }

    private static List<Effect> Effects(List<Cell> cells, Cell baseline)
    {
        var factors = new (string Name, Func<Setting, bool> On)[]
        {
            ("augmentation", s => s.Augmented),
            ("L2 penalty", s => s.Penalised),
            ("dropout", s => s.Dropped),
        };
        var seeds = baseline.Test.Seeds;
        var list = new List<Effect>();
        foreach (var (name, on) in factors)
        {
            var alone = cells.First(c => on(c.Setting) && c.Setting.Cures == 1);
            // Per seed: the mean over the cells with the factor on minus the mean over those without.
            Estimate Average(Func<Cell, Estimate> figure) => Estimate.Of(seeds, seeds.Select((_, k) =>
                cells.Where(c => on(c.Setting)).Average(c => figure(c).Values[k]) - cells.Where(c => !on(c.Setting)).Average(c => figure(c).Values[k])));
            list.Add(new Effect(name, Estimate.Paired(alone.Validation, baseline.Validation), Estimate.Paired(alone.Test, baseline.Test),
                Average(c => c.Validation), Average(c => c.Test)));
        }
        return list;
    }

    private static string Report(ExperimentContext run, List<Cell> cells, List<Cell> ranked, Cell baseline, Dictionary<Cell, Estimate> versus,
        Estimate overPeak, List<Effect> effects)
    {
        var chosen = ranked[0];
        var c = baseline.First.Config;
        int n = baseline.Test.N;
        var text = new StringBuilder();
        text.AppendLine("# Augmentation, L2 and dropout together");
        text.AppendLine();
        text.AppendLine(OverfitSetup.Describe(c, baseline.First.ParameterCount, baseline.First.TestCount));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The grid: augmentation ({string.Join(" or ", Augmentations.Select(a => $"`{a}`"))}) × L2 penalty " +
            $"({string.Join(" or ", Penalties.Select(p => p.ToString()))}, the strength picked for this grid from `regularize`'s L2 runs) × dropout " +
            $"after each hidden layer ({string.Join(" or ", Dropouts.Select(d => d.ToString("0.##", CultureInfo.InvariantCulture)))}): " +
            $"{cells.Count} combinations, identical except for these three choices, each with {n} {(n == 1 ? "seed" : "seeds")} " +
            $"({string.Join(", ", baseline.Test.Seeds)}; a seed draws the subset, initialisation and batch order that every combination " +
            $"of it shares): {cells.Count * n} runs. The all-off cell is the `overfit` run itself (the same runs: in `gpunet run all` they are " +
            $"fitted once and shared). Each run's epoch is chosen by its validation accuracy, the combinations are ranked by their mean " +
            $"validation accuracy over seeds, and only then is the test accuracy looked at; differences are paired by seed."));
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        text.AppendLine($"Chosen: **{chosen.Label}**, validation accuracy {chosen.Validation.Describe(RunFiles.Pct)}, " +
            $"**test accuracy {chosen.Test.Describe(RunFiles.Pct)}**. Its validation accuracy is the highest of {cells.Count} and so flattered " +
            "by the choice; its test accuracy was not used to choose.");
        text.AppendLine();
        string Conclusion(Estimate d, string what) => d.Verdict switch
        {
            Verdict.Gain => $"the chosen combination beats {what} beyond the noise of the seeds",
            Verdict.Loss => $"the chosen combination is below {what} beyond the noise of the seeds",
            Verdict.WithinNoise => $"the seeds do not tell the chosen combination from {what}",
            _ => "with one seed there is no interval, so no verdict (run with `--seeds 3` or more)",
        };
        text.AppendLine(chosen == baseline
            ? $"No cure has a higher mean validation accuracy than the overfitting run itself, so the grid chooses no cure: test accuracy {baseline.Test.Describe(RunFiles.Pct)}."
            : $"Against the overfitting run's selected model ({baseline.Test.Describe(RunFiles.Pct)}), paired by seed: " +
              $"**{versus[chosen].DescribeDifference(RunFiles.Points)}**; {Conclusion(versus[chosen], "it")}. Against the overfitting run's best " +
              $"test accuracy of any epoch ({baseline.Peak.Describe(RunFiles.Pct)}, picked by looking at the test set, which flatters it): " +
              $"{overPeak.DescribeDifference(RunFiles.Points)}; {Conclusion(overPeak, "even that")}.");
        text.AppendLine();
        text.AppendLine("![ranking](ranking.png)");
        text.AppendLine();
        text.Append(RunFiles.Table(["rank", "augmentation", "L2", "dropout", "validation acc.", "test acc.", "test acc. - overfit, paired"],
            ranked.Select((x, i) => (IReadOnlyList<string>)[$"{i + 1}", x.Setting.Augmented ? "yes" : "no", x.Setting.Penalised ? x.Setting.Penalty.ToString() : "no",
                x.Setting.Dropped ? x.Setting.Dropout.ToString("0.##", CultureInfo.InvariantCulture) : "no",
                x.Validation.Describe(RunFiles.Pct), x.Test.Describe(RunFiles.Pct), x == baseline ? "" : versus[x].DescribeDifference(RunFiles.Points)]), "rllllll"));
        text.AppendLine();
        text.AppendLine("## Which helps most");
        text.AppendLine();
        text.Append(RunFiles.Table(["factor", "alone: validation", "alone: test", "on average: validation", "on average: test"],
            effects.Select(e => (IReadOnlyList<string>)[e.Factor, e.AloneValidation.DescribeDifference(RunFiles.Points), e.AloneTest.DescribeDifference(RunFiles.Points),
                e.AverageValidation.DescribeDifference(RunFiles.Points), e.AverageTest.DescribeDifference(RunFiles.Points)]), "lllll"));
        text.AppendLine();
        var most = effects.MaxBy(e => e.AverageValidation.Mean)!;
        var mostAlone = effects.MaxBy(e => e.AloneValidation.Mean)!;
        text.AppendLine(
            $"\"Alone\" switches one factor on in the overfitting setup; \"on average\" compares, seed by seed, the {cells.Count / 2} combinations " +
            $"with the factor on with the {cells.Count / 2} without it, whatever the other two are. The largest mean effect on validation accuracy " +
            $"on average is **{most.Factor}**'s ({most.AverageValidation.DescribeDifference(RunFiles.Points)})" +
            (mostAlone == most ? ", and alone too" : $"; alone it is {mostAlone.Factor}'s ({mostAlone.AloneValidation.DescribeDifference(RunFiles.Points)})") + ". " +
            (n < 2 ? "" : effects.Any(e => e.AverageValidation.Verdict == Verdict.Gain)
                ? $"On average, {string.Join(" and ", effects.Where(e => e.AverageValidation.Verdict == Verdict.Gain).Select(e => e.Factor))} raise" +
                  $"{(effects.Count(e => e.AverageValidation.Verdict == Verdict.Gain) == 1 ? "s" : "")} the validation accuracy beyond the noise of the seeds. "
                : "No factor raises the validation accuracy on average beyond the noise of the seeds. ") +
            "Why they might differ: augmentation gives the network more (if correlated) data, which attacks the cause of overfitting, too few " +
            "images for too many parameters; an L2 penalty and dropout only restrain how the network uses the little data it has: L2 keeps " +
            "its weights small, dropout keeps it from relying on any single unit.");
        text.AppendLine();
        text.AppendLine(AddUp(cells, ranked, baseline, c.Epochs));
        text.AppendLine();
        text.AppendLine($"![chosen vs overfit](loss.png)");
        text.AppendLine();
        text.AppendLine("![test accuracy per epoch](accuracy.png)");
        text.AppendLine();
        text.AppendLine($"The curves are seed {baseline.First.Seed}'s runs, and the checkpoint is the chosen combination's selected model of seed " +
            $"{chosen.First.Seed}.");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(chosen.First));
        text.AppendLine(run.Footer());
        return text.ToString();
    }

    // Whether the cures add up: the best combination of two or three against the best single cure, by validation accuracy.
    private static string AddUp(List<Cell> cells, List<Cell> ranked, Cell baseline, int epochs)
    {
        var bestSingle = cells.Where(x => x.Setting.Cures == 1).MaxBy(x => x.Validation.Mean)!;
        var bestMultiple = cells.Where(x => x.Setting.Cures >= 2).MaxBy(x => x.Validation.Mean)!;
        var allOn = cells.First(x => x.Setting.Cures == 3);
        var difference = Estimate.Paired(bestMultiple.Validation, bestSingle.Validation);
        string compared = $"the best combination of two or three, {bestMultiple.Label} ({RunFiles.Pct(bestMultiple.Validation.Mean)} mean validation " +
            $"accuracy), against the best single cure, {bestSingle.Label} ({RunFiles.Pct(bestSingle.Validation.Mean)}), paired by seed: " +
            $"{difference.DescribeDifference(RunFiles.Points)}";
        string underfit = allOn.FinalTrainAccuracy.Mean < baseline.FinalTrainAccuracy.Mean
            ? string.Create(CultureInfo.InvariantCulture,
                $" Each cure makes the training task harder, and with a fixed budget of {epochs} epochs at a constant learning rate the " +
                $"stacked ones fit less: the all-on runs end at {RunFiles.Pct(allOn.FinalTrainAccuracy.Mean)} training accuracy (mean; against " +
                $"{RunFiles.Pct(baseline.FinalTrainAccuracy.Mean)} without any cure), and all three together rank {ranked.IndexOf(allOn) + 1} of {cells.Count}.")
            : "";
        return difference.Verdict switch
        {
            Verdict.Gain => $"Combining helps: {compared}. Cures that overlap add less than their separate gains, so the sum of the single gains overstates it.",
            Verdict.Loss => $"The cures do not add up here: {compared}.{underfit} More epochs, or weaker settings of each cure when they are combined, " +
                "would be needed for them to help together.",
            Verdict.WithinNoise => $"Whether the cures add up, the seeds do not say: {compared}.{underfit}",
            _ => $"With one seed there is no interval to say whether the cures add up: {compared}.{underfit}",
        };
    }
}
