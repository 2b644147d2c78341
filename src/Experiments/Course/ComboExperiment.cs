using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run combo</c>: every combination of augmentation, an L2 penalty and dropout on the <see cref="OverfitSetup"/>,
/// ranked by validation accuracy; the best one's test accuracy is reported against the overfitting run's (which is the
/// grid's all-off cell).
/// </summary>
public sealed class ComboExperiment : ISelfRunExperiment
{
    /// <summary>The augmentation levels: none, and <see cref="OverfitSetup.Augmentation"/>.</summary>
    public static readonly string[] Augmentations = ["none", OverfitSetup.Augmentation];

    /// <summary>The penalties: none, and the L2 strength with the best validation accuracy among <c>regularize</c>'s L2 runs
    /// (seed 42; 83.30% against 83.20% for 1e-3 and 1e-4, within the noise of 1,000 validation images).</summary>
    public static readonly Regularization[] Penalties = [Regularization.None, new(L2: 1e-2)];

    /// <summary>The dropout levels (after each hidden layer).</summary>
    public static readonly float[] Dropouts = [0f, 0.3f];

    /// <inheritdoc />
    public string Name => "combo";

    /// <inheritdoc />
    public string Summary => "A grid over augmentation x L2 x dropout on the overfitting setup, chosen by validation accuracy.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary) =>
        $"chosen {Summaries.Text(summary, "chosen.label")}: test accuracy {RunFiles.Pct(Summaries.Number(summary, "test_accuracy") ?? double.NaN)}, " +
        $"{RunFiles.Points(Summaries.Number(summary, "gain_over_overfit_peak") ?? double.NaN)} vs overfit's best epoch";

    /// <summary>One cell of the grid.</summary>
    private sealed record Cell(string Augment, Regularization Penalty, float Dropout, RunOutcome Run)
    {
        public bool Augmented => Augment != "none";

        public bool Penalised => Penalty.IsActive;

        public bool Dropped => Dropout > 0;

        public string Label => string.Join(" + ", new[] { Augmented ? "augment" : null, Penalised ? Penalty.ToString() : null,
            Dropped ? string.Create(CultureInfo.InvariantCulture, $"dropout {Dropout:0.##}") : null }.Where(s => s is not null)) is { Length: > 0 } s ? s : "nothing (overfit)";
    }

    /// <inheritdoc />
    public int Run(RunOptions options, RunConsole console)
    {
        using var run = CourseRun.Open(Name, options, console);
        var plan = (from a in Augmentations from p in Penalties from d in Dropouts select (a, p, d)).ToList();
        var baselineConfig = OverfitSetup.Config(run, "none");
        var settings = OverfitSetup.Settings(baselineConfig);
        settings["grid"] = new JsonObject
        {
            ["augment"] = new JsonArray(Augmentations.Select(a => (JsonNode)a).ToArray()),
            ["l2"] = new JsonArray(Penalties.Select(p => (JsonNode)p.L2).ToArray()),
            ["l1"] = new JsonArray(Penalties.Select(p => (JsonNode)p.L1).ToArray()),
            ["dropout"] = new JsonArray(Dropouts.Select(d => (JsonNode)(double)(decimal)d).ToArray()),
        };
        run.WriteConfig(Name, settings);
        console.PlanRuns(plan.Count);
        var cells = new List<Cell>();
        try
        {
            foreach (var (augment, penalty, dropout) in plan)
            {
                string name = string.Create(CultureInfo.InvariantCulture, $"aug={(augment == "none" ? "none" : "on")} reg={penalty} dropout={dropout:0.##}");
                var config = OverfitSetup.Config(run, name, augment, penalty, dropout);
                cells.Add(new Cell(augment, penalty, dropout, TrainingRun.Fit(run.Data, config, console)));
            }
            return Write(run, cells);
        }
        finally
        {
            foreach (var c in cells) c.Run.Dispose();
        }
    }

    // Validation accuracy decides; the validation loss breaks ties, then the grid order.
    private static List<Cell> Rank(List<Cell> cells) =>
        cells.Select((c, i) => (c, i)).OrderByDescending(x => x.c.Run.Best.ValidationAccuracy).ThenBy(x => x.c.Run.Best.ValidationLoss)
            .ThenBy(x => x.i).Select(x => x.c).ToList();

