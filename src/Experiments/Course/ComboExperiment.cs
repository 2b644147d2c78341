using System.Globalization;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run combo</c>: augmentation, an L2 penalty and dropout on the <see cref="OverfitSetup"/>, alone and stacked, each
/// at two strengths, trained with a cosine learning-rate schedule for long enough that stacked cures can still fit. A
/// coarse-to-fine search on the first seed (every cure alone at both strengths, all three together at every mix of
/// strengths, then the three pairs left when one cure is dropped from the best triple) chooses, by validation accuracy, the
/// best combination and the best single cure; both are then trained with the other seeds and compared, paired by seed, with
/// each other and with early stopping of the overfitting run (<c>overfit</c>'s own runs, shared).
/// </summary>
public sealed class ComboExperiment : ICourseExperiment
{
    /// <summary>The augmentation strengths (off, weak, strong): two transforms, a shift and a rotation, at two strengths.</summary>
    public static readonly string[] Augmentations = ["none", OverfitSetup.Augmentation, "shift:2,rot:10"];

    /// <summary>The L2 strengths (off, weak, strong), PyTorch's <c>weight_decay</c>.</summary>
    public static readonly double[] L2Strengths = [0, 1e-3, 1e-2];

    /// <summary>The dropout strengths (off, weak, strong), after each hidden layer.</summary>
    public static readonly float[] Dropouts = [0f, 0.2f, 0.5f];

    /// <summary>SGD's peak learning rate, annealed to 0 by a cosine (momentum <see cref="OverfitSetup.Momentum"/>).</summary>
    public const double LearningRate = 0.02;

    /// <summary>Epochs of every searched run: 1,280 steps of 64 on the 2,000 images.</summary>
    public const int Epochs = 40;

    /// <summary>Early stopping's run: <c>overfit</c>'s, shared (its restored model is its best-validation epoch).</summary>
    public const string Baseline = "overfit";

    /// <summary>The final runs' names (seeds after the first).</summary>
    public const string ChosenName = "combo-chosen", SingleName = "combo-best-single";

    /// <inheritdoc />
    public string Name => "combo";

    /// <inheritdoc />
    public string Summary => "Augmentation, L2 and dropout at two strengths each, alone and stacked, on the overfitting setup: a search by validation, then the best combination against the best single cure and early stopping, paired by seed.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary) =>
        $"chosen {Summaries.Text(summary, "chosen.label")}: test accuracy {Summaries.MeanWithInterval(summary, "chosen.test_accuracy", RunFiles.Pct)}; " +
        $"vs best single cure ({Summaries.Text(summary, "best_single.label")}) {Summaries.MeanWithInterval(summary, "chosen_vs_best_single", RunFiles.Points)} " +
        $"({Summaries.Text(summary, "chosen_vs_best_single_verdict")}); vs early stopping {Summaries.MeanWithInterval(summary, "chosen_vs_early_stopping", RunFiles.Points)} " +
        $"({Summaries.Text(summary, "chosen_vs_early_stopping_verdict")})";

    /// <summary>Seeds by default: the final comparisons need an interval.</summary>
    public int DefaultSeeds => 3;

    /// <summary>One setting: each cure's strength, 0 (off), 1 (weak) or 2 (strong).</summary>
    public sealed record Setting(int Augment, int Penalty, int Dropout)
    {
        /// <summary>How many cures are on.</summary>
        public int Cures => (Augment > 0 ? 1 : 0) + (Penalty > 0 ? 1 : 0) + (Dropout > 0 ? 1 : 0);

        /// <summary>The run's name.</summary>
        public string Name => $"combo-a{Augment}-l{Penalty}-d{Dropout}";

        /// <summary>The augmentation spec.</summary>
        public string AugmentSpec => Augmentations[Augment];

        /// <summary>The penalty.</summary>
        public Regularization Regularization => Penalty == 0 ? Regularization.None : new Regularization(L2: L2Strengths[Penalty]);

        /// <summary>The drop probability.</summary>
        public float DropoutRate => Dropouts[Dropout];

