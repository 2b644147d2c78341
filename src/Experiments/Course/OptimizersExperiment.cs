using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run optimizers</c>: SGD, SGD with momentum, Nesterov, Adagrad, RMSprop and Adam, each at four learning rates,
/// on the same 784-128-10 MLP, once per seed (within a seed every run shares the data subset, the initial weights and the
/// batch order). Records the loss of every step (smoothed) and of every epoch, marks each run by simple rules on its curves
/// (divergent, too slow, oscillating, good), keeps a rate's verdict where every seed gives it the same one, and picks the
/// best rate of each optimizer by mean validation accuracy over the seeds, with its interval and its paired difference
/// from the runner-up.
/// </summary>
public sealed class OptimizersExperiment : ICourseExperiment
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
        var best = summary["best_rate"] as JsonObject ?? [];
        string Rate(string key, JsonNode? b)
        {
            if (b is null) return $"{key} none";
            string ties = b["tied_with"] is JsonArray t && t.Count > 0 ? $" (tied with {string.Join(", ", t.Select(x => x!.ToJsonString()))})" : "";
            return $"{key} {Summaries.Number(b, "learning_rate")?.ToString(CultureInfo.InvariantCulture)}{ties}";
        }
        var divergent = (summary["optimizers"] as JsonObject ?? []).SelectMany(o => (o.Value as JsonObject ?? [])
            .Where(r => Summaries.Number(r.Value, "divergent_seeds") is > 0)
            .Select(r => $"{o.Key} {r.Key} ({Summaries.Number(r.Value, "divergent_seeds")} of {(r.Value?["verdicts"] as JsonArray)?.Count} seeds)")).ToList();
        static string Std(double v) => RunFiles.Points(v).TrimStart('+');
        return $"best configuration {Summaries.Text(summary, "chosen")}: test accuracy {Summaries.MeanStd(summary, "chosen_test_accuracy", RunFiles.Pct, Std)}; " +
            $"best rate per optimizer by mean validation accuracy (ties within the paired noise): {string.Join(", ", best.Select(p => Rate(p.Key, p.Value)))}; " +
            $"divergent: {(divergent.Count == 0 ? "none" : string.Join(", ", divergent))}";
    }

    /// <summary>Seeds by default: enough for an interval on each rate's accuracy and for verdicts that hold beyond one seed.</summary>
    public int DefaultSeeds => 3;

    /// <summary>What the rules say about a run.</summary>
    public static class Verdicts
    {
        /// <summary>The loss became NaN or infinite, or grew well above its start.</summary>
        public const string Divergent = "divergent";

        /// <summary>The optimizer's best rate by mean validation accuracy over the seeds, or a rate whose paired difference
        /// from it is within noise.</summary>
        public const string Good = "good";

        /// <summary>The loss rose over the last third or jumps about.</summary>
        public const string Oscillating = "oscillating";

        /// <summary>The loss fell by much less than at the best rate.</summary>
        public const string TooSlow = "too slow";

        /// <summary>None of the above: it learns, but not as well as the best rate.</summary>
        public const string Usable = "usable";

        /// <summary>The seeds do not agree (each seed's verdict is listed beside it).</summary>
        public const string Mixed = "mixed";
    }

    /// <summary>One run (one optimizer, rate and seed) with its curve statistics and its verdict among its seed's runs.</summary>
    internal sealed class Curve(string key, string label, double lr, RunFigures run)
    {
        public string Key { get; } = key;
        public string Label { get; } = label;
        public double Lr { get; } = lr;
        public RunFigures Run { get; } = run;
        public int Seed => Run.Seed;
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

    /// <summary>One optimizer at one rate over the seeds: its runs in seed order, the verdict they agree on, and its figures.</summary>
    internal sealed class Rate(string key, string label, double lr, IReadOnlyList<Curve> curves)
    {
        public string Key { get; } = key;
        public string Label { get; } = label;
        public double Lr { get; } = lr;
        public IReadOnlyList<Curve> Curves { get; } = curves;
        public string Name => Curves[0].Name;
        public IReadOnlyList<int> Seeds => Curves.Select(c => c.Seed).ToList();
        public bool Unanimous => Curves.Select(c => c.Verdict).Distinct().Count() == 1;
        public string Verdict => Unanimous ? Curves[0].Verdict : Verdicts.Mixed;
        public int DivergentSeeds => Curves.Count(c => c.Verdict == Verdicts.Divergent);
        public string PerSeed => string.Join(", ", Curves.Select(c => $"{c.Verdict} ({c.Seed})"));
        public Estimate Of(Func<Curve, double> figure) => Estimate.Of(Seeds, Curves.Select(figure));
        public Estimate ValidationAccuracy => Of(c => c.ValidationAccuracy);
        public Estimate TestAccuracy => Of(c => c.Run.TestAccuracy);
        public Estimate FinalValidationLoss => Of(c => c.FinalValidationLoss);

        /// <summary>Why, in words: the first seed's reason when every seed agrees, else each seed's verdict.</summary>
        public string Why => Unanimous
            ? (Curves.Count > 1 ? $"every seed; seed {Curves[0].Seed}: " : "") + Curves[0].Why
            : $"the seeds disagree: {PerSeed}";
    }

    /// <summary>An optimizer's best rate by mean validation accuracy (of the rates no seed found divergent), the runner-up,
    /// and the best minus the runner-up paired by seed.</summary>
    internal sealed record Best(Rate Rate, Rate? RunnerUp, Estimate? Margin)
    {
        /// <summary>The other rates of the optimizer whose mean validation accuracy is within the noise of the best's (paired by
        /// seed): the report calls them tied with it, and the rules call them good too.</summary>
        public IReadOnlyList<Rate> Tied { get; init; } = [];
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

    /// <summary>The configuration of <paramref name="key"/> at rate <paramref name="lr"/> with <paramref name="seed"/>: the
    /// seed's training and validation subsets, initial weights and batch order, shared by every optimizer and rate.</summary>
    public static TrainingConfig Config(ExperimentContext context, int seed, string key, double momentum, double lr)
    {
        var data = context.Data(seed);
        bool quick = context.Quick;
        int[] train = data.Subset(data.TrainSplit, quick ? QuickTrainImages : TrainImages, 4);
        int[] validation = data.Subset(data.ValidationSplit, quick ? QuickValidationImages : ValidationImages, 5);
        return new TrainingConfig($"{key} lr={Lr(lr)}", Model, lr, momentum, BatchSize, context.Epochs(Epochs, QuickEpochs), Cosine: false, "none",
            Regularization.None, train, validation, seed, Algorithm: key == "momentum" ? "sgd" : key) { Test = context.QuickTest(data) };
    }

    /// <summary>Every optimizer at every rate with every seed, each recording its per-step losses.</summary>
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context) =>
    [
        .. from seed in context.Seeds
           from o in Optimizers
           from lr in LearningRates
           select (PlannedRun)new TrainingPlan(Config(context, seed, o.Key, o.Momentum, lr)) { RecordSteps = true },
    ];

    /// <inheritdoc />
    public void Analyse(ExperimentContext context, RunSet runs)
    {
        var trained = (from o in Optimizers
                       from lr in LearningRates
                       let name = $"{o.Key} lr={Lr(lr)}"
                       select (o, lr, runs: runs.Trained(name))).ToList();
        var rates = trained.Select(t => new Rate(t.o.Key, t.o.Label, t.lr, t.runs.Select(r => new Curve(t.o.Key, t.o.Label, t.lr, r.Figures)).ToList())).ToList();
        var (best, chosen) = JudgeAll(rates);
        var shownRun = trained.Single(t => t.o.Key == chosen.Key && t.lr == chosen.Lr).runs[0];

        var folder = context.Folder;
        var first = rates[0].Curves[0].Run.Config;
        context.WriteConfig(new JsonObject
        {
            ["epochs"] = first.Epochs,
            ["model"] = Model.ToString(),
            ["batch_size"] = BatchSize,
            ["train_images"] = first.Train.Length,
            ["validation_images"] = first.Validation.Length,
            ["learning_rates"] = new JsonArray(LearningRates.Select(l => (JsonNode)l).ToArray()),
            ["optimizers"] = new JsonArray(Optimizers.Select(o => (JsonNode)(first with { LearningRate = 0.01, Momentum = o.Momentum, Algorithm = o.Key == "momentum" ? "sgd" : o.Key })
                .Optimizer.Replace("0.01", "lr", StringComparison.Ordinal)).ToArray()),
            ["smoothing_alpha"] = SmoothingAlpha,
        });
        RunFiles.WriteMetrics(folder, [.. trained.SelectMany(t => t.runs)]);
        string checkpoint = RunFiles.CopyCheckpoint(folder, shownRun);

        // The curves are the first seed's: every seed's would crowd the panels, and the table gives the spread.
        int seed0 = context.Seed;
        var groups = rates.GroupBy(r => r.Key).Select(g => (Label: g.First().Label, Curves: g.Select(r => r.Curves[0]).ToList())).ToList();
        Plots.Panels(folder.File("loss_per_iteration.png"), $"training loss per step (EMA-smoothed), one panel per optimizer, seed {seed0}", "step",
            "loss (nats)", groups.Select(g => (g.Label, (IReadOnlyList<Series>)g.Curves.Select((e, i) => new Series(
                $"lr {Lr(e.Lr)}{(e.Verdict == Verdicts.Divergent ? " (divergent)" : "")}",
                e.Smoothed.Select((_, k) => k + 1.0).ToArray(), e.Smoothed, Group: i)).ToList())).ToList(), logY: true);
        Plots.Panels(folder.File("loss_per_epoch.png"), $"loss per epoch: training (dashed) and validation (solid), seed {seed0}", "epoch",
            "loss (nats)", groups.Select(g => (g.Label, (IReadOnlyList<Series>)g.Curves.SelectMany((e, i) =>
            {
                var h = e.Run.Result.History;
                double[] x = h.Select(m => (double)m.Epoch).ToArray();
                return new[]
                {
                    new Series($"lr {Lr(e.Lr)} train", x, h.Select(m => m.TrainLoss).ToArray(), Dashed: true, Group: i),
                    new Series($"lr {Lr(e.Lr)} validation", x, h.Select(m => m.ValidationLoss).ToArray(), Group: i),
                };
            }).ToList())).ToList(), logY: true);

        var summary = RunFiles.ModelSummary(shownRun, checkpoint);
        summary["chosen"] = chosen.Name;
        summary["chosen_validation_accuracy"] = chosen.ValidationAccuracy.ToJson();
        summary["chosen_test_accuracy"] = chosen.TestAccuracy.ToJson();
        summary["seeds"] = new JsonArray(context.Seeds.Select(s => (JsonNode)s).ToArray());
        summary["learning_rates"] = new JsonArray(LearningRates.Select(l => (JsonNode)l).ToArray());
        var byOptimizer = new JsonObject();
        foreach (var g in rates.GroupBy(r => r.Key))
            byOptimizer[g.Key] = new JsonObject(g.Select(r => KeyValuePair.Create(Lr(r.Lr), (JsonNode?)RateJson(r))));
        summary["optimizers"] = byOptimizer;
        summary["best_learning_rate"] = new JsonObject(best.Select(p => KeyValuePair.Create(p.Key, p.Value is null ? null : (JsonNode?)p.Value.Rate.Lr)));
        summary["best_rate"] = new JsonObject(best.Select(p => KeyValuePair.Create(p.Key, p.Value is null ? null : (JsonNode?)new JsonObject
        {
            ["learning_rate"] = p.Value.Rate.Lr,
            ["validation_accuracy"] = p.Value.Rate.ValidationAccuracy.ToJson(),
            ["test_accuracy"] = p.Value.Rate.TestAccuracy.ToJson(),
            ["tied_with"] = new JsonArray(p.Value.Tied.Select(t => (JsonNode)t.Lr).ToArray()),
            ["runner_up"] = p.Value.RunnerUp is { } r ? r.Lr : null,
            ["margin_over_runner_up"] = p.Value.Margin?.ToJson(),
            ["margin_verdict"] = p.Value.Margin?.Word(),
        })));
        folder.WriteJson("summary.json", summary);

        foreach (var (key, b) in best)
        {
            var label = Optimizers.Single(o => o.Key == key).Label;
            string verdicts = string.Join(", ", rates.Where(r => r.Key == key).Select(r => $"lr {Lr(r.Lr)} {r.Verdict}"));
            context.Console.WriteLine(b is null
                ? $"{label}: no rate trains on every seed; {verdicts}"
                : $"{label}: best lr {Lr(b.Rate.Lr)}, validation {b.Rate.ValidationAccuracy.Describe(RunFiles.Pct)}" +
                  (b.Margin is null ? "" : $", ahead of lr {Lr(b.RunnerUp!.Lr)} by {b.Margin.DescribeDifference(RunFiles.Points)}") + $"; {verdicts}");
        }
        context.Console.WriteLine($"best by mean validation accuracy: {chosen.Name}, test {chosen.TestAccuracy.Describe(RunFiles.Pct)}");
        context.Finish(Report(rates, best, chosen, context.Seeds, context.Footer()));
    }

    /// <summary>
    /// Judges every run and picks the best rates: first each run's divergence on its own curve; then each optimizer's best rate
    /// by mean validation accuracy over the seeds (of the rates no seed found divergent), with the rates tied with it (the paired
    /// difference within noise); then, seed by seed, the other rates against the best rate's run of the same seed. The rates the
    /// rules compare with are thus chosen over the seeds, not per seed, so a seed's hair-thin lead cannot flip a verdict.
    /// </summary>
    internal static (Dictionary<string, Best?> Best, Rate Chosen) JudgeAll(IReadOnlyList<Rate> rates)
    {
        foreach (var c in rates.SelectMany(r => r.Curves)) JudgeDivergence(c);
        var best = rates.GroupBy(r => r.Key).ToDictionary(g => g.Key, g => BestOf(g));
        var seeds = rates.SelectMany(r => r.Seeds).Distinct().ToList();
        foreach (int seed in seeds)
            foreach (var g in rates.GroupBy(r => r.Key))
                if (best[g.Key] is { } b)
                    Judge(g.Select(r => r.Curves.Single(c => c.Seed == seed)).ToList(), b);
        var chosen = BestOf(rates)?.Rate ?? rates.MaxBy(r => double.IsFinite(r.ValidationAccuracy.Mean) ? r.ValidationAccuracy.Mean : -1)!;
        return (best, chosen);
    }

    private static JsonObject RateJson(Rate r)
    {
        var runs = r.Curves;
        return new JsonObject
        {
            ["name"] = r.Name,
            ["optimizer"] = runs[0].Run.Config.Optimizer,
            ["verdict"] = r.Verdict,
            ["reason"] = r.Why,
            ["verdicts"] = new JsonArray(runs.Select(c => (JsonNode)new JsonObject { ["seed"] = c.Seed, ["verdict"] = c.Verdict, ["reason"] = c.Why }).ToArray()),
            ["diverged"] = r.DivergentSeeds > 0,
            ["divergent_seeds"] = r.DivergentSeeds,
            ["non_finite_loss_seeds"] = runs.Count(c => c.Diverged),
            ["validation_accuracy"] = r.ValidationAccuracy.ToJson(),
            ["test_accuracy"] = r.TestAccuracy.ToJson(),
            ["final_train_loss"] = r.Of(c => c.FinalTrainLoss).ToJson(),
            ["final_validation_loss"] = r.FinalValidationLoss.ToJson(),
            ["final_smoothed_step_loss"] = r.Of(c => c.End).ToJson(),
            ["loss_rise_last_third"] = r.Of(c => c.Rise).ToJson(),
            ["roughness"] = r.Of(c => c.Roughness).ToJson(),
            ["epochs_trained"] = new JsonArray(runs.Select(c => (JsonNode)c.Run.Result.History.Count).ToArray()),
        };
    }

    // The best rate of the given ones by mean validation accuracy (ties: the lower mean final validation loss), among the
    // rates that trained on every seed; null when none did.
    private static Best? BestOf(IEnumerable<Rate> rates)
    {
        var ranked = rates.Where(r => r.DivergentSeeds == 0)
            .OrderByDescending(r => r.ValidationAccuracy.Mean).ThenBy(r => r.FinalValidationLoss.Mean).ToList();
        if (ranked.Count == 0) return null;
        var runnerUp = ranked.Count > 1 ? ranked[1] : null;
        var tied = ranked.Skip(1).Where(r => r.ValidationAccuracy.N > 1 && Estimate.Paired(ranked[0].ValidationAccuracy, r.ValidationAccuracy).Verdict == Verdict.WithinNoise).ToList();
        return new Best(ranked[0], runnerUp, runnerUp is null ? null : Estimate.Paired(ranked[0].ValidationAccuracy, runnerUp.ValidationAccuracy)) { Tied = tied };
    }

    private static double Mean(IEnumerable<double> v) => v.DefaultIfEmpty(double.NaN).Average();

    // A run's own curve: divergent when its loss became NaN or infinite or blew up; its statistics for the other rules.
    private static void JudgeDivergence(Curve e)
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
        e.Verdict = "";
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

    // The rules on one optimizer's runs of one seed, against the run of the optimizer's best rate (chosen over the seeds):
    // good (the best rate, or one tied with it), oscillating, too slow, usable.
    private static void Judge(List<Curve> entries, Best reference)
    {
        var best = entries.Single(e => e.Lr == reference.Rate.Lr);
        var tied = reference.Tied.Select(t => t.Lr).ToHashSet();
        best.Verdict = Verdicts.Good;
        best.Why = string.Create(CultureInfo.InvariantCulture,
            $"the highest mean validation accuracy of its optimizer over the seeds (this seed: {RunFiles.Pct(best.ValidationAccuracy)}, final validation loss {best.FinalValidationLoss:F4})");
        double bestDrop = best.Start - best.End;
        foreach (var e in entries.Where(e => e != best && e.Verdict == ""))
        {
            double drop = e.Start - e.End;
            double roughLimit = RoughnessFactor * best.Roughness;
            if (tied.Contains(e.Lr))
            {
                e.Verdict = Verdicts.Good;
                e.Why = string.Create(CultureInfo.InvariantCulture,
                    $"its mean validation accuracy is within the noise of the best rate's (lr {Lr(best.Lr)}), paired by seed (this seed: {RunFiles.Pct(e.ValidationAccuracy)})");
            }
            else if (e.Rise > RiseShare || e.Roughness > roughLimit)
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
                    $"the loss fell only from {e.Start:F3} to {e.End:F3}, {Math.Max(0, drop / bestDrop) * 100:F0}% of the drop at lr {Lr(best.Lr)}, " +
                    $"although its rate is larger: its steps overshoot");
            }
            else if (bestDrop > 0 && drop < SlowShare * bestDrop)
            {
                e.Verdict = Verdicts.TooSlow;
                e.Why = string.Create(CultureInfo.InvariantCulture,
                    $"the loss fell only from {e.Start:F3} to {e.End:F3}, {Math.Max(0, drop / bestDrop) * 100:F0}% of the drop at lr {Lr(best.Lr)}");
            }
            else
            {
                e.Verdict = Verdicts.Usable;
                e.Why = string.Create(CultureInfo.InvariantCulture,
                    $"it learns steadily (loss {e.Start:F3} to {e.End:F3}) but reaches a lower validation accuracy ({RunFiles.Pct(e.ValidationAccuracy)}) than lr {Lr(best.Lr)}");
            }
        }
    }

    private static string Lr(double lr) => lr.ToString(CultureInfo.InvariantCulture);

    /// <summary>The report's words, from the judged rates alone (the plots are written by <see cref="Analyse"/>).</summary>
    internal static string Report(IReadOnlyList<Rate> rates, IReadOnlyDictionary<string, Best?> best, Rate chosen, IReadOnlyList<int> seeds, string footer)
    {
        var first = rates[0].Curves[0].Run;
        var c = first.Config;
        var text = new StringBuilder();
        text.AppendLine("# Optimizers and learning rates");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"A {c.Model} network ({first.ParameterCount:N0} parameters) trained for {c.Epochs} epochs (batch {c.BatchSize}, " +
            $"constant rate) on {c.Train.Length:N0} training images with {c.Validation.Length:N0} validation images, by six optimizers " +
            $"(PyTorch's defaults apart from the rate: SGD, SGD with momentum 0.9, Nesterov momentum 0.9, Adagrad, RMSprop α = 0.99, " +
            $"Adam β = (0.9, 0.999)) at learning rates {string.Join(", ", LearningRates.Select(Lr))}, each with {seeds.Count} " +
            $"{(seeds.Count == 1 ? "seed" : "seeds")} ({string.Join(", ", seeds)}). Each seed draws its own training subset, validation " +
            $"images, initial weights and batch order; within a seed every optimizer and rate starts from the same weights and sees the same " +
            $"batches. The step losses are smoothed by an exponential moving average (weight {SmoothingAlpha} on the newest step, bias-corrected)."));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The verdicts follow from the curves by fixed rules, per optimizer and seed: **divergent** if the loss became NaN or infinite or the " +
            $"smoothed step loss ended above {BlowUpFactor}x the first step's loss, or the final training loss above it; of the rates no seed found " +
            $"divergent, the one with the highest mean validation accuracy over the seeds is **good**, and so is any rate whose validation accuracy, " +
            $"paired by seed, is within the noise of it (the other rules compare every seed's runs with that rate's run of the same seed); a rate whose smoothed loss ends more than " +
            $"{RiseShare * 100:F0}% above its minimum over the last third of the steps, or whose smoothed curve is rough there (the standard " +
            $"deviation of its step-to-step differences relative to its mean, above {RoughnessFactor}x the good rate's), is **oscillating**; one " +
            $"whose smoothed loss fell by less than {SlowShare * 100:F0}% of the good rate's drop is **too slow** when its rate is smaller than " +
            $"the good one and **oscillating** (overshooting) when it is larger; the rest are **usable**. A rate's verdict below is the one every " +
            $"seed gives it; where the seeds disagree it is **mixed** and each seed's verdict is listed."));
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        text.Append(RunFiles.Table(["optimizer", "lr", "validation acc. (95% CI)", "test acc. (95% CI)", "final train loss (mean)",
                "final validation loss (mean)", "verdict"],
            rates.Select(r => (IReadOnlyList<string>)[r == chosen ? $"**{r.Label}**" : r.Label, Lr(r.Lr), r.ValidationAccuracy.Describe(RunFiles.Pct),
                r.TestAccuracy.Describe(RunFiles.Pct), RunFiles.F4(r.Of(e => e.FinalTrainLoss).Mean), RunFiles.F4(r.FinalValidationLoss.Mean),
                r.Verdict switch { Verdicts.Good => $"**{r.Verdict}**", Verdicts.Mixed => $"mixed: {r.PerSeed}", _ => r.Verdict }]), "llrrrrl"));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Best configuration by mean validation accuracy: **{chosen.Label}, lr {Lr(chosen.Lr)}**, validation {chosen.ValidationAccuracy.Describe(RunFiles.Pct)}, " +
            $"test accuracy **{chosen.TestAccuracy.Describe(RunFiles.Pct)}**. The checkpoint is its seed-{first.Seed} run's best-validation epoch. " +
            $"A mean over the rates that come out on top is biased upwards a little (the best of several noisy numbers); the paired margins below say how clearly a rate wins."));
        text.AppendLine();
        text.AppendLine("## Which rate suits each optimizer");
        text.AppendLine();
        foreach (var g in rates.GroupBy(r => r.Key))
        {
            var b = best[g.Key];
            string head;
            if (b is null) head = $"- **{g.First().Label}**: no rate trains on every seed; ";
            else
            {
                string margin = b.Margin is null ? ""
                    : $"; ahead of lr {Lr(b.RunnerUp!.Lr)} by {b.Margin.DescribeDifference(RunFiles.Points)}" +
                      (b.Margin.Verdict == Verdict.WithinNoise ? ", so the seeds do not separate the two" : "");
                string ties = b.Tied.Count == 0 ? "" : $" (tied within noise with lr {string.Join(" and ", b.Tied.Select(t => Lr(t.Lr)))})";
                head = $"- **{g.First().Label}**: lr **{Lr(b.Rate.Lr)}**{ties} has the highest mean validation accuracy, {b.Rate.ValidationAccuracy.Describe(RunFiles.Pct)}{margin}. ";
            }
            text.AppendLine(head + string.Join("; ", g.Select(r => $"lr {Lr(r.Lr)} is {r.Verdict} ({r.Why})")) + ".");
        }
        text.AppendLine();
        text.AppendLine("The usual explanation of the pattern: plain SGD's step is the rate times the gradient; momentum 0.9 adds up about " +
            "1/(1 − 0.9) = 10 gradients, so the same rate makes about ten times larger steps and the suitable rate is smaller. Adagrad, " +
            "RMSprop and Adam divide each parameter's step by a running root mean square of its gradient, which makes the step about the " +
            "rate itself whatever the gradient's scale: they suit small rates, and large ones move every weight by about the rate at every " +
            "step. " + Pattern(best));
        text.AppendLine();
        text.AppendLine($"The curves are seed {first.Seed}'s runs (one panel per optimizer, one line per rate):");
        text.AppendLine();
        text.AppendLine("![per-step loss](loss_per_iteration.png)");
        text.AppendLine();
        text.AppendLine("![per-epoch loss](loss_per_epoch.png)");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(chosen.Curves[0].Run.Normalization));
        text.AppendLine(footer);
        return text.ToString();
    }

    /// <summary>Whether these runs show the pattern the usual explanation predicts, from the best rates (and their ties).</summary>
    internal static string Pattern(IReadOnlyDictionary<string, Best?> best)
    {
        IEnumerable<double> Good(string key) => best.GetValueOrDefault(key) is { } b ? b.Tied.Select(t => t.Lr).Append(b.Rate.Lr) : [];
        var sgd = Good("sgd").ToList();
        var momentum = Good("momentum").ToList();
        var adaptive = new[] { "adagrad", "rmsprop", "adam" }.SelectMany(Good).ToList();
        if (sgd.Count == 0 || momentum.Count == 0 || adaptive.Count == 0)
            return "Some optimizer has no rate that trains on every seed, so these runs cannot check that pattern.";
        bool momentumSmaller = momentum.Min() < sgd.Min();
        bool adaptiveSmall = adaptive.Max() < sgd.Max();
        return (momentumSmaller, adaptiveSmall) switch
        {
            (true, true) => "These runs follow it: momentum's good rates start below plain SGD's, and the adaptive optimizers' good rates are all below SGD's largest good rate.",
            (false, false) => "These runs do not follow it: neither does momentum's smallest good rate lie below plain SGD's, nor are the adaptive optimizers' good rates all below SGD's largest; the table is what these runs did.",
            (true, false) => "These runs follow it in part: momentum's good rates start below plain SGD's, but some adaptive optimizer's good rate is not below SGD's largest good rate.",
            _ => "These runs follow it in part: the adaptive optimizers' good rates are all below SGD's largest good rate, but momentum's smallest good rate is not below plain SGD's.",
        };
    }
}
