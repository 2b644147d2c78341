using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using ILGPU.Runtime;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run augment</c>: the <see cref="OverfitSetup"/> cured by data augmentation alone (shifts and rotations drawn
/// anew every epoch), trained beside the unaugmented run and compared on one plot.
/// </summary>
public sealed class AugmentExperiment : ICourseExperiment
{
    /// <inheritdoc />
    public string Name => "augment";

    /// <inheritdoc />
    public string Summary => "The overfitting setup cured by data augmentation only (shifts and rotations), compared with overfit.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary) =>
        $"`{Summaries.Text(summary, "augment")}`: test accuracy {Summaries.MeanStd(summary, "over_seeds.augmented_test_accuracy", RunFiles.Pct, Std)} " +
        $"against {Summaries.MeanStd(summary, "over_seeds.overfit_test_accuracy", RunFiles.Pct, Std)} without, paired difference " +
        $"{Summaries.Difference(summary, "over_seeds.test_accuracy_gain", RunFiles.Points)}; final train-test loss gap " +
        $"{Summaries.MeanStd(summary, "over_seeds.augmented_final_gap", RunFiles.F4)} against {Summaries.MeanStd(summary, "over_seeds.overfit_final_gap", RunFiles.F4)}, " +
        $"paired {Summaries.Difference(summary, "over_seeds.final_gap_change", RunFiles.F4, higherIsBetter: false)}";

    // A standard deviation of an accuracy, in points without a sign.
    private static string Std(double v) => RunFiles.Points(v).TrimStart('+');

    /// <inheritdoc />
    public int DefaultSeeds => 3;

    /// <inheritdoc />
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context) =>
    [
        .. context.Seeds.Select(seed => OverfitSetup.Plan(OverfitSetup.Config(context, seed, "overfit"))),
        .. context.Seeds.Select(seed => OverfitSetup.Plan(OverfitSetup.Config(context, seed, "augmented", OverfitSetup.Augmentation))),
    ];

    /// <inheritdoc />
    public void Analyse(ExperimentContext run, RunSet runs)
    {
        var baselines = runs.Trained("overfit");
        var augmenteds = runs.Trained("augmented");
        var baseline = baselines[0];
        var augmented = augmenteds[0];
        var folder = run.Folder;
        var settings = OverfitSetup.Settings(baseline.Config);
        settings["augment"] = OverfitSetup.Augmentation;
        run.WriteConfig(settings);
        RunFiles.WriteMetrics(folder, [.. baselines, .. augmenteds]);
        string checkpoint = RunFiles.CopyCheckpoint(folder, augmented);

        Plots.Lines(folder.File("loss.png"), $"Augmentation against overfitting: train vs test loss (seed {baseline.Seed})", "epoch", "cross-entropy (nats)",
            [.. RunFiles.LossCurves(baseline, "overfit", group: 0), .. RunFiles.LossCurves(augmented, "augmented", group: 1)]);
        Plots.Lines(folder.File("accuracy.png"), $"Augmentation against overfitting: train vs test accuracy (seed {baseline.Seed})", "epoch", "accuracy (%)",
            [.. RunFiles.LossCurves(baseline, "overfit", accuracy: true, group: 0), .. RunFiles.LossCurves(augmented, "augmented", accuracy: true, group: 1)]);
        WritePreview(run, augmented.Config);

        var r = AugmentResults.Of(baselines.Select(x => x.Figures).ToList(), augmenteds.Select(x => x.Figures).ToList());
        var (gapBase, gapAug, seeds) = (r.BaselineGap, r.AugmentedGap, r.Gain.Seeds);
        var (accBase, accAug, gain, gapsBase, gapsAug, gapChange) = (r.BaselineAccuracy, r.AugmentedAccuracy, r.Gain, r.BaselineFinalGap, r.AugmentedFinalGap, r.FinalGapChange);

        var summary = RunFiles.ModelSummary(augmented, checkpoint);
        summary["augment"] = OverfitSetup.Augmentation;
        summary["overfit"] = RunFiles.ModelSummary(baseline, null);
        summary["overfit"]!["overfitting"] = gapBase.ToJson();
        summary["overfitting"] = gapAug.ToJson();
        summary["test_accuracy_gain"] = augmented.TestAccuracy - baseline.TestAccuracy;
        summary["over_seeds"] = new JsonObject
        {
            ["overfit_test_accuracy"] = accBase.ToJson(),
            ["augmented_test_accuracy"] = accAug.ToJson(),
            ["test_accuracy_gain"] = gain.ToJson(),
            ["gain_verdict"] = gain.Word(),
            ["overfit_final_gap"] = gapsBase.ToJson(),
            ["augmented_final_gap"] = gapsAug.ToJson(),
            ["final_gap_change"] = gapChange.ToJson(),
        };
        folder.WriteJson("summary.json", summary);
        run.Console.WriteLine($"test accuracy over seeds {string.Join(", ", seeds)}: overfit {accBase.Describe(RunFiles.Pct)}, augmented {accAug.Describe(RunFiles.Pct)}; " +
            $"paired gain {gain.DescribeDifference(RunFiles.Points)}");
        run.Finish(Report(r, run.Footer()));
    }

    /// <summary>What the report states: the first seed's two runs and their gap numbers, and the figures over seeds with the
    /// differences paired by seed (augmented minus overfit).</summary>
    internal sealed record AugmentResults(RunFigures Baseline, RunFigures Augmented, Gap BaselineGap, Gap AugmentedGap, Estimate BaselineAccuracy,
        Estimate AugmentedAccuracy, Estimate Gain, Estimate BaselineFinalGap, Estimate AugmentedFinalGap, Estimate FinalGapChange)
    {
        /// <summary>The results of the runs of each seed, in seed order, the first seed's shown.</summary>
        public static AugmentResults Of(IReadOnlyList<RunFigures> baselines, IReadOnlyList<RunFigures> augmenteds)
        {
            var seeds = baselines.Select(r => r.Seed).ToList();
            var accBase = Estimate.Of(seeds, baselines.Select(r => r.TestAccuracy));
            var accAug = Estimate.Of(augmenteds.Select(r => r.Seed).ToList(), augmenteds.Select(r => r.TestAccuracy));
            var gapsBase = Estimate.Of(seeds, baselines.Select(Gap.Of).Select(g => g.FinalTestLoss - g.FinalTrainLoss));
            var gapsAug = Estimate.Of(augmenteds.Select(r => r.Seed).ToList(), augmenteds.Select(Gap.Of).Select(g => g.FinalTestLoss - g.FinalTrainLoss));
            return new AugmentResults(baselines[0], augmenteds[0], Gap.Of(baselines[0]), Gap.Of(augmenteds[0]), accBase, accAug,
                Estimate.Paired(accAug, accBase), gapsBase, gapsAug, Estimate.Paired(gapsAug, gapsBase));
        }
    }

    // The first 8 training images as they are and as the augmented run saw them in its first two epochs.
    private static void WritePreview(ExperimentContext run, TrainingConfig config)
    {
        var set = run.Data(config.Seed).TrainSet;
        var ids = config.Train.Take(8).ToArray();
        int p = set.PixelsPerImage;
        var pixels = new float[ids.Length * p];
        for (int k = 0; k < ids.Length; k++)
        {
            var image = set.Image(ids[k]);
            for (int i = 0; i < p; i++) pixels[k * p + i] = image[i] / 255f;
        }
        var device = run.Device;
        var cells = new List<ImageGrid.Cell>();
        cells.AddRange(ids.Select((id, k) => new ImageGrid.Cell(pixels.AsSpan(k * p, p).ToArray(), "original")));
        for (int epoch = 0; epoch < 2; epoch++)
        {
            using var src = Tensor.FromArray(device, pixels, pixels.Length);
            using var scratch = Tensor.Zeros(device, pixels.Length);
            using var dst = Tensor.Zeros(device, pixels.Length);
            using var idBuffer = device.Accelerator.Allocate1D(ids);
            AugmentPipeline.Parse(config.Augment).Apply(device, src.View, scratch.View, dst.View, idBuffer.View, set.Rows, set.Columns, (ulong)config.Seed, epoch);
            var augmented = dst.ToArray();
            cells.AddRange(ids.Select((id, k) => new ImageGrid.Cell(augmented.AsSpan(k * p, p).ToArray(), $"epoch {epoch + 1}")));
        }
        ImageGrid.WritePng(run.Folder.File("augmented_images.png"), cells, set.Rows, set.Columns, columns: ids.Length, scale: 3,
            title: $"training images as they are and as epochs 1 and 2 see them ({config.Augment})");
    }

    /// <summary>The report's words, from <paramref name="r"/> alone (the plots are written by <see cref="Analyse"/>).</summary>
    internal static string Report(AugmentResults r, string footer)
    {
        var (b, a, gb, ga) = (r.Baseline, r.Augmented, r.BaselineGap, r.AugmentedGap);
        var (accBase, accAug, gain, gapsBase, gapsAug, gapChange) = (r.BaselineAccuracy, r.AugmentedAccuracy, r.Gain, r.BaselineFinalGap, r.AugmentedFinalGap, r.FinalGapChange);
        var text = new StringBuilder();
        text.AppendLine("# Data augmentation against overfitting");
        text.AppendLine();
        text.AppendLine(OverfitSetup.Describe(a.Config, a.ParameterCount, a.TestCount));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The cure, and the only change: every training image is transformed anew in every epoch by `{OverfitSetup.Augmentation}`, " +
            $"that is {OverfitSetup.AugmentationWords}, drawn per image and per epoch from the seed. A slightly moved or turned shirt is still a shirt, so the " +
            $"labels stay right while the network never sees the same {a.Config.Train.Length:N0} pictures twice. Validation and test " +
            $"images are never augmented, and the training curve is measured on the original training images. The spec was chosen in " +
            $"earlier tuning by validation accuracy among several (the source comment on `OverfitSetup.Augmentation` lists them); this " +
            $"report measures only this one."));
        text.AppendLine();
        text.AppendLine("![augmented training images](augmented_images.png)");
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        text.AppendLine("![train vs test loss, with and without augmentation](loss.png)");
        text.AppendLine();
        text.Append(RunFiles.Table(["run", "selected epoch", "test acc. (selected)", "test loss (selected)", "best test acc. (any epoch)",
                "lowest test loss (epoch)", "final train loss", "final test loss", "final gap"],
            new[] { ("overfit", b, gb), ("augmented", a, ga) }.Select(r => (IReadOnlyList<string>)[r.Item1, $"{r.Item2.Result.BestEpoch}",
                RunFiles.Pct(r.Item2.TestAccuracy), RunFiles.F4(r.Item2.TestLoss), RunFiles.Pct(r.Item2.PeakTestAccuracy),
                $"{RunFiles.F4(r.Item3.MinTestLoss)} ({r.Item3.MinTestLossEpoch})", RunFiles.F4(r.Item3.FinalTrainLoss),
                RunFiles.F4(r.Item3.FinalTestLoss), RunFiles.F4(r.Item3.FinalTestLoss - r.Item3.FinalTrainLoss)]), "lrrrrrrrr"));
        text.AppendLine();
        string verdict = gain.Verdict switch
        {
            Verdict.Gain => ": augmentation helps beyond the noise of the seeds.",
            Verdict.Loss => ": augmentation hurts here beyond the noise of the seeds.",
            Verdict.WithinNoise => ": the seeds do not tell the two apart; run more seeds (`--seeds`) to narrow the interval.",
            _ => "; with one seed there is no interval, so this says nothing beyond this run (run with `--seeds 3` or more).",
        };
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Over {gain.N} {(gain.N == 1 ? "seed" : "seeds")} ({string.Join(", ", gain.Seeds)}; each seed draws its own subset, initialisation and batch order, " +
            $"and both runs of a seed share them), the selected model's test accuracy is {accAug.Describe(RunFiles.Pct)} with augmentation and " +
            $"{accBase.Describe(RunFiles.Pct)} without. Paired by seed, the difference is **{gain.DescribeDifference(RunFiles.Points)}**{verdict}"));
        text.AppendLine();
        text.Append(RunFiles.Table(["figure", "overfit", "augmented", "augmented - overfit, paired by seed"], [
            ["selected test accuracy", accBase.Describe(RunFiles.Pct), accAug.Describe(RunFiles.Pct), gain.DescribeDifference(RunFiles.Points)],
            ["final gap (test - train loss)", gapsBase.Describe(RunFiles.F4), gapsAug.Describe(RunFiles.F4), gapChange.DescribeDifference(RunFiles.F4, higherIsBetter: false)],
        ], "llll"));
        text.AppendLine();
        text.AppendLine($"The table above these lines and the plots are seed {a.Seed}'s runs.");
        text.AppendLine();
        text.AppendLine(GapReading(gb, ga, gapChange, a.Seed));
        text.AppendLine();
        text.AppendLine("![train vs test accuracy, with and without augmentation](accuracy.png)");
        text.AppendLine();
        text.AppendLine($"The checkpoint is seed {a.Seed}'s augmented model. The overfit runs are the same runs as `gpunet run overfit`'s " +
            "(same seeds, data and code): in `gpunet run all` they are fitted once and shared.");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(a.Normalization));
        text.AppendLine(footer);
        return text.ToString();
    }

    // What augmentation did to the gap between the curves: the verdict from the paired interval, the first seed's curves as the picture.
    private static string GapReading(Gap gb, Gap ga, Estimate gapChange, int seed)
    {
        double baseGap = gb.FinalTestLoss - gb.FinalTrainLoss, augGap = ga.FinalTestLoss - ga.FinalTrainLoss;
        string verdict = gapChange.Verdict switch
        {
            Verdict.Loss => $"Paired by seed, augmentation narrows the final gap between test and train loss beyond the noise of the seeds ({gapChange.Describe(RunFiles.F4)}).",
            Verdict.Gain => $"Paired by seed, augmentation widens the final gap between test and train loss beyond the noise of the seeds ({gapChange.Describe(RunFiles.F4)}).",
            Verdict.WithinNoise => $"Paired by seed, the final gap between test and train loss changes by {gapChange.Describe(RunFiles.F4)}: within noise, so the seeds do not say that augmentation narrows it.",
            _ => "With one seed there is no interval to say whether augmentation narrows the gap between test and train loss.",
        };
        string slower = ga.FinalTrainLoss > gb.FinalTrainLoss
            ? string.Create(CultureInfo.InvariantCulture, $"ends higher, at {ga.FinalTrainLoss:F4} (the network has to fit every version of every image, which memorising does not solve)")
            : string.Create(CultureInfo.InvariantCulture, $"ends at {ga.FinalTrainLoss:F4}, no higher than without it");
        string Test(Gap g) => g.FinalTestLoss > g.MinTestLoss * (1 + Gap.RiseShare)
            ? string.Create(CultureInfo.InvariantCulture, $"climbs back from {g.MinTestLoss:F4} (epoch {g.MinTestLossEpoch}) to {g.FinalTestLoss:F4}")
            : string.Create(CultureInfo.InvariantCulture, $"reaches {g.MinTestLoss:F4} (epoch {g.MinTestLossEpoch}) and stays near it ({g.FinalTestLoss:F4} at the end)");
        return verdict + string.Create(CultureInfo.InvariantCulture,
            $" The curves of seed {seed}: without augmentation the training loss falls to {gb.FinalTrainLoss:F4} while the test loss {Test(gb)}; " +
            $"with it the training loss {slower}, and the test loss {Test(ga)}. The final gap is {baseGap:F4} nats without augmentation and {augGap:F4} with it.");
    }
}