        /// <summary>In words, for example <c>augment shift:1,rot:5 + L2 1e-2 + dropout 0.5</c>.</summary>
        public string Label => Cures == 0 ? "no cure" : string.Join(" + ", new[]
        {
            Augment > 0 ? $"augment {AugmentSpec}" : null,
            Penalty > 0 ? $"L2 {RunFiles.Strength(L2Strengths[Penalty])}" : null,
            Dropout > 0 ? string.Create(CultureInfo.InvariantCulture, $"dropout {DropoutRate:0.##}") : null,
        }.Where(s => s is not null));

        /// <summary>The same with cure <paramref name="cure"/> (0 augmentation, 1 L2, 2 dropout) off.</summary>
        public Setting Without(int cure) => cure switch { 0 => this with { Augment = 0 }, 1 => this with { Penalty = 0 }, _ => this with { Dropout = 0 } };

        /// <summary>The setting a configuration was made from.</summary>
        /// <exception cref="InvalidDataException">A value that is none of the searched strengths.</exception>
        public static Setting Of(TrainingConfig c)
        {
            int a = Array.IndexOf(Augmentations, c.Augment), l = Array.IndexOf(L2Strengths, c.Regularization.L2), d = Array.IndexOf(Dropouts, c.Model.Dropout);
            if (a < 0 || l < 0 || d < 0) throw new InvalidDataException($"run {c.Name} is not one of combo's settings.");
            return new Setting(a, l, d);
        }
    }

    /// <summary>The cures' names, in the order <see cref="Setting.Without"/> numbers them.</summary>
    public static readonly string[] CureNames = ["augmentation", "L2", "dropout"];

    /// <summary>Every cure alone at both strengths (6).</summary>
    public static readonly Setting[] Singles =
        [new(1, 0, 0), new(2, 0, 0), new(0, 1, 0), new(0, 2, 0), new(0, 0, 1), new(0, 0, 2)];

    /// <summary>All three cures together at every mix of strengths (8).</summary>
    public static readonly Setting[] Triples = [.. from a in new[] { 1, 2 } from l in new[] { 1, 2 } from d in new[] { 1, 2 } select new Setting(a, l, d)];

    /// <summary>A searched run: the setup with <paramref name="setting"/>, the cosine schedule and <see cref="Epochs"/>; the test set
    /// is measured only for the selected epoch (the search needs no test curve).</summary>
    private static TrainingPlan Make(ExperimentContext context, Setting setting, int seed, string name)
    {
        var config = OverfitSetup.Config(context, seed, name, setting.AugmentSpec, setting.Regularization, setting.DropoutRate) with
        {
            LearningRate = LearningRate,
            Cosine = true,
            Epochs = context.Epochs(Epochs, OverfitSetup.QuickEpochs),
            TestEveryEpoch = false,
        };
        return OverfitSetup.Plan(config, $"{name}: {setting.Label}");
    }

    /// <summary>The order of the search: highest validation accuracy of the selected epoch, then lowest validation loss, then the
    /// order given.</summary>
    public static IReadOnlyList<TrainedRun> Rank(IReadOnlyList<TrainedRun> runs) =>
        runs.Select((r, i) => (r, i)).OrderByDescending(x => x.r.Best.ValidationAccuracy).ThenBy(x => x.r.Best.ValidationLoss)
            .ThenBy(x => x.i).Select(x => x.r).ToList();

    /// <summary>The search's runs and the final ones, by role.</summary>
    private sealed record Sweep(int SearchSeed, List<TrainingPlan> Singles, List<TrainingPlan> Triples, List<ChosenRun> Pairs,
        List<ChosenRun> Chosen, List<ChosenRun> BestSingle, List<TrainingPlan> Overfit);

