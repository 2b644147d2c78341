using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using ILGPU.Runtime;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run augment</c>: the <see cref="OverfitSetup"/> cured by data augmentation alone (shifts and rotations drawn
/// anew every epoch), trained beside the unaugmented run and compared on one plot.
/// </summary>
public sealed class AugmentExperiment : IExperiment
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
    public int Run(RunOptions options, RunConsole console)
    {
        using var run = CourseRun.Open(Name, options, console);
        var baselineConfig = OverfitSetup.Config(run, "overfit");
        var augmentedConfig = OverfitSetup.Config(run, "augmented", OverfitSetup.Augmentation);
        var settings = OverfitSetup.Settings(baselineConfig);
        settings["augment"] = OverfitSetup.Augmentation;
        run.WriteConfig(Name, settings);
        console.PlanRuns(2);
        using var baseline = TrainingRun.Fit(run.Data, baselineConfig, console, "overfit (no augmentation)");
        using var augmented = TrainingRun.Fit(run.Data, augmentedConfig, console, $"augmented ({OverfitSetup.Augmentation})");
        RunFiles.WriteMetrics(run.Folder, [baseline, augmented]);
        string checkpoint = RunFiles.SaveCheckpoint(run.Folder, augmented, Name, run.Data);

        Plots.Lines(run.Folder.File("loss.png"), "Augmentation against overfitting: train vs test loss", "epoch", "cross-entropy (nats)",
            [.. RunFiles.LossCurves(baseline, "overfit", group: 0), .. RunFiles.LossCurves(augmented, "augmented", group: 1)]);
        Plots.Lines(run.Folder.File("accuracy.png"), "Augmentation against overfitting: train vs test accuracy", "epoch", "accuracy (%)",
            [.. RunFiles.LossCurves(baseline, "overfit", accuracy: true, group: 0), .. RunFiles.LossCurves(augmented, "augmented", accuracy: true, group: 1)]);
        WritePreview(run, augmentedConfig);

        var gapBase = Gap.Of(baseline);
        var gapAug = Gap.Of(augmented);
        var summary = RunFiles.ModelSummary(augmented, checkpoint);
        summary["augment"] = OverfitSetup.Augmentation;
        summary["overfit"] = RunFiles.ModelSummary(baseline, null);
        summary["overfit"]!["overfitting"] = gapBase.ToJson();
        summary["overfitting"] = gapAug.ToJson();
        summary["test_accuracy_gain"] = augmented.TestAccuracy - baseline.TestAccuracy;
        run.Folder.WriteJson("summary.json", summary);
        console.WriteLine($"test accuracy of the selected model: overfit {RunFiles.Pct(baseline.TestAccuracy)} (epoch {baseline.Result.BestEpoch}), " +
            $"augmented {RunFiles.Pct(augmented.TestAccuracy)} (epoch {augmented.Result.BestEpoch}), {RunFiles.Points(augmented.TestAccuracy - baseline.TestAccuracy)}");
        run.Finish(Report(run, baseline, augmented, gapBase, gapAug));
        return Cli.ExitOk;
    }

    // The first 8 training images as they are and as the augmented run saw them in its first two epochs.
    private static void WritePreview(CourseRun run, TrainingConfig config)
    {
        var set = run.Data.TrainSet;
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
        Png.Write(run.Folder.File("augmented_images.png"), ImageGrid.Render(cells, set.Rows, set.Columns, columns: ids.Length, scale: 3,
            title: $"training images as they are and as epochs 1 and 2 see them ({config.Augment})"));
    }

    private static string Report(CourseRun run, RunOutcome b, RunOutcome a, Gap gb, Gap ga)
    {
        var text = new StringBuilder();
        text.AppendLine("# Data augmentation against overfitting");
        text.AppendLine();
        text.AppendLine(OverfitSetup.Describe(a.Config, a.Model.ParameterCount, a.TestCount));
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
        double gain = a.TestAccuracy - b.TestAccuracy;
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"With augmentation the selected model reaches **{RunFiles.Pct(a.TestAccuracy)}** test accuracy against {RunFiles.Pct(b.TestAccuracy)} " +
            $"without ({RunFiles.Points(gain)}). "));
        if (gb.FinalTestLoss - gb.FinalTrainLoss > ga.FinalTestLoss - ga.FinalTrainLoss)
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"The curves say why: without augmentation the training loss falls to {gb.FinalTrainLoss:F4} while the test loss climbs back from " +
                $"{gb.MinTestLoss:F4} (epoch {gb.MinTestLossEpoch}) to {gb.FinalTestLoss:F4}; with it the training loss falls more slowly " +
                $"(the network has to fit every version of every image, a harder task that memorising does not solve) and ends at " +
                $"{ga.FinalTrainLoss:F4}, and the test loss {(ga.FinalTestLoss > ga.MinTestLoss + 0.01 ? $"rises later and less, to {ga.FinalTestLoss:F4} from {ga.MinTestLoss:F4} (epoch {ga.MinTestLossEpoch})" : $"reaches {ga.MinTestLoss:F4} (epoch {ga.MinTestLossEpoch}) and stays near it ({ga.FinalTestLoss:F4} at the end)")}. " +
                $"The final gap between test and train loss shrinks from {gb.FinalTestLoss - gb.FinalTrainLoss:F4} to {ga.FinalTestLoss - ga.FinalTrainLoss:F4} nats."));
        else
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"In this run the gap between test and train loss at the end is not smaller with augmentation ({ga.FinalTestLoss - ga.FinalTrainLoss:F4} " +
                $"against {gb.FinalTestLoss - gb.FinalTrainLoss:F4} nats); augmentation slows the fit, and it may need more epochs (`--epochs`) to show."));
        text.AppendLine();
        text.AppendLine("![train vs test accuracy, with and without augmentation](accuracy.png)");
        text.AppendLine();
        text.AppendLine("The checkpoint is the augmented run's selected model; the overfit run here is the same run as `gpunet run overfit` " +
            "(same seed, same data, same code), trained again so this experiment stands alone.");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(a));
        text.AppendLine(run.Footer());
        return text.ToString();
    }
}