    private int Write(CourseRun run, List<Cell> cells)
    {
        var folder = run.Folder;
        RunFiles.WriteMetrics(folder, cells.Select(c => c.Run));
        var ranked = Rank(cells);
        var chosen = ranked[0];
        var baseline = cells.First(c => !c.Augmented && !c.Penalised && !c.Dropped);
        string checkpoint = RunFiles.SaveCheckpoint(folder, chosen.Run, Name, run.Data);

        Plots.Bars(folder.File("ranking.png"), "validation accuracy of every combination (chosen in red)", "validation accuracy (%)",
            ranked.Select(c => (c.Label, c.Run.Best.ValidationAccuracy * 100, c == chosen)).ToList());
        Plots.Lines(folder.File("loss.png"), "the chosen combination against the overfitting run", "epoch", "cross-entropy (nats)",
            [.. RunFiles.LossCurves(baseline.Run, "overfit", group: 0), .. RunFiles.LossCurves(chosen.Run, "chosen", group: 1)]);
        Plots.Lines(folder.File("accuracy.png"), "test accuracy per epoch of every combination", "epoch", "test accuracy (%)",
            cells.Select((c, i) => new Series(c.Label, c.Run.Result.History.Select(m => (double)m.Epoch).ToArray(),
                c.Run.Result.History.Select(m => m.TestAccuracy * 100).ToArray(), Group: i)).ToList(), width: 1000, height: 600,
            legend: ScottPlot.Alignment.LowerRight);

        var effects = Effects(cells);
        double overfitPeak = baseline.Run.PeakTestAccuracy, overfitSelected = baseline.Run.TestAccuracy;
        var summary = RunFiles.ModelSummary(chosen.Run, checkpoint);
        summary["chosen"] = new JsonObject
        {
            ["label"] = chosen.Label,
            ["augment"] = chosen.Augment,
            ["l2"] = chosen.Penalty.L2,
            ["l1"] = chosen.Penalty.L1,
            ["dropout"] = (double)(decimal)chosen.Dropout,
        };
        summary["overfit"] = new JsonObject
        {
            ["test_accuracy"] = overfitSelected,
            ["test_loss"] = baseline.Run.TestLoss,
            ["peak_test_accuracy"] = overfitPeak,
            ["best_epoch"] = baseline.Run.Result.BestEpoch,
        };
        summary["gain_over_overfit_peak"] = chosen.Run.TestAccuracy - overfitPeak;
        summary["gain_over_overfit_selected"] = chosen.Run.TestAccuracy - overfitSelected;
        summary["beats_overfit"] = chosen.Run.TestAccuracy > overfitPeak;
        summary["ranking"] = new JsonArray(ranked.Select((c, i) => (JsonNode)new JsonObject
        {
            ["rank"] = i + 1,
            ["label"] = c.Label,
            ["augment"] = c.Augment,
            ["l2"] = c.Penalty.L2,
            ["dropout"] = (double)(decimal)c.Dropout,
            ["best_epoch"] = c.Run.Result.BestEpoch,
            ["validation_accuracy"] = c.Run.Best.ValidationAccuracy,
            ["test_accuracy"] = c.Run.TestAccuracy,
            ["test_loss"] = c.Run.TestLoss,
        }).ToArray());
        summary["effects"] = new JsonArray(effects.Select(e => (JsonNode)new JsonObject
        {
            ["factor"] = e.Factor,
            ["alone_validation"] = e.AloneValidation,
            ["alone_test"] = e.AloneTest,
            ["average_validation"] = e.AverageValidation,
            ["average_test"] = e.AverageTest,
        }).ToArray());
        folder.WriteJson("summary.json", summary);
        foreach (var (c, i) in ranked.Select((c, i) => (c, i)))
            run.Console.WriteLine($"{i + 1,2}. {c.Label,-40} validation {RunFiles.Pct(c.Run.Best.ValidationAccuracy)}, test {RunFiles.Pct(c.Run.TestAccuracy)}");
        run.Console.WriteLine($"chosen: {chosen.Label}, test {RunFiles.Pct(chosen.Run.TestAccuracy)}; overfit's best test accuracy of any epoch " +
            $"{RunFiles.Pct(overfitPeak)} ({RunFiles.Points(chosen.Run.TestAccuracy - overfitPeak)})");
        run.Finish(Report(run, cells, ranked, baseline, effects));
        return Cli.ExitOk;
    }

    /// <summary>What one factor does: switched on alone (against the all-off cell), and on average over the other factors'
    /// settings (cells with it on minus cells with it off). Accuracy differences as fractions.</summary>
    private sealed record Effect(string Factor, double AloneValidation, double AloneTest, double AverageValidation, double AverageTest);

