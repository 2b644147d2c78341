using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run mlp</c>: a 784-256-128-10 ReLU MLP trained with cross-entropy and plain SGD on the 54,000-image training
/// split, the epoch chosen by validation accuracy, its test accuracy reported, and its predictions on the first 16 test
/// images (measured on the live model when the fit ends) shown beside their labels. One run per seed; it compares nothing,
/// so one seed is the default, and more give the spread of the figures.
/// </summary>
public sealed class MlpExperiment : ICourseExperiment
{
    /// <summary>The network.</summary>
    public static readonly MlpSpec Model = new([256, 128]);

    /// <summary>Plain SGD's learning rate (no momentum), annealed to 0 by a cosine.</summary>
    public const double LearningRate = 0.1;

    /// <summary>Batch size.</summary>
    public const int BatchSize = 64;

    /// <summary>Epochs of a full run.</summary>
    public const int Epochs = 30;

    /// <summary>Training images of a quick run.</summary>
    public const int QuickTrain = 1000;

    /// <summary>Validation images of a quick run.</summary>
    public const int QuickValidation = 500;

    /// <summary>How many test images the predictions show.</summary>
    public const int Shown = 16;

    /// <inheritdoc />
    public string Name => "mlp";

    /// <inheritdoc />
    public string Summary => "A 784-256-128-10 MLP with cross-entropy and plain SGD: test accuracy and predictions on 16 test images.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary) =>
        (Summaries.Number(summary, "over_seeds.test_accuracy.n") is > 1
            ? $"test accuracy {Summaries.MeanStd(summary, "over_seeds.test_accuracy", RunFiles.Pct, v => RunFiles.Points(v).TrimStart('+'))}, " +
              $"95% CI {RunFiles.Pct(Summaries.Number(summary, "over_seeds.test_accuracy.ci95.0") ?? double.NaN)} to " +
              $"{RunFiles.Pct(Summaries.Number(summary, "over_seeds.test_accuracy.ci95.1") ?? double.NaN)}; first seed "
            : "test accuracy ") +
        $"{RunFiles.Pct(Summaries.Number(summary, "test_accuracy") ?? double.NaN)} " +
        $"(best-validation epoch {Summaries.Number(summary, "best_epoch")} of {Summaries.Number(summary, "epochs_trained")})";

    /// <inheritdoc />
    public int DefaultSeeds => 1;

