using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.Experiments;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;
using GpuNet.Training;

namespace GpuNet.Tests.Experiments;

/// <summary>
/// The report writers fed made-up results that flip each claim: every sentence that states a result must follow the numbers
/// (train above or below test, a test loss that rises or still falls, a cure that helps, hurts or is within noise), so a
/// sentence that stays the same whatever the run measured fails here.
/// </summary>
public sealed class ReportSentenceTests
{
    private const string Footer = "(footer)";

    /// <summary>One epoch: train loss and accuracy, validation accuracy, test loss and accuracy.</summary>
    internal readonly record struct E(double TrainLoss, double TrainAcc, double ValAcc, double TestLoss, double TestAcc);

    /// <summary>A run with the given epochs; the best epoch is the one with the highest validation accuracy (first on ties).</summary>
    internal static RunFigures Run(string name, int seed, IReadOnlyList<E> epochs, int trainImages = 2000, int testImages = 10000, long parameters = 669_706,
        Regularization? regularization = null, double lr = 0.01, IReadOnlyList<float>? steps = null, bool diverged = false)
    {
        var history = epochs.Select((e, i) => new EpochMetrics(i + 1, lr, e.TrainLoss, e.TrainLoss, e.TrainAcc, 0, e.TestLoss, e.ValAcc, e.TestLoss, e.TestAcc, 0)).ToList();
        int best = history.Select((m, i) => (m.ValidationAccuracy, i)).OrderByDescending(p => p.ValidationAccuracy).ThenBy(p => p.i).First().i + 1;
        var config = new TrainingConfig(name, new MlpSpec([512, 512]), lr, 0.9, 64, epochs.Count, false, "none", regularization ?? Regularization.None,
            new int[trainImages], new int[1000], seed);
        var chosen = history[best - 1];
        return new RunFigures(config, TrainResult.Restore(history, best, diverged, steps), chosen.TestLoss, (int)Math.Round(chosen.TestAccuracy * testImages), testImages,
            parameters, new Normalization(0.2862, 0.353));
    }

    // Curves that part: the test loss is lowest at epoch 3 and climbs to the end while the training loss keeps falling.
    internal static E[] Parting(double testAcc = 0.82, double shift = 0) =>
    [
        new(1.00, 0.70, 0.70 + shift, 0.90, 0.70 + shift), new(0.60, 0.80, 0.79 + shift, 0.60, 0.79 + shift), new(0.40, 0.88, testAcc + shift, 0.50, testAcc + shift),
        new(0.20, 0.95, testAcc - 0.005 + shift, 0.60, testAcc - 0.005 + shift), new(0.05, 1.00, testAcc - 0.01 + shift, 0.80, testAcc - 0.01 + shift),
    ];

    // Curves that do not part: both losses fall to the last epoch.
    internal static E[] Falling(double testAcc = 0.82) =>
    [
        new(1.00, 0.70, 0.70, 1.00, 0.70), new(0.80, 0.75, 0.75, 0.80, 0.75), new(0.70, 0.78, 0.78, 0.70, 0.78),
        new(0.60, 0.80, 0.80, 0.62, 0.80), new(0.55, 0.81, testAcc, 0.58, testAcc),
    ];

    private static string Mlp(E[] epochs, int trainImages = 54000)
    {
        var run = Run("mlp", 42, epochs, trainImages: trainImages, parameters: 235_146);
        var shown = new List<MlpExperiment.ShownImage> { new(0, 9, 9, 0.99), new(1, 2, 4, 0.6) };
        var seeds = new Dictionary<string, Estimate>
        {
            ["test_accuracy"] = Estimate.Of([42], [run.TestAccuracy]),
            ["test_loss"] = Estimate.Of([42], [run.TestLoss]),
            ["validation_accuracy"] = Estimate.Of([42], [run.Best.ValidationAccuracy]),
            ["best_epoch"] = Estimate.Of([42], [run.Result.BestEpoch]),
            ["shown_correct"] = Estimate.Of([42], [1.0]),
        };
        return MlpExperiment.Report(new MlpExperiment.MlpResults(run, shown, seeds), Footer);
    }