    private static Sweep Build(ExperimentContext context)
    {
        int s0 = context.Seed;
        var singles = Singles.Select(s => Make(context, s, s0, s.Name)).ToList();
        var triples = Triples.Select(s => Make(context, s, s0, s.Name)).ToList();
        ChosenRun Chosen(string name, int seed, IReadOnlyList<PlannedRun> from, string rule, Func<Setting, Setting> change) =>
            new(name, seed, from, rule, change, (s, sd, n) => Make(context, s, sd, n), Setting.Of(triples[0].Config));
        var pairs = Enumerable.Range(0, 3).Select(k => Chosen($"combo-best-triple-without-{CureNames[k].ToLowerInvariant()}", s0, triples,
            $"the best of the triples, without {CureNames[k]}", s => s.Without(k))).ToList();
        var combinations = new List<PlannedRun>([.. triples, .. pairs]);
        var later = context.Seeds.Skip(1).ToList();
        return new Sweep(s0, singles, triples, pairs,
            later.Select(seed => Chosen(ChosenName, seed, combinations, "the best combination (triples and pairs)", s => s)).ToList(),
            later.Select(seed => Chosen(SingleName, seed, singles, "the best single cure", s => s)).ToList(),
            context.Seeds.Select(seed => OverfitSetup.Plan(OverfitSetup.Config(context, seed, Baseline))).ToList());
    }

