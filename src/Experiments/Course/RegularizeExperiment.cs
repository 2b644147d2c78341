using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run regularize</c>: the <see cref="OverfitSetup"/> with an L2 penalty and with an L1 penalty on the weights,
/// each at three strengths, beside the unpenalised run: test accuracy by strength, the curves of every run, and how many
/// weights each penalty leaves near zero (<c>|w| &lt; 1e-3</c>).
/// </summary>
public sealed class RegularizeExperiment : ISelfRunExperiment
{
    /// <summary>The L2 strengths (PyTorch's <c>weight_decay</c>).</summary>
    public static readonly double[] L2Strengths = [1e-4, 1e-3, 1e-2];

    /// <summary>The L1 strengths.</summary>
    public static readonly double[] L1Strengths = [1e-5, 1e-4, 1e-3];

    /// <summary>A weight with a smaller magnitude counts as near zero.</summary>
    public const double NearZero = 1e-3;

    /// <summary>The weight histograms show <c>[-range, range]</c>, where almost all weights are.</summary>
    private const double HistogramRange = 0.15;

    /// <inheritdoc />
    public string Name => "regularize";

    /// <inheritdoc />
    public string Summary => "The overfitting setup with L2 and with L1 penalties at three strengths each: accuracy and near-zero weights.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary)
    {
        var runs = (summary["runs"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        string Share(string penalty)
        {
            var strongest = runs.Where(r => Summaries.Text(r, "penalty") == penalty).MaxBy(r => Summaries.Number(r, "strength") ?? 0);
            return strongest is null ? "" : $"{Summaries.Text(strongest, "name")} {RunFiles.Pct(Summaries.Number(strongest, "near_zero_fraction") ?? double.NaN)}";
        }
        return $"chosen {Summaries.Text(summary, "chosen")}: test accuracy {RunFiles.Pct(Summaries.Number(summary, "test_accuracy") ?? double.NaN)}; " +
            $"near-zero weights: {string.Join(", ", new[] { Share("none"), Share("L2"), Share("L1") }.Where(t => t.Length > 0))}";
    }

    /// <summary>One run and what it did to the weights.</summary>
    private sealed record Entry(string Kind, double Strength, RunOutcome Run, List<double> NearZeroByEpoch, double NearZeroSelected, float[] FinalWeights);

    /// <inheritdoc />
    public int Run(RunOptions options, RunConsole console)
    {
        using var run = CourseRun.Open(Name, options, console);
        var plan = new List<(string Kind, double Strength)> { ("none", 0) };
        plan.AddRange(L2Strengths.Select(s => ("L2", s)));
        plan.AddRange(L1Strengths.Select(s => ("L1", s)));
        var baselineConfig = OverfitSetup.Config(run, "none");
        var settings = OverfitSetup.Settings(baselineConfig);
        settings["l2_strengths"] = new JsonArray(L2Strengths.Select(s => (JsonNode)s).ToArray());
        settings["l1_strengths"] = new JsonArray(L1Strengths.Select(s => (JsonNode)s).ToArray());
        settings["near_zero_threshold"] = NearZero;
        run.WriteConfig(Name, settings);
        console.PlanRuns(plan.Count);

        var entries = new List<Entry>();
        try
        {
            foreach (var (kind, strength) in plan)
            {
                var reg = kind switch { "L2" => new Regularization(L2: strength), "L1" => new Regularization(L1: strength), _ => Regularization.None };
                string name = kind == "none" ? "none" : $"{kind}={Strength(strength)}";
                var nearZero = new List<double>();
                float[] final = [];
                var outcome = TrainingRun.Fit(run.Data, OverfitSetup.Config(run, name, regularization: reg), console, afterEpoch: (_, model) =>
                {
                    final = model.Parameters.Values.Rows(0, (int)model.Parameters.WeightCount).ToArray();
                    nearZero.Add(final.Count(v => Math.Abs(v) < NearZero) / (double)final.Length);
                });
                entries.Add(new Entry(kind, strength, outcome, nearZero, outcome.NearZeroFraction(NearZero), final));
            }
            return Write(run, entries);
        }
        finally
        {
            foreach (var e in entries) e.Run.Dispose();
        }
    }

    private int Write(CourseRun run, List<Entry> entries)
    {
        var folder = run.Folder;
        RunFiles.WriteMetrics(folder, entries.Select(e => e.Run));
        var chosen = entries.MaxBy(e => e.Run.Best.ValidationAccuracy)!;
        string checkpoint = RunFiles.SaveCheckpoint(folder, chosen.Run, Name, run.Data);
        var none = entries[0];

        Plots.Panels(folder.File("loss.png"), "train vs test loss per run", "epoch", "cross-entropy (nats)",
            entries.Select(e => (e.Run.Config.Name, RunFiles.LossCurves(e.Run, e.Run.Config.Name))).ToList(), columns: 4);
        var byKind = new List<Series>();
        foreach (string kind in new[] { "L2", "L1" })
        {
            var list = entries.Where(e => e.Kind == kind).ToList();
            double[] x = list.Select(e => Math.Log10(e.Strength)).ToArray();
            int group = kind == "L2" ? 0 : 1;
            byKind.Add(new Series($"{kind}: test (selected model)", x, list.Select(e => e.Run.TestAccuracy * 100).ToArray(), Group: group));
            byKind.Add(new Series($"{kind}: validation (selected epoch)", x, list.Select(e => e.Run.Best.ValidationAccuracy * 100).ToArray(), Dashed: true, Group: group));
        }
        double lo = Math.Log10(L1Strengths.Concat(L2Strengths).Min()), hi = Math.Log10(L1Strengths.Concat(L2Strengths).Max());
        byKind.Add(new Series("no penalty: test", [lo, hi], [none.Run.TestAccuracy * 100, none.Run.TestAccuracy * 100], Group: 2));
        byKind.Add(new Series("no penalty: validation", [lo, hi], [none.Run.Best.ValidationAccuracy * 100, none.Run.Best.ValidationAccuracy * 100], Dashed: true, Group: 2));
        Plots.Lines(folder.File("accuracy_vs_strength.png"), "accuracy by penalty strength", "log10(strength)", "accuracy (%)", byKind,
            legend: ScottPlot.Alignment.LowerLeft);
        Plots.Lines(folder.File("near_zero.png"), $"share of weights with |w| < {NearZero:G} during training", "epoch", "near-zero weights (%)",
            entries.Select((e, i) => new Series(e.Run.Config.Name, e.NearZeroByEpoch.Select((_, k) => k + 1.0).ToArray(),
                e.NearZeroByEpoch.Select(f => f * 100).ToArray(), Group: i)).ToList(), legend: ScottPlot.Alignment.MiddleCenter);
        var bestL2 = entries.Where(e => e.Kind == "L2").MaxBy(e => e.Run.Best.ValidationAccuracy)!;
        var bestL1 = entries.Where(e => e.Kind == "L1").MaxBy(e => e.Run.Best.ValidationAccuracy)!;
        var strongL2 = entries.Where(e => e.Kind == "L2").MaxBy(e => e.Strength)!;
        var shown = new[] { none, strongL2 }.Concat(entries.Where(e => e.Kind == "L1")).ToList();
        Plots.Histograms(folder.File("weights.png"), $"weights after the last epoch, |w| <= {HistogramRange:G} (larger ones in the end bins)",
            "weight value", shown.Select(e => (e.Run.Config.Name, e.FinalWeights.Select(v => (double)v).ToArray())).ToList(),
            bins: 101, range: (-HistogramRange, HistogramRange));

        var summary = RunFiles.ModelSummary(chosen.Run, checkpoint);
        summary["chosen"] = chosen.Run.Config.Name;
        summary["near_zero_threshold"] = NearZero;
        summary["runs"] = new JsonArray(entries.Select(e => (JsonNode)new JsonObject
        {
            ["name"] = e.Run.Config.Name,
            ["penalty"] = e.Kind,
            ["strength"] = e.Strength,
            ["best_epoch"] = e.Run.Result.BestEpoch,
            ["validation_accuracy"] = e.Run.Best.ValidationAccuracy,
            ["test_accuracy"] = e.Run.TestAccuracy,
            ["test_loss"] = e.Run.TestLoss,
            ["peak_test_accuracy"] = e.Run.PeakTestAccuracy,
            ["final_train_loss"] = e.Run.Result.History[^1].TrainLoss,
            ["final_test_loss"] = e.Run.Result.History[^1].TestLoss,
            ["near_zero_fraction"] = e.NearZeroSelected,
            ["near_zero_fraction_final"] = e.NearZeroByEpoch.Count > 0 ? e.NearZeroByEpoch[^1] : double.NaN,
            ["diverged"] = e.Run.Result.Diverged,
        }).ToArray());
        folder.WriteJson("summary.json", summary);
        foreach (var e in entries)
            run.Console.WriteLine($"{e.Run.Config.Name,-10} validation {RunFiles.Pct(e.Run.Best.ValidationAccuracy)}, test {RunFiles.Pct(e.Run.TestAccuracy)}, " +
                $"near-zero weights {RunFiles.Pct(e.NearZeroSelected)} (selected), {RunFiles.Pct(e.NearZeroByEpoch[^1])} (last epoch)");
        run.Console.WriteLine($"chosen by validation: {chosen.Run.Config.Name}, test {RunFiles.Pct(chosen.Run.TestAccuracy)}");
        run.Finish(Report(run, entries, chosen, bestL2, bestL1));
        return Cli.ExitOk;
    }

    private static string Strength(double s) => s.ToString("0.#####E+0", CultureInfo.InvariantCulture).Replace("E-", "e-", StringComparison.Ordinal).Replace("E+0", "", StringComparison.Ordinal);

    private static string Report(CourseRun run, List<Entry> entries, Entry chosen, Entry bestL2, Entry bestL1)
    {
        var none = entries[0];
        var c = none.Run.Config;
        var text = new StringBuilder();
        text.AppendLine("# L2 and L1 regularisation against overfitting");
        text.AppendLine();
        text.AppendLine(OverfitSetup.Describe(c, none.Run.Model.ParameterCount, none.Run.TestCount));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The cure: a penalty on the weights (not the biases) added to the loss. **L2** adds `(λ/2)·Σw²`, whose gradient `λ·w` shrinks " +
            $"every weight in proportion to its size (PyTorch's `weight_decay = λ`); **L1** adds `λ·Σ|w|`, whose gradient `λ·sign(w)` pulls " +
            $"every weight towards zero by the same amount whatever its size, so small weights reach zero and stay there (they then " +
            $"jitter around it by about one step). Strengths: L2 λ ∈ {{{string.Join(", ", L2Strengths.Select(Strength))}}}, L1 λ ∈ " +
            $"{{{string.Join(", ", L1Strengths.Select(Strength))}}}, and the unpenalised run. Each run's epoch is chosen by validation " +
            $"accuracy, and a weight counts as near zero when |w| < {NearZero:G}."));
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        text.Append(RunFiles.Table(["run", "selected epoch", "validation acc.", "test acc.", "test loss", "final train loss", "final test loss",
                "near-zero weights (selected)", "near-zero weights (last epoch)"],
            entries.Select(e => (IReadOnlyList<string>)[e == chosen ? $"**{e.Run.Config.Name}**" : e.Run.Config.Name, $"{e.Run.Result.BestEpoch}",
                RunFiles.Pct(e.Run.Best.ValidationAccuracy), RunFiles.Pct(e.Run.TestAccuracy), RunFiles.F4(e.Run.TestLoss),
                RunFiles.F4(e.Run.Result.History[^1].TrainLoss), RunFiles.F4(e.Run.Result.History[^1].TestLoss),
                RunFiles.Pct(e.NearZeroSelected), RunFiles.Pct(e.NearZeroByEpoch[^1])]), "lrrrrrrrr"));
        text.AppendLine();
        text.AppendLine(chosen == none
            ? string.Create(CultureInfo.InvariantCulture,
                $"No penalised run has a higher validation accuracy than the unpenalised one, so **none** is chosen: test accuracy " +
                $"**{RunFiles.Pct(none.Run.TestAccuracy)}**. The best L2 run by validation ({bestL2.Run.Config.Name}) reaches " +
                $"{RunFiles.Pct(bestL2.Run.TestAccuracy)} on the test set and the best L1 run ({bestL1.Run.Config.Name}) {RunFiles.Pct(bestL1.Run.TestAccuracy)}.")
            : string.Create(CultureInfo.InvariantCulture,
                $"Chosen by validation accuracy: **{chosen.Run.Config.Name}**, test accuracy **{RunFiles.Pct(chosen.Run.TestAccuracy)}** against " +
                $"{RunFiles.Pct(none.Run.TestAccuracy)} without a penalty ({RunFiles.Points(chosen.Run.TestAccuracy - none.Run.TestAccuracy)}). " +
                $"The best L2 run ({bestL2.Run.Config.Name}) reaches {RunFiles.Pct(bestL2.Run.TestAccuracy)} and the best L1 run " +
                $"({bestL1.Run.Config.Name}) {RunFiles.Pct(bestL1.Run.TestAccuracy)} on the test set."));
        text.AppendLine();
        text.AppendLine(RunFiles.NoiseNote(none.Run.Best.ValidationAccuracy, c.Validation.Length, none.Run.TestCount) +
            " Choosing the epoch by validation accuracy is itself a regulariser (early stopping): the unpenalised run is stopped near " +
            "its best, which leaves a penalty little to add to the accuracy. Where the penalties show is in the losses and the weights.");
        text.AppendLine();
        text.AppendLine("![accuracy by strength](accuracy_vs_strength.png)");
        text.AppendLine();
        text.AppendLine(Curves(entries));
        text.AppendLine();
        text.AppendLine("![train vs test loss of every run](loss.png)");
        text.AppendLine();
        text.AppendLine("## Near-zero weights");
        text.AppendLine();
        text.AppendLine(NearZeroText(entries));
        text.AppendLine();
        text.AppendLine("![near-zero weights per epoch](near_zero.png)");
        text.AppendLine();
        text.AppendLine("![weight histograms](weights.png)");
        text.AppendLine();
        text.AppendLine($"The checkpoint is the chosen run's ({chosen.Run.Config.Name}) selected model.");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(chosen.Run));
        text.AppendLine(run.Footer());
        return text.ToString();
    }

    // What the penalties did to the curves: the final gap between test and train loss of each run against none's.
    private static string Curves(List<Entry> entries)
    {
        var none = entries[0];
        double Gap(Entry e) => e.Run.Result.History[^1].TestLoss - e.Run.Result.History[^1].TrainLoss;
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"Without a penalty the final gap between test and train loss is {Gap(none):F4} nats. "));
        foreach (string kind in new[] { "L2", "L1" })
        {
            var list = entries.Where(e => e.Kind == kind).OrderBy(e => e.Strength).ToList();
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $"With {kind} it is {string.Join(", ", list.Select(e => $"{Gap(e):F4} at λ = {Strength(e.Strength)}"))}. "));
        }
        text.Append("A stronger penalty keeps the weights smaller, so the network cannot become as confident on its training images: the " +
            "training loss stays higher and the test loss rises less.");
        var underfit = entries.Where(e => e.Kind != "none" && e.Run.Best.ValidationAccuracy < none.Run.Best.ValidationAccuracy - 0.01).ToList();
        if (underfit.Count > 0)
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $" Too strong a penalty underfits: {string.Join(", ", underfit.Select(e => $"{e.Run.Config.Name} ends with a training loss of {e.Run.Result.History[^1].TrainLoss:F4} and loses {(none.Run.Best.ValidationAccuracy - e.Run.Best.ValidationAccuracy) * 100:F1} pp of validation accuracy"))}."));
        var weakest = entries.Where(e => e.Kind != "none").OrderBy(e => Gap(e)).First();
        if (weakest.Run.TestAccuracy < none.Run.TestAccuracy)
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $" The run with the smallest gap ({weakest.Run.Config.Name}) is not the most accurate one ({RunFiles.Pct(weakest.Run.TestAccuracy)}): a small gap alone is not the goal."));
        return text.ToString();
    }

    private static string NearZeroText(List<Entry> entries)
    {
        var none = entries[0];
        string Line(string kind) => string.Join(", ", entries.Where(e => e.Kind == kind).OrderBy(e => e.Strength)
            .Select(e => string.Create(CultureInfo.InvariantCulture, $"{RunFiles.Pct(e.NearZeroByEpoch[^1])} at λ = {Strength(e.Strength)}")));
        return string.Create(CultureInfo.InvariantCulture,
            $"After the last epoch, {RunFiles.Pct(none.NearZeroByEpoch[^1])} of the weights are near zero without a penalty; with L2, {Line("L2")}; " +
            $"with L1, {Line("L1")}. L2 shrinks a weight by a fixed fraction per step, so weights get smaller but seldom reach zero: " +
            $"their distribution narrows around zero. L1 subtracts a fixed amount per step, which takes the weights that the loss does " +
            $"not need all the way to zero: the histogram grows a spike at zero and the model becomes sparse. The table also gives the " +
            $"share in the selected model, which for an early selected epoch is smaller: sparsity builds up with training.");
    }
}
