using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run optimizers</c>: SGD, SGD with momentum, Nesterov, Adagrad, RMSprop and Adam, each at four learning rates,
/// on the same 784-128-10 MLP, data subset and seed (every run initialised afresh from the seed). Records the loss of every
/// step (smoothed) and of every epoch, marks each run by simple rules on its curves (divergent, too slow, oscillating,
/// good) and says which rate suits each optimizer.
/// </summary>
public sealed class OptimizersExperiment : ISelfRunExperiment
{
    /// <summary>The learning rates every optimizer is tried at.</summary>
    public static readonly double[] LearningRates = [0.001, 0.01, 0.1, 1];

    /// <summary>The optimizers: algorithm key, display name, momentum.</summary>
    public static readonly (string Key, string Label, double Momentum)[] Optimizers =
    [
        ("sgd", "SGD", 0), ("momentum", "SGD momentum 0.9", 0.9), ("nesterov", "Nesterov 0.9", 0.9),
        ("adagrad", "Adagrad", 0), ("rmsprop", "RMSprop", 0), ("adam", "Adam", 0),
    ];

    /// <summary>The network.</summary>
    public static readonly MlpSpec Model = new([128]);

    /// <summary>Training images of a full run (1,000 per class).</summary>
    public const int TrainImages = 10000;

    /// <summary>Validation images of a full run.</summary>
    public const int ValidationImages = 2000;

    /// <summary>Batch size.</summary>
    public const int BatchSize = 64;

    /// <summary>Epochs of a full run.</summary>
    public const int Epochs = 4;

    /// <summary>Training images of a quick run.</summary>
    public const int QuickTrainImages = 500;

    /// <summary>Validation images of a quick run.</summary>
    public const int QuickValidationImages = 500;

    /// <summary>Epochs of a quick run.</summary>
    public const int QuickEpochs = 2;

    /// <summary>The exponential moving average's weight of the newest step loss.</summary>
    public const double SmoothingAlpha = 0.05;

    /// <summary>A run whose smoothed step loss ends above this multiple of its first step's loss, or whose final (evaluation-mode)
    /// training loss is above the first step's loss, has blown up.</summary>
    public const double BlowUpFactor = 1.5;

    /// <summary>A run is too slow when its loss fell by less than this share of the optimizer's best drop.</summary>
    public const double SlowShare = 0.6;

    /// <summary>A run oscillates when its smoothed loss ends this much (relative) above its minimum over the last third.</summary>
    public const double RiseShare = 0.1;

    /// <summary>A run oscillates when the roughness of its smoothed curve over the last third (the standard deviation of the
    /// step-to-step differences relative to the curve's mean there) exceeds this multiple of the good rate's. Relative,
    /// because batch noise alone gives every curve a roughness of about 0.01 at this smoothing.</summary>
    public const double RoughnessFactor = 1.5;

    /// <inheritdoc />
    public string Name => "optimizers";

    /// <inheritdoc />
    public string Summary => "SGD, momentum, Nesterov, Adagrad, RMSprop and Adam at learning rates 0.001 to 1: loss curves and a verdict per rate.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary)
    {
        var best = summary["best_learning_rate"] as JsonObject ?? [];
        string rates = string.Join(", ", best.Select(p => $"{p.Key} {(p.Value is null ? "none" : p.Value.ToJsonString())}"));
        return $"best run {Summaries.Text(summary, "chosen")}: test accuracy {RunFiles.Pct(Summaries.Number(summary, "test_accuracy") ?? double.NaN)}; good rate per optimizer: {rates}";
    }

    /// <summary>What the rules say about a run.</summary>
    public static class Verdicts
    {
        /// <summary>The loss became NaN or infinite, or grew well above its start.</summary>
        public const string Divergent = "divergent";

        /// <summary>The lowest final validation loss of the optimizer's rates.</summary>
        public const string Good = "good";

        /// <summary>The loss rose over the last third or jumps about.</summary>
        public const string Oscillating = "oscillating";

        /// <summary>The loss fell by much less than at the best rate.</summary>
        public const string TooSlow = "too slow";

        /// <summary>None of the above: it learns, but not as well as the best rate.</summary>
        public const string Usable = "usable";
    }

