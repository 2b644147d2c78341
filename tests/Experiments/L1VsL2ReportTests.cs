using GpuNet.Experiments;
using GpuNet.Experiments.Engine;

namespace GpuNet.Tests.Experiments;

/// <summary>
/// l1-vs-l2's report sentences fed made-up results that flip each claim: L1 with more or fewer near-zero weights than L2 or
/// within noise, L1 more or less accurate than L2 on test or within noise, L1's weights hovering near zero or sitting on it,
/// the histogram and weight-map readings, and quiz weights that concentrate on one copy or do not. A sentence written as
/// fixed text fails one side of each pair.
/// </summary>
public sealed class L1VsL2ReportTests
{
    private static readonly int[] Seeds = [42, 43, 44];

    private static Estimate E(params double[] values) => Estimate.Of(Seeds, values);

    private static readonly Estimate Gain = E(0.02, 0.03, 0.025), Loss = E(-0.02, -0.03, -0.025), Noise = E(-0.01, 0.012, 0.001);

    private static readonly L1VsL2Report.MatchedFigures Pair = new("L1=1e-3", "L2=2e-2", 0.85, 0.851, L1ExactZero: 0.30, L1NearZero: 0.45,
        0.35, 120, 3, 0, 0.05, 0.03, 0.28);

    private static L1VsL2Experiment.Comparison Cmp(Estimate test, Estimate nearZero) => new(Noise, test, nearZero, Gain, Noise);

    [Fact]
    public void The_near_zero_verdict_follows_the_paired_interval_either_way_round()
    {
        string more = L1VsL2Report.MatchedPair(Pair, Cmp(Noise, Gain));
        Assert.Contains("L1 leaves more weights near zero than L2 at the same accuracy", more);
        string fewer = L1VsL2Report.MatchedPair(Pair, Cmp(Noise, Loss));
        Assert.Contains("L2 leaves more weights near zero than L1 here", fewer);
        Assert.DoesNotContain("L1 leaves more weights near zero", fewer);
        string tie = L1VsL2Report.MatchedPair(Pair, Cmp(Noise, Noise));
        Assert.Contains("the seeds do not tell the two apart", tie);
        Assert.DoesNotContain("leaves more weights near zero", tie);
    }

    [Fact]
    public void L1_is_called_more_or_less_accurate_than_L2_only_beyond_noise()
    {
        string l1 = L1VsL2Report.MatchedPair(Pair, Cmp(Gain, Gain));
        Assert.Contains("On test, L1 is more accurate than L2 beyond the noise", l1);
        Assert.Contains("+2.50 pp", l1);
        string l2 = L1VsL2Report.MatchedPair(Pair, Cmp(Loss, Gain));
        Assert.Contains("On test, L2 is more accurate than L1 beyond the noise", l2);
        string tie = L1VsL2Report.MatchedPair(Pair, Cmp(Noise, Gain));
        Assert.Contains("On test the two are within noise of each other", tie);
        Assert.DoesNotContain("more accurate", tie);
        string one = L1VsL2Report.MatchedPair(Pair, Cmp(Estimate.Of([42], [0.01]), Gain));
        Assert.Contains("With one seed there is no interval on the test difference", one);
    }

    [Fact]
    public void Weights_are_said_to_hover_near_zero_only_when_more_are_near_zero_than_exactly_zero()
    {
        Assert.Contains("weights hover near zero instead of sitting on it", L1VsL2Report.MatchedPair(Pair, Cmp(Noise, Gain)));
        string sitting = L1VsL2Report.MatchedPair(Pair with { L1NearZero = 0.305 }, Cmp(Noise, Gain));
        Assert.DoesNotContain("hover", sitting);
        Assert.Contains("L1 has set 30.00% of the weights to exactly 0", sitting);
    }

    private static WeightSparsity S(double firstExact = 0, double firstNear = 0.03, double std = 0.05, double frameNear = 0.03,
        double centreNear = 0.03, double roughness = 0.9) =>
        new(firstExact, firstNear, firstExact, firstNear, 0, 0, firstExact, firstExact, frameNear, centreNear, std, roughness);

    [Fact]
    public void The_histogram_reading_claims_a_spike_a_narrowing_and_large_weights_only_when_the_layers_show_them()
    {
        var none = S();
        string shown = L1VsL2Report.Histograms(S(firstExact: 0.3, firstNear: 0.4), S(std: 0.03), none, beyond1: 0.02, beyond2: 0.005, range: 0.1);
        Assert.Contains("L1's histogram has a spike at zero that L2's lacks", shown);
        Assert.Contains("L2 narrows the whole distribution instead.", shown);
        Assert.Contains("L1 also keeps more large weights: 2.00% of its layer", shown);
        string absent = L1VsL2Report.Histograms(S(firstExact: 0.001, firstNear: 0.04), S(std: 0.049), none, beyond1: 0.005, beyond2: 0.005, range: 0.1);
        Assert.Contains("At this strength L1 has put few weights at zero (0.10% exactly).", absent);
        Assert.Contains("L2 has barely changed the distribution.", absent);
        Assert.DoesNotContain("spike", absent);
        Assert.DoesNotContain("large weights", absent);
    }

