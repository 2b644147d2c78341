using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run mlp</c>: a 784-256-128-10 ReLU MLP trained with cross-entropy and plain SGD on the 54,000-image training
/// split, the epoch chosen by validation accuracy, its test accuracy reported, and its predictions on the first 16 test
/// images shown beside their labels.
/// </summary>
public sealed class MlpExperiment : ISelfRunExperiment
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
    public const int QuickTrain = 2000;

    /// <summary>How many test images the predictions show.</summary>
    public const int Shown = 16;

    /// <inheritdoc />
    public string Name => "mlp";

    /// <inheritdoc />
    public string Summary => "A 784-256-128-10 MLP with cross-entropy and plain SGD: test accuracy and predictions on 16 test images.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary) =>
        $"test accuracy {RunFiles.Pct(Summaries.Number(summary, "test_accuracy") ?? double.NaN)} " +
        $"(best-validation epoch {Summaries.Number(summary, "best_epoch")} of {Summaries.Number(summary, "epochs_trained")})";

    /// <inheritdoc />
    public int Run(RunOptions options, RunConsole console)
    {
        using var run = CourseRun.Open(Name, options, console);
        var data = run.Data;
        int epochs = run.Epochs(Epochs, 2);
        int[] train = options.Quick ? data.Subset(data.TrainSplit, QuickTrain, 1) : data.TrainSplit;
        var config = new TrainingConfig("mlp", Model, LearningRate, 0, BatchSize, epochs, Cosine: true, "none", Regularization.None,
            train, data.ValidationSplit, options.Seed);
        run.WriteConfig(Name, new JsonObject { ["epochs"] = epochs, ["training"] = config.ToJson() });

        using var outcome = TrainingRun.Fit(data, config, console);
        RunFiles.WriteMetrics(run.Folder, [outcome]);
        string checkpoint = RunFiles.SaveCheckpoint(run.Folder, outcome, Name, data);

        var shown = Predictions.Of(outcome.Model, data.Test, data.TestIndices.Take(Shown).ToArray(), outcome.Normalization);
        var cells = shown.Select(p => new ImageGrid.Cell(p.Pixels,
            $"{Short(p.Predicted)}{(p.Correct ? "" : " (" + Short(p.Label) + ")")}", Mark: !p.Correct)).ToList();
        Png.Write(run.Folder.File("predictions.png"), ImageGrid.Render(cells, FashionMnist.Side, FashionMnist.Side, columns: 8, scale: 3,
            title: $"first {shown.Count} test images: predicted (true class when wrong, in red)"));

        Plots.Lines(run.Folder.File("loss.png"), "MLP: cross-entropy per epoch", "epoch", "loss (nats)",
            RunFiles.LossCurves(outcome, "mlp", validation: true), markers: [(outcome.Result.BestEpoch, $"best validation epoch ({outcome.Result.BestEpoch})")]);
        Plots.Lines(run.Folder.File("accuracy.png"), "MLP: accuracy per epoch", "epoch", "accuracy (%)",
            RunFiles.LossCurves(outcome, "mlp", accuracy: true, validation: true), markers: [(outcome.Result.BestEpoch, $"best validation epoch ({outcome.Result.BestEpoch})")]);

        var summary = RunFiles.ModelSummary(outcome, checkpoint);
        summary["predictions"] = new JsonArray(shown.Select(p => (JsonNode)new JsonObject
        {
            ["index"] = p.Index,
            ["label"] = FashionMnist.ClassNames[p.Label],
            ["predicted"] = FashionMnist.ClassNames[p.Predicted],
            ["confidence"] = Math.Round(p.Confidence, 4),
        }).ToArray());
        run.Folder.WriteJson("summary.json", summary);

        console.WriteLine($"best epoch {outcome.Result.BestEpoch}: validation {RunFiles.Pct(outcome.Best.ValidationAccuracy)}, " +
            $"test {RunFiles.Pct(outcome.TestAccuracy)} (loss {RunFiles.F4(outcome.TestLoss)} nats); " +
            $"{shown.Count(p => p.Correct)}/{shown.Count} of the shown test images right");
        run.Finish(Report(run, outcome, shown));
        return Cli.ExitOk;
    }

    // Short class names so that captions fit under a 84-pixel image.
    private static string Short(int label) => label switch
    {
        0 => "T-shirt",
        9 => "Boot",
        _ => FashionMnist.ClassNames[label],
    };

    private static string Report(CourseRun run, RunOutcome o, IReadOnlyList<Prediction> shown)
    {
        var c = o.Config;
        var best = o.Best;
        var last = o.Result.History[^1];
        var text = new StringBuilder();
        text.AppendLine("# A multilayer perceptron on Fashion-MNIST");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"A {c.Model} network ({o.Model.ParameterCount:N0} parameters) trained with softmax cross-entropy and plain SGD " +
            $"(learning rate {c.LearningRate}, no momentum, batch {c.BatchSize}, the rate annealed to 0 by a cosine over {c.Epochs} epochs) " +
            $"on {c.Train.Length:N0} training images. {c.Validation.Length:N0} images held out of the training set (stratified, seed {c.Seed}) " +
            $"choose the epoch: the parameters of the epoch with the best validation accuracy are kept, and only that model is " +
            $"measured on the {o.TestCount:N0} test images. Inputs are the pixels scaled to [0, 1], then standardised with the training " +
            $"images' mean {o.Normalization.Mean:F4} and standard deviation {o.Normalization.Std:F4}."));
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        text.Append(RunFiles.Table(["", "epoch", "train loss", "train acc.", "validation acc.", "test loss", "test acc."],
        [
            ["selected (best validation)", $"{best.Epoch}", RunFiles.F4(best.TrainLoss), RunFiles.Pct(best.TrainAccuracy), RunFiles.Pct(best.ValidationAccuracy), RunFiles.F4(o.TestLoss), RunFiles.Pct(o.TestAccuracy)],
            ["last epoch", $"{last.Epoch}", RunFiles.F4(last.TrainLoss), RunFiles.Pct(last.TrainAccuracy), RunFiles.Pct(last.ValidationAccuracy), RunFiles.F4(last.TestLoss), RunFiles.Pct(last.TestAccuracy)],
        ], "lrrrrrr"));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"**Test accuracy of the selected model: {RunFiles.Pct(o.TestAccuracy)}** ({o.TestCorrect:N0} of {o.TestCount:N0}), test loss " +
            $"{RunFiles.F4(o.TestLoss)} nats. A PyTorch MLP of the same shape reaches about 89% on Fashion-MNIST. The training accuracy " +
            $"({RunFiles.Pct(best.TrainAccuracy)}) is above the test accuracy: even this network, with {o.Model.ParameterCount:N0} " +
            $"parameters for {c.Train.Length:N0} images, fits the training images better than new ones, and its test loss is lowest at " +
            $"epoch {o.Result.History.MinBy(m => m.TestLoss)!.Epoch} while the training loss keeps falling. The cosine schedule's small final " +
            $"steps keep the last epochs from wandering: the last epoch's validation accuracy is {RunFiles.Pct(last.ValidationAccuracy)}, " +
            $"against {RunFiles.Pct(best.ValidationAccuracy)} at the selected one."));
        text.AppendLine();
        text.AppendLine(RunFiles.NoiseNote(o.TestAccuracy, c.Validation.Length, o.TestCount));
        text.AppendLine();
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
            $"{shown.Count(p => p.Correct)} of {shown.Count} right. The confidence is the softmax probability of the predicted class."));
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(o));
        text.AppendLine(run.Footer());
        return text.ToString();
    }
}