    [Fact]
    public void Mlp_says_train_above_test_below_test_or_within_noise_as_the_numbers_say()
    {
        // The selected epoch is the last: train 0.95 against test 0.88 on 10,000 images.
        string above = Mlp([new(0.5, 0.80, 0.80, 0.5, 0.80), new(0.2, 0.95, 0.88, 0.4, 0.88)]);
        Assert.Contains("is above the test accuracy", above);
        Assert.DoesNotContain("is below the test accuracy", above);
        Assert.DoesNotContain("within noise of each other", above);

        string below = Mlp([new(0.5, 0.70, 0.80, 0.5, 0.80), new(0.4, 0.80, 0.88, 0.4, 0.88)]);
        Assert.Contains("is below the test accuracy", below);
        Assert.DoesNotContain("is above the test accuracy", below);

        // 0.3 points apart on 10,000 test and 54,000 training images: within twice the standard error.
        string tied = Mlp([new(0.5, 0.70, 0.80, 0.5, 0.80), new(0.4, 0.883, 0.88, 0.4, 0.88)]);
        Assert.Contains("within noise of each other", tied);
        Assert.DoesNotContain("is above the test accuracy", tied);
        Assert.DoesNotContain("is below the test accuracy", tied);
    }

    [Fact]
    public void Mlp_says_the_test_loss_rose_only_when_it_did()
    {
        string rising = Mlp(Parting());
        Assert.Contains("while the training loss keeps falling", rising);
        Assert.DoesNotContain("does not rise at the end", rising);

        string falling = Mlp(Falling());
        Assert.Contains("does not rise at the end", falling);
        Assert.Contains("still falling", falling);
        Assert.DoesNotContain("keeps falling", falling);
    }

    private static string Overfit(params E[][] seeds)
    {
        var runs = seeds.Select((e, i) => Run("overfit", 42 + i, e)).ToList();
        var gaps = runs.Select(Gap.Of).ToList();
        var ids = runs.Select(r => r.Seed).ToList();
        var figures = new Dictionary<string, Estimate>
        {
            ["test_accuracy"] = Estimate.Of(ids, runs.Select(r => r.TestAccuracy)),
            ["min_test_loss_epoch"] = Estimate.Of(ids, gaps.Select(g => (double)g.MinTestLossEpoch)),
            ["min_test_loss"] = Estimate.Of(ids, gaps.Select(g => g.MinTestLoss)),
            ["final_test_loss"] = Estimate.Of(ids, gaps.Select(g => g.FinalTestLoss)),
            ["final_gap"] = Estimate.Of(ids, gaps.Select(g => g.FinalTestLoss - g.FinalTrainLoss)),
        };
        return OverfitExperiment.Report(new OverfitExperiment.OverfitResults(runs[0], gaps, figures), Footer);
    }

    [Fact]
    public void Overfit_explains_overfitting_only_when_the_curves_part()
    {
        string parting = Overfit(Parting());
        Assert.Contains("From there on the two curves part", parting);
        Assert.Contains("rather than the classes", parting);
        Assert.Contains("From epoch 5 the network classifies every training image right", parting);
        Assert.DoesNotContain("does not rise again", parting);

        string falling = Overfit(Falling());
        Assert.Contains("does not rise again", falling);
        Assert.Contains("too short", falling);
        Assert.DoesNotContain("curves part:", falling);
        Assert.DoesNotContain("rather than the classes", falling);
        Assert.DoesNotContain("every training image right", falling);

        // Over seeds: how many of them part is counted, not assumed.
        Assert.Contains("in 1 of the 2 seeds", Overfit(Parting(), Falling()));
        Assert.Contains("in 2 of the 2 seeds", Overfit(Parting(), Parting(0.83)));
    }

