using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Training;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run overfit</c>: the <see cref="OverfitSetup"/> (more capacity, a small training subset, no regularisation,
/// long training) trained with each seed, with train and test loss per epoch and a report that finds where the gap opens.
/// </summary>
public sealed class OverfitExperiment : ICourseExperiment
{
    /// <inheritdoc />
    public string Name => "overfit";

    /// <inheritdoc />
    public string Summary => "A wide MLP on 2,000 images, no regularisation, long training: train vs test loss and where they part.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"test loss lowest at epoch {Summaries.Number(summary, "overfitting.min_test_loss_epoch")} ({RunFiles.F4(Summaries.Number(summary, "overfitting.min_test_loss") ?? double.NaN)}), " +
        $"{RunFiles.F4(Summaries.Number(summary, "overfitting.final_test_loss") ?? double.NaN)} at the end with train loss " +
        $"{RunFiles.F4(Summaries.Number(summary, "overfitting.final_train_loss") ?? double.NaN)}; selected model {RunFiles.Pct(Summaries.Number(summary, "test_accuracy") ?? double.NaN)}, " +
        $"best epoch {RunFiles.Pct(Summaries.Number(summary, "peak_test_accuracy") ?? double.NaN)}");

    /// <summary>Seeds by default: the experiment compares nothing, so one is enough to show the curves part; more give
    /// the spread of every figure.</summary>
    public int DefaultSeeds => 1;

    /// <inheritdoc />
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context) =>
        context.Seeds.Select(seed => (PlannedRun)OverfitSetup.Plan(OverfitSetup.Config(context, seed, "overfit"))).ToList();

    /// <inheritdoc />
    public void Analyse(ExperimentContext context, RunSet runs)
    {
        var all = runs.Trained("overfit");
        var outcome = all[0];
        var folder = context.Folder;
        context.WriteConfig(OverfitSetup.Settings(outcome.Config));
        RunFiles.WriteMetrics(folder, all);
        string checkpoint = RunFiles.CopyCheckpoint(folder, outcome);
        var gap = Gap.Of(outcome);

        Plots.Lines(folder.File("loss.png"), "Overfitting: train vs test loss", "epoch", "cross-entropy (nats)",
            RunFiles.LossCurves(outcome, "overfit"), markers: [(gap.MinTestLossEpoch, $"lowest test loss (epoch {gap.MinTestLossEpoch})")]);
        Plots.Lines(folder.File("accuracy.png"), "Overfitting: train vs test accuracy", "epoch", "accuracy (%)",
            RunFiles.LossCurves(outcome, "overfit", accuracy: true, validation: true),
            markers: [(outcome.Result.BestEpoch, $"best validation epoch ({outcome.Result.BestEpoch})")]);

        var summary = RunFiles.ModelSummary(outcome, checkpoint);
        summary["overfitting"] = gap.ToJson();
        var seeds = SeedFigures(all);
        summary["over_seeds"] = new JsonObject(seeds.Select(f => KeyValuePair.Create(f.Key, (JsonNode?)f.Value.ToJson())));
        folder.WriteJson("summary.json", summary);
        context.Console.WriteLine(gap.Sentence());
        context.Console.WriteLine($"selected epoch {outcome.Result.BestEpoch} (best validation): test {RunFiles.Pct(outcome.TestAccuracy)}; " +
            $"best test accuracy of any epoch {RunFiles.Pct(outcome.PeakTestAccuracy)}");
        context.Finish(Report(new OverfitResults(outcome.Figures, all.Select(r => Gap.Of(r.Figures)).ToList(), seeds), context.Footer()));
    }

    /// <summary>What the report states: the first seed's run, every seed's gap numbers (the first seed's first), and the
    /// figures over seeds.</summary>
    internal sealed record OverfitResults(RunFigures Run, IReadOnlyList<Gap> Gaps, IReadOnlyDictionary<string, Estimate> OverSeeds);

    // The figures of every seed's run, for the spread: selected test accuracy, the epoch and value of the lowest test loss,
    // and the final gap.
    private static Dictionary<string, Estimate> SeedFigures(IReadOnlyList<TrainedRun> all)
    {
        var seeds = all.Select(r => r.Seed).ToList();
        var gaps = all.Select(Gap.Of).ToList();
        return new Dictionary<string, Estimate>
        {
            ["test_accuracy"] = Estimate.Of(seeds, all.Select(r => r.TestAccuracy)),
            ["min_test_loss_epoch"] = Estimate.Of(seeds, gaps.Select(g => (double)g.MinTestLossEpoch)),
            ["min_test_loss"] = Estimate.Of(seeds, gaps.Select(g => g.MinTestLoss)),
            ["final_test_loss"] = Estimate.Of(seeds, gaps.Select(g => g.FinalTestLoss)),
            ["final_gap"] = Estimate.Of(seeds, gaps.Select(g => g.FinalTestLoss - g.FinalTrainLoss)),
        };
    }

    /// <summary>The report's words, from <paramref name="results"/> alone (the plots are written by <see cref="Analyse"/>).</summary>
    internal static string Report(OverfitResults results, string footer)
    {
        var (o, gap, seeds) = (results.Run, results.Gaps[0], results.OverSeeds);
        var c = o.Config;
        var text = new StringBuilder();
        text.AppendLine("# Overfitting");
        text.AppendLine();
        text.AppendLine(OverfitSetup.Describe(c, o.ParameterCount, o.TestCount));
        text.AppendLine();
        text.AppendLine("![train vs test loss](loss.png)");
        text.AppendLine();
        text.AppendLine("## Where the gap opens");
        text.AppendLine();
        text.AppendLine(gap.Explanation(o));
        text.AppendLine();
        text.Append(gap.Table(o));
        text.AppendLine();
        text.AppendLine("![train vs test accuracy](accuracy.png)");
        text.AppendLine();
        text.AppendLine("## Why");
        text.AppendLine();
        double accAtMin = o.Result.History[gap.MinTestLossEpoch - 1].TestAccuracy, accEnd = o.Result.History[^1].TestAccuracy;
        if (gap.Parts)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"The network has {o.ParameterCount:N0} parameters, about {o.ParameterCount / (double)c.Train.Length:N0} per training image, " +
                $"and nothing limits what it does with them: no penalty on the weights, no dropout, no new views of the images, and a constant " +
                $"learning rate for {c.Epochs} epochs. Cross-entropy keeps rewarding more confident answers on the training images even after " +
                $"they are classified right, so the weights keep growing to push the logits apart. That fits the particular " +
                $"{c.Train.Length:N0} images, their noise and accidents included, rather than the classes. "));
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"On the test images the effect shows in the loss {(accEnd >= accAtMin ? "more than in the accuracy" : "and in the accuracy")}: from epoch {gap.MinTestLossEpoch} to the end the " +
                $"test accuracy goes from {RunFiles.Pct(accAtMin)} to {RunFiles.Pct(accEnd)} while the test loss goes from {gap.MinTestLoss:F4} " +
                $"to {gap.FinalTestLoss:F4}: the test images it gets wrong, it gets wrong with more confidence, and cross-entropy " +
                $"punishes a confident mistake heavily. "));
        }
        else
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"The network has {o.ParameterCount:N0} parameters, about {o.ParameterCount / (double)c.Train.Length:N0} per training image, and " +
                $"nothing limits it, yet in these {c.Epochs} epochs its test loss has not risen by more than {Gap.RiseShare * 100:0}% above its " +
                $"minimum: the run is too short (or the subset too easy) to show the overfitting this setup is built for. "));
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The model chosen by validation accuracy (epoch {o.Result.BestEpoch}) reaches {RunFiles.Pct(o.TestAccuracy)} on the test set; " +
            $"the best any epoch reaches is {RunFiles.Pct(o.PeakTestAccuracy)} (epoch {gap.PeakTestEpoch}), a number one could only pick by " +
            $"looking at the test set. `augment`, `regularize` and `combo` start from this setup and try to do better."));
        text.AppendLine();
        if (seeds["test_accuracy"].N > 1)
        {
            text.AppendLine("## Over seeds");
            text.AppendLine();
            text.AppendLine($"The curves above are seed {o.Seed}'s. The same setup with each seed of the sweep (its own initialisation, " +
                "subset, validation split and batch order) gives, as mean with the 95% interval of the mean" +
                string.Create(CultureInfo.InvariantCulture,
                    $" (the test loss rises more than {Gap.RiseShare * 100:0}% above its minimum by the last epoch in {results.Gaps.Count(g => g.Parts)} of the {results.Gaps.Count} seeds):"));
            text.AppendLine();
            text.Append(RunFiles.Table(["figure", "mean (95% CI)", "per seed"], [
                ["selected test accuracy", seeds["test_accuracy"].Describe(RunFiles.Pct), RunFiles.PerSeed(seeds["test_accuracy"], RunFiles.Pct)],
                ["epoch of the lowest test loss", seeds["min_test_loss_epoch"].Describe(v => v.ToString("F1", CultureInfo.InvariantCulture)), RunFiles.PerSeed(seeds["min_test_loss_epoch"], v => v.ToString("F0", CultureInfo.InvariantCulture))],
                ["lowest test loss", seeds["min_test_loss"].Describe(RunFiles.F4), RunFiles.PerSeed(seeds["min_test_loss"], RunFiles.F4)],
                ["final test loss", seeds["final_test_loss"].Describe(RunFiles.F4), RunFiles.PerSeed(seeds["final_test_loss"], RunFiles.F4)],
                ["final gap (test - train loss)", seeds["final_gap"].Describe(RunFiles.F4), RunFiles.PerSeed(seeds["final_gap"], RunFiles.F4)],
            ], "lll"));
            text.AppendLine();
        }
        text.AppendLine(RunFiles.CheckpointSection(o.Normalization));
        text.AppendLine(footer);
        return text.ToString();
    }
}