    private static List<Effect> Effects(List<Cell> cells)
    {
        var baseline = cells.First(c => !c.Augmented && !c.Penalised && !c.Dropped);
        var factors = new (string Name, Func<Cell, bool> On)[]
        {
            ("augmentation", c => c.Augmented),
            ("L2 penalty", c => c.Penalised),
            ("dropout", c => c.Dropped),
        };
        var list = new List<Effect>();
        foreach (var (name, on) in factors)
        {
            var alone = cells.First(c => on(c) && factors.Count(f => f.On(c)) == 1);
            double Mean(Func<Cell, double> f, bool state) => cells.Where(c => on(c) == state).Average(f);
            list.Add(new Effect(name,
                alone.Run.Best.ValidationAccuracy - baseline.Run.Best.ValidationAccuracy, alone.Run.TestAccuracy - baseline.Run.TestAccuracy,
                Mean(c => c.Run.Best.ValidationAccuracy, true) - Mean(c => c.Run.Best.ValidationAccuracy, false),
                Mean(c => c.Run.TestAccuracy, true) - Mean(c => c.Run.TestAccuracy, false)));
        }
        return list;
    }

    private static string Report(CourseRun run, List<Cell> cells, List<Cell> ranked, Cell baseline, List<Effect> effects)
    {
        var chosen = ranked[0];
        var c = baseline.Run.Config;
        double peak = baseline.Run.PeakTestAccuracy;
        var text = new StringBuilder();
        text.AppendLine("# Augmentation, L2 and dropout together");
        text.AppendLine();
        text.AppendLine(OverfitSetup.Describe(c, baseline.Run.Model.ParameterCount, baseline.Run.TestCount));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The grid: augmentation ({string.Join(" or ", Augmentations.Select(a => $"`{a}`"))}) × L2 penalty " +
            $"({string.Join(" or ", Penalties.Select(p => p.ToString()))}: the strength of `regularize`'s L2 run with the best validation accuracy) × dropout " +
            $"after each hidden layer ({string.Join(" or ", Dropouts.Select(d => d.ToString("0.##", CultureInfo.InvariantCulture)))}): " +
            $"{cells.Count} runs, identical except for these three choices. The all-off cell is the `overfit` run itself (same seed, data and code, " +
            $"so the same numbers). Each run's epoch is chosen by its validation accuracy, the combinations are ranked by that validation " +
            $"accuracy, and only then is the test accuracy of the chosen one looked at."));
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Chosen: **{chosen.Label}**, validation accuracy {RunFiles.Pct(chosen.Run.Best.ValidationAccuracy)} (epoch {chosen.Run.Result.BestEpoch}), " +
            $"**test accuracy {RunFiles.Pct(chosen.Run.TestAccuracy)}**, test loss {RunFiles.F4(chosen.Run.TestLoss)} nats."));
        text.AppendLine();
        bool beats = chosen.Run.TestAccuracy > peak;
        text.AppendLine(
            $"The overfitting run's selected model reaches {RunFiles.Pct(baseline.Run.TestAccuracy)}, and its best test accuracy of any epoch " +
            $"(picked by looking at the test set, which flatters it) is {RunFiles.Pct(peak)}. The chosen combination " +
            (beats
                ? $"beats even that by **{RunFiles.Points(chosen.Run.TestAccuracy - peak)}** ({RunFiles.Points(chosen.Run.TestAccuracy - baseline.Run.TestAccuracy)} against its selected model)."
                : $"does **not** beat it ({RunFiles.Points(chosen.Run.TestAccuracy - peak)}; {RunFiles.Points(chosen.Run.TestAccuracy - baseline.Run.TestAccuracy)} against its selected model)."));
        text.AppendLine();
        text.AppendLine("![ranking](ranking.png)");
        text.AppendLine();
        text.Append(RunFiles.Table(["rank", "augmentation", "L2", "dropout", "selected epoch", "validation acc.", "test acc.", "test loss", "test acc. vs overfit"],
            ranked.Select((x, i) => (IReadOnlyList<string>)[$"{i + 1}", x.Augmented ? "yes" : "no", x.Penalised ? x.Penalty.ToString() : "no",
                x.Dropped ? x.Dropout.ToString("0.##", CultureInfo.InvariantCulture) : "no", $"{x.Run.Result.BestEpoch}",
                RunFiles.Pct(x.Run.Best.ValidationAccuracy), RunFiles.Pct(x.Run.TestAccuracy), RunFiles.F4(x.Run.TestLoss),
                RunFiles.Points(x.Run.TestAccuracy - baseline.Run.TestAccuracy)]), "rlllrrrrr"));
        text.AppendLine();
        text.AppendLine("## Which helps most");
        text.AppendLine();
        text.Append(RunFiles.Table(["factor", "alone: validation", "alone: test", "on average: validation", "on average: test"],
            effects.Select(e => (IReadOnlyList<string>)[e.Factor, RunFiles.Points(e.AloneValidation), RunFiles.Points(e.AloneTest),
                RunFiles.Points(e.AverageValidation), RunFiles.Points(e.AverageTest)]), "lrrrr"));
        text.AppendLine();
        var most = effects.MaxBy(e => e.AverageValidation)!;
        var mostAlone = effects.MaxBy(e => e.AloneValidation)!;
        text.AppendLine(
            $"\"Alone\" switches one factor on in the overfitting setup; \"on average\" compares the {cells.Count / 2} runs with the factor on " +
            $"with the {cells.Count / 2} without it, whatever the other two are. By validation accuracy **{most.Factor}** helps most on average " +
            $"({RunFiles.Points(most.AverageValidation)} validation, {RunFiles.Points(most.AverageTest)} test)" +
            (mostAlone == most ? " and alone" : $", while alone {mostAlone.Factor} helps most ({RunFiles.Points(mostAlone.AloneValidation)} validation)") + ". " +
            "Augmentation gives the network more (if correlated) data, which attacks the cause of overfitting: too few images for too many " +
            "parameters. An L2 penalty and dropout only restrain how the network uses the little data it has: L2 keeps its weights small, " +
            "dropout keeps it from relying on any single unit.");
        text.AppendLine();
        var singles = cells.Where(x => new[] { x.Augmented, x.Penalised, x.Dropped }.Count(b => b) == 1).ToList();
        var multiples = cells.Where(x => new[] { x.Augmented, x.Penalised, x.Dropped }.Count(b => b) >= 2).ToList();
        var bestSingle = singles.MaxBy(x => x.Run.Best.ValidationAccuracy)!;
        var bestMultiple = multiples.MaxBy(x => x.Run.Best.ValidationAccuracy)!;
        var allOn = cells.First(x => x.Augmented && x.Penalised && x.Dropped);
        if (bestMultiple.Run.Best.ValidationAccuracy <= bestSingle.Run.Best.ValidationAccuracy)
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"The cures do not add up here: no combination of two or three beats the best single one ({bestSingle.Label}, " +
                $"{RunFiles.Pct(bestSingle.Run.Best.ValidationAccuracy)} validation), and all three together rank " +
                $"{ranked.IndexOf(allOn) + 1} of {cells.Count}. Each cure makes the training task harder, and with a fixed budget of " +
                $"{c.Epochs} epochs at a constant learning rate the stacked ones underfit: the all-on run ends at " +
                $"{RunFiles.Pct(allOn.Run.Result.History[^1].TrainAccuracy)} training accuracy (against " +
                $"{RunFiles.Pct(baseline.Run.Result.History[^1].TrainAccuracy)} without any cure), its best validation accuracy coming at epoch " +
                $"{allOn.Run.Result.BestEpoch} of {c.Epochs}. More epochs, or weaker settings of " +
                $"each cure when they are combined, would be needed for them to help together."));
        else
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Combining helps: {bestMultiple.Label} ({RunFiles.Pct(bestMultiple.Run.Best.ValidationAccuracy)} validation) beats the best " +
                $"single cure, {bestSingle.Label} ({RunFiles.Pct(bestSingle.Run.Best.ValidationAccuracy)}); cures that overlap add less than " +
                $"their separate gains, so the sum of the single gains overstates it."));
        text.AppendLine();
        text.AppendLine(RunFiles.NoiseNote(chosen.Run.Best.ValidationAccuracy, c.Validation.Length, chosen.Run.TestCount));
        text.AppendLine();
        text.AppendLine("![chosen vs overfit](loss.png)");
        text.AppendLine();
        text.AppendLine("![test accuracy per epoch](accuracy.png)");
        text.AppendLine();
        text.AppendLine("The checkpoint is the chosen combination's selected model.");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(chosen.Run));
        text.AppendLine(run.Footer());
        return text.ToString();
    }
}
