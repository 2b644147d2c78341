using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Training;
using GpuNet.Training;

namespace GpuNet.Experiments.Reporting;

/// <summary>The files every training experiment writes: metrics.csv, timing.csv, the checkpoint and summary.json's common part.</summary>
public static class RunFiles
{
    /// <summary>The checkpoint's file name inside the run folder.</summary>
    public const string CheckpointFile = "model.safetensors";

    /// <summary>
    /// Writes <c>metrics.csv</c>, one row per (run, epoch), every value in round-trip form so two runs can be compared
    /// byte for byte; and <c>timing.csv</c> with the wall time of each epoch, kept apart because it changes from run to run.
    /// </summary>
    public static void WriteMetrics(RunFolder folder, IEnumerable<RunOutcome> runs)
    {
        var metrics = new StringBuilder("run,epoch,learning_rate,running_loss,train_loss,train_accuracy,penalty,validation_loss,validation_accuracy,test_loss,test_accuracy\n");
        var timing = new StringBuilder("run,epoch,seconds\n");
        foreach (var run in runs)
            foreach (var m in run.Result.History)
            {
                metrics.AppendLine(string.Join(",", Csv(run.Config.Name), I(m.Epoch), R(m.LearningRate), R(m.RunningLoss), R(m.TrainLoss),
                    R(m.TrainAccuracy), R(m.Penalty), R(m.ValidationLoss), R(m.ValidationAccuracy), R(m.TestLoss), R(m.TestAccuracy)));
                timing.AppendLine(string.Join(",", Csv(run.Config.Name), I(m.Epoch), m.Seconds.ToString("F3", CultureInfo.InvariantCulture)));
            }
        folder.WriteText("metrics.csv", metrics.ToString());
        folder.WriteText("timing.csv", timing.ToString());
    }

    /// <summary>The reported model's part of summary.json: test accuracy and loss, checkpoint, best epoch, configuration.</summary>
    public static JsonObject ModelSummary(RunOutcome run, string? checkpoint)
    {
        var o = new JsonObject
        {
            ["test_accuracy"] = run.TestAccuracy,
            ["test_loss"] = run.TestLoss,
            ["test_correct"] = run.TestCorrect,
            ["test_images"] = run.TestCount,
        };
        if (checkpoint is not null) o["checkpoint"] = checkpoint;
        o["best_epoch"] = run.Result.BestEpoch;
        o["epochs_trained"] = run.Result.History.Count;
        o["diverged"] = run.Result.Diverged;
        if (run.Result.Best is { } best)
        {
            o["validation_accuracy"] = best.ValidationAccuracy;
            o["validation_loss"] = best.ValidationLoss;
            o["train_accuracy"] = best.TrainAccuracy;
            o["train_loss"] = best.TrainLoss;
        }
        o["peak_test_accuracy"] = run.PeakTestAccuracy;
        o["seconds"] = Math.Round(run.Seconds, 1);
        o["config"] = run.Config.ToJson();
        return o;
    }

    /// <summary>Saves the run's restored model as the folder's checkpoint; returns its path relative to the folder.</summary>
    public static string SaveCheckpoint(RunFolder folder, RunOutcome run, string experiment, CourseData data)
    {
        run.SaveCheckpoint(folder.File(CheckpointFile), experiment, data);
        return CheckpointFile;
    }

    /// <summary>A percentage with two decimals, e.g. <c>88.93%</c>.</summary>
    public static string Pct(double fraction) =>
        double.IsFinite(fraction) ? (fraction * 100).ToString("F2", CultureInfo.InvariantCulture) + "%" : "-";

    /// <summary>A signed difference in percentage points, e.g. <c>+1.23 pp</c>.</summary>
    public static string Points(double fraction) =>
        double.IsFinite(fraction) ? (fraction * 100).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pp" : "-";

    /// <summary>
    /// A sentence on how far an accuracy measured on <paramref name="validation"/> and <paramref name="test"/> images can
    /// move by chance: the standard error <c>√(p(1-p)/n)</c> at accuracy <paramref name="accuracy"/>.
    /// </summary>
    public static string NoiseNote(double accuracy, int validation, int test)
    {
        static double Se(double p, int n) => n == 0 ? double.NaN : Math.Sqrt(p * (1 - p) / n);
        return string.Create(CultureInfo.InvariantCulture,
            $"How much of a difference is chance: at {accuracy * 100:F0}% accuracy the standard error of an accuracy is " +
            $"{Se(accuracy, validation) * 100:F1} pp on {validation:N0} validation images and {Se(accuracy, test) * 100:F1} pp on {test:N0} " +
            $"test images (one image is {100.0 / Math.Max(1, validation):0.##} pp of validation accuracy); runs compared on the same images vary " +
            $"together, so their differences are less noisy than that, but a gap of a few tenths of a point between two runs says little.");
    }

