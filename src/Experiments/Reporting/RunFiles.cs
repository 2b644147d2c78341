using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Training;
using GpuNet.Training;

namespace GpuNet.Experiments.Reporting;

/// <summary>The files every training experiment writes: metrics.csv, timing.csv, the checkpoint and summary.json's common part.</summary>
public static partial class RunFiles
{
    /// <summary>The checkpoint's file name inside the run folder.</summary>
    public const string CheckpointFile = "model.safetensors";

    /// <summary>The per-epoch columns of metrics.csv after the run's name (and, in an aggregate, its seed).</summary>
    public const string MetricsColumns = "epoch,learning_rate,running_loss,train_loss,train_accuracy,penalty,validation_loss,validation_accuracy,test_loss,test_accuracy";

    /// <summary>The per-step training losses of a run that records them.</summary>
    public const string StepsFile = "steps.csv";

    /// <summary>
    /// Writes a run's <c>metrics.csv</c>, one row per epoch, every value in round-trip form so two runs can be compared
    /// byte for byte (and read back exactly); and <c>timing.csv</c> with the wall time of each epoch, kept apart because it
    /// changes from run to run.
    /// </summary>
    public static void WriteRunMetrics(RunFolder folder, RunOutcome run)
    {
        var metrics = new StringBuilder("run," + MetricsColumns + "\n");
        var timing = new StringBuilder("run,epoch,seconds\n");
        foreach (var m in run.Result.History)
        {
            metrics.AppendLine(string.Join(",", Csv(run.Config.Name), I(m.Epoch), R(m.LearningRate), R(m.RunningLoss), R(m.TrainLoss),
                R(m.TrainAccuracy), R(m.Penalty), R(m.ValidationLoss), R(m.ValidationAccuracy), R(m.TestLoss), R(m.TestAccuracy)));
            timing.AppendLine(string.Join(",", Csv(run.Config.Name), I(m.Epoch), m.Seconds.ToString("F3", CultureInfo.InvariantCulture)));
        }
        folder.WriteText("metrics.csv", metrics.ToString());
        folder.WriteText("timing.csv", timing.ToString());
    }

    /// <summary>Reads back the history <see cref="WriteRunMetrics"/> wrote (the epochs' wall times from timing.csv beside it,
    /// 0 where it is missing).</summary>
    /// <exception cref="InvalidDataException">A row that does not parse.</exception>
    public static List<EpochMetrics> ReadRunMetrics(string path)
    {
        string timingPath = Path.Combine(Path.GetDirectoryName(path)!, "timing.csv");
        var seconds = File.Exists(timingPath)
            ? File.ReadLines(timingPath).Skip(1).Select(l => double.Parse(l[(l.LastIndexOf(',') + 1)..], CultureInfo.InvariantCulture)).ToArray()
            : [];
        var history = new List<EpochMetrics>();
        foreach (string line in File.ReadLines(path).Skip(1))
        {
            // The name may be quoted and hold commas; the ten numbers are the last ten fields.
            var f = line.Split(',');
            if (f.Length < 11) throw new InvalidDataException($"{path}: a row with {f.Length} fields: '{line}'.");
            double D(int fromEnd) => double.Parse(f[^fromEnd], CultureInfo.InvariantCulture);
            int epoch = int.Parse(f[^10], CultureInfo.InvariantCulture);
            history.Add(new EpochMetrics(epoch, D(9), D(8), D(7), D(6), D(5), D(4), D(3), D(2), D(1),
                epoch - 1 < seconds.Length ? seconds[epoch - 1] : 0));
        }
        return history;
    }

    /// <summary>Writes every step's training loss, one per line, in round-trip form.</summary>
    public static void WriteSteps(RunFolder folder, IReadOnlyList<float> losses)
    {
        var text = new StringBuilder("step,loss\n");
        for (int i = 0; i < losses.Count; i++) text.Append(I(i + 1)).Append(',').AppendLine(losses[i].ToString("R", CultureInfo.InvariantCulture));
        folder.WriteText(StepsFile, text.ToString());
    }

    /// <summary>Reads back what <see cref="WriteSteps"/> wrote.</summary>
    public static List<float> ReadSteps(string path) =>
        File.ReadLines(path).Skip(1).Select(l => float.Parse(l[(l.IndexOf(',') + 1)..], CultureInfo.InvariantCulture)).ToList();