    private static string Augment(double[] gains, bool narrower = true)
    {
        var baselines = gains.Select((_, i) => Run("overfit", 42 + i, Parting(0.80 + 0.01 * i))).ToList();
        // The augmented run: the same curves moved by the gain, with a small final gap (narrower) or a large one.
        var augmented = gains.Select((g, i) =>
        {
            var e = Parting(0.80 + 0.01 * i, g);
            var last = e[^1];
            e[^1] = last with { TestLoss = narrower ? last.TrainLoss + 0.2 + 0.01 * i : last.TestLoss + 0.5 + 0.01 * i };
            return Run("augmented", 42 + i, e);
        }).ToList();
        return AugmentExperiment.Report(AugmentExperiment.AugmentResults.Of(baselines, augmented), Footer);
    }

    [Fact]
    public void Augment_calls_a_gain_a_loss_or_within_noise_by_the_paired_interval()
    {
        string gain = Augment([0.020, 0.021, 0.019]);
        Assert.Contains("augmentation helps beyond the noise of the seeds", gain);
        Assert.Contains(": a gain", gain);

        string loss = Augment([-0.020, -0.021, -0.019]);
        Assert.Contains("augmentation hurts here beyond the noise of the seeds", loss);
        Assert.DoesNotContain("helps beyond", loss);

        string noise = Augment([0.010, -0.010, 0.004]);
        Assert.Contains("the seeds do not tell the two apart", noise);
        Assert.DoesNotContain("helps beyond", noise);
        Assert.DoesNotContain("hurts here", noise);

        string one = Augment([0.02]);
        Assert.Contains("with one seed there is no interval", one);
    }

    [Fact]
    public void Augment_says_the_gap_narrows_only_when_the_paired_interval_says_so()
    {
        Assert.Contains("augmentation narrows the final gap between test and train loss beyond the noise", Augment([0.02, 0.021, 0.019], narrower: true));
        string wider = Augment([0.02, 0.021, 0.019], narrower: false);
        Assert.Contains("augmentation widens the final gap", wider);
        Assert.DoesNotContain("narrows the final gap", wider);
    }

    // A regularize setting whose seeds move by the given shifts from the unpenalised runs (accuracy, validation and test alike).
    private static RegularizeExperiment.Entry Setting(string kind, double strength, double[] shifts, double nearZero = 0.02) =>
        new(new RegularizeExperiment.Setting(kind, strength),
            shifts.Select((d, i) => Run(kind == "none" ? "overfit" : kind, 42 + i, Parting(0.80 + 0.01 * i, d))).ToList(),
            shifts.Select((_, i) => new OverfitSetup.WeightStatistics([nearZero, nearZero + 0.001 * i], nearZero, [1.0, 2.0])).ToList());

    private static string Regularize(double[] l2, double[] l1) => RegularizeExperiment.Report(
    [
        Setting("none", 0, [0, 0, 0]),
        Setting("L2", 1e-4, [0.001, -0.001, 0.0005]),
        Setting("L2", 1e-2, l2),
        Setting("L1", 1e-3, l1, nearZero: 0.9),
    ], Footer);

    [Fact]
    public void Regularize_names_the_cures_that_help_hurt_or_are_within_noise_by_their_paired_intervals()
    {
        string helps = Regularize(l2: [0.020, 0.021, 0.019], l1: [-0.050, -0.052, -0.049]);
        Assert.Contains("beyond the noise with: **L2=1e-2**; lower beyond the noise with: **L1=1e-3**", helps);
        Assert.Contains("Chosen by validation accuracy (the simplest setting that no other beats beyond the noise of the seeds): **L2=1e-2**", helps);
        Assert.Contains("the strongest L1 penalty does make the model sparser than no penalty", helps);

        // The strongest L2 now hurts and L1 helps: the sentences swap.
        string swapped = Regularize(l2: [-0.030, -0.031, -0.029], l1: [0.020, 0.021, 0.019]);
        Assert.Contains("beyond the noise with: **L1=1e-3**; lower beyond the noise with: **L2=1e-2**", swapped);

        // Everything within noise, L2=1e-2 ahead by a hair on the mean: no penalty is kept, and the report says why.
        string noise = Regularize(l2: [0.004, -0.002, 0.001], l1: [0.003, -0.004, 0.0005]);
        Assert.Contains("beyond the noise with: **none**; lower beyond the noise with: **none**", noise);
        Assert.Contains("**no penalty**", noise);
        Assert.Contains("The highest mean validation accuracy is L2=1e-2's", noise);
        Assert.Contains("Here that leaves a penalty nothing to add", noise);
        Assert.DoesNotContain("Here that leaves a penalty nothing to add", helps);
    }

