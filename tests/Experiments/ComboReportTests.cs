using GpuNet.Experiments;
using GpuNet.Experiments.Engine;

namespace GpuNet.Tests.Experiments;

/// <summary>
/// combo's report writer fed made-up results: every sentence that states a result must follow the numbers, so flipping a
/// number (a combination that wins or loses against the best single cure, a cure that hurts, a stack that underfits)
/// flips the sentence. A report with a fixed claim fails one of these.
/// </summary>
public class ComboReportTests
{
    private static readonly int[] Seeds = [42, 43, 44];

    private static Estimate E(params double[] values) => Estimate.Of(Seeds, values);

    private const string Single = "augment shift:1,rot:5", Triple = "augment shift:1,rot:5 + L2 1e-3 + dropout 0.2",
        Pair = "augment shift:1,rot:5 + dropout 0.2";

    private static ComboResults Results(Estimate chosen, Estimate single, Estimate early, double strongestTrain = 0.995, double chosenTrain = 0.99,
        double singleValidation = 0.85, double pairValidation = 0.86, bool chosenIsPair = true) => new(
        Search:
        [
            new(Single, "single", singleValidation, 0.45, 0.99, 0.845, 31),
            new("dropout 0.5", "single", 0.83, 0.50, 1.0, 0.83, 12),
            new(Triple, "triple", 0.855, 0.44, 0.985, 0.85, 38),
            new(Pair, "pair", pairValidation, 0.43, 0.99, 0.855, 36),
        ],
        SearchSeed: 42, Seeds: Seeds, Chosen: chosenIsPair ? Pair : Triple, BestSingle: Single, BestTriple: Triple, ChosenIsPair: chosenIsPair,
        ChosenTest: chosen, BestSingleTest: single, EarlyStoppingTest: early,
        ChosenFinalTrain: E(chosenTrain, chosenTrain, chosenTrain), BestSingleFinalTrain: E(0.99, 0.99, 0.99), StrongestFinalTrain: strongestTrain,
        OverfitFinalTrain: E(1.0, 1.0, 1.0), OverfitBestEpoch: 10, Epochs: 40, OverfitEpochs: 60, LearningRate: 0.02, Momentum: 0.9,
        TrainImages: 2000, ValidationImages: 1000, TestImages: 10000, Setup: "The setup.", Quick: false);

    private static readonly Estimate Low = E(0.840, 0.842, 0.838), Mid = E(0.850, 0.851, 0.849), High = E(0.870, 0.872, 0.868);
    private static readonly Estimate Noisy = E(0.860, 0.835, 0.856);

    [Fact]
    public void Stacking_is_called_a_gain_a_loss_or_within_noise_by_the_paired_interval()
    {
        string gain = ComboReport.Write(Results(High, Mid, Low));
        Assert.Contains("Stacking helps", gain);
        Assert.DoesNotContain("Stacking hurts", gain);
        Assert.Contains("+2.00 pp (95% CI", gain); // the mean difference, computed from the numbers given

        string loss = ComboReport.Write(Results(Mid, High, Low));
        Assert.Contains("Stacking hurts", loss);
        Assert.DoesNotContain("Stacking helps", loss);
        Assert.Contains("-2.00 pp (95% CI", loss);

        string noise = ComboReport.Write(Results(Noisy, Mid, Low));
        Assert.Contains("The seeds do not tell the combination from the best single cure", noise);
        Assert.DoesNotContain("Stacking helps", noise);
        Assert.DoesNotContain("Stacking hurts", noise);
    }

    [Fact]
    public void A_cure_that_hurts_against_early_stopping_is_called_a_loss()
    {
        string hurts = ComboReport.Write(Results(Mid, Low, High));
        Assert.Contains($"The best single cure ({Single}) is worse than early stopping alone beyond the noise of the seeds: here the cure hurts.", hurts);
        Assert.Contains("The chosen combination is worse than early stopping alone", hurts);

        string helps = ComboReport.Write(Results(High, Mid, Low));
        Assert.Contains($"The best single cure ({Single}) beats early stopping alone beyond the noise of the seeds.", helps);
        Assert.Contains("The chosen combination beats early stopping alone", helps);
        Assert.DoesNotContain("the cure hurts", helps);

        string noise = ComboReport.Write(Results(Noisy, Mid, Mid));
        Assert.Contains("The seeds do not tell the chosen combination from early stopping alone.", noise);
    }

    [Fact]
    public void Underfitting_is_stated_only_when_the_training_accuracy_falls_short()
    {
        string fits = ComboReport.Write(Results(High, Mid, Low));
        Assert.Contains("no setting was ruled out by too short a budget", fits);
        Assert.DoesNotContain("underfits", fits);

        string strongest = ComboReport.Write(Results(High, Mid, Low, strongestTrain: 0.9));
        Assert.Contains("the strongest stack does not: in 40 epochs it still underfits", strongest);
        Assert.Contains("90.00%", strongest);

        string chosen = ComboReport.Write(Results(High, Mid, Low, strongestTrain: 0.9, chosenTrain: 0.95));
        Assert.Contains("The chosen combination ends more than 2 points below the overfitting run", chosen);
    }

    [Fact]
    public void The_search_sentence_follows_which_stage_won_on_validation()
    {
        string combination = ComboReport.Write(Results(High, Mid, Low));
        Assert.Contains($"The highest validation accuracy of the whole search is a combination's ({Pair}), 1.00 points above the best single cure", combination);
        Assert.Contains("a pair, the best triple", combination);

        string single = ComboReport.Write(Results(High, Mid, Low, singleValidation: 0.87, chosenIsPair: false));
        Assert.Contains($"is a single cure's, {Single}: on seed 42 no combination did better than it", single);
        Assert.Contains("the best triple, better than the pairs made from it", single);
    }

    [Fact]
    public void One_seed_gives_no_verdict()
    {
        var one = new[] { 42 };
        Estimate One(double v) => Estimate.Of(one, [v]);
        var r = Results(High, Mid, Low) with
        {
            Seeds = one, ChosenTest = One(0.87), BestSingleTest = One(0.85), EarlyStoppingTest = One(0.84),
            ChosenFinalTrain = One(0.99), BestSingleFinalTrain = One(0.99), OverfitFinalTrain = One(1.0),
        };
        string text = ComboReport.Write(r);
        Assert.Contains("With one seed there is no interval", text);
        Assert.DoesNotContain("Stacking helps", text);
        Assert.DoesNotContain("beats early stopping", text);
    }
}