    [Fact]
    public void The_weight_maps_are_called_sparse_localised_or_smooth_only_as_the_numbers_say()
    {
        var none = S(roughness: 0.9);
        string localised = L1VsL2Report.Maps(S(firstNear: 0.7, frameNear: 0.9, centreNear: 0.6), S(roughness: 0.5), none);
        Assert.Contains("L1's maps are sparse and localised", localised);
        Assert.Contains("L2's maps are smoother than the unpenalised ones", localised);
        string spread = L1VsL2Report.Maps(S(firstNear: 0.7, frameNear: 0.7, centreNear: 0.7), S(roughness: 0.88), none);
        Assert.Contains("near-zero weights spread over the whole image", spread);
        Assert.Contains("L2's maps look like the unpenalised ones", spread);
        string dense = L1VsL2Report.Maps(S(firstNear: 0.1), S(roughness: 0.5), none);
        Assert.Contains("L1's maps are not yet visibly sparse at this strength", dense);
    }

    private static L1L2Quiz.Fit Fit(string penalty, params float[] w) =>
        new(penalty, [0.4f, 0.3f, -0.05f, 0.2f], w, 1e-3, [0], [w]);

    private static string Quiz(string variant, float[] l2, float[] l1)
    {
        float[] gains = variant == "gains" ? [1.02f, 1.0f, 0.99f, 0.98f] : [1, 1, 1, 1];
        var problem = new L1L2Quiz.Problem(variant, [], [], gains);
        var fits = new[] { Fit("none", 0.49f, 0.34f, -0.05f, 0.22f), Fit("l2", l2), Fit("l1", l1) };
        return L1VsL2Report.QuizReading(problem, fits, [0.2471, 0.2471, 0.2471, 0.2471], variant == "gains" ? [0.9575, 0, 0, 0] : null);
    }

    [Fact]
    public void The_quiz_says_L1_concentrated_only_when_three_weights_are_exactly_zero()
    {
        float[] even = [0.2471f, 0.2471f, 0.2471f, 0.2471f];
        string concentrated = Quiz("gains", even, [0.9575f, 0, 0, 0]);
        Assert.Contains("**L1**: 3 weights exactly 0 and w1 = 0.9575", concentrated);
        Assert.Contains("copy 1 has the largest gain", concentrated);
        Assert.DoesNotContain("did not concentrate", concentrated);

        string identical = Quiz("identical", even, [0.46f, 0.32f, 0.003f, 0.19f]);
        Assert.Contains("**L1**: 0 of the four weights are exactly 0", identical);
        Assert.Contains("but did not concentrate them, because nothing in the data tells the copies apart.", identical);
        string noisy = Quiz("noisy", even, [0.42f, 0.29f, 0.07f, 0.19f]);
        Assert.Contains("because independent noise favours even weights", noisy);
        // Not concentrated on the gains data either: the reading does not claim a spike it does not see.
        string gainsSpread = Quiz("gains", even, [0.5f, 0.3f, 0.1f, 0f]);
        Assert.Contains("1 of the four weights are exactly 0", gainsSpread);
        Assert.DoesNotContain("carrying all of", gainsSpread);
        Assert.Contains("the soft-threshold has not reached it", gainsSpread);
        Assert.DoesNotContain("independent noise", gainsSpread);
    }

    [Fact]
    public void The_quiz_says_the_start_survives_without_a_penalty_only_when_the_weights_moved_alike()
    {
        float[] even = [0.2471f, 0.2471f, 0.2471f, 0.2471f], l1 = [0.46f, 0.32f, 0.003f, 0.19f];
        var problem = new L1L2Quiz.Problem("identical", [], [], [1, 1, 1, 1]);
        L1L2Quiz.Fit[] Fits(params float[] none) => [Fit("none", none), Fit("l2", even), Fit("l1", l1)];
        double[] ridge = [0.2471, 0.2471, 0.2471, 0.2471];
        // From w0 = [0.4, 0.3, -0.05, 0.2] every weight moved by +0.09: the differences of the start survive.
        string kept = L1VsL2Report.QuizReading(problem, Fits(0.49f, 0.39f, 0.04f, 0.29f), ridge, null);
        Assert.Contains("the start's differences are still there", kept);
        // Every weight ended at 0.25: the differences are gone.
        string gone = L1VsL2Report.QuizReading(problem, Fits(0.25f, 0.25f, 0.25f, 0.25f), ridge, null);
        Assert.DoesNotContain("still there", gone);
        Assert.Contains("the copies moved by different amounts", gone);
    }

    [Fact]
    public void The_quiz_calls_L2s_norm_the_smallest_only_when_it_is()
    {
        string smallest = Quiz("identical", [0.2471f, 0.2471f, 0.2471f, 0.2471f], [0.46f, 0.32f, 0.003f, 0.19f]);
        Assert.Contains("the smallest ‖w‖₂ of the three runs", smallest);
        Assert.Contains("within 0 of each other", smallest);
        string larger = Quiz("identical", [0.9f, 0.1f, 0.1f, 0.1f], [0.46f, 0.32f, 0.003f, 0.19f]);
        Assert.DoesNotContain("the smallest ‖w‖₂", larger);
        Assert.Contains("within 0.8 of each other", larger);
    }
}