    // One optimizer run: a step loss decaying from 2.3 to its end value (NaN from step 61 when it diverges), two epochs.
    private static OptimizersExperiment.Curve Optimizer(string key, double lr, int seed, double validation, bool diverges = false)
    {
        double end = 2.3 - 2.0 * validation;
        var steps = Enumerable.Range(0, 120).Select(i => diverges && i >= 60 ? float.NaN : (float)(end + (2.3 - end) * Math.Exp(-i / 20.0))).ToList();
        var run = Run($"{key} lr={lr}", seed, [new(end + 0.2, validation - 0.05, validation - 0.05, end + 0.25, validation - 0.05), new(end, validation, validation, end + 0.05, validation)],
            lr: lr, steps: steps, diverged: diverges);
        var o = OptimizersExperiment.Optimizers.Single(x => x.Key == key);
        return new OptimizersExperiment.Curve(key, o.Label, lr, run);
    }

    private static string Optimizers(bool adamDiverges, double[] sgdAtOne)
    {
        var accuracy = new Dictionary<(string, double), Func<int, double>>
        {
            [("sgd", 0.001)] = _ => 0.70, [("sgd", 0.01)] = _ => 0.80, [("sgd", 0.1)] = _ => 0.85, [("sgd", 1)] = i => 0.85 + sgdAtOne[i],
            [("adam", 0.001)] = _ => 0.86, [("adam", 0.01)] = _ => 0.83, [("adam", 0.1)] = _ => 0.75, [("adam", 1)] = _ => 0.60,
        };
        var rates = accuracy.Select(a => new OptimizersExperiment.Rate(a.Key.Item1, OptimizersExperiment.Optimizers.Single(o => o.Key == a.Key.Item1).Label, a.Key.Item2,
            Enumerable.Range(0, 3).Select(i => Optimizer(a.Key.Item1, a.Key.Item2, 42 + i, a.Value(i) + 0.001 * i,
                diverges: adamDiverges && a.Key == ("adam", 1.0))).ToList())).ToList();
        var (best, chosen) = OptimizersExperiment.JudgeAll(rates);
        return OptimizersExperiment.Report(rates, best, chosen, [42, 43, 44], Footer);
    }

    private static string Line(string report, string start) => report.Split('\n').Single(l => l.StartsWith(start, StringComparison.Ordinal));

    [Fact]
    public void Optimizers_calls_a_rate_divergent_only_when_it_diverged_and_ties_only_within_noise()
    {
        string diverging = Optimizers(adamDiverges: true, sgdAtOne: [0.002, -0.003, 0.0005]);
        Assert.Contains("lr 1 is divergent (every seed; seed 42: the loss became NaN or infinite at step 61)", Line(diverging, "- **Adam**"));
        Assert.Contains("lr **0.001** has the highest mean validation accuracy", Line(diverging, "- **Adam**"));
        Assert.Contains("ahead of lr 0.01 by +3.00 pp (95% CI +3.00 pp to +3.00 pp, 3 seeds): a gain", Line(diverging, "- **Adam**"));
        // SGD at lr 1 is a hair below lr 0.1 on the mean and within noise of it: tied, and good too.
        var sgd = Line(diverging, "- **SGD**");
        Assert.Contains("lr **0.1** (tied within noise with lr 1)", sgd);
        Assert.Contains("lr 1 is good", sgd);
        Assert.Contains("so the seeds do not separate the two", sgd);

        string stable = Optimizers(adamDiverges: false, sgdAtOne: [-0.03, -0.031, -0.029]);
        Assert.DoesNotContain("lr 1 is divergent", Line(stable, "- **Adam**"));
        var sgdStable = Line(stable, "- **SGD**");
        Assert.DoesNotContain("tied within noise", sgdStable);
        Assert.DoesNotContain("lr 1 is good", sgdStable);
        Assert.Contains("ahead of lr 1 by +3.00 pp", sgdStable);
    }

