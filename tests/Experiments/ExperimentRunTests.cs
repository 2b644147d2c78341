using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace GpuNet.Tests.Experiments;

/// <summary>
/// Every training experiment run with <c>--quick</c> on a small generated Fashion-MNIST-shaped data set (no network):
/// the run folder's files, reproducibility from the seed, and the checkpoint evaluated again by <c>gpunet eval</c>.
/// </summary>
[Collection("devices")]
public sealed partial class ExperimentRunTests(TinyFashion tiny) : IClassFixture<TinyFashion>
{
    public static readonly TheoryData<string> Names = ["mlp", "overfit", "augment", "regularize", "combo", "optimizers", "l1-vs-l2", "distill"];

    /// <summary>The lowest test accuracy a run that learned anything reaches on the tiny data (chance is 0.1); see the quick run test.</summary>
    private const double MinLearnedAccuracy = 0.5;

    private static JsonNode Json(string dir, string file) => JsonNode.Parse(File.ReadAllText(Path.Combine(dir, file)))!;

    // A quick run with --seeds (seeds 42, 43, ...) into its own folder.
    private TinyFashion.QuickRun RunSeeds(string name, int seeds)
    {
        string dir = Path.Combine(tiny.Root, "runs", $"{name}-seeds{seeds}");
        var (code, output, err) = TinyFashion.Cli("run", name, "--quick", "--device", "cpu", "--seeds", $"{seeds}", "--data", tiny.DataDir, "--out", dir);
        return new TinyFashion.QuickRun(code, output, err, dir);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Quick_run_writes_config_metrics_summary_checkpoint_plots_and_a_report_that_embeds_them(string name)
    {
        var run = tiny.Run(name);
        Assert.True(run.Code == 0, run.Err + run.Out);
        Assert.Contains("epoch 1/", run.Out); // plain progress lines when the output is not a terminal

        var config = Json(run.Dir, "config.json");
        Assert.Equal(name, config["experiment"]!.GetValue<string>());
        Assert.True(config["quick"]!.GetValue<bool>());

        var summary = Json(run.Dir, "summary.json");
        double accuracy = summary["test_accuracy"]!.GetValue<double>(), loss = summary["test_loss"]!.GetValue<double>();
        // The tiny data's ten classes are bars at ten places, which a trained network tells apart; a network that did not learn
        // maps each class's look-alike images to one output, and scores about chance (0.1: k/10 when it maps k classes to
        // themselves by luck, and 5 or more of 10 has a probability near 0.002). A working run is far above half even after
        // one epoch (0.65 to 1 over seeds 7 and 42 with --epochs 1, the lowest the distill student on 10 labelled images),
        // so half separates the two without depending on how many epochs a quick plan trains.
        Assert.InRange(accuracy, MinLearnedAccuracy, 1);
        // 0 is possible: on the tiny data a model can separate every test image with a margin that float32's softmax rounds to certainty.
        Assert.True(loss >= 0 && double.IsFinite(loss), $"test loss {loss}");
        Assert.Equal(TinyFashion.TestPerClass * 10, summary["test_images"]!.GetValue<int>());
        Assert.Equal(accuracy, summary["test_correct"]!.GetValue<int>() / (double)summary["test_images"]!.GetValue<int>());
        Assert.True(summary["best_epoch"]!.GetValue<int>() >= 1);
        Assert.NotNull(summary["config"]);
        string checkpoint = summary["checkpoint"]!.GetValue<string>();
        Assert.False(Path.IsPathRooted(checkpoint));
        Assert.True(File.Exists(Path.Combine(run.Dir, checkpoint)), checkpoint);

        // metrics.csv: a header and one row per (run, epoch), with no wall times (those are in timing.csv).
        var metrics = File.ReadAllLines(Path.Combine(run.Dir, "metrics.csv"));
        // Experiments on the engine put each row's seed after the run's name.
        Assert.Matches("^run,(seed,)?epoch,", metrics[0]);
        int columns = metrics[0].Split(',').Length;
        Assert.DoesNotContain("second", metrics[0]);
        var timing = File.ReadAllLines(Path.Combine(run.Dir, "timing.csv"));
        Assert.Equal(metrics.Length, timing.Length);
        Assert.True(metrics.Length > 1);
        Assert.All(metrics.Skip(1), row => Assert.Equal(columns, row.Split(',').Length));

        // report.md embeds every plot the run wrote, and every image it embeds exists.
        string report = File.ReadAllText(Path.Combine(run.Dir, "report.md"));
        var embedded = ImageLinks().Matches(report).Select(m => m.Groups[1].Value).ToHashSet();
        var plots = Directory.GetFiles(run.Dir, "*.png").Select(Path.GetFileName).ToHashSet();
        Assert.NotEmpty(plots);
        Assert.Equal(plots.Order(), embedded.Order());
        Assert.Contains("--quick", report);
        Assert.Empty(Directory.GetFiles(run.Dir, "*.tmp"));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Eval_of_the_checkpoint_reproduces_the_summarys_test_accuracy(string name)
    {
        var run = tiny.Run(name);
        Assert.True(run.Code == 0, run.Err);
        var summary = Json(run.Dir, "summary.json");
        string checkpoint = Path.Combine(run.Dir, summary["checkpoint"]!.GetValue<string>());
        var (code, output, err) = TinyFashion.Cli("eval", "--checkpoint", checkpoint, "--device", "cpu", "--data", tiny.DataDir);
        Assert.True(code == 0, err);
        var m = EvalLine().Match(output);
        Assert.True(m.Success, output);
        Assert.Equal(summary["test_correct"]!.GetValue<int>(), int.Parse(m.Groups["correct"].Value, CultureInfo.InvariantCulture));
        Assert.Equal(summary["test_images"]!.GetValue<int>(), int.Parse(m.Groups["total"].Value, CultureInfo.InvariantCulture));
        Assert.Equal(summary["test_loss"]!.GetValue<double>().ToString("F6", CultureInfo.InvariantCulture), m.Groups["loss"].Value);
        // The accuracy the summary reports is the checkpoint's, counted again here.
        Assert.Equal(int.Parse(m.Groups["correct"].Value, CultureInfo.InvariantCulture) / (double)int.Parse(m.Groups["total"].Value, CultureInfo.InvariantCulture),
            summary["test_accuracy"]!.GetValue<double>());
    }

    [Fact]
    public void Same_seed_and_device_give_bit_identical_metrics_and_another_seed_does_not()
    {
        // combo has every source of randomness: initialisation, shuffles, augmentation and dropout masks.
        var a = tiny.Run("combo");
        var b = tiny.Run("combo", tag: "-again");
        var c = tiny.Run("combo", seed: 7);
        Assert.True(a.Code == 0 && b.Code == 0 && c.Code == 0, a.Err + b.Err + c.Err);
        string metricsA = File.ReadAllText(Path.Combine(a.Dir, "metrics.csv"));
        Assert.Equal(metricsA, File.ReadAllText(Path.Combine(b.Dir, "metrics.csv")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(a.Dir, "model.safetensors")), File.ReadAllBytes(Path.Combine(b.Dir, "model.safetensors")));
        Assert.NotEqual(metricsA, File.ReadAllText(Path.Combine(c.Dir, "metrics.csv")));
    }

    [Fact]
    public void Combos_early_stopping_is_the_overfit_run_and_its_comparisons_are_paired_by_seed()
    {
        var overfit = tiny.Run("overfit");
        var combo = tiny.Run("combo");
        Assert.True(overfit.Code == 0 && combo.Code == 0, overfit.Err + combo.Err);
        // Early stopping is the run overfit plans (same key, same hash), so `run all` fits it once for both.
        static string Hash(string dir) => Json(Path.Combine(dir, "runs", "overfit-s42"), "config.json")["hash"]!.GetValue<string>();
        Assert.Equal(Hash(overfit.Dir), Hash(combo.Dir));
        // The rows of one run and seed without the run's name and seed.
        static IEnumerable<string> Rows(string dir, string run, int seed) =>
            File.ReadAllLines(Path.Combine(dir, "metrics.csv")).Skip(1).Where(r => r.StartsWith($"{run},{seed},", StringComparison.Ordinal))
                .Select(r => r[$"{run},{seed},".Length..]);
        var expected = Rows(overfit.Dir, "overfit", 42).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, Rows(combo.Dir, "overfit", 42));
        var summary = Json(combo.Dir, "summary.json");
        Assert.Equal(Json(overfit.Dir, "summary.json")["test_accuracy"]!.GetValue<double>(),
            summary["early_stopping"]!["test_accuracy"]!["values"]![0]!.GetValue<double>());
        // A quick run has two seeds: 2 overfit runs, 6 singles, 8 triples and 3 pairs on seed 42, the chosen combination and the
        // best single cure on 43.
        Assert.Equal(21, summary["runs"]!.GetValue<int>());
        Assert.Equal(17, summary["search"]!.AsArray().Count);
        foreach (string key in new[] { "chosen_vs_best_single", "chosen_vs_early_stopping", "best_single_vs_early_stopping" })
            AssertVerdictFitsInterval(summary[key]!, summary[key + "_verdict"]!.GetValue<string>(), key);
        // The chosen combination has the highest validation accuracy of the triples and pairs, the best single cure of the singles:
        // each searched run's validation accuracy is read from metrics.csv (its best epoch's, the highest), not from the summary.
        var search = summary["search"]!.AsArray();
        var rows = ReadMetrics(combo.Dir);
        // A searched run's key is its name and seed (name-s42); metrics.csv has them in two columns.
        double MetricsValidation(string runKey) =>
            rows.Where(r => $"{r.Run}-s{r.Seed}" == runKey && r.Seed == 42).Select(r => r.ValidationAccuracy).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();
        string RunOf(JsonNode? r) => r!["run"]!.GetValue<string>();
        Assert.All(search, r => Assert.Equal(MetricsValidation(RunOf(r)), r!["validation_accuracy"]!.GetValue<double>()));
        double Top(Func<string, bool> stage) => search.Where(r => stage(r!["stage"]!.GetValue<string>())).Max(r => MetricsValidation(RunOf(r)));
        string Label(string key) => summary[key]!["label"]!.GetValue<string>();
        double Validation(string label) => MetricsValidation(RunOf(search.First(r => r!["label"]!.GetValue<string>() == label)));
        Assert.Equal(Top(s => s != "single"), Validation(Label("chosen")));
        Assert.Equal(Top(s => s == "single"), Validation(Label("best_single")));
        // The later seeds' chosen runs train what the first seed's search chose.
        var choice = Json(Path.Combine(combo.Dir, "runs", "combo-chosen-s43"), "chosen.json");
        Assert.Equal(Label("chosen"), choice["label"]!.GetValue<string>());
        Assert.Equal(summary["chosen"]!["test_accuracy"]!["values"]![1]!.GetValue<double>(),
            Json(Path.Combine(combo.Dir, "runs", "combo-chosen-s43"), "summary.json")["test_accuracy"]!.GetValue<double>());
        // The searched runs measure the test set for the selected epoch only.
        Assert.All(File.ReadAllLines(Path.Combine(combo.Dir, "metrics.csv")).Skip(1).Where(r => r.StartsWith("combo-", StringComparison.Ordinal)),
            r => Assert.EndsWith("NaN,NaN", r));
    }

    // The verdict word a paired difference's interval allows.
    private static void AssertVerdictFitsInterval(JsonNode estimate, string word, string what)
    {
        var ci = estimate["ci95"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
        double mean = estimate["mean"]!.GetValue<double>();
        Assert.True(ci[0] <= mean && mean <= ci[1], $"{what}: mean {mean} outside [{ci[0]}, {ci[1]}]");
        Assert.Equal(ci[0] > 0 ? "a gain" : ci[1] < 0 ? "a loss" : "within noise", word);
    }

    [Theory]
    [InlineData("mlp", 1)]
    [InlineData("regularize", 7)]
    public void Quick_run_with_two_seeds_writes_a_run_folder_per_configuration_and_seed_and_intervals(string name, int configurations)
    {
        var run = tiny.Run(name, seeds: 2);
        Assert.True(run.Code == 0, run.Err + run.Out);
        var folders = Directory.GetDirectories(Path.Combine(run.Dir, "runs")).Select(Path.GetFileName).ToList();
        Assert.Equal(configurations * 2, folders.Count);
        Assert.Equal(configurations, folders.Count(f => f!.EndsWith("-s42", StringComparison.Ordinal)));
        Assert.Equal(configurations, folders.Count(f => f!.EndsWith("-s43", StringComparison.Ordinal)));
        Assert.All(folders, f => Assert.True(File.Exists(Path.Combine(run.Dir, "runs", f!, "summary.json")), f));
        var seeds = File.ReadAllLines(Path.Combine(run.Dir, "metrics.csv")).Skip(1).Select(r => r.Split(',')[1]).Distinct().Order().ToList();
        Assert.Equal(["42", "43"], seeds);
        var summary = Json(run.Dir, "summary.json");
        Assert.DoesNotContain("seconds", summary.ToJsonString());
        string report = File.ReadAllText(Path.Combine(run.Dir, "report.md"));
        Assert.Contains("95% CI", report);
        switch (name)
        {
            case "mlp":
                // It compares nothing: the spread of its figures, which are the run folders' own test accuracies.
                var accuracy = summary["over_seeds"]!["test_accuracy"]!;
                double[] perRun = [.. new[] { 42, 43 }.Select(seed => Json(Path.Combine(run.Dir, "runs", $"mlp-s{seed}"), "summary.json")["test_accuracy"]!.GetValue<double>())];
                Assert.Equal(2, accuracy["n"]!.GetValue<int>());
                Assert.Equal(perRun, accuracy["values"]!.AsArray().Select(v => v!.GetValue<double>()));
                Assert.Equal(perRun.Average(), accuracy["mean"]!.GetValue<double>(), 12);
                var ci = accuracy["ci95"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
                Assert.True(ci.Length == 2 && ci[0] <= perRun.Average() && perRun.Average() <= ci[1], $"interval [{string.Join(", ", ci)}]");
                Assert.Equal(perRun[0], summary["test_accuracy"]!.GetValue<double>());
                break;
            case "regularize":
                foreach (var r in summary["runs"]!.AsArray().Skip(1))
                {
                    var versus = r!["vs_overfit"]!;
                    AssertVerdictFitsInterval(versus["test_accuracy_difference"]!, versus["verdict"]!.GetValue<string>(), r["name"]!.GetValue<string>());
                    Assert.Equal(2, versus["test_accuracy_difference"]!["n"]!.GetValue<int>());
                }
                Assert.Contains("Paired by seed", report);
                break;
        }
    }

    [Fact]
    public void L1_vs_l2_writes_the_quiz_vectors_and_the_mlp_sparsity_over_seeds_with_paired_intervals()
    {
        var run = RunSeeds("l1-vs-l2", 2);
        Assert.True(run.Code == 0, run.Err + run.Out);
        var summary = Json(run.Dir, "summary.json");
        var quiz = summary["quiz"]!;
        float[] Vector(JsonNode node, string key) => node[key]!.AsArray().Select(v => (float)v!.GetValue<double>()).ToArray();
        var (none, l2, l1) = (Vector(quiz, "none"), Vector(quiz, "l2"), Vector(quiz, "l1"));
        Assert.All(new[] { none, l2, l1 }, w => Assert.Equal(4, w.Length));
        Assert.All(new[] { none, l2, l1 }, w => Close.Scalar(w.Sum(), 1, 0.06, 0, "Σw"));
        Assert.True(l2.Max() - l2.Min() < 0.02, "L2 spreads the weight evenly");
        Assert.Equal(3, l1.Count(w => w == 0f));
        Assert.InRange(l1.Max(), 0.9, 1.0);
        Assert.Equal(["identical", "noisy", "gains"], quiz["variants"]!.AsObject().Select(p => p.Key));
        Assert.True(File.ReadAllLines(Path.Combine(run.Dir, "quiz.csv")).Length > 9);
        // The quiz is one run (the first seed's), reading no images; the MLP sweep has a folder per setting and seed.
        Assert.Equal("none", Json(Path.Combine(run.Dir, "runs", "l1-vs-l2-quiz-s42"), "config.json")["data_sha256"]!.GetValue<string>());
        Assert.False(Directory.Exists(Path.Combine(run.Dir, "runs", "l1-vs-l2-quiz-s43")));
        Assert.All(new[] { 42, 43 }, seed => Assert.True(File.Exists(Path.Combine(run.Dir, "runs", $"l1-vs-l2-l1-1e-3-s{seed}", "model.safetensors")), $"seed {seed}"));

        var mlp = summary["mlp"]!;
        var runs = mlp["runs"]!.AsArray();
        Assert.Equal(11, runs.Count);
        double Mean(JsonNode r, string key) => r[key]!["mean"]!.GetValue<double>();
        Assert.All(runs, r => Assert.Equal(2, r!["exact_zero_fraction"]!["values"]!.AsArray().Count));
        Assert.All(runs, r => Assert.InRange(Mean(r!, "exact_zero_fraction"), 0, 1));
        Assert.Equal(0, Mean(runs[0]!, "exact_zero_fraction"));
        // The strongest proximal L1 setting has exact zeros; no L2 setting has any.
        var strongestL1 = runs.Where(r => r!["penalty"]!.GetValue<string>() == "L1").MaxBy(r => r!["strength"]!.GetValue<double>())!;
        Assert.True(Mean(strongestL1, "exact_zero_fraction") > 0);
        Assert.All(runs.Where(r => r!["penalty"]!.GetValue<string>() == "L2"), r => Assert.Equal(0, Mean(r!, "exact_zero_fraction")));
        var matched = mlp["matched"]!;
        Assert.StartsWith("L1=", matched["l1"]!.GetValue<string>());
        Assert.StartsWith("L2=", matched["l2"]!.GetValue<string>());
        // Paired comparisons carry an interval and a word that follows it.
        foreach (var (key, gain, loss) in new[] { ("test_gap", "a gain", "a loss"), ("near_zero_gap", "L1 has more", "L2 has more") })
        {
            var ci = matched[key]!["ci95"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
            Assert.True(ci[0] <= matched[key]!["mean"]!.GetValue<double>() && matched[key]!["mean"]!.GetValue<double>() <= ci[1]);
            Assert.Equal(ci[0] > 0 ? gain : ci[1] < 0 ? loss : "within noise", matched[key + "_verdict"]!.GetValue<string>());
        }
        Assert.Equal("proximal", summary["config"]!["l1_method"]!.GetValue<string>());
        Assert.Equal([42, 43], summary["seeds"]!.AsArray().Select(s => s!.GetValue<int>()));
        Assert.Equal(["run", "seed"], File.ReadLines(Path.Combine(run.Dir, "metrics.csv")).First().Split(',').Take(2));
    }

    [Fact]
    public void Dropout_table_is_one_run_of_the_engine_that_needs_no_data()
    {
        string dir = Path.Combine(tiny.Root, "runs", "dropout-table-engine");
        var (code, _, err) = TinyFashion.Cli("run", "dropout-table", "--device", "cpu", "--data", Path.Combine(tiny.Root, "no-such-folder"), "--out", dir);
        Assert.True(code == 0, err);
        var runs = Directory.GetDirectories(Path.Combine(dir, "runs"));
        Assert.Equal(["dropout-table-s42"], runs.Select(Path.GetFileName));
        Assert.Equal(Json(runs[0], "summary.json")["inverted"]!.ToJsonString(), Json(dir, "summary.json")["inverted"]!.ToJsonString());
        Assert.Null(Json(dir, "config.json")["data_sha256"]);
    }

    [Fact]
    public void Regularize_reports_the_near_zero_share_of_every_run()
    {
        var run = tiny.Run("regularize");
        Assert.True(run.Code == 0, run.Err);
        var runs = Json(run.Dir, "summary.json")["runs"]!.AsArray();
        Assert.Equal(7, runs.Count);
        Assert.Equal("overfit", runs[0]!["name"]!.GetValue<string>());
        Assert.All(runs, r => Assert.All(r!["near_zero_fraction"]!["values"]!.AsArray(), v => Assert.InRange(v!.GetValue<double>(), 0, 1)));
        Assert.All(runs, r => Assert.Equal(2, r!["near_zero_fraction_final"]!["n"]!.GetValue<int>())); // a quick run's two seeds
        // L1 at its strongest leaves more weights near zero than no penalty does.
        Assert.True(runs[^1]!["near_zero_fraction_final"]!["mean"]!.GetValue<double>() > runs[0]!["near_zero_fraction_final"]!["mean"]!.GetValue<double>());
    }

    /// <summary>One row of an experiment's metrics.csv, read by the test itself.</summary>
    private sealed record MetricsRow(string Run, int Seed, int Epoch, double RunningLoss, double TrainLoss, double ValidationLoss,
        double ValidationAccuracy, double TestAccuracy);

    private static List<MetricsRow> ReadMetrics(string dir)
    {
        var lines = File.ReadAllLines(Path.Combine(dir, "metrics.csv"));
        var header = lines[0].Split(',').ToList();
        int Col(string name)
        {
            int i = header.IndexOf(name);
            Assert.True(i >= 0, $"metrics.csv has no column {name}: {lines[0]}");
            return i;
        }
        int run = Col("run"), seed = Col("seed"), epoch = Col("epoch"), running = Col("running_loss"), train = Col("train_loss"),
            vloss = Col("validation_loss"), vacc = Col("validation_accuracy"), tacc = Col("test_accuracy");
        static double D(string v) => double.Parse(v, CultureInfo.InvariantCulture);
        return lines.Skip(1).Select(l => l.Split(',')).Select(f => new MetricsRow(f[run], int.Parse(f[seed], CultureInfo.InvariantCulture),
            int.Parse(f[epoch], CultureInfo.InvariantCulture), D(f[running]), D(f[train]), D(f[vloss]), D(f[vacc]), D(f[tacc]))).ToList();
    }

    [Fact]
    public void Optimizers_verdicts_and_best_rates_follow_from_the_runs_own_metrics_and_step_losses()
    {
        var run = RunSeeds("optimizers", 2);
        Assert.True(run.Code == 0, run.Err);
        Assert.True(File.Exists(Path.Combine(run.Dir, "loss_per_iteration.png")));
        Assert.True(File.Exists(Path.Combine(run.Dir, "loss_per_epoch.png")));
        var summary = Json(run.Dir, "summary.json");
        string[] known = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"];
        string[] verdicts = ["divergent", "good", "oscillating", "too slow", "usable"];
        static string Lr(double v) => v.ToString(CultureInfo.InvariantCulture);
        // The plan (optimizers, rates, seeds) is read from the summary and checked against the files, so a quick plan with
        // fewer of them still passes; what must hold is that the summary agrees with the runs.
        int[] seeds = summary["seeds"]!.AsArray().Select(v => v!.GetValue<int>()).ToArray();
        Assert.Equal([42, 43], seeds);
        string[] rates = summary["learning_rates"]!.AsArray().Select(v => Lr(v!.GetValue<double>())).ToArray();
        var byOptimizer = summary["optimizers"]!.AsObject();
        string[] optimizers = byOptimizer.Select(p => p.Key).ToArray();
        Assert.NotEmpty(rates);
        Assert.NotEmpty(optimizers);
        Assert.All(optimizers, o => Assert.Contains(o, known));
        var rows = ReadMetrics(run.Dir);
        Assert.Equal((from o in optimizers from lr in rates select $"{o} lr={lr}").Order(), rows.Select(r => r.Run).Distinct().Order());
        Assert.Equal(optimizers.Length * rates.Length * seeds.Length, Directory.GetDirectories(Path.Combine(run.Dir, "runs")).Length);
        int epochs = Json(run.Dir, "config.json")["epochs"]!.GetValue<int>();

        // What the test sees in each run's files: its validation accuracy (that of its best epoch, the highest), and whether its
        // loss diverged: a NaN or infinite loss anywhere, a final training loss above the first step's, or a step loss whose
        // moving average (weight 0.05 on the newest step, bias-corrected) ends above 1.5 times the first step's.
        var seen = new Dictionary<(string Optimizer, string Rate, int Seed), (double Validation, bool Divergent)>();
        foreach (string o in optimizers)
            foreach (string lr in rates)
                foreach (int seed in seeds)
                {
                    var mine = rows.Where(r => r.Run == $"{o} lr={lr}" && r.Seed == seed).OrderBy(r => r.Epoch).ToList();
                    Assert.InRange(mine.Count, 1, epochs);
                    var steps = File.ReadLines(Path.Combine(run.Dir, "runs", $"{o}-lr-{lr}-s{seed}", "steps.csv")).Skip(1)
                        .Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToList();
                    Assert.NotEmpty(steps);
                    double average = 0, weight = 0;
                    foreach (double v in steps.TakeWhile(double.IsFinite))
                    {
                        average = 0.95 * average + 0.05 * v;
                        weight = 0.95 * weight + 0.05;
                    }
                    bool nonFinite = steps.Any(v => !double.IsFinite(v))
                        || mine.Any(r => !double.IsFinite(r.RunningLoss) || !double.IsFinite(r.TrainLoss) || !double.IsFinite(r.ValidationLoss));
                    bool divergent = nonFinite || mine[^1].TrainLoss > steps[0] || weight == 0 || average / weight > 1.5 * steps[0];
                    var accuracies = mine.Select(r => r.ValidationAccuracy).Where(double.IsFinite).ToList();
                    seen[(o, lr, seed)] = (accuracies.Count > 0 ? accuracies.Max() : double.NaN, divergent);
                    if (!divergent) Assert.Equal(epochs, mine.Count); // only a diverged run stops early
                }

        double MeanValidation(string o, string lr) => seeds.Average(seed => seen[(o, lr, seed)].Validation);
        bool Trains(string o, string lr) => seeds.All(seed => !seen[(o, lr, seed)].Divergent);
        foreach (string o in optimizers)
        {
            var perRate = byOptimizer[o]!.AsObject();
            Assert.Equal(rates.Order(), perRate.Select(p => p.Key).Order());
            foreach (string lr in rates)
            {
                var r = perRate[lr]!;
                var perSeed = r["verdicts"]!.AsArray().Select(v => v!["verdict"]!.GetValue<string>()).ToList();
                Assert.Equal(seeds.Length, perSeed.Count);
                Assert.All(perSeed, v => Assert.Contains(v, verdicts));
                Assert.Equal(perSeed.Distinct().Count() == 1 ? perSeed[0] : "mixed", r["verdict"]!.GetValue<string>());
                Assert.False(string.IsNullOrEmpty(r["reason"]!.GetValue<string>()));
                var values = r["validation_accuracy"]!["values"]!.AsArray().Select(v => v!.GetValue<double>()).ToList();
                for (int k = 0; k < seeds.Length; k++)
                {
                    var (validation, divergent) = seen[(o, lr, seeds[k])];
                    Assert.True(divergent == (perSeed[k] == "divergent"),
                        $"{o} lr={lr} seed {seeds[k]}: the summary says {perSeed[k]}, the run's losses say {(divergent ? "" : "not ")}divergent");
                    Assert.Equal(validation, values[k]);
                }
                Assert.Equal(seeds.Count(seed => seen[(o, lr, seed)].Divergent), r["divergent_seeds"]!.GetValue<int>());
            }
            // The best rate: the highest mean validation accuracy, computed here, of the rates that trained on every seed; every
            // seed calls it good.
            var best = summary["best_learning_rate"]![o];
            var candidates = rates.Where(lr => Trains(o, lr)).ToList();
            if (candidates.Count == 0)
            {
                Assert.Null(best);
                continue;
            }
            string bestRate = Lr(best!.GetValue<double>());
            Assert.Contains(bestRate, candidates);
            Assert.Equal(candidates.Max(lr => MeanValidation(o, lr)), MeanValidation(o, bestRate), 12);
            Assert.All(perRate[bestRate]!["verdicts"]!.AsArray(), v => Assert.Equal("good", v!["verdict"]!.GetValue<string>()));
            // Good is the best rate and the rates tied with it within the paired noise.
            var tied = summary["best_rate"]![o]!["tied_with"]!.AsArray().Select(t => Lr(t!.GetValue<double>())).Append(bestRate).ToList();
            Assert.All(perRate.Where(p => p.Value!["verdict"]!.GetValue<string>() == "good").Select(p => p.Key), g => Assert.Contains(g, tied));
            if (summary["best_rate"]![o]!["margin_over_runner_up"] is JsonObject margin)
            {
                var ci = margin["ci95"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
                Assert.Equal(ci[0] > 0 ? "a gain" : "within noise", summary["best_rate"]![o]!["margin_verdict"]!.GetValue<string>());
            }
        }
        // The chosen configuration has the highest mean validation accuracy of every optimizer and rate that trained on every seed.
        var trained = (from o in optimizers from lr in rates where Trains(o, lr) select (o, lr)).ToList();
        string chosen = summary["chosen"]!.GetValue<string>();
        var chosenRun = trained.Single(t => $"{t.o} lr={t.lr}" == chosen);
        Assert.StartsWith(summary["config"]!["name"]!.GetValue<string>(), chosen);
        Assert.Equal(trained.Max(t => MeanValidation(t.o, t.lr)), MeanValidation(chosenRun.o, chosenRun.lr), 12);
        Assert.Contains("Best configuration by mean validation accuracy", File.ReadAllText(Path.Combine(run.Dir, "report.md")));
        Assert.All(seeds, seed => Assert.True(File.Exists(Path.Combine(run.Dir, "runs", $"{optimizers[0]}-lr-{rates[0]}-s{seed}", "steps.csv")), $"seed {seed}"));
    }

    [Fact]
    public void Distill_compares_four_students_at_four_labelled_set_sizes_with_one_teacher_per_seed()
    {
        var run = tiny.Run("distill");
        Assert.True(run.Code == 0, run.Err);
        var summary = Json(run.Dir, "summary.json");
        Assert.Equal(784L * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10, summary["teacher"]!["parameters"]!.GetValue<long>());
        // The student's count excludes the training-only projection.
        Assert.Equal(784L * 32 + 32 + 32 * 10 + 10, summary["student_parameters"]!.GetValue<long>());
        Assert.Equal(32L * 128 + 128, summary["projection_parameters"]!.GetValue<long>());
        var sizes = summary["sizes"]!.AsArray();
        Assert.Equal([0.01, 0.05, 0.2, 1.0], sizes.Select(s => s!["fraction"]!.GetValue<double>()));
        // The tiny data's split is 400 - 40 validation images = 360: 1% (4) raised to the minimum of 10, then 18, 72 and 360.
        Assert.Equal([10, 18, 72, 360], sizes.Select(s => s!["labelled_images"]!.GetValue<int>()));
        // Each figure is read again from the run folders (the student alone and the three distilled students, per seed),
        // and each gain is the mean of the per-seed differences.
        int[] seeds = [42, 43]; // a quick run's two seeds
        double[] TestAccuracies(string key) =>
            [.. seeds.Select(seed => Json(Path.Combine(run.Dir, "runs", $"{key}-s{seed}"), "summary.json")["test_accuracy"]!.GetValue<double>())];
        foreach (var (size, pct) in sizes.Zip(new[] { "1pct", "5pct", "20pct", "100pct" }))
        {
            var alone = size!["student"]!["test_accuracy"]!;
            Assert.Equal(seeds, alone["seeds"]!.AsArray().Select(a => a!.GetValue<int>()));
            double[] aloneValues = TestAccuracies($"student-{pct}");
            Assert.Equal(aloneValues, alone["values"]!.AsArray().Select(v => v!.GetValue<double>()));
            foreach (var (key, folder) in new[] { ("feature", "feature"), ("soft", "soft"), ("feature+soft", "feature-soft") })
            {
                var m = size[key]!;
                double[] values = TestAccuracies($"{folder}-{pct}");
                Assert.Equal(values, m["test_accuracy"]!["values"]!.AsArray().Select(v => v!.GetValue<double>()));
                var gain = m["gain_over_student_alone"]!;
                Assert.Equal(values.Zip(aloneValues, (a, b) => a - b).Average(), gain["mean"]!.GetValue<double>(), 12);
                AssertVerdictFitsInterval(gain, m["verdict"]!.GetValue<string>(), key);
            }
        }
        // "helps" lists exactly the (method, size) pairs whose verdict is a gain.
        var gains = sizes.SelectMany(s => new[] { "feature", "soft", "feature+soft" }.Where(k => s![k]!["verdict"]!.GetValue<string>() == "a gain")).Count();
        Assert.Equal(gains == 0, summary["helps"]!.GetValue<string>().Length == 0);
        // The reported model (and checkpoint) is the features + soft targets student of the first seed on the smallest set.
        Assert.Equal("feature-soft-1pct-s42", summary["reported"]!.GetValue<string>());
        Assert.Equal(Json(Path.Combine(run.Dir, "runs", "feature-soft-1pct-s42"), "summary.json")["test_accuracy"]!.GetValue<double>(),
            summary["test_accuracy"]!.GetValue<double>());
        // Inference times are in timing.json (teachers and the students alone), never in the summary.
        Assert.DoesNotContain("microseconds", summary.ToJsonString());
        var times = Json(run.Dir, "timing.json")["microseconds_per_image"]!.AsObject();
        Assert.Equal(2 + 2 * 4, times.Count);
        Assert.All(times, t => Assert.True(t.Value!.GetValue<double>() > 0, t.Key));
        // metrics.csv: two teachers and 32 students (a quick run has two seeds).
        var runs = File.ReadAllLines(Path.Combine(run.Dir, "metrics.csv")).Skip(1).Select(r => string.Join(",", r.Split(',')[..2])).Distinct().ToList();
        Assert.Equal(2 + 32, runs.Count);
        string report = File.ReadAllText(Path.Combine(run.Dir, "report.md"));
        Assert.Contains("µs", report);
        Assert.Contains("| 10 images (1%) |", report);
    }

    [Fact]
    public void Distill_students_name_their_seeds_teacher_and_get_more_epochs_on_smaller_sets()
    {
        Assert.Equal(134, GpuNet.Experiments.DistillExperiment.StudentEpochs(540));
        Assert.Equal(2, GpuNet.Experiments.DistillExperiment.StudentEpochs(54000));
        Assert.True(GpuNet.Experiments.DistillExperiment.StudentEpochs(2700) * 43 >= GpuNet.Experiments.DistillExperiment.MinSteps);
        var run = tiny.Run("distill", seeds: 2);
        Assert.True(run.Code == 0, run.Err + run.Out);
        foreach (int seed in new[] { 42, 43 })
            foreach (string key in new[] { "teacher", "student-1pct", "feature-5pct", "soft-20pct", "feature-soft-100pct" })
                Assert.True(File.Exists(Path.Combine(run.Dir, "runs", $"{key}-s{seed}", "summary.json")), $"{key}-s{seed}");
        // A distilled student names its seed's teacher in its identity, so a changed teacher refits it.
        var identity = Json(Path.Combine(run.Dir, "runs", "soft-5pct-s43"), "config.json")["identity"]!["extra"]!;
        Assert.Equal("teacher-s43", identity["teacher_run"]!.GetValue<string>());
        Assert.Equal(43, identity["teacher"]!["seed"]!.GetValue<int>());
        // The four students of a seed and size share their labelled images; the sizes and seeds differ.
        string Digest(string key) => Json(Path.Combine(run.Dir, "runs", key), "config.json")["identity"]!["train_indices_sha256"]!.GetValue<string>();
        Assert.Equal(Digest("student-5pct-s42"), Digest("feature-soft-5pct-s42"));
        Assert.NotEqual(Digest("student-5pct-s42"), Digest("student-20pct-s42"));
        Assert.NotEqual(Digest("student-5pct-s42"), Digest("student-5pct-s43"));
    }

    [Theory]
    [InlineData("eval")]                                                   // --checkpoint is required
    [InlineData("eval", "--checkpoint", "no-such-file.safetensors")]
    [InlineData("eval", "--checkpoint", "x.safetensors", "--split", "nope")]
    [InlineData("run", "mlp", "--epochs", "0")]
    public void Bad_eval_and_run_command_lines_exit_2(params string[] args)
    {
        var (code, _, err) = TinyFashion.Cli(args);
        Assert.Equal(2, code);
        Assert.Contains("error:", err);
    }

    [GeneratedRegex(@"!\[[^\]]*\]\(([^)]+)\)")]
    private static partial Regex ImageLinks();

    [GeneratedRegex(@"loss (?<loss>[0-9.]+) nats, accuracy [0-9.]+ \((?<correct>\d+)/(?<total>\d+),")]
    private static partial Regex EvalLine();
}