    /// <inheritdoc />
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context) =>
        context.Seeds.Select(seed => (PlannedRun)new TrainingPlan(Config(context, seed))
        {
            ExtraIdentity = new JsonObject { ["shown_test_images"] = Shown },
            // The predictions need the live model: measured once the best-validation parameters are restored.
            AfterFit = (outcome, run, extras) => extras["predictions"] = new JsonArray(
                Predictions.Of(outcome.Model, run.Data.Test, run.Data.TestIndices.Take(Shown).ToArray(), outcome.Normalization)
                    .Select(p => (JsonNode)new JsonObject
                    {
                        ["index"] = p.Index,
                        ["label"] = p.Label,
                        ["predicted"] = p.Predicted,
                        ["confidence"] = p.Confidence,
                    }).ToArray()),
        }).ToList();

    private static TrainingConfig Config(ExperimentContext context, int seed)
    {
        var data = context.Data(seed);
        int[] train = context.Quick ? data.Subset(data.TrainSplit, QuickTrain, 1) : data.TrainSplit;
        int[] validation = context.Quick ? data.Subset(data.ValidationSplit, QuickValidation, 2) : data.ValidationSplit;
        return new TrainingConfig("mlp", Model, LearningRate, 0, BatchSize, context.Epochs(Epochs, 2), Cosine: true, "none", Regularization.None,
            train, validation, seed) { Test = context.QuickTest(data) };
    }

    /// <summary>One shown test image: what the run's model said about it.</summary>
    internal sealed record ShownImage(int Index, int Label, int Predicted, double Confidence)
    {
        public bool Correct => Label == Predicted;

        public static IReadOnlyList<ShownImage> Of(TrainedRun run) =>
            (run.Extras["predictions"] as JsonArray ?? throw new InvalidDataException($"run {run.Plan.Key} holds no predictions."))
            .Select(p => new ShownImage(p!["index"]!.GetValue<int>(), p["label"]!.GetValue<int>(), p["predicted"]!.GetValue<int>(),
                p["confidence"]!.GetValue<double>())).ToList();
    }

    /// <inheritdoc />
    public void Analyse(ExperimentContext context, RunSet runs)
    {
        var all = runs.Trained("mlp");
        var outcome = all[0];
        var folder = context.Folder;
        context.WriteConfig(new JsonObject { ["epochs"] = outcome.Config.Epochs, ["training"] = outcome.Config.ToJson() });
        RunFiles.WriteMetrics(folder, all);
        string checkpoint = RunFiles.CopyCheckpoint(folder, outcome);

        var shown = ShownImage.Of(outcome);
        var testSet = context.Data(outcome.Seed).TestSet;
        var cells = shown.Select(p => new ImageGrid.Cell(testSet.Image(p.Index).ToArray().Select(b => b / 255f).ToArray(),
            $"{Short(p.Predicted)}{(p.Correct ? "" : " (" + Short(p.Label) + ")")}", Mark: !p.Correct)).ToList();
        ImageGrid.WritePng(folder.File("predictions.png"), cells, FashionMnist.Side, FashionMnist.Side, columns: 8, scale: 3,
            title: $"first {shown.Count} test images: predicted (true class when wrong, in red); seed {outcome.Seed}");

        Plots.Lines(folder.File("loss.png"), $"MLP: cross-entropy per epoch (seed {outcome.Seed})", "epoch", "loss (nats)",
            RunFiles.LossCurves(outcome, "mlp", validation: true), markers: [(outcome.Result.BestEpoch, $"best validation epoch ({outcome.Result.BestEpoch})")]);
        Plots.Lines(folder.File("accuracy.png"), $"MLP: accuracy per epoch (seed {outcome.Seed})", "epoch", "accuracy (%)",
            RunFiles.LossCurves(outcome, "mlp", accuracy: true, validation: true), markers: [(outcome.Result.BestEpoch, $"best validation epoch ({outcome.Result.BestEpoch})")]);

        var seeds = all.Select(r => r.Seed).ToList();
        var overSeeds = new Dictionary<string, Estimate>
        {
            ["test_accuracy"] = Estimate.Of(seeds, all.Select(r => r.TestAccuracy)),
            ["test_loss"] = Estimate.Of(seeds, all.Select(r => r.TestLoss)),
            ["validation_accuracy"] = Estimate.Of(seeds, all.Select(r => r.Best.ValidationAccuracy)),
            ["best_epoch"] = Estimate.Of(seeds, all.Select(r => (double)r.Result.BestEpoch)),
            ["shown_correct"] = Estimate.Of(seeds, all.Select(r => (double)ShownImage.Of(r).Count(p => p.Correct))),
        };
        var summary = RunFiles.ModelSummary(outcome, checkpoint);
        summary["predictions"] = new JsonArray(shown.Select(p => (JsonNode)new JsonObject
        {
            ["index"] = p.Index,
            ["label"] = FashionMnist.ClassNames[p.Label],
            ["predicted"] = FashionMnist.ClassNames[p.Predicted],
            ["confidence"] = Math.Round(p.Confidence, 4),
        }).ToArray());
        summary["over_seeds"] = new JsonObject(overSeeds.Select(f => KeyValuePair.Create(f.Key, (JsonNode?)f.Value.ToJson())));
        folder.WriteJson("summary.json", summary);

        context.Console.WriteLine($"seed {outcome.Seed}: best epoch {outcome.Result.BestEpoch}: validation {RunFiles.Pct(outcome.Best.ValidationAccuracy)}, " +
            $"test {RunFiles.Pct(outcome.TestAccuracy)} (loss {RunFiles.F4(outcome.TestLoss)} nats); " +
            $"{shown.Count(p => p.Correct)}/{shown.Count} of the shown test images right");
        if (all.Count > 1)
            context.Console.WriteLine($"over seeds {string.Join(", ", seeds)}: test accuracy {overSeeds["test_accuracy"].Describe(RunFiles.Pct)}, " +
                $"std {RunFiles.Points(overSeeds["test_accuracy"].Std).TrimStart('+')}");
        context.Finish(Report(new MlpResults(outcome.Figures, shown, overSeeds), context.Footer()));
    }

    /// <summary>What the report states: the first seed's run and its shown test images, and the figures over seeds.</summary>
    internal sealed record MlpResults(RunFigures Run, IReadOnlyList<ShownImage> Shown, IReadOnlyDictionary<string, Estimate> OverSeeds);

    /// <summary>A test loss counts as risen from its minimum when it ends this much (relative) above it; a smaller rise is
    /// within the epoch-to-epoch wobble and the report calls the curve flat.</summary>
    public const double LossRise = 0.01;

    // Short class names so that captions fit under a 84-pixel image.
    private static string Short(int label) => label switch
    {
        0 => "T-shirt",
        9 => "Boot",
        _ => FashionMnist.ClassNames[label],
    };

    /// <summary>The report's words, from <paramref name="results"/> alone (the plots are written by <see cref="Analyse"/>).</summary>
    internal static string Report(MlpResults results, string footer)
    {
        var (o, shown, seeds) = (results.Run, results.Shown, results.OverSeeds);
        var c = o.Config;
        var best = o.Best;
        var last = o.Result.History[^1];
        int minTestLossEpoch = o.Result.History.MinBy(m => m.TestLoss)!.Epoch;
        var text = new StringBuilder();
        text.AppendLine("# A multilayer perceptron on Fashion-MNIST");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"A {c.Model} network ({o.ParameterCount:N0} parameters) trained with softmax cross-entropy and plain SGD " +
            $"(learning rate {c.LearningRate}, no momentum, batch {c.BatchSize}, the rate annealed to 0 by a cosine over {c.Epochs} epochs, so " +
            $"that the last epochs take small steps) on {c.Train.Length:N0} training images. {c.Validation.Length:N0} images held out of the " +
            $"training set (stratified, drawn from the seed) choose the epoch: the parameters of the epoch with the best validation accuracy " +
            $"are kept, and only that model is measured on the {o.TestCount:N0} test images. Inputs are the pixels scaled to [0, 1], then " +
            $"standardised with the training images' mean {o.Normalization.Mean:F4} and standard deviation {o.Normalization.Std:F4}."));
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        text.AppendLine($"The table, the plots and the predictions are seed {o.Seed}'s run.");
        text.AppendLine();
        text.Append(RunFiles.Table(["", "epoch", "train loss", "train acc.", "validation acc.", "test loss", "test acc."],
        [
            ["selected (best validation)", $"{best.Epoch}", RunFiles.F4(best.TrainLoss), RunFiles.Pct(best.TrainAccuracy), RunFiles.Pct(best.ValidationAccuracy), RunFiles.F4(o.TestLoss), RunFiles.Pct(o.TestAccuracy)],
            ["last epoch", $"{last.Epoch}", RunFiles.F4(last.TrainLoss), RunFiles.Pct(last.TrainAccuracy), RunFiles.Pct(last.ValidationAccuracy), RunFiles.F4(last.TestLoss), RunFiles.Pct(last.TestAccuracy)],
        ], "lrrrrrr"));
        text.AppendLine();
        text.Append(string.Create(CultureInfo.InvariantCulture,
            $"**Test accuracy of the selected model: {RunFiles.Pct(o.TestAccuracy)}** ({o.TestCorrect:N0} of {o.TestCount:N0}), test loss " +
            $"{RunFiles.F4(o.TestLoss)} nats. "));
        text.Append(TrainVersusTest(best.TrainAccuracy, c.Train.Length, o.TestAccuracy, o.TestCount, o.ParameterCount));
        var atMin = o.Result.History[minTestLossEpoch - 1];
        if (minTestLossEpoch < last.Epoch && last.TestLoss > atMin.TestLoss * (1 + LossRise) && last.TrainLoss < atMin.TrainLoss)
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $"Its test loss is lowest at epoch {minTestLossEpoch} ({atMin.TestLoss:F4}) and ends at {last.TestLoss:F4}, while the training loss " +
                $"keeps falling, from {atMin.TrainLoss:F4} to {last.TrainLoss:F4}: the first sign of overfitting. "));
        else
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $"Its test loss does not rise at the end: it is lowest at epoch {minTestLossEpoch} ({atMin.TestLoss:F4}) and ends at {last.TestLoss:F4}" +
                $"{(minTestLossEpoch == last.Epoch ? ", still falling, so more epochs might still help" : $", within {LossRise * 100:0}% of that")}. "));
        text.AppendLine(last.Epoch == best.Epoch
            ? "The selected epoch is the last one."
            : $"The last epoch's validation accuracy is {RunFiles.Pct(last.ValidationAccuracy)}, against {RunFiles.Pct(best.ValidationAccuracy)} at the selected one.");
        text.AppendLine();
        if (seeds["test_accuracy"].N > 1)
        {
            text.AppendLine($"Over {seeds["test_accuracy"].N} seeds ({string.Join(", ", seeds["test_accuracy"].Seeds)}; each draws its own " +
                "initialisation, validation split and batch order), as mean with the 95% interval of the mean:");
            text.AppendLine();
            string F1(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
            text.Append(RunFiles.Table(["figure", "mean (95% CI)", "std", "per seed"], [
                ["selected test accuracy", seeds["test_accuracy"].Describe(RunFiles.Pct), RunFiles.Points(seeds["test_accuracy"].Std).TrimStart('+'), RunFiles.PerSeed(seeds["test_accuracy"], RunFiles.Pct)],
                ["selected test loss", seeds["test_loss"].Describe(RunFiles.F4), RunFiles.F4(seeds["test_loss"].Std), RunFiles.PerSeed(seeds["test_loss"], RunFiles.F4)],
                ["best validation accuracy", seeds["validation_accuracy"].Describe(RunFiles.Pct), RunFiles.Points(seeds["validation_accuracy"].Std).TrimStart('+'), RunFiles.PerSeed(seeds["validation_accuracy"], RunFiles.Pct)],
                ["selected epoch", seeds["best_epoch"].Describe(F1), F1(seeds["best_epoch"].Std), RunFiles.PerSeed(seeds["best_epoch"], v => v.ToString("F0", CultureInfo.InvariantCulture))],
                [$"shown test images right (of {shown.Count})", seeds["shown_correct"].Describe(F1), F1(seeds["shown_correct"].Std), RunFiles.PerSeed(seeds["shown_correct"], v => v.ToString("F0", CultureInfo.InvariantCulture))],
            ], "llll"));
            text.AppendLine();
        }
        else
        {
            text.AppendLine(RunFiles.NoiseNote(o.TestAccuracy, c.Validation.Length, o.TestCount) +
                " One seed gives no spread; `--seeds 3` or more measures how much the test accuracy moves from seed to seed.");
            text.AppendLine();
        }
        text.AppendLine("![loss per epoch](loss.png)");
        text.AppendLine();
        text.AppendLine("![accuracy per epoch](accuracy.png)");
        text.AppendLine();
        text.AppendLine($"## Predictions on the first {shown.Count} test images");
        text.AppendLine();
        text.AppendLine("![predictions](predictions.png)");
        text.AppendLine();
        text.Append(RunFiles.Table(["test image", "true class", "predicted", "confidence", ""],
            shown.Select(p => (IReadOnlyList<string>)[$"{p.Index}", FashionMnist.ClassNames[p.Label], FashionMnist.ClassNames[p.Predicted],
                RunFiles.Pct(p.Confidence), p.Correct ? "right" : "**wrong**"]), "rllrl"));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"{shown.Count(p => p.Correct)} of {shown.Count} right (seed {o.Seed}'s model). The confidence is the softmax probability of the predicted class."));
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(o.Normalization));
        text.AppendLine(footer);
        return text.ToString();
    }

    /// <summary>
    /// The sentence comparing the training accuracy (on <paramref name="trainImages"/>) with the test accuracy (on
    /// <paramref name="testImages"/>): above or below only when the difference exceeds twice its standard error
    /// <c>√(p(1-p)/n + q(1-q)/m)</c>, else within noise.
    /// </summary>
    internal static string TrainVersusTest(double train, int trainImages, double test, int testImages, long parameters)
    {
        double se = Math.Sqrt(train * (1 - train) / Math.Max(1, trainImages) + test * (1 - test) / Math.Max(1, testImages));
        double gap = train - test;
        return gap > 2 * se
            ? string.Create(CultureInfo.InvariantCulture,
                $"The training accuracy ({RunFiles.Pct(train)}) is above the test accuracy by {RunFiles.Points(gap).TrimStart('+')}, more than twice " +
                $"its standard error ({se * 100:F2} pp): this network, with {parameters:N0} parameters for {trainImages:N0} images, fits the " +
                $"training images better than new ones. ")
            : gap < -2 * se
                ? string.Create(CultureInfo.InvariantCulture,
                    $"The training accuracy ({RunFiles.Pct(train)}) is below the test accuracy by {RunFiles.Points(-gap).TrimStart('+')}, more than " +
                    $"twice its standard error ({se * 100:F2} pp): the network has not yet fitted its own training images better than new ones. ")
                : string.Create(CultureInfo.InvariantCulture,
                    $"The training accuracy ({RunFiles.Pct(train)}) and the test accuracy are within noise of each other (a difference of " +
                    $"{RunFiles.Points(gap)}, within twice its standard error of {se * 100:F2} pp): no sign of overfitting in the accuracies. ");
    }
}