    /// <summary>A number with four decimals.</summary>
    public static string F4(double v) => double.IsFinite(v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "-";

    /// <summary>Seconds as <c>1 min 23 s</c> or <c>12.3 s</c>.</summary>
    public static string Duration(double seconds) =>
        seconds >= 60
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)(seconds / 60)} min {seconds % 60:0} s")
            : string.Create(CultureInfo.InvariantCulture, $"{seconds:0.0} s");

    /// <summary>A markdown table.</summary>
    public static string Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, string? align = null)
    {
        var text = new StringBuilder();
        text.AppendLine("| " + string.Join(" | ", headers) + " |");
        text.AppendLine("|" + string.Concat(headers.Select((_, i) => align is not null && i < align.Length && align[i] == 'r' ? "---:|" : "---|")));
        foreach (var row in rows) text.AppendLine("| " + string.Join(" | ", row.Select(c => c.Replace("|", "\\|", StringComparison.Ordinal))) + " |");
        return text.ToString();
    }

    /// <summary>The curves of one run for <see cref="Plots.Lines"/>: its training values dashed beside its test values.</summary>
    /// <param name="run">The run.</param>
    /// <param name="label">The legend prefix.</param>
    /// <param name="accuracy">Accuracy (%) instead of loss.</param>
    /// <param name="validation">Add the validation curve (dotted colour of its own).</param>
    /// <param name="group">The colour of the train/test pair.</param>
    public static IReadOnlyList<Series> LossCurves(RunOutcome run, string label, bool accuracy = false, bool validation = false, int group = 0)
    {
        var h = run.Result.History;
        double[] x = h.Select(m => (double)m.Epoch).ToArray();
        Func<EpochMetrics, double> train = accuracy ? m => m.TrainAccuracy * 100 : m => m.TrainLoss;
        Func<EpochMetrics, double> test = accuracy ? m => m.TestAccuracy * 100 : m => m.TestLoss;
        var series = new List<Series>
        {
            new($"{label} train", x, h.Select(train).ToArray(), Dashed: true, Group: group),
            new($"{label} test", x, h.Select(test).ToArray(), Group: group),
        };
        Func<EpochMetrics, double> valid = accuracy ? m => m.ValidationAccuracy * 100 : m => m.ValidationLoss;
        if (validation) series.Add(new($"{label} validation", x, h.Select(valid).ToArray(), Group: group + 1));
        return series;
    }

    /// <summary>The report section that says how to use the checkpoint, in GpuNet and in PyTorch.</summary>
    public static string CheckpointSection(RunOutcome o) =>
        $$"""
        ## The checkpoint

        `{{CheckpointFile}}` holds the reported model's parameters under PyTorch's names (`0.weight` is `[out, in]`), and its
        `__metadata__` the architecture (`architecture`, as JSON layers) and the preprocessing:
        `{{GpuNet.IO.Checkpoint.Preprocessing}}`, with `input_mean` = {{o.Normalization.Mean.ToString("R", CultureInfo.InvariantCulture)}}
        and `input_std` = {{o.Normalization.Std.ToString("R", CultureInfo.InvariantCulture)}}.
        `gpunet eval --checkpoint {{CheckpointFile}}` measures it again; in PyTorch (`pixels` a uint8 tensor of 28x28 images):

        ```python
        import json, torch
        from safetensors import safe_open
        from safetensors.torch import load_file
        meta = safe_open("{{CheckpointFile}}", "pt").metadata()
        layers = [getattr(torch.nn, l.pop("type"))(**l) for l in json.loads(meta["architecture"])["layers"]]
        model = torch.nn.Sequential(*layers).eval()
        model.load_state_dict(load_file("{{CheckpointFile}}"))
        x = (pixels.float().reshape(-1, 784) / 255 - float(meta["input_mean"])) / float(meta["input_std"])
        predicted = model(x).argmax(1)
        ```

        """;

    private static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Csv(string s) => s.Contains(',', StringComparison.Ordinal) || s.Contains('"', StringComparison.Ordinal)
        ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
}