    /// <summary>One run with its curve statistics.</summary>
    private sealed class Entry(string key, string label, double lr, RunOutcome run)
    {
        public string Key { get; } = key;
        public string Label { get; } = label;
        public double Lr { get; } = lr;
        public RunOutcome Run { get; } = run;
        public double[] Smoothed { get; } = Smooth(run.Result.StepLosses);
        public bool Diverged { get; set; }
        public double Start { get; set; }
        public double End { get; set; }
        public double Rise { get; set; }
        public double Roughness { get; set; }
        public string Verdict { get; set; } = "";
        public string Why { get; set; } = "";
        public double FinalTrainLoss => Run.Result.History.Count > 0 ? Run.Result.History[^1].TrainLoss : double.NaN;
        public double FinalValidationLoss => Run.Result.History.Count > 0 ? Run.Result.History[^1].ValidationLoss : double.NaN;
        public double ValidationAccuracy => Run.Result.Best?.ValidationAccuracy ?? double.NaN;
        public string Name => Run.Config.Name;
    }

    /// <summary>The bias-corrected exponential moving average of <paramref name="losses"/>, up to the first non-finite value.</summary>
    public static double[] Smooth(IReadOnlyList<float> losses, double alpha = SmoothingAlpha)
    {
        var result = new List<double>();
        double avg = 0, weight = 0;
        foreach (float v in losses)
        {
            if (!float.IsFinite(v)) break;
            avg = (1 - alpha) * avg + alpha * v;
            weight = (1 - alpha) * weight + alpha;
            result.Add(avg / weight);
        }
        return [.. result];
    }

    /// <inheritdoc />
    public int Run(RunOptions options, RunConsole console)
    {
        using var run = CourseRun.Open(Name, options, console);
        var data = run.Data;
        bool quick = options.Quick;
        int[] train = data.Subset(data.TrainSplit, quick ? QuickTrainImages : TrainImages, 4);
        int[] validation = data.Subset(data.ValidationSplit, quick ? QuickValidationImages : ValidationImages, 5);
        int epochs = run.Epochs(Epochs, QuickEpochs);
        TrainingConfig Config(string key, double momentum, double lr) =>
            new($"{key} lr={lr.ToString(CultureInfo.InvariantCulture)}", Model, lr, momentum, BatchSize, epochs, Cosine: false, "none",
                Regularization.None, train, validation, options.Seed, Algorithm: key == "momentum" ? "sgd" : key);
        run.WriteConfig(Name, new JsonObject
        {
            ["epochs"] = epochs,
            ["model"] = Model.ToString(),
            ["batch_size"] = BatchSize,
            ["train_images"] = train.Length,
            ["validation_images"] = validation.Length,
            ["learning_rates"] = new JsonArray(LearningRates.Select(l => (JsonNode)l).ToArray()),
            ["optimizers"] = new JsonArray(Optimizers.Select(o => (JsonNode)Config(o.Key, o.Momentum, 0.01).Optimizer.Replace("0.01", "lr", StringComparison.Ordinal)).ToArray()),
            ["smoothing_alpha"] = SmoothingAlpha,
        });
        console.PlanRuns(Optimizers.Length * LearningRates.Length);

        var entries = new List<Entry>();
        try
        {
            foreach (var (key, label, momentum) in Optimizers)
                foreach (double lr in LearningRates)
                    entries.Add(new Entry(key, label, lr, TrainingRun.Fit(data, Config(key, momentum, lr), console)));
            Judge(entries);
            return Write(run, entries);
        }
        finally
        {
            foreach (var e in entries) e.Run.Dispose();
        }
    }

    private static double Mean(IEnumerable<double> v) => v.DefaultIfEmpty(double.NaN).Average();

