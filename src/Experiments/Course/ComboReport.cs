using System.Globalization;
using System.Text;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;

namespace GpuNet.Experiments;

/// <summary>One searched setting of <c>combo</c> on the search seed.</summary>
/// <param name="Label">The setting in words.</param>
/// <param name="Stage">single, triple or pair.</param>
/// <param name="ValidationAccuracy">Validation accuracy of the selected epoch.</param>
/// <param name="ValidationLoss">Validation loss of the selected epoch.</param>
/// <param name="FinalTrainAccuracy">Training accuracy (evaluation mode) after the last epoch.</param>
/// <param name="TestAccuracy">Test accuracy of the selected epoch (not used to choose).</param>
/// <param name="BestEpoch">The selected epoch.</param>
public sealed record Candidate(string Label, string Stage, double ValidationAccuracy, double ValidationLoss, double FinalTrainAccuracy,
    double TestAccuracy, int BestEpoch);

/// <summary>
/// What <c>combo</c>'s report says, as numbers: built by <see cref="ComboExperiment.Analyse"/> from the finished runs, or by a
/// test from made-up numbers. Accuracies are fractions; every estimate is over the seeds in <see cref="Seeds"/>.
/// </summary>
public sealed record ComboResults(
    IReadOnlyList<Candidate> Search,
    int SearchSeed,
    IReadOnlyList<int> Seeds,
    string Chosen,
    string BestSingle,
    string BestTriple,
    bool ChosenIsPair,
    Estimate ChosenTest,
    Estimate BestSingleTest,
    Estimate EarlyStoppingTest,
    Estimate ChosenFinalTrain,
    Estimate BestSingleFinalTrain,
    double StrongestFinalTrain,
    Estimate OverfitFinalTrain,
    double OverfitBestEpoch,
    int Epochs,
    int OverfitEpochs,
    double LearningRate,
    double Momentum,
    int TrainImages,
    int ValidationImages,
    int TestImages,
    string Setup,
    bool Quick)
{
    /// <summary>The chosen combination minus the best single cure, paired by seed.</summary>
    public Estimate ChosenVsBestSingle => Estimate.Paired(ChosenTest, BestSingleTest);

    /// <summary>The chosen combination minus early stopping, paired by seed.</summary>
    public Estimate ChosenVsEarlyStopping => Estimate.Paired(ChosenTest, EarlyStoppingTest);

    /// <summary>The best single cure minus early stopping, paired by seed.</summary>
    public Estimate BestSingleVsEarlyStopping => Estimate.Paired(BestSingleTest, EarlyStoppingTest);

    /// <summary>The paired comparisons under their summary.json keys.</summary>
    public IReadOnlyList<(string Key, Estimate Difference)> Comparisons() =>
    [
        ("chosen_vs_best_single", ChosenVsBestSingle),
        ("chosen_vs_early_stopping", ChosenVsEarlyStopping),
        ("best_single_vs_early_stopping", BestSingleVsEarlyStopping),
    ];

    /// <summary>A training accuracy this far (fraction) below the overfitting run's at the last epoch counts as underfitting.</summary>
    public const double UnderfitMargin = 0.02;
}

