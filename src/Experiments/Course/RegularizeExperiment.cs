using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run regularize</c>: the <see cref="OverfitSetup"/> with an L2 penalty and with an L1 penalty on the weights,
/// each at three strengths, beside the unpenalised run (<c>overfit</c>'s own runs, shared), each with every seed: test
/// accuracy by strength compared with no penalty, paired by seed; the curves; and how many weights each penalty leaves
/// near zero (<c>|w| &lt; 1e-3</c>), measured on the live model after every epoch (<see cref="OverfitSetup.Plan"/>).
/// </summary>
public sealed class RegularizeExperiment : ICourseExperiment
{
    /// <summary>The L2 strengths (PyTorch's <c>weight_decay</c>).</summary>
    public static readonly double[] L2Strengths = [1e-4, 1e-3, 1e-2];

    /// <summary>The L1 strengths.</summary>
    public static readonly double[] L1Strengths = [1e-5, 1e-4, 1e-3];

    /// <summary>The unpenalised run's name: it is the <c>overfit</c> run, so every experiment of the setup shares it.</summary>
    public const string Baseline = "overfit";

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
            return strongest is null ? "" : $"{Summaries.Text(strongest, "name")} {RunFiles.Pct(Summaries.Number(strongest, "near_zero_fraction_final.mean") ?? double.NaN)}";
        }
        static string Std(double v) => RunFiles.Points(v).TrimStart('+');
        string versus = summary["chosen_vs_overfit"] is JsonObject
            ? $", against no penalty {Summaries.Difference(summary, "chosen_vs_overfit.test_accuracy_difference", RunFiles.Points)}"
            : "";
        string Verdicts(string word) => string.Join(", ", runs.Where(r => r["vs_overfit"] is JsonObject
            && Summaries.Difference(r, "vs_overfit.test_accuracy_difference", RunFiles.Points).EndsWith(": " + word, StringComparison.Ordinal))
            .Select(r => Summaries.Text(r, "name")));
        string gains = Verdicts("a gain"), losses = Verdicts("a loss");
        return $"chosen {Summaries.Text(summary, "chosen")}: test accuracy {Summaries.MeanStd(summary, "chosen_test_accuracy", RunFiles.Pct, Std)}{versus}; " +
            $"test accuracy against no penalty, paired by seed: {(gains.Length == 0 ? "no setting higher" : $"higher with {gains}")}, " +
            $"{(losses.Length == 0 ? "no setting lower" : $"lower with {losses}")} beyond noise; " +
            $"near-zero weights after the last epoch: {string.Join(", ", new[] { Share("none"), Share("L2"), Share("L1") }.Where(t => t.Length > 0))}";
    }

    /// <summary>Seeds by default: the report says which strengths beat no penalty, which needs an interval.</summary>
    public int DefaultSeeds => 3;

    /// <summary>One configuration of the sweep: no penalty, or L2 or L1 at a strength.</summary>
    internal sealed record Setting(string Kind, double Strength)
    {
        public string Name => Kind == "none" ? Baseline : $"{Kind}={RunFiles.Strength(Strength)}";

        public Regularization Regularization => Kind switch
        {
            "L2" => new Regularization(L2: Strength),
            "L1" => new Regularization(L1: Strength),
            _ => Regularization.None,
        };
    }

    private static readonly Setting[] Settings =
        [new("none", 0), .. L2Strengths.Select(s => new Setting("L2", s)), .. L1Strengths.Select(s => new Setting("L1", s))];

    /// <inheritdoc />
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context) =>
        Settings.SelectMany(s => context.Seeds.Select(seed => (PlannedRun)OverfitSetup.Plan(s.Kind == "none"
            ? OverfitSetup.Config(context, seed, Baseline)
            : OverfitSetup.Config(context, seed, s.Name, regularization: s.Regularization)))).ToList();

    /// <summary>One setting's runs (one per seed, in seed order), their weights, and their figures over seeds.</summary>
    internal sealed class Entry
    {
        public Entry(Setting setting, IReadOnlyList<RunFigures> runs, IReadOnlyList<OverfitSetup.WeightStatistics> weights)
        {
            Setting = setting;
            Runs = runs;
            Weights = weights;
            var seeds = runs.Select(r => r.Seed).ToList();
            Estimate Over(IEnumerable<double> values) => Estimate.Of(seeds, values);
            Validation = Over(runs.Select(r => r.Best.ValidationAccuracy));
            Test = Over(runs.Select(r => r.TestAccuracy));
            TestLoss = Over(runs.Select(r => r.TestLoss));
            FinalTrainLoss = Over(runs.Select(r => r.Result.History[^1].TrainLoss));
            FinalGap = Over(runs.Select(r => r.Result.History[^1].TestLoss - r.Result.History[^1].TrainLoss));
            NearZeroSelected = Over(Weights.Select(w => w.NearZeroSelected));
            NearZeroFinal = Over(Weights.Select(w => w.NearZeroFinal));
        }

        public Setting Setting { get; }
        public string Name => Setting.Name;
        public IReadOnlyList<RunFigures> Runs { get; }
        public RunFigures First => Runs[0];
        public IReadOnlyList<OverfitSetup.WeightStatistics> Weights { get; }
        public Estimate Validation { get; }
        public Estimate Test { get; }
        public Estimate TestLoss { get; }
        public Estimate FinalTrainLoss { get; }
        public Estimate FinalGap { get; }
        public Estimate NearZeroSelected { get; }
        public Estimate NearZeroFinal { get; }
    }

    /// <summary>A penalised setting against no penalty, paired by seed (this minus no penalty).</summary>
    internal sealed record Versus(Estimate Test, Estimate Validation, Estimate FinalGap, Estimate NearZeroFinal)
    {
        public static Versus Of(Entry e, Entry none) => new(Estimate.Paired(e.Test, none.Test), Estimate.Paired(e.Validation, none.Validation),
            Estimate.Paired(e.FinalGap, none.FinalGap), Estimate.Paired(e.NearZeroFinal, none.NearZeroFinal));

        public JsonObject ToJson() => new()
        {
            ["test_accuracy_difference"] = Test.ToJson(),
            ["verdict"] = Test.Word(),
            ["validation_accuracy_difference"] = Validation.ToJson(),
            ["validation_verdict"] = Validation.Word(),
            ["final_gap_difference"] = FinalGap.ToJson(),
            ["final_gap_verdict"] = FinalGap.Word(higherIsBetter: false),
            ["near_zero_final_difference"] = NearZeroFinal.ToJson(),
        };
    }

    /// <inheritdoc />
    public void Analyse(ExperimentContext context, RunSet runs)
    {
        var trained = Settings.ToDictionary(s => s, s => runs.Trained(s.Name));
        var entries = Settings.Select(s => new Entry(s, trained[s].Select(r => r.Figures).ToList(),
            trained[s].Select(OverfitSetup.WeightStatistics.Of).ToList())).ToList();
        var none = entries[0];
        var versus = entries.Skip(1).ToDictionary(e => e, e => Versus.Of(e, none));
        var chosen = Choose(entries);
        var chosenRun = trained[chosen.Setting][0];
        var folder = context.Folder;

        var settings = OverfitSetup.Settings(none.First.Config);
        settings["l2_strengths"] = new JsonArray(L2Strengths.Select(s => (JsonNode)s).ToArray());
        settings["l1_strengths"] = new JsonArray(L1Strengths.Select(s => (JsonNode)s).ToArray());
        settings["near_zero_threshold"] = OverfitSetup.NearZero;
        context.WriteConfig(settings);
        RunFiles.WriteMetrics(folder, [.. Settings.SelectMany(s => trained[s])]);
        string checkpoint = RunFiles.CopyCheckpoint(folder, chosenRun);
        WritePlots(folder, entries, none);

        var summary = RunFiles.ModelSummary(chosenRun, checkpoint);
        summary["chosen"] = chosen.Name;
        summary["chosen_test_accuracy"] = chosen.Test.ToJson();
        if (chosen != none) summary["chosen_vs_overfit"] = versus[chosen].ToJson();
        summary["near_zero_threshold"] = OverfitSetup.NearZero;
        summary["runs"] = new JsonArray(entries.Select(e =>
        {
            var o = new JsonObject
            {
                ["name"] = e.Name,
                ["penalty"] = e.Setting.Kind,
                ["strength"] = e.Setting.Strength,
                ["validation_accuracy"] = e.Validation.ToJson(),
                ["test_accuracy"] = e.Test.ToJson(),
                ["test_loss"] = e.TestLoss.ToJson(),
                ["final_train_loss"] = e.FinalTrainLoss.ToJson(),
                ["final_gap"] = e.FinalGap.ToJson(),
                ["near_zero_fraction"] = e.NearZeroSelected.ToJson(),
                ["near_zero_fraction_final"] = e.NearZeroFinal.ToJson(),
                ["diverged_seeds"] = e.Runs.Count(r => r.Result.Diverged),
            };
            if (e != none) o["vs_overfit"] = versus[e].ToJson();
            return (JsonNode)o;
        }).ToArray());
        folder.WriteJson("summary.json", summary);

        foreach (var e in entries)
            context.Console.WriteLine($"{e.Name,-10} validation {RunFiles.Pct(e.Validation.Mean)}, test {e.Test.Describe(RunFiles.Pct)}" +
                (e == none ? "" : $", vs no penalty {versus[e].Test.DescribeDifference(RunFiles.Points)}") +
                $"; near-zero weights {RunFiles.Pct(e.NearZeroSelected.Mean)} (selected), {RunFiles.Pct(e.NearZeroFinal.Mean)} (last epoch)");
        context.Console.WriteLine($"chosen by mean validation accuracy: {chosen.Name}, test {chosen.Test.Describe(RunFiles.Pct)}");
        context.Finish(Report(entries, context.Footer()));
    }

    /// <summary>
    /// The setting the report recommends: the first in plan order (no penalty, then each penalty from its weakest strength)
    /// whose mean validation accuracy is not below the highest mean's beyond the noise of the seeds (paired by seed). A
    /// setting that leads by a hair of floating-point noise is then never preferred to a simpler one it does not beat, so the
    /// choice does not hang on the last bits of a SIMD sum; with one seed (no interval) it is the highest mean.
    /// </summary>
    internal static Entry Choose(IReadOnlyList<Entry> entries)
    {
        var top = entries.Select((e, i) => (e, i)).OrderByDescending(x => x.e.Validation.Mean).ThenBy(x => x.i).First().e;
        if (top.Validation.N < 2) return top;
        return entries.First(e => e == top || Estimate.Paired(e.Validation, top.Validation).Verdict != Verdict.Loss);
    }

    // Plots: the curves, near-zero shares and histograms are the first seed's; accuracy by strength is the mean over seeds.
    private static void WritePlots(RunFolder folder, List<Entry> entries, Entry none)
    {
        int seed = none.First.Seed;
        Plots.Panels(folder.File("loss.png"), $"train vs test loss per run (seed {seed})", "epoch", "cross-entropy (nats)",
            entries.Select(e => (e.Name, RunFiles.LossCurves(e.First, e.Name))).ToList(), columns: 4);
        var byKind = new List<Series>();
        foreach (string kind in new[] { "L2", "L1" })
        {
            var list = entries.Where(e => e.Setting.Kind == kind).ToList();
            double[] x = list.Select(e => Math.Log10(e.Setting.Strength)).ToArray();
            int group = kind == "L2" ? 0 : 1;
            byKind.Add(new Series($"{kind}: test (selected model)", x, list.Select(e => e.Test.Mean * 100).ToArray(), Group: group));
            byKind.Add(new Series($"{kind}: validation (selected epoch)", x, list.Select(e => e.Validation.Mean * 100).ToArray(), Dashed: true, Group: group));
        }
        double lo = Math.Log10(L1Strengths.Concat(L2Strengths).Min()), hi = Math.Log10(L1Strengths.Concat(L2Strengths).Max());
        byKind.Add(new Series("no penalty: test", [lo, hi], [none.Test.Mean * 100, none.Test.Mean * 100], Group: 2));
        byKind.Add(new Series("no penalty: validation", [lo, hi], [none.Validation.Mean * 100, none.Validation.Mean * 100], Dashed: true, Group: 2));
        Plots.Lines(folder.File("accuracy_vs_strength.png"), $"accuracy by penalty strength (mean over {none.Test.N} seeds)", "log10(strength)",
            "accuracy (%)", byKind, legend: ScottPlot.Alignment.LowerLeft);
        Plots.Lines(folder.File("near_zero.png"), $"share of weights with |w| < {OverfitSetup.NearZero:G} during training (seed {seed})", "epoch",
            "near-zero weights (%)", entries.Select((e, i) => new Series(e.Name, e.Weights[0].NearZeroByEpoch.Select((_, k) => k + 1.0).ToArray(),
                e.Weights[0].NearZeroByEpoch.Select(f => f * 100).ToArray(), Group: i)).ToList(), legend: ScottPlot.Alignment.MiddleCenter);
        var strongL2 = entries.Where(e => e.Setting.Kind == "L2").MaxBy(e => e.Setting.Strength)!;
        var shown = new[] { none, strongL2 }.Concat(entries.Where(e => e.Setting.Kind == "L1")).ToList();
        Plots.BinnedHistograms(folder.File("weights.png"),
            $"weights after the last epoch, |w| <= {OverfitSetup.HistogramRange:G} (larger ones in the end bins; seed {seed})", "weight value",
            shown.Select(e => (e.Name, e.Weights[0].LastEpochHistogram.ToArray())).ToList(), (-OverfitSetup.HistogramRange, OverfitSetup.HistogramRange));
    }

    /// <summary>The report's words, from the settings' results alone (the plots are written by <see cref="Analyse"/>).</summary>
    internal static string Report(IReadOnlyList<Entry> entries, string footer)
    {
        var none = entries[0];
        var versus = entries.Skip(1).ToDictionary(e => e, e => Versus.Of(e, none));
        var chosen = Choose(entries);
        var top = entries.Select((e, i) => (e, i)).OrderByDescending(x => x.e.Validation.Mean).ThenBy(x => x.i).First().e;
        var c = none.First.Config;
        int n = none.Test.N;
        var text = new StringBuilder();
        text.AppendLine("# L2 and L1 regularisation against overfitting");
        text.AppendLine();
        text.AppendLine(OverfitSetup.Describe(c, none.First.ParameterCount, none.First.TestCount));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The cure: a penalty on the weights (not the biases) added to the loss. **L2** adds `(λ/2)·Σw²`, whose gradient `λ·w` shrinks " +
            $"every weight in proportion to its size (PyTorch's `weight_decay = λ`); **L1** adds `λ·Σ|w|`, whose gradient `λ·sign(w)` pulls " +
            $"every weight towards zero by the same amount whatever its size, so small weights reach zero and stay there (they then " +
            $"jitter around it by about one step). Strengths: L2 λ ∈ {{{string.Join(", ", L2Strengths.Select(RunFiles.Strength))}}}, L1 λ ∈ " +
            $"{{{string.Join(", ", L1Strengths.Select(RunFiles.Strength))}}}, and the unpenalised run, which is `overfit`'s (the same runs: " +
            $"in `gpunet run all` they are fitted once and shared). Each setting runs with {n} {(n == 1 ? "seed" : "seeds")} " +
            $"({string.Join(", ", none.Test.Seeds)}; each seed draws its own subset, initialisation and batch order, shared by every setting), " +
            $"{entries.Count * n} runs in all. Each run's epoch is chosen by validation accuracy, and a weight counts as near zero when " +
            $"|w| < {OverfitSetup.NearZero:G}."));
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        text.AppendLine("Means over seeds with their 95% intervals; the differences are paired by seed against no penalty (the same seed's `overfit` run).");
        text.AppendLine();
        text.Append(RunFiles.Table(["run", "validation acc.", "test acc.", "test acc. - no penalty", "final gap (test - train loss)",
                "near-zero weights (selected)", "near-zero weights (last epoch)"],
            entries.Select(e => (IReadOnlyList<string>)[e == chosen ? $"**{e.Name}**" : e.Name, e.Validation.Describe(RunFiles.Pct),
                e.Test.Describe(RunFiles.Pct), e == none ? "" : versus[e].Test.DescribeDifference(RunFiles.Points), e.FinalGap.Describe(RunFiles.F4),
                RunFiles.Pct(e.NearZeroSelected.Mean), RunFiles.Pct(e.NearZeroFinal.Mean)]), "lllllrr"));
        text.AppendLine();
        var penalised = entries.Skip(1).ToList();
        string Names(Verdict v)
        {
            var names = penalised.Where(e => versus[e].Test.Verdict == v).Select(e => e.Name).ToList();
            return names.Count == 0 ? "none" : string.Join(", ", names);
        }
        if (n < 2)
            text.AppendLine("With one seed there is no interval, so no strength can be said to beat no penalty or to lose to it; run with " +
                "`--seeds 3` or more for a verdict.");
        else
            text.AppendLine($"Paired by seed, the selected model's test accuracy is higher than without a penalty beyond the noise with: " +
                $"**{Names(Verdict.Gain)}**; lower beyond the noise with: **{Names(Verdict.Loss)}**; within noise with: {Names(Verdict.WithinNoise)}.");
        text.AppendLine();
        string lead = top == chosen ? ""
            : $" The highest mean validation accuracy is {top.Name}'s ({top.Validation.Describe(RunFiles.Pct)}), but paired by seed it does not beat " +
              $"{chosen.Name} beyond the noise ({top.Name} - {chosen.Name}: {Estimate.Paired(top.Validation, chosen.Validation).DescribeDifference(RunFiles.Points)}), so the simpler setting is kept.";
        text.AppendLine((chosen == none
            ? $"Chosen by validation accuracy (the simplest setting that no other beats beyond the noise of the seeds): **no penalty**, test accuracy " +
              $"**{none.Test.Describe(RunFiles.Pct)}**."
            : $"Chosen by validation accuracy (the simplest setting that no other beats beyond the noise of the seeds): **{chosen.Name}**, test accuracy " +
              $"**{chosen.Test.Describe(RunFiles.Pct)}**; against no penalty, paired by seed, {versus[chosen].Test.DescribeDifference(RunFiles.Points)}.") + lead);
        text.AppendLine();
        // Early stopping: the selected epoch's test loss against the last epoch's, in every seed of the unpenalised setting.
        var stopped = none.Runs.Count(r => r.TestLoss < r.Result.History[^1].TestLoss * (1 - Gap.RiseShare));
        text.AppendLine(stopped == none.Runs.Count
            ? string.Create(CultureInfo.InvariantCulture,
                $"Choosing the epoch by validation accuracy is itself a regulariser (early stopping): in every seed the unpenalised run's selected " +
                $"epoch has a lower test loss (mean {none.TestLoss.Mean:F4}) than its last epoch ({none.Runs.Average(r => r.Result.History[^1].TestLoss):F4}).") +
              (n >= 2 && penalised.All(e => versus[e].Test.Verdict != Verdict.Gain)
                ? " Here that leaves a penalty nothing to add to the accuracy beyond the noise of the seeds; where the penalties show is in the losses and the weights."
                : "")
            : string.Create(CultureInfo.InvariantCulture,
                $"Choosing the epoch by validation accuracy (early stopping) lowers the unpenalised run's test loss below its last epoch's in " +
                $"{stopped} of {none.Runs.Count} seeds."));
        text.AppendLine();
        text.AppendLine($"![accuracy by strength (mean over seeds)](accuracy_vs_strength.png)");
        text.AppendLine();
        text.AppendLine(Curves(entries, versus));
        text.AppendLine();
        text.AppendLine($"![train vs test loss of every run (seed {none.First.Seed})](loss.png)");
        text.AppendLine();
        text.AppendLine("## Near-zero weights");
        text.AppendLine();
        text.AppendLine(NearZeroText(entries, versus));
        text.AppendLine();
        text.AppendLine("![near-zero weights per epoch](near_zero.png)");
        text.AppendLine();
        text.AppendLine("![weight histograms](weights.png)");
        text.AppendLine();
        text.AppendLine($"The plots of curves, near-zero shares and weights are seed {none.First.Seed}'s runs. The checkpoint is the chosen " +
            $"setting's ({chosen.Name}) selected model of seed {chosen.First.Seed}.");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(chosen.First.Normalization));
        text.AppendLine(footer);
        return text.ToString();
    }

    // What the penalties did to the curves: the final gap between test and train loss of each setting against no penalty's.
    private static string Curves(IReadOnlyList<Entry> entries, Dictionary<Entry, Versus> versus)
    {
        var none = entries[0];
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"Without a penalty the final gap between test and train loss is {none.FinalGap.Mean:F4} nats (mean over seeds). "));
        foreach (string kind in new[] { "L2", "L1" })
        {
            var list = entries.Where(e => e.Setting.Kind == kind).OrderBy(e => e.Setting.Strength).ToList();
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $"With {kind} it is {string.Join(", ", list.Select(e => $"{e.FinalGap.Mean:F4} at λ = {RunFiles.Strength(e.Setting.Strength)}"))}. "));
        }
        // A narrower gap is a negative difference.
        var narrower = entries.Skip(1).Where(e => versus[e].FinalGap.Verdict == Verdict.Loss).ToList();
        if (narrower.Count > 0)
            text.Append($"Paired by seed, {string.Join(", ", narrower.Select(e => e.Name))} narrow{(narrower.Count == 1 ? "s" : "")} the gap beyond the noise " +
                "(the table gives the intervals): a penalty keeps the weights smaller, so the network cannot become as confident on its " +
                "training images, the training loss stays higher and the test loss rises less.");
        else
            text.Append(none.FinalGap.N < 2
                ? "With one seed there is no interval to say whether a penalty narrows the gap."
                : "No penalty narrows the gap beyond the noise of the seeds here.");
        var underfit = entries.Skip(1).Where(e => versus[e].Validation.Verdict == Verdict.Loss && e.FinalTrainLoss.Mean > none.FinalTrainLoss.Mean).ToList();
        if (underfit.Count > 0)
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $" Too strong a penalty underfits: {string.Join("; ", underfit.Select(e => $"{e.Name} ends with a training loss of {e.FinalTrainLoss.Mean:F4} (against {none.FinalTrainLoss.Mean:F4}) and loses validation accuracy, {versus[e].Validation.Describe(RunFiles.Points)}"))}."));
        var smallestGap = entries.Skip(1).MinBy(e => e.FinalGap.Mean)!;
        var mostAccurate = entries.MaxBy(e => e.Test.Mean)!;
        if (smallestGap != mostAccurate && smallestGap.Test.N > 1 && Estimate.Paired(mostAccurate.Test, smallestGap.Test) is { Verdict: Verdict.Gain } ahead)
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $" The setting with the smallest mean gap ({smallestGap.Name}) is less accurate than {mostAccurate.Name} beyond the noise of the seeds " +
                $"({mostAccurate.Name} - {smallestGap.Name} on test: {ahead.Describe(RunFiles.Points)}): a small gap alone is not the goal."));
        return text.ToString();
    }

    private static string NearZeroText(IReadOnlyList<Entry> entries, Dictionary<Entry, Versus> versus)
    {
        var none = entries[0];
        string Line(string kind) => string.Join(", ", entries.Where(e => e.Setting.Kind == kind).OrderBy(e => e.Setting.Strength)
            .Select(e => $"{RunFiles.Pct(e.NearZeroFinal.Mean)} at λ = {RunFiles.Strength(e.Setting.Strength)}"));
        var text = new StringBuilder(
            $"After the last epoch (means over seeds), {RunFiles.Pct(none.NearZeroFinal.Mean)} of the weights are near zero without a penalty; " +
            $"with L2, {Line("L2")}; with L1, {Line("L1")}. L2 shrinks a weight by a fixed fraction per step, so weights get smaller but " +
            "seldom reach zero: their distribution narrows around zero. L1 subtracts a fixed amount per step, which can take the weights " +
            "that the loss does not need all the way to zero, a spike at zero in the histogram. ");
        var strongL1 = entries.Where(e => e.Setting.Kind == "L1").MaxBy(e => e.Setting.Strength)!;
        var strongL2 = entries.Where(e => e.Setting.Kind == "L2").MaxBy(e => e.Setting.Strength)!;
        // More or fewer near-zero weights is neither better nor worse: say which way, and whether beyond the noise.
        static string Change(Estimate d) => d.Describe(RunFiles.Points) + ": " + d.Verdict switch
        {
            Verdict.Gain => "more, beyond the noise",
            Verdict.Loss => "fewer, beyond the noise",
            Verdict.WithinNoise => "within noise",
            _ => "one seed, no verdict",
        };
        text.Append($"Paired by seed, the share of near-zero weights after the last epoch changes by {Change(versus[strongL1].NearZeroFinal)} " +
            $"with the strongest L1 penalty ({strongL1.Name}), and by {Change(versus[strongL2].NearZeroFinal)} with the strongest L2 penalty ({strongL2.Name}).");
        if (versus[strongL1].NearZeroFinal.Verdict == Verdict.Gain)
            text.Append($" So the strongest L1 penalty does make the model sparser than no penalty, beyond the noise of the seeds.");
        else if (strongL1.NearZeroFinal.N > 1)
            text.Append($" So at these strengths L1 does not make the model sparser than no penalty beyond the noise of the seeds.");
        if (strongL1.NearZeroSelected.N > 1 && Estimate.Paired(strongL1.NearZeroSelected, strongL1.NearZeroFinal).Verdict == Verdict.Loss)
            text.Append($" In the selected model the share is smaller ({RunFiles.Pct(strongL1.NearZeroSelected.Mean)} against " +
                $"{RunFiles.Pct(strongL1.NearZeroFinal.Mean)} after the last epoch for {strongL1.Name}): sparsity builds up with training, and " +
                "the selected epoch comes before the last (paired by seed, the difference is beyond the noise).");
        return text.ToString();
    }
}