    // One metric's uniform and distance votes with the given test errors by k (leave-one-out errors follow the test errors).
    private static string Knn(double[] errors, int test = 10000)
    {
        int[] ks = [1, 3, 5, 7, 9, 15, 25, 51, 101, 201];
        List<KnnExperiment.Point> Line(global::GpuNet.Kernels.KnnWeights w) => ks.Select((k, i) => new KnnExperiment.Point(k, global::GpuNet.Neighbors.KnnMetric.L2, w,
            (int)Math.Round(errors[i] * 5000), i == 0 ? 0 : (int)Math.Round(errors[i] * 4000), 5000, (int)Math.Round(errors[i] * test), test)).ToList();
        return KnnExperiment.Reading(Line(global::GpuNet.Kernels.KnnWeights.Uniform), Line(global::GpuNet.Kernels.KnnWeights.Distance));
    }

    [Fact]
    public void Knn_says_where_the_error_is_lowest_and_calls_close_k_within_noise()
    {
        string small = Knn([0.150, 0.142, 0.135, 0.137, 0.140, 0.145, 0.150, 0.160, 0.170, 0.190]);
        Assert.Contains("The test error is lowest at k = 5, 13.50%", small);
        Assert.Contains("within noise of it: k = 3, 5, 7, 9", small);
        Assert.Contains("**Large k, bias.**", small);
        Assert.Contains("**Leave-one-out picks a good k.**", small);

        // The error falls all the way to the largest k: no bias shows, the lowest is at k = 201.
        string large = Knn([0.190, 0.180, 0.170, 0.165, 0.160, 0.155, 0.150, 0.145, 0.140, 0.130]);
        Assert.Contains("The test error is lowest at k = 201", large);
        Assert.DoesNotContain("**Large k, bias.**", large);
        Assert.Contains("within noise of the lowest test error", large);

        // A flat curve on 1,000 test images: k = 1 is within noise of the lowest, so no gain from averaging is claimed.
        string flat = Knn([0.150, 0.149, 0.147, 0.148, 0.149, 0.150, 0.151, 0.150, 0.152, 0.153], test: 1000);
        Assert.Contains("**No clear gain from averaging here.**", flat);
        Assert.DoesNotContain("Averaging helps", flat);
        Assert.DoesNotContain("**Large k, bias.**", flat);
    }