    // The rules, per optimizer: divergent, then good (lowest final validation loss), oscillating, too slow, usable.
    private static void Judge(List<Entry> entries)
    {
        foreach (var e in entries)
        {
            var raw = e.Run.Result.StepLosses;
            var s = e.Smoothed;
            e.Start = raw.Count > 0 ? raw[0] : double.NaN;
            e.End = s.Length > 0 ? s[^1] : double.NaN;
            int third = Math.Max(2, s.Length / 3);
            var tail = s.Skip(Math.Max(0, s.Length - third)).ToArray();
            e.Rise = tail.Length > 0 ? e.End / tail.Min() - 1 : double.NaN;
            var diffs = tail.Zip(tail.Skip(1), (a, b) => b - a).ToArray();
            double meanDiff = Mean(diffs);
            e.Roughness = diffs.Length > 1 ? Math.Sqrt(diffs.Average(d => (d - meanDiff) * (d - meanDiff))) / Mean(tail) : double.NaN;
            bool nonFinite = raw.Any(v => !float.IsFinite(v)) || !double.IsFinite(e.FinalTrainLoss) || !double.IsFinite(e.FinalValidationLoss);
            e.Diverged = e.Run.Result.Diverged || nonFinite;
            if (e.Diverged)
            {
                e.Verdict = Verdicts.Divergent;
                int at = raw.FindIndex(v => !float.IsFinite(v));
                e.Why = at >= 0 ? $"the loss became NaN or infinite at step {at + 1}" : "the loss became NaN or infinite";
            }
            else if (!double.IsFinite(e.End) || e.End > BlowUpFactor * e.Start || e.FinalTrainLoss > e.Start)
            {
                e.Verdict = Verdicts.Divergent;
                e.Why = string.Create(CultureInfo.InvariantCulture,
                    $"the loss blew up: the smoothed step loss ended at {e.End:G3} and the training loss at {e.FinalTrainLoss:G3}, against {e.Start:F3} at the first step");
            }
        }
        foreach (var group in entries.GroupBy(e => e.Key))
        {
            var alive = group.Where(e => e.Verdict == "").ToList();
            if (alive.Count == 0) continue;
            var best = alive.MinBy(e => e.FinalValidationLoss)!;
            best.Verdict = Verdicts.Good;
            best.Why = string.Create(CultureInfo.InvariantCulture, $"the lowest final validation loss of its optimizer ({best.FinalValidationLoss:F4})");
            double bestDrop = best.Start - best.End;
            foreach (var e in alive.Where(e => e != best))
            {
                double drop = e.Start - e.End;
                double roughLimit = RoughnessFactor * best.Roughness;
                if (e.Rise > RiseShare || e.Roughness > roughLimit)
                {
                    e.Verdict = Verdicts.Oscillating;
                    e.Why = e.Rise > RiseShare
                        ? string.Create(CultureInfo.InvariantCulture, $"the smoothed loss rose {e.Rise * 100:F0}% above its minimum over the last third")
                        : string.Create(CultureInfo.InvariantCulture, $"the smoothed curve jumps (roughness {e.Roughness:F4}, over {RoughnessFactor}x the good rate's {best.Roughness:F4})");
                }
                else if (bestDrop > 0 && drop < SlowShare * bestDrop && e.Lr > best.Lr)
                {
                    e.Verdict = Verdicts.Oscillating;
                    e.Why = string.Create(CultureInfo.InvariantCulture,
                        $"the loss fell only from {e.Start:F3} to {e.End:F3}, {Math.Max(0, drop / bestDrop) * 100:F0}% of the drop at lr {best.Lr}, " +
                        $"although its rate is larger: its steps overshoot");
                }
                else if (bestDrop > 0 && drop < SlowShare * bestDrop)
                {
                    e.Verdict = Verdicts.TooSlow;
                    e.Why = string.Create(CultureInfo.InvariantCulture,
                        $"the loss fell only from {e.Start:F3} to {e.End:F3}, {Math.Max(0, drop / bestDrop) * 100:F0}% of the drop at lr {best.Lr}");
                }
                else
                {
                    e.Verdict = Verdicts.Usable;
                    e.Why = string.Create(CultureInfo.InvariantCulture,
                        $"it learns steadily (loss {e.Start:F3} to {e.End:F3}) but ends with a higher validation loss ({e.FinalValidationLoss:F4})");
                }
            }
        }
    }