    /// <inheritdoc />
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context)
    {
        var sweep = Build(context);
        return [.. sweep.Overfit, .. sweep.Singles, .. sweep.Triples, .. sweep.Pairs, .. sweep.Chosen, .. sweep.BestSingle];
    }

    /// <summary>
    /// A run whose setting is chosen from other runs' results: it requires <c>from</c> (fitting those not yet fitted), ranks
    /// them by <see cref="Rank"/>, changes the winner's setting by <c>change</c> and trains that with its own seed. Its
    /// identity names the candidates (their identities decide the winner) and what would be trained, so it is refitted when
    /// either changes; <c>chosen.json</c> in its folder says what was chosen, so it reads back as a <see cref="TrainedRun"/>.
    /// With <c>--shard</c>, a shard that reaches such a run before another shard finished its candidates fits them itself.
    /// </summary>
    private sealed class ChosenRun(string name, int seed, IReadOnlyList<PlannedRun> from, string rule, Func<Setting, Setting> change,
        Func<Setting, int, string, TrainingPlan> make, Setting example) : PlannedRun(name, seed)
    {
        private const string ChoiceFile = "chosen.json";

        public override JsonObject Identity() => new()
        {
            ["chosen"] = rule + ", by validation accuracy, then validation loss",
            ["from"] = new JsonArray(from.Select(r => (JsonNode)new JsonObject { ["run"] = r.Key, ["identity"] = r.Identity() }).ToArray()),
            // What would be trained, for one setting: the schedule, epochs and data of the runs this one trains.
            ["trains_like"] = make(example, Seed, Name).Identity(),
        };

        public override void Fit(RunContext context)
        {
            var candidates = from.Select(r => (TrainedRun)context.Require(r)).ToList();
            var winner = Rank(candidates)[0];
            var setting = change(Setting.Of(winner.Config));
            context.Folder.WriteJson(ChoiceFile, new JsonObject
            {
                ["winner"] = winner.Plan.Key,
                ["augment"] = setting.Augment,
                ["penalty"] = setting.Penalty,
                ["dropout"] = setting.Dropout,
                ["label"] = setting.Label,
            });
            make(setting, Seed, Name).Fit(context);
        }

        public override FinishedRun Read(string directory)
        {
            var o = RunStore.ReadObject(Path.Combine(directory, ChoiceFile));
            var setting = new Setting(o["augment"]!.GetValue<int>(), o["penalty"]!.GetValue<int>(), o["dropout"]!.GetValue<int>());
            return new TrainedRun(make(setting, Seed, Name), directory);
        }
    }

    /// <inheritdoc />
    public void Analyse(ExperimentContext context, RunSet runs)
    {
        var sweep = Build(context);
        TrainedRun Get(PlannedRun p) => runs.Trained(p.Name, p.Seed);
        var singles = sweep.Singles.Select(Get).ToList();
        var triples = sweep.Triples.Select(Get).ToList();
        var pairs = sweep.Pairs.Select(Get).ToList();
        var combinations = triples.Concat(pairs).ToList();
        var chosenFirst = Rank(combinations)[0];
        var singleFirst = Rank(singles)[0];
        var chosenRuns = new List<TrainedRun> { chosenFirst }.Concat(sweep.Chosen.Select(Get)).ToList();
        var singleRuns = new List<TrainedRun> { singleFirst }.Concat(sweep.BestSingle.Select(Get)).ToList();
        var overfit = sweep.Overfit.Select(Get).ToList();
        var bestTriple = Rank(triples)[0];
        var strongest = triples.First(r => Setting.Of(r.Config) == new Setting(2, 2, 2));

        Candidate Row(TrainedRun r, string stage) => new(Setting.Of(r.Config).Label, stage, r.Best.ValidationAccuracy, r.Best.ValidationLoss,
            r.Result.History[^1].TrainAccuracy, r.TestAccuracy, r.Result.BestEpoch);
        var search = new List<Candidate>();
        search.AddRange(singles.Select(r => Row(r, "single")));
        search.AddRange(triples.Select(r => Row(r, "triple")));
        search.AddRange(pairs.Select(r => Row(r, "pair")));
        var seeds = overfit.Select(r => r.Seed).ToList();
        Estimate Test(IEnumerable<TrainedRun> rs) => new(rs.Select(r => (r.Seed, r.TestAccuracy)));
        Estimate FinalTrain(IEnumerable<TrainedRun> rs) => new(rs.Select(r => (r.Seed, r.Result.History[^1].TrainAccuracy)));
        var c = overfit[0].Config;
        var results = new ComboResults(
            Search: search,
            SearchSeed: sweep.SearchSeed,
            Seeds: seeds,
            Chosen: Setting.Of(chosenFirst.Config).Label,
            BestSingle: Setting.Of(singleFirst.Config).Label,
            BestTriple: Setting.Of(bestTriple.Config).Label,
            ChosenIsPair: pairs.Contains(chosenFirst),
            ChosenTest: Test(chosenRuns),
            BestSingleTest: Test(singleRuns),
            EarlyStoppingTest: Test(overfit),
            ChosenFinalTrain: FinalTrain(chosenRuns),
            BestSingleFinalTrain: FinalTrain(singleRuns),
            StrongestFinalTrain: strongest.Result.History[^1].TrainAccuracy,
            OverfitFinalTrain: FinalTrain(overfit),
            OverfitBestEpoch: overfit.Average(r => r.Result.BestEpoch),
            Epochs: chosenFirst.Config.Epochs,
            OverfitEpochs: c.Epochs,
            LearningRate: LearningRate,
            Momentum: chosenFirst.Config.Momentum,
            TrainImages: c.Train.Length,
            ValidationImages: c.Validation.Length,
            TestImages: overfit[0].TestCount,
            Setup: OverfitSetup.Describe(c, overfit[0].ParameterCount, overfit[0].TestCount),
            Quick: context.Quick);

        var folder = context.Folder;
        var settings = OverfitSetup.Settings(c);
        settings["search"] = new JsonObject
        {
            ["augment"] = new JsonArray(Augmentations.Select(a => (JsonNode)a).ToArray()),
            ["l2"] = new JsonArray(L2Strengths.Select(p => (JsonNode)p).ToArray()),
            ["dropout"] = new JsonArray(Dropouts.Select(d => (JsonNode)(double)(decimal)d).ToArray()),
            ["learning_rate"] = LearningRate,
            ["schedule"] = "cosine",
            ["epochs"] = chosenFirst.Config.Epochs,
            ["search_seed"] = sweep.SearchSeed,
        };
        context.WriteConfig(settings);
        var all = new List<TrainedRun>([.. overfit, .. singles, .. triples, .. pairs, .. chosenRuns.Skip(1), .. singleRuns.Skip(1)]);
        RunFiles.WriteMetrics(folder, [.. all]);
        string checkpoint = RunFiles.CopyCheckpoint(folder, chosenFirst);

        var ranked = Rank([.. singles, .. triples, .. pairs]);
        Plots.Bars(folder.File("search.png"), $"validation accuracy of every searched setting (seed {sweep.SearchSeed}; red: the chosen combination and the best single cure)",
            "validation accuracy (%)", ranked.Select(r => (Setting.Of(r.Config).Label, r.Best.ValidationAccuracy * 100, r == chosenFirst || r == singleFirst)).ToList());
        Series Curve(TrainedRun r, string label, bool train, int group) => new($"{label} {(train ? "train" : "validation")}",
            r.Result.History.Select(m => (double)m.Epoch).ToArray(),
            r.Result.History.Select(m => (train ? m.TrainAccuracy : m.ValidationAccuracy) * 100).ToArray(), Dashed: train, Group: group);
        Plots.Lines(folder.File("curves.png"), $"training (dashed, evaluation mode) and validation accuracy per epoch (seed {sweep.SearchSeed})", "epoch", "accuracy (%)",
            [Curve(overfit[0], "overfit", true, 0), Curve(overfit[0], "overfit", false, 0), Curve(singleFirst, "best single cure", true, 1),
             Curve(singleFirst, "best single cure", false, 1), Curve(chosenFirst, "chosen combination", true, 2), Curve(chosenFirst, "chosen combination", false, 2),
             Curve(strongest, "all three strong", true, 3), Curve(strongest, "all three strong", false, 3)],
            legend: ScottPlot.Alignment.LowerRight);

        var summary = RunFiles.ModelSummary(chosenFirst, checkpoint);
        summary["chosen"] = new JsonObject
        {
            ["label"] = results.Chosen,
            ["run"] = chosenFirst.Plan.Key,
            ["is_pair"] = results.ChosenIsPair,
            ["test_accuracy"] = results.ChosenTest.ToJson(),
            ["final_train_accuracy"] = results.ChosenFinalTrain.ToJson(),
        };
        summary["best_single"] = new JsonObject
        {
            ["label"] = results.BestSingle,
            ["run"] = singleFirst.Plan.Key,
            ["test_accuracy"] = results.BestSingleTest.ToJson(),
            ["final_train_accuracy"] = results.BestSingleFinalTrain.ToJson(),
        };
        summary["early_stopping"] = new JsonObject
        {
            ["run"] = Baseline,
            ["test_accuracy"] = results.EarlyStoppingTest.ToJson(),
            ["best_epoch"] = new JsonArray(overfit.Select(r => (JsonNode)r.Result.BestEpoch).ToArray()),
        };
        foreach (var (key, d) in results.Comparisons())
        {
            summary[key] = d.ToJson();
            summary[key + "_verdict"] = d.Word();
        }
        summary["search"] = new JsonArray(ranked.Select((r, i) => (JsonNode)new JsonObject
        {
            ["rank"] = i + 1,
            ["run"] = r.Plan.Key,
            ["label"] = Setting.Of(r.Config).Label,
            ["stage"] = search.First(x => x.Label == Setting.Of(r.Config).Label).Stage,
            ["validation_accuracy"] = r.Best.ValidationAccuracy,
            ["validation_loss"] = r.Best.ValidationLoss,
            ["final_train_accuracy"] = r.Result.History[^1].TrainAccuracy,
            ["best_epoch"] = r.Result.BestEpoch,
            ["test_accuracy"] = r.TestAccuracy,
        }).ToArray());
        summary["runs"] = all.Count;
        folder.WriteJson("summary.json", summary);
        context.Console.WriteLine($"chosen: {results.Chosen}, test {results.ChosenTest.Describe(RunFiles.Pct)}; best single cure {results.BestSingle}, " +
            $"test {results.BestSingleTest.Describe(RunFiles.Pct)}; early stopping {results.EarlyStoppingTest.Describe(RunFiles.Pct)}");
        foreach (var (key, d) in results.Comparisons()) context.Console.WriteLine($"{key}: {d.DescribeDifference(RunFiles.Points)}");
        context.Finish(ComboReport.Write(results) + "\n" + RunFiles.CheckpointSection(chosenFirst) + "\n" + context.Footer());
    }
}