    /// <summary>
    /// Writes the experiment's <c>metrics.csv</c>: every run's rows, in the order given, with the seed after the run's name;
    /// the rows are the runs' own lines, so the file is the same whichever process fitted them.
    /// </summary>
    public static void WriteMetrics(RunFolder folder, IReadOnlyList<FinishedRun> runs)
    {
        var metrics = new StringBuilder("run,seed," + MetricsColumns + "\n");
        foreach (var run in runs)
            foreach (string line in File.ReadLines(run.File("metrics.csv")).Skip(1))
            {
                // The seed goes after the name, which is everything before the last ten fields.
                int cut = line.Length;
                for (int k = 0; k < 10; k++) cut = line.LastIndexOf(',', cut - 1);
                metrics.Append(line, 0, cut).Append(',').Append(I(run.Plan.Seed)).Append(line, cut, line.Length - cut).Append('\n');
            }
        folder.WriteText("metrics.csv", metrics.ToString());

        // The epochs' wall times beside them (run, seed, epoch, seconds): not part of any comparison.
        var timing = new StringBuilder("run,seed,epoch,seconds\n");
        foreach (var run in runs)
        {
            string path = run.File("timing.csv");
            if (!File.Exists(path)) continue;
            foreach (string line in File.ReadLines(path).Skip(1))
            {
                int cut = line.LastIndexOf(',', line.LastIndexOf(',') - 1);
                timing.Append(line, 0, cut).Append(',').Append(I(run.Plan.Seed)).Append(line, cut, line.Length - cut).Append('\n');
            }
        }
        folder.WriteText("timing.csv", timing.ToString());
    }

    /// <summary>The reported model's part of an experiment's summary.json, read from its run: test accuracy and loss,
    /// checkpoint, best epoch, configuration (no wall time, so the aggregate is the same in every process).</summary>
    public static JsonObject ModelSummary(TrainedRun run, string? checkpoint)
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
        // A run that measured the test set only for its selected model (TrainingConfig.TestEveryEpoch false) has no peak.
        if (double.IsFinite(run.PeakTestAccuracy)) o["peak_test_accuracy"] = run.PeakTestAccuracy;
        o["seed"] = run.Seed;
        o["run"] = run.Plan.Key;
        o["config"] = run.Config.ToJson();
        return o;
    }

    /// <summary>Copies the run's checkpoint into the experiment's folder (so the folder stands alone); returns its name there.</summary>
    public static string CopyCheckpoint(RunFolder folder, TrainedRun run)
    {
        string target = folder.File(CheckpointFile);
        string temp = target + $".{Environment.ProcessId}.tmp";
        File.Copy(run.CheckpointPath, temp, overwrite: true);
        File.Move(temp, target, overwrite: true);
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

    /// <summary>Each seed's value: <c>83.10% (42), 82.70% (43)</c>.</summary>
    public static string PerSeed(Estimate estimate, Func<double, string> format) =>
        string.Join(", ", estimate.Seeds.Zip(estimate.Values, (s, v) => $"{format(v)} ({s})"));

    /// <summary>A penalty strength in short form: <c>1e-4</c>, <c>0.5</c>, <c>2e-3</c>.</summary>
    public static string Strength(double s) =>
        s.ToString("0.#####E+0", CultureInfo.InvariantCulture).Replace("E-", "e-", StringComparison.Ordinal).Replace("E+0", "", StringComparison.Ordinal);

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
    public static IReadOnlyList<Series> LossCurves(TrainedRun run, string label, bool accuracy = false, bool validation = false, int group = 0) =>
        Curves(run.Result.History, label, accuracy, validation, group);

    /// <summary>The curves of one run's figures, as <see cref="LossCurves(TrainedRun, string, bool, bool, int)"/> draws them.</summary>
    public static IReadOnlyList<Series> LossCurves(RunFigures run, string label, bool accuracy = false, bool validation = false, int group = 0) =>
        Curves(run.Result.History, label, accuracy, validation, group);

    private static List<Series> Curves(IReadOnlyList<EpochMetrics> h, string label, bool accuracy, bool validation, int group)
    {
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
    public static string CheckpointSection(TrainedRun o) => CheckpointSection(o.Normalization);

    /// <summary>The report section that says how to use a checkpoint trained with <paramref name="normalization"/>.</summary>
    public static string CheckpointSection(Data.Normalization normalization) =>
        $$"""
        ## The checkpoint

        `{{CheckpointFile}}` holds the reported model's parameters under PyTorch's names (`0.weight` is `[out, in]`), and its
        `__metadata__` the architecture (`architecture`, as JSON layers) and the preprocessing:
        `{{GpuNet.IO.Checkpoint.Preprocessing}}`, with `input_mean` = {{normalization.Mean.ToString("R", CultureInfo.InvariantCulture)}}
        and `input_std` = {{normalization.Std.ToString("R", CultureInfo.InvariantCulture)}}.
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