/// <summary><c>combo</c>'s report.md from its <see cref="ComboResults"/> alone (no run folders), so a test can feed it any numbers.</summary>
public static class ComboReport
{
    /// <summary>The report, without the checkpoint section and the footer.</summary>
    public static string Write(ComboResults r)
    {
        var text = new StringBuilder();
        int n = r.Seeds.Count;
        string seeds = string.Join(", ", r.Seeds);
        text.AppendLine("# Augmentation, L2 and dropout together");
        text.AppendLine();
        text.AppendLine(r.Setup);
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"That setup trains at a constant rate, which suits showing overfitting but handicaps cures that make the training task harder. " +
            $"Every run here therefore anneals SGD's rate from {r.LearningRate} to 0 with a cosine over {r.Epochs} epochs (momentum {r.Momentum}), " +
            $"measures the training images (evaluation mode) and the validation images after every epoch, keeps the best-validation epoch, and " +
            $"only then measures the test set. The cures, each at two strengths: augmentation `{ComboExperiment.Augmentations[1]}` or " +
            $"`{ComboExperiment.Augmentations[2]}` (a shift and a rotation, weak or strong), L2 {RunFiles.Strength(ComboExperiment.L2Strengths[1])} or " +
            $"{RunFiles.Strength(ComboExperiment.L2Strengths[2])}, dropout {ComboExperiment.Dropouts[1]:0.##} or {ComboExperiment.Dropouts[2]:0.##} after each hidden layer."));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"**The search** (seed {r.SearchSeed} only, coarse to fine): each cure alone at both strengths (6 runs), all three at every mix of " +
            $"strengths (8 runs), then the three pairs left when one cure is dropped from the best of those triples (3 runs). The chosen " +
            $"combination is the triple or pair with the highest validation accuracy ({r.ValidationImages:N0} images), the best single cure " +
            $"the single cure with the highest; ties go to the lower validation loss. **The comparison** (seeds {seeds}): both are trained " +
            $"again with every other seed (seed {r.SearchSeed}'s runs are the search's own, chosen on their validation accuracy, not their " +
            $"test accuracy) and compared on the test set, paired by seed, with each other and with early stopping of the overfitting run " +
            $"(the `overfit` runs: {r.OverfitEpochs} epochs at a constant rate, the best-validation epoch kept, on average epoch " +
            $"{r.OverfitBestEpoch:0.#})."));
        text.AppendLine();

        text.AppendLine($"## The search (seed {r.SearchSeed})");
        text.AppendLine();
        var ranked = r.Search.OrderByDescending(c => c.ValidationAccuracy).ThenBy(c => c.ValidationLoss).ToList();
        text.Append(RunFiles.Table(["rank", "setting", "stage", "validation acc.", "validation loss", "selected epoch", "train acc. after the last epoch", "test acc."],
            ranked.Select((c, i) => (IReadOnlyList<string>)[$"{i + 1}", c.Label == r.Chosen || c.Label == r.BestSingle ? $"**{c.Label}**" : c.Label, c.Stage,
                RunFiles.Pct(c.ValidationAccuracy), RunFiles.F4(c.ValidationLoss), c.BestEpoch.ToString(CultureInfo.InvariantCulture),
                RunFiles.Pct(c.FinalTrainAccuracy), RunFiles.Pct(c.TestAccuracy)]), "rllrrrrr"));
        text.AppendLine();
        text.AppendLine("![search](search.png)");
        text.AppendLine();
        var chosen = r.Search.First(c => c.Label == r.Chosen);
        var single = r.Search.First(c => c.Label == r.BestSingle);
        var top = ranked[0];
        text.AppendLine(
            $"Chosen combination: **{r.Chosen}** (validation {RunFiles.Pct(chosen.ValidationAccuracy)}" +
            (r.ChosenIsPair ? $"; a pair, the best triple {r.BestTriple} with one cure dropped" : "; the best triple, better than the pairs made from it") +
            $"). Best single cure: **{r.BestSingle}** (validation {RunFiles.Pct(single.ValidationAccuracy)}). " +
            (top.Stage == "single"
                ? $"The highest validation accuracy of the whole search is a single cure's, {top.Label}: on seed {r.SearchSeed} no combination did better than it."
                : $"The highest validation accuracy of the whole search is a combination's ({top.Label})" +
                  (chosen.ValidationAccuracy > single.ValidationAccuracy
                      ? string.Create(CultureInfo.InvariantCulture, $", {(chosen.ValidationAccuracy - single.ValidationAccuracy) * 100:0.00} points above the best single cure on seed {r.SearchSeed}.")
                      : ".")) +
            $" One seed's {r.ValidationImages:N0} validation images decide this, and the winner of {r.Search.Count} is flattered by being the winner; " +
            "the comparison below, over seeds on the test set, is what says whether the choice holds.");
        text.AppendLine();
        text.AppendLine(Underfit(r));
        text.AppendLine();
        text.AppendLine("![curves](curves.png)");
        text.AppendLine();

        text.AppendLine($"## The comparison (seeds {seeds})");
        text.AppendLine();
        text.Append(RunFiles.Table(["model", "test accuracy (95% CI)", "per seed", "train acc. after the last epoch"],
        [
            [$"chosen combination: {r.Chosen}", r.ChosenTest.Describe(RunFiles.Pct), RunFiles.PerSeed(r.ChosenTest, RunFiles.Pct), RunFiles.Pct(r.ChosenFinalTrain.Mean)],
            [$"best single cure: {r.BestSingle}", r.BestSingleTest.Describe(RunFiles.Pct), RunFiles.PerSeed(r.BestSingleTest, RunFiles.Pct), RunFiles.Pct(r.BestSingleFinalTrain.Mean)],
            ["early stopping of the overfitting run", r.EarlyStoppingTest.Describe(RunFiles.Pct), RunFiles.PerSeed(r.EarlyStoppingTest, RunFiles.Pct), RunFiles.Pct(r.OverfitFinalTrain.Mean)],
        ], "llll"));
        text.AppendLine();
        text.AppendLine($"- Chosen combination minus best single cure, paired by seed: **{r.ChosenVsBestSingle.DescribeDifference(RunFiles.Points)}**. " +
            Stacking(r.ChosenVsBestSingle));
        text.AppendLine($"- Chosen combination minus early stopping: **{r.ChosenVsEarlyStopping.DescribeDifference(RunFiles.Points)}**. " +
            Versus(r.ChosenVsEarlyStopping, "the chosen combination", "early stopping alone"));
        text.AppendLine($"- Best single cure minus early stopping: **{r.BestSingleVsEarlyStopping.DescribeDifference(RunFiles.Points)}**. " +
            Versus(r.BestSingleVsEarlyStopping, $"the best single cure ({r.BestSingle})", "early stopping alone"));
        text.AppendLine();
        text.AppendLine("A difference is a gain or a loss only when its paired 95% interval (Student's t over the per-seed differences) excludes zero; " +
            "otherwise it is within noise. The runs of one seed share the training subset, the validation images and the initialisation, " +
            "so pairing by seed removes that part of the noise." + (r.Quick ? " This is a `--quick` run: a small subset and a few epochs, a smoke test, not a result." : ""));
        return text.ToString();
    }

    // Whether the stacked cures still fit their training images within the budget.
    private static string Underfit(ComboResults r)
    {
        double reference = r.OverfitFinalTrain.Mean;
        bool strongestUnderfits = r.StrongestFinalTrain < reference - ComboResults.UnderfitMargin;
        bool chosenUnderfits = r.ChosenFinalTrain.Mean < reference - ComboResults.UnderfitMargin;
        string numbers = $"After the last epoch the overfitting run classifies {RunFiles.Pct(reference)} of its training images correctly " +
            $"(evaluation mode, mean over seeds); the chosen combination {RunFiles.Pct(r.ChosenFinalTrain.Mean)}; all three cures at their " +
            $"strongest {RunFiles.Pct(r.StrongestFinalTrain)} (seed {r.SearchSeed}).";
        string reading = (chosenUnderfits, strongestUnderfits) switch
        {
            (false, false) => $" Even the strongest stack fits the training images within {ComboResults.UnderfitMargin * 100:0} points of the " +
                $"overfitting run in {r.Epochs} epochs, so no setting was ruled out by too short a budget.",
            (false, true) => $" The chosen combination fits them within {ComboResults.UnderfitMargin * 100:0} points of the overfitting run, " +
                $"but the strongest stack does not: in {r.Epochs} epochs it still underfits, so the search may undervalue the strongest settings.",
            _ => $" The chosen combination ends more than {ComboResults.UnderfitMargin * 100:0} points below the overfitting run: it still " +
                $"underfits in {r.Epochs} epochs, so a longer budget could change what wins.",
        };
        return numbers + reading;
    }

    private static string Stacking(Estimate d) => d.Verdict switch
    {
        Verdict.Gain => "Stacking helps: the combination beats the best single cure beyond the noise of the seeds.",
        Verdict.Loss => "Stacking hurts: the combination is worse than the best single cure beyond the noise of the seeds.",
        Verdict.WithinNoise => "The seeds do not tell the combination from the best single cure: stacking adds nothing this run can measure.",
        _ => "With one seed there is no interval, so no verdict (run with `--seeds 3` or more).",
    };

    private static string Versus(Estimate d, string what, string other) => d.Verdict switch
    {
        Verdict.Gain => $"{Capital(what)} beats {other} beyond the noise of the seeds.",
        Verdict.Loss => $"{Capital(what)} is worse than {other} beyond the noise of the seeds: here the cure hurts.",
        Verdict.WithinNoise => $"The seeds do not tell {what} from {other}.",
        _ => "With one seed there is no interval, so no verdict.",
    };

    private static string Capital(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];
}