    [Fact]
    public void Dropout_table_states_the_1_over_p_keep_factor_only_when_the_tables_show_it()
    {
        var x = DropoutTable.Output;
        float[,] Scaled(float f) { var m = (float[,])x.Clone(); for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) m[i, j] *= f; return m; }
        var right = new DropoutTable.Result(0.5f, Scaled(1), Scaled(0.5f), Scaled(2), Scaled(1));
        Assert.Contains("they differ only by the constant", DropoutTable.Factor(right));
        var wrong = right with { InvertedTrain = Scaled(1) };
        Assert.Contains("are not the standard ones times 1/p_keep", DropoutTable.Factor(wrong));
    }

    // ----- the README's results table ----------------------------------------------------------------------------------

    private static JsonObject EstimateJson(double mean, double std, double low, double high, int n = 3) => new()
    {
        ["mean"] = mean, ["std"] = std, ["ci95"] = new JsonArray(low, high), ["n"] = n,
    };

    private static string Table(double gainLow, double gainHigh, bool mlpOk = true)
    {
        var index = new JsonObject
        {
            ["seed"] = 42, ["quick"] = false, ["device"] = "cpu", ["total_seconds"] = 600.0,
            ["experiments"] = new JsonArray(
                new JsonObject { ["name"] = "augment", ["ok"] = true, ["seconds"] = 20.0 },
                new JsonObject { ["name"] = "mlp", ["ok"] = mlpOk, ["seconds"] = 30.0, ["error"] = mlpOk ? null : "run mlp-s42 failed: boom" }),
        };
        var files = new Dictionary<(string, string), JsonObject>
        {
            [("augment", "summary.json")] = new()
            {
                ["augment"] = "shift:1,rot:5",
                ["over_seeds"] = new JsonObject
                {
                    ["overfit_test_accuracy"] = EstimateJson(0.8255, 0.0040, 0.8155, 0.8355),
                    ["augmented_test_accuracy"] = EstimateJson(0.8311, 0.0030, 0.8236, 0.8386),
                    ["test_accuracy_gain"] = EstimateJson((gainLow + gainHigh) / 2, 0.002, gainLow, gainHigh),
                    ["overfit_final_gap"] = EstimateJson(0.81, 0.02, 0.76, 0.86),
                    ["augmented_final_gap"] = EstimateJson(0.38, 0.02, 0.33, 0.43),
                    ["final_gap_change"] = EstimateJson(-0.43, 0.02, -0.48, -0.38),
                },
            },
            [("augment", "config.json")] = new() { ["seeds"] = new JsonArray(42, 43, 44) },
            [("mlp", "summary.json")] = new()
            {
                ["test_accuracy"] = 0.9027, ["best_epoch"] = 28, ["epochs_trained"] = 30,
                ["over_seeds"] = new JsonObject { ["test_accuracy"] = new JsonObject { ["mean"] = 0.9027, ["n"] = 1 } },
            },
            [("mlp", "config.json")] = new() { ["seeds"] = new JsonArray(42) },
        };
        return ResultsTable.Markdown(index, (name, file) => files.TryGetValue((name, file), out var o) ? o : null);
    }

    [Fact]
    public void Results_table_follows_the_summaries_means_stds_and_paired_intervals()
    {
        string gain = Table(0.001, 0.010);
        var augment = gain.Split('\n').Single(l => l.StartsWith("| `augment`", StringComparison.Ordinal));
        Assert.Contains("83.11% ± 0.30 pp (3 seeds)", augment);
        Assert.Contains("82.55% ± 0.40 pp (3 seeds)", augment);
        Assert.Contains("+0.55 pp (95% CI +0.10 pp to +1.00 pp, 3 seeds): a gain", augment);
        // A narrower gap is the good direction.
        Assert.Contains("-0.4300 (95% CI -0.4800 to -0.3800, 3 seeds): a gain", augment);
        Assert.Contains("3 (42, 43, 44)", augment);
        Assert.Contains("20.0 s", augment);

        var noise = Table(-0.002, 0.010).Split('\n').Single(l => l.StartsWith("| `augment`", StringComparison.Ordinal));
        Assert.Contains("+0.40 pp (95% CI -0.20 pp to +1.00 pp, 3 seeds): within noise", noise);
        Assert.DoesNotContain("pp, 3 seeds): a gain", noise);
        var loss = Table(-0.010, -0.002).Split('\n').Single(l => l.StartsWith("| `augment`", StringComparison.Ordinal));
        Assert.Contains("3 seeds): a loss", loss);

        var mlp = gain.Split('\n').Single(l => l.StartsWith("| `mlp`", StringComparison.Ordinal));
        Assert.Contains("90.27%", mlp);
        var failed = Table(0.001, 0.010, mlpOk: false).Split('\n').Single(l => l.StartsWith("| `mlp`", StringComparison.Ordinal));
        Assert.Contains("**failed**: run mlp-s42 failed: boom", failed);
        Assert.Contains("on `cpu`, first seed 42", gain);
    }
}