/// <summary>The numbers that say where a run's train and test curves part.</summary>
/// <param name="MinTestLossEpoch">The epoch of the lowest test loss.</param>
/// <param name="MinTestLoss">That loss.</param>
/// <param name="FinalTestLoss">The last epoch's test loss.</param>
/// <param name="TrainLossAtMin">The training loss at the epoch of the lowest test loss.</param>
/// <param name="FinalTrainLoss">The last epoch's training loss.</param>
/// <param name="PeakTestEpoch">The epoch of the highest test accuracy.</param>
/// <param name="FullTrainEpoch">The first epoch with 100% training accuracy (0: never).</param>
/// <param name="FinalEpoch">The last epoch.</param>
public sealed record Gap(int MinTestLossEpoch, double MinTestLoss, double FinalTestLoss, double TrainLossAtMin, double FinalTrainLoss,
    int PeakTestEpoch, int FullTrainEpoch, int FinalEpoch)
{
    /// <summary>The test loss counts as risen again when it ends this much (relative) above its minimum; a smaller rise is
    /// the epoch-to-epoch wobble of a loss measured on a finite test set, not a trend.</summary>
    public const double RiseShare = 0.02;

    /// <summary>True when the curves part: the test loss ends more than <see cref="RiseShare"/> above its minimum while the
    /// training loss ends below its value at that minimum.</summary>
    public bool Parts => FinalTestLoss > MinTestLoss * (1 + RiseShare) && FinalTrainLoss < TrainLossAtMin;

    /// <summary>The gap numbers of <paramref name="o"/>.</summary>
    public static Gap Of(TrainedRun o) => Of(o.Figures);

    /// <summary>The gap numbers of <paramref name="o"/>.</summary>
    public static Gap Of(RunFigures o)
    {
        var h = o.Result.History;
        var min = h.MinBy(m => m.TestLoss)!;
        var peak = h.MaxBy(m => m.TestAccuracy)!;
        var full = h.FirstOrDefault(m => m.TrainAccuracy >= 1);
        return new Gap(min.Epoch, min.TestLoss, h[^1].TestLoss, min.TrainLoss, h[^1].TrainLoss, peak.Epoch, full?.Epoch ?? 0, h[^1].Epoch);
    }

    /// <summary>As JSON for summary.json.</summary>
    public JsonObject ToJson() => new()
    {
        ["min_test_loss_epoch"] = MinTestLossEpoch,
        ["min_test_loss"] = MinTestLoss,
        ["final_test_loss"] = FinalTestLoss,
        ["train_loss_at_min_test_loss"] = TrainLossAtMin,
        ["final_train_loss"] = FinalTrainLoss,
        ["peak_test_accuracy_epoch"] = PeakTestEpoch,
        ["first_epoch_with_100pct_train_accuracy"] = FullTrainEpoch,
        ["final_gap"] = FinalTestLoss - FinalTrainLoss,
    };

    /// <summary>One line for the console.</summary>
    public string Sentence() => string.Create(CultureInfo.InvariantCulture,
        $"test loss lowest at epoch {MinTestLossEpoch} ({MinTestLoss:F4}), then {(FinalTestLoss > MinTestLoss * (1 + RiseShare) ? "rises" : "stays near it")} to {FinalTestLoss:F4} " +
        $"at epoch {FinalEpoch} while train loss falls from {TrainLossAtMin:F4} to {FinalTrainLoss:F4}");

    /// <summary>The paragraph that explains the curves.</summary>
    public string Explanation(TrainedRun o) => Explanation(o.Figures);

    /// <summary>The paragraph that explains the curves.</summary>
    public string Explanation(RunFigures o)
    {
        var text = new StringBuilder();
        text.Append(string.Create(CultureInfo.InvariantCulture,
            $"The test loss is lowest at **epoch {MinTestLossEpoch}** ({MinTestLoss:F4} nats). "));
        if (Parts)
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $"From there on the two curves part: the training loss keeps falling, from {TrainLossAtMin:F4} to {FinalTrainLoss:F4} at epoch " +
                $"{FinalEpoch}, while the test loss rises to {FinalTestLoss:F4} ({(FinalTestLoss / MinTestLoss - 1) * 100:F0}% above its minimum). " +
                $"Every epoch after {MinTestLossEpoch} makes the model better on the images it trains on and worse on images it has not seen: " +
                $"that is overfitting, and the gap between the curves ({FinalTestLoss - FinalTrainLoss:F4} nats at the end, " +
                $"{MinTestLoss - TrainLossAtMin:F4} at epoch {MinTestLossEpoch}) measures it."));
        else
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $"In this run the test loss does not rise again by more than {RiseShare * 100:0}% within {FinalEpoch} epochs (it ends at {FinalTestLoss:F4}); the train-test gap " +
                $"is {FinalTestLoss - FinalTrainLoss:F4} nats at the end. Train longer (`--epochs`) to see the curves part."));
        if (FullTrainEpoch > 0)
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $" From epoch {FullTrainEpoch} the network classifies every training image right (100% training accuracy)") +
                (FinalTrainLoss < o.Result.History[FullTrainEpoch - 1].TrainLoss
                    ? string.Create(CultureInfo.InvariantCulture,
                        $", yet the training loss still falls, from {o.Result.History[FullTrainEpoch - 1].TrainLoss:F4} to {FinalTrainLoss:F4}: the rest of training only makes it more confident.")
                    : "."));
        text.Append(string.Create(CultureInfo.InvariantCulture,
            $" The test accuracy peaks at epoch {PeakTestEpoch} ({o.Result.History[PeakTestEpoch - 1].TestAccuracy * 100:F2}%) and ends at " +
            $"{o.Result.History[^1].TestAccuracy * 100:F2}%."));
        return text.ToString();
    }

    /// <summary>A table of the curves at a few epochs: the first, the lowest test loss, the best validation, the last.</summary>
    public string Table(TrainedRun o) => Table(o.Figures);

    /// <summary>A table of the curves at a few epochs: the first, the lowest test loss, the best validation, the last.</summary>
    public string Table(RunFigures o)
    {
        var h = o.Result.History;
        var rows = new SortedDictionary<int, string>
        {
            [1] = "first",
        };
        void Add(int epoch, string what) => rows[epoch] = rows.TryGetValue(epoch, out var s) ? s + ", " + what : what;
        Add(MinTestLossEpoch, "lowest test loss");
        Add(o.Result.BestEpoch, "best validation accuracy (selected)");
        Add(PeakTestEpoch, "highest test accuracy");
        Add(FinalEpoch, "last");
        return RunFiles.Table(["epoch", "", "train loss", "test loss", "gap", "train acc.", "validation acc.", "test acc."],
            rows.Select(r =>
            {
                var m = h[r.Key - 1];
                return (IReadOnlyList<string>)[$"{m.Epoch}", r.Value, RunFiles.F4(m.TrainLoss), RunFiles.F4(m.TestLoss), RunFiles.F4(m.TestLoss - m.TrainLoss),
                    RunFiles.Pct(m.TrainAccuracy), RunFiles.Pct(m.ValidationAccuracy), RunFiles.Pct(m.TestAccuracy)];
            }), "rlrrrrrr");
    }
}