    private static JsonNode? Num(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    private static string Lr(double lr) => lr.ToString(CultureInfo.InvariantCulture);

    private int Write(CourseRun run, List<Entry> entries)
    {
        var folder = run.Folder;
        RunFiles.WriteMetrics(folder, entries.Select(e => e.Run));
        var chosen = entries.Where(e => !e.Diverged && double.IsFinite(e.ValidationAccuracy)).MaxBy(e => e.ValidationAccuracy)
            ?? entries.MaxBy(e => double.IsFinite(e.ValidationAccuracy) ? e.ValidationAccuracy : -1)!;
        string checkpoint = RunFiles.SaveCheckpoint(folder, chosen.Run, Name, run.Data);

        var groups = entries.GroupBy(e => e.Key).ToList();
        Plots.Panels(folder.File("loss_per_iteration.png"), "training loss per step (EMA-smoothed), one panel per optimizer", "step",
            "loss (nats)", groups.Select(g => (g.First().Label, (IReadOnlyList<Series>)g.Select((e, i) => new Series(
                $"lr {Lr(e.Lr)}{(e.Verdict == Verdicts.Divergent ? " (divergent)" : "")}",
                e.Smoothed.Select((_, k) => k + 1.0).ToArray(), e.Smoothed, Group: i)).ToList())).ToList(), logY: true);
        Plots.Panels(folder.File("loss_per_epoch.png"), "loss per epoch: training (dashed) and validation (solid)", "epoch",
            "loss (nats)", groups.Select(g => (g.First().Label, (IReadOnlyList<Series>)g.SelectMany((e, i) =>
            {
                var h = e.Run.Result.History;
                double[] x = h.Select(m => (double)m.Epoch).ToArray();
                return new[]
                {
                    new Series($"lr {Lr(e.Lr)} train", x, h.Select(m => m.TrainLoss).ToArray(), Dashed: true, Group: i),
                    new Series($"lr {Lr(e.Lr)} validation", x, h.Select(m => m.ValidationLoss).ToArray(), Group: i),
                };
            }).ToList())).ToList(), logY: true);

        var summary = RunFiles.ModelSummary(chosen.Run, checkpoint);
        summary["chosen"] = chosen.Name;
        summary["learning_rates"] = new JsonArray(LearningRates.Select(l => (JsonNode)l).ToArray());
        var byOptimizer = new JsonObject();
        var bestLr = new JsonObject();
        foreach (var g in groups)
        {
            var rates = new JsonObject();
            foreach (var e in g)
                rates[Lr(e.Lr)] = new JsonObject
                {
                    ["name"] = e.Name,
                    ["optimizer"] = e.Run.Config.Optimizer,
                    ["final_train_loss"] = Num(e.FinalTrainLoss),
                    ["final_validation_loss"] = Num(e.FinalValidationLoss),
                    ["final_smoothed_step_loss"] = Num(e.End),
                    ["validation_accuracy"] = Num(e.ValidationAccuracy),
                    ["test_accuracy"] = Num(e.Run.TestAccuracy),
                    ["diverged"] = e.Verdict == Verdicts.Divergent,
                    ["non_finite_loss"] = e.Diverged,
                    ["verdict"] = e.Verdict,
                    ["reason"] = e.Why,
                    ["loss_rise_last_third"] = Num(e.Rise),
                    ["roughness"] = Num(e.Roughness),
                    ["epochs_trained"] = e.Run.Result.History.Count,
                };
            byOptimizer[g.Key] = rates;
            var good = g.FirstOrDefault(e => e.Verdict == Verdicts.Good);
            bestLr[g.Key] = good is null ? null : JsonValue.Create(good.Lr);
        }
        summary["optimizers"] = byOptimizer;
        summary["best_learning_rate"] = bestLr;
        folder.WriteJson("summary.json", summary);

        foreach (var e in entries)
            run.Console.WriteLine($"{e.Name,-20} final train loss {RunFiles.F4(e.FinalTrainLoss)}, validation {RunFiles.Pct(e.ValidationAccuracy)}, " +
                $"test {RunFiles.Pct(e.Run.TestAccuracy)}: {e.Verdict}");
        run.Console.WriteLine($"best by validation accuracy: {chosen.Name}, test {RunFiles.Pct(chosen.Run.TestAccuracy)}");
        run.Finish(Report(run, entries, chosen));
        return Cli.ExitOk;
    }

    private static string Report(CourseRun run, List<Entry> entries, Entry chosen)
    {
        var c = entries[0].Run.Config;
        var text = new StringBuilder();
        text.AppendLine("# Optimizers and learning rates");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"A {c.Model} network ({entries[0].Run.Model.ParameterCount:N0} parameters) trained for {c.Epochs} epochs (batch {c.BatchSize}, " +
            $"constant rate) on {c.Train.Length:N0} training images with {c.Validation.Length:N0} validation images, by six optimizers " +
            $"(PyTorch's defaults apart from the rate: SGD, SGD with momentum 0.9, Nesterov momentum 0.9, Adagrad, RMSprop α = 0.99, " +
            $"Adam β = (0.9, 0.999)) at learning rates {string.Join(", ", LearningRates.Select(Lr))}. Every run starts from the same " +
            $"initial weights (seed {c.Seed}) and sees the batches in the same order. The step losses are smoothed by an exponential " +
            $"moving average (weight {SmoothingAlpha} on the newest step, bias-corrected)."));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The verdicts follow from the curves by fixed rules, per optimizer: **divergent** if the loss became NaN or infinite or the " +
            $"smoothed step loss ended above {BlowUpFactor}x the first step's loss, or the final training loss above it; of the other rates, the one with the lowest final validation loss is " +
            $"**good**; a rate whose smoothed loss ends more than {RiseShare * 100:F0}% above its minimum over the last third of the steps, " +
            $"or whose smoothed curve is rough there (the standard deviation of its step-to-step differences relative to its mean, " +
            $"above {RoughnessFactor}x the good rate's), is **oscillating**; one whose smoothed loss fell by less than {SlowShare * 100:F0}% of the good rate's drop is " +
            $"**too slow** when its rate is smaller than the good one and **oscillating** (overshooting) when it is larger; " +
            $"the rest are **usable**."));
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        text.Append(RunFiles.Table(["optimizer", "lr", "final train loss", "final validation loss", "validation acc.", "test acc.",
                "rise over last third", "roughness", "diverged", "verdict"],
            entries.Select(e => (IReadOnlyList<string>)[e == chosen ? $"**{e.Label}**" : e.Label, Lr(e.Lr), RunFiles.F4(e.FinalTrainLoss),
                RunFiles.F4(e.FinalValidationLoss), RunFiles.Pct(e.ValidationAccuracy), RunFiles.Pct(e.Run.TestAccuracy),
                double.IsFinite(e.Rise) ? RunFiles.Pct(e.Rise) : "-", RunFiles.F4(e.Roughness),
                e.Diverged ? "yes (NaN/inf)" : e.Verdict == Verdicts.Divergent ? "yes (blew up)" : "no",
                e.Verdict == Verdicts.Good ? $"**{e.Verdict}**" : e.Verdict]), "lrrrrrrrll"));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Best run by validation accuracy: **{chosen.Label}, lr {Lr(chosen.Lr)}**, validation {RunFiles.Pct(chosen.ValidationAccuracy)}, " +
            $"test accuracy **{RunFiles.Pct(chosen.Run.TestAccuracy)}** (the checkpoint is its best-validation epoch)."));
        text.AppendLine();
        text.AppendLine("## Which rate suits each optimizer");
        text.AppendLine();
        foreach (var g in entries.GroupBy(e => e.Key))
        {
            var good = g.FirstOrDefault(e => e.Verdict == Verdicts.Good);
            string head = good is null
                ? $"- **{g.First().Label}**: no rate trains; "
                : $"- **{g.First().Label}**: lr **{Lr(good.Lr)}** suits it best ({good.Why}, validation accuracy {RunFiles.Pct(good.ValidationAccuracy)}); ";
            text.AppendLine(head + string.Join("; ", g.Where(e => e != good).Select(e => $"lr {Lr(e.Lr)} is {e.Verdict}: {e.Why}")) + ".");
        }
        text.AppendLine();
        text.AppendLine("The usual explanation of the pattern: plain SGD's step is the rate times the gradient; momentum 0.9 adds up about " +
            "1/(1 − 0.9) = 10 gradients, so the same rate makes about ten times larger steps and the suitable rate is smaller. Adagrad, " +
            "RMSprop and Adam divide each parameter's step by a running root mean square of its gradient, which makes the step about the " +
            "rate itself whatever the gradient's scale: they suit small rates, and large ones move every weight by about the rate at every " +
            "step. The verdicts above are the measured ones; where they differ from this explanation, the table is what this run did.");
        text.AppendLine();
        text.AppendLine("![per-step loss](loss_per_iteration.png)");
        text.AppendLine();
        text.AppendLine("![per-epoch loss](loss_per_epoch.png)");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(chosen.Run));
        text.AppendLine(run.Footer());
        return text.ToString();
    }
}
