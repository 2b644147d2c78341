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
        $"`{Summaries.Text(summary, "augment")}`: test accuracy {RunFiles.Pct(Summaries.Number(summary, "test_accuracy") ?? double.NaN)} " +
        $"({RunFiles.Points(Summaries.Number(summary, "test_accuracy_gain") ?? double.NaN)} vs overfit), final train-test loss gap " +
        $"{RunFiles.F4(Summaries.Number(summary, "overfitting.final_gap") ?? double.NaN)} instead of {RunFiles.F4(Summaries.Number(summary, "overfit.overfitting.final_gap") ?? double.NaN)}";

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

        var gapBase = Gap.Of(baseline);
        var gapAug = Gap.Of(augmented);
        var seeds = baselines.Select(r => r.Seed).ToList();
        var accBase = Estimate.Of(seeds, baselines.Select(r => r.TestAccuracy));
        var accAug = Estimate.Of(seeds, augmenteds.Select(r => r.TestAccuracy));
        var gain = Estimate.Paired(accAug, accBase);
        var gapsBase = Estimate.Of(seeds, baselines.Select(r => Gap.Of(r)).Select(g => g.FinalTestLoss - g.FinalTrainLoss));
        var gapsAug = Estimate.Of(seeds, augmenteds.Select(r => Gap.Of(r)).Select(g => g.FinalTestLoss - g.FinalTrainLoss));
        var gapChange = Estimate.Paired(gapsAug, gapsBase);

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
        run.Finish(Report(run, baseline, augmented, gapBase, gapAug, accBase, accAug, gain, gapsBase, gapsAug, gapChange));
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

    private static string Report(ExperimentContext run, TrainedRun b, TrainedRun a, Gap gb, Gap ga, Estimate accBase, Estimate accAug, Estimate gain,
        Estimate gapsBase, Estimate gapsAug, Estimate gapChange)
    {
        var text = new StringBuilder();
        text.AppendLine("# Data augmentation against overfitting");
        text.AppendLine();
        text.AppendLine(OverfitSetup.Describe(a.Config, a.ParameterCount, a.TestCount));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The cure, and the only change: every training image is transformed anew in every epoch by `{OverfitSetup.Augmentation}`, " +
            $"that is {OverfitSetup.AugmentationWords}, drawn per image and per epoch from the seed. A slightly moved or turned shirt is still a shirt, so the " +
            $"labels stay right while the network never sees the same {a.Config.Train.Length:N0} pictures twice. Validation and test " +
            $"images are never augmented, and the training curve is measured on the original training images. The transforms are mild on " +
            $"purpose: an MLP sees pixels, not shapes, so a shift by 2 pixels with rotations by 10 degrees and flips (tried too) leaves it " +
            $"more to learn than 60 epochs allow, and it underfits; the spec was chosen by validation accuracy among several (see " +
            $"`OverfitSetup.Augmentation` in the source)."));
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
        if (gb.FinalTestLoss - gb.FinalTrainLoss > ga.FinalTestLoss - ga.FinalTrainLoss)
        {
            string slower = ga.FinalTrainLoss > gb.FinalTrainLoss
                ? " (higher: the network has to fit every version of every image, a harder task that memorising does not solve)" : "";
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"The curves of seed {a.Seed} say why: without augmentation the training loss falls to {gb.FinalTrainLoss:F4} while the test loss " +
                $"{(gb.FinalTestLoss > gb.MinTestLoss + 0.01 ? $"climbs back from {gb.MinTestLoss:F4} (epoch {gb.MinTestLossEpoch}) to {gb.FinalTestLoss:F4}" : $"ends at {gb.FinalTestLoss:F4}")}; " +
                $"with it the training loss ends at {ga.FinalTrainLoss:F4}{slower}, and the test loss {(ga.FinalTestLoss > ga.MinTestLoss + 0.01 ? $"rises to {ga.FinalTestLoss:F4} from {ga.MinTestLoss:F4} (epoch {ga.MinTestLossEpoch})" : $"reaches {ga.MinTestLoss:F4} (epoch {ga.MinTestLossEpoch}) and stays near it ({ga.FinalTestLoss:F4} at the end)")}. " +
                $"The final gap between test and train loss shrinks from {gb.FinalTestLoss - gb.FinalTrainLoss:F4} to {ga.FinalTestLoss - ga.FinalTrainLoss:F4} nats."));
        }
        else
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"In seed {a.Seed}'s runs the gap between test and train loss at the end is not smaller with augmentation ({ga.FinalTestLoss - ga.FinalTrainLoss:F4} " +
                $"against {gb.FinalTestLoss - gb.FinalTrainLoss:F4} nats); augmentation slows the fit, and it may need more epochs (`--epochs`) to show."));
        text.AppendLine();
        text.AppendLine("![train vs test accuracy, with and without augmentation](accuracy.png)");
        text.AppendLine();
        text.AppendLine($"The checkpoint is seed {a.Seed}'s augmented model. The overfit runs are the same runs as `gpunet run overfit`'s " +
            "(same seeds, data and code): in `gpunet run all` they are fitted once and shared.");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(a));
        text.AppendLine(run.Footer());
        return text.ToString();
    }
}
