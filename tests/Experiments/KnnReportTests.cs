using GpuNet.Experiments;
using GpuNet.Experiments.Engine;
using GpuNet.Kernels;
using GpuNet.Neighbors;

namespace GpuNet.Tests.Experiments;

/// <summary>
/// k-NN's report sentences fed made-up sweeps that flip each claim: which distance is better at its best (or neither),
/// whether distance votes help at the largest k, whether the leave-one-out error sits above or below the test error, whether
/// it picks a good k, and whether the training error with itself draws the textbook picture. A sentence written as fixed
/// text fails one side of each pair.
/// </summary>
public sealed class KnnReportTests
{
    private static readonly int[] Ks = [1, 3, 5, 7, 9, 15, 25, 51, 101, 201];

    // One weighting's points: test errors, leave-one-out errors (default: the test errors) and errors with itself (default:
    // 0 at k = 1, then 80% of the test error), on 5,000 leave-one-out and `test` test images.
    private static List<KnnExperiment.Point> Line(KnnWeights weights, double[] testErrors, double[]? looErrors = null, double[]? withSelf = null,
        int test = 10000, KnnMetric metric = KnnMetric.L2) =>
        Ks.Select((k, i) => new KnnExperiment.Point(k, metric, weights,
            (int)Math.Round((looErrors ?? testErrors)[i] * 5000),
            (int)Math.Round((withSelf is null ? (i == 0 ? 0 : 0.8 * testErrors[i]) : withSelf[i]) * 5000), 5000,
            (int)Math.Round(testErrors[i] * test), test)).ToList();

    // A U-shaped test error with its lowest at k = 5.
    private static readonly double[] U = [0.150, 0.142, 0.135, 0.137, 0.140, 0.145, 0.150, 0.160, 0.170, 0.190];

    private static double[] Plus(double[] e, double d) => e.Select(v => v + d).ToArray();

    [Fact]
    public void Distance_votes_are_called_better_worse_or_the_same_at_the_largest_k_as_the_numbers_say()
    {
        var uniform = Line(KnnWeights.Uniform, U);
        // 2 pp on 10,000 images is far beyond twice the standard error of the difference (about 1.1 pp at 19%).
        string better = KnnExperiment.Reading(uniform, Line(KnnWeights.Distance, U.Select((v, i) => i == U.Length - 1 ? v - 0.02 : v).ToArray()));
        Assert.Contains("softens the large-k bias", better);
        Assert.DoesNotContain("makes the large-k error worse", better);
        string worse = KnnExperiment.Reading(uniform, Line(KnnWeights.Distance, U.Select((v, i) => i == U.Length - 1 ? v + 0.02 : v).ToArray()));
        Assert.Contains("makes the large-k error worse", worse);
        Assert.DoesNotContain("softens", worse);
        string same = KnnExperiment.Reading(uniform, Line(KnnWeights.Distance, U.Select((v, i) => i == U.Length - 1 ? v + 0.002 : v).ToArray()));
        Assert.Contains("(the same within noise)", same);
        Assert.Contains("test error 19.20% at k = 201 against 19.00% uniform", same);
    }

    [Fact]
    public void The_leave_one_out_error_is_said_to_be_above_or_below_the_test_error_as_it_is()
    {
        var d = Line(KnnWeights.Distance, U);
        string above = KnnExperiment.Reading(Line(KnnWeights.Uniform, U, looErrors: Plus(U, 0.01)), d);
        Assert.Contains("above the test error at every k", above);
        Assert.Contains("within 1.00 pp of the test error", above);
        string below = KnnExperiment.Reading(Line(KnnWeights.Uniform, U, looErrors: Plus(U, -0.01)), d);
        Assert.Contains("below the test error at every k", below);
        Assert.DoesNotContain("above the test error at every k", below);
        var mixed = U.Select((v, i) => i < 4 ? v + 0.01 : v - 0.01).ToArray();
        Assert.Contains("above the test error at 4 and below it at 6 of the 10 k", KnnExperiment.Reading(Line(KnnWeights.Uniform, U, looErrors: mixed), d));
    }

    [Fact]
    public void Leave_one_out_is_said_to_pick_a_good_k_only_when_its_pick_is_within_noise_of_the_lowest_test_error()
    {
        var d = Line(KnnWeights.Distance, U);
        // Leave-one-out lowest at k = 7 (test 13.70%, within noise of 13.50% at k = 5).
        var nearLoo = U.Select((v, i) => i == 3 ? 0.10 : 0.2).ToArray();
        Assert.Contains("**Leave-one-out picks a good k.**", KnnExperiment.Reading(Line(KnnWeights.Uniform, U, looErrors: nearLoo), d));
        // Leave-one-out lowest at k = 201 (test 19.00%, far from 13.50%).
        var farLoo = U.Select((v, i) => i == U.Length - 1 ? 0.10 : 0.2).ToArray();
        string misses = KnnExperiment.Reading(Line(KnnWeights.Uniform, U, looErrors: farLoo), d);
        Assert.Contains("**Leave-one-out misses.**", misses);
        Assert.Contains("k = 201, has a test error (19.00%) beyond the noise of the lowest (13.50% at k = 5)", misses);
    }

    [Fact]
    public void The_textbook_picture_is_claimed_only_when_the_training_error_with_itself_rises_and_the_gap_closes()
    {
        var d = Line(KnnWeights.Distance, U);
        // Rising from 0 at k = 1 to 15% at k = 201 while the test error ends at 19%: the gap closes from 15 pp to 4 pp.
        var rising = Ks.Select((_, i) => 0.15 * i / (Ks.Length - 1)).ToArray();
        Assert.Contains("the textbook picture of a model losing variance", KnnExperiment.Reading(Line(KnnWeights.Uniform, U, withSelf: rising), d));
        // Flat at 0: the training error with itself never rises.
        string flat = KnnExperiment.Reading(Line(KnnWeights.Uniform, U, withSelf: new double[Ks.Length]), d);
        Assert.Contains("not the textbook picture", flat);
    }

    // Figures of both metrics and weightings with one seed: L2 uniform has test errors `l2`, L1 uniform `l1`; the distance
    // votes are 1 pp worse everywhere; the leave-one-out errors equal the test errors.
    private static List<KnnExperiment.Figure> Figures(double[] l2, double[] l1)
    {
        static Estimate One(double v) => Estimate.Of([42], [v]);
        var list = new List<KnnExperiment.Figure>();
        foreach (var (metric, errors) in new[] { (KnnMetric.L2, l2), (KnnMetric.L1, l1) })
            foreach (var (weights, shift) in new[] { (KnnWeights.Uniform, 0.0), (KnnWeights.Distance, 0.01) })
                list.AddRange(Ks.Select((k, i) => new KnnExperiment.Figure(k, metric, weights, One(errors[i] + shift), One(0), One(errors[i] + shift))));
        return list;
    }

    private static string Choice(double[] l2, double[] l1)
    {
        var figures = Figures(l2, l1);
        var overall = figures.MinBy(f => (f.TrainError.Mean, f.Metric, f.Weights, f.K))!;
        return KnnExperiment.Choice(figures, overall, testCount: 10000, trainCount: 5000, seeded: false);
    }

    [Fact]
    public void The_better_distance_is_named_only_beyond_noise_and_either_way_round()
    {
        string l1Better = Choice(U, Plus(U, -0.02));
        Assert.Contains("the L1 (Manhattan) distance is better here", l1Better);
        Assert.Contains("2.00 pp below the L2 distance's", l1Better);
        Assert.Contains("**l1, uniform votes, k = 5**", l1Better);
        string l2Better = Choice(U, Plus(U, 0.02));
        Assert.Contains("the L2 (Euclidean) distance is better here", l2Better);
        Assert.Contains("**l2, uniform votes, k = 5**", l2Better);
        string tie = Choice(U, Plus(U, 0.002));
        Assert.Contains("within noise of each other (0.20 pp apart", tie);
        Assert.DoesNotContain("is better here", tie);
    }

    [Fact]
    public void The_chosen_k_follows_the_leave_one_out_minimum_at_the_smallest_or_the_largest_k()
    {
        var falling = Ks.Select((_, i) => 0.20 - 0.005 * i).ToArray();
        var rising = Ks.Select((_, i) => 0.15 + 0.005 * i).ToArray();
        Assert.Contains("k = 201**", Choice(falling, Plus(falling, 0.05)));
        Assert.Contains("The lowest test errors of each metric are 15.50% for L2 (uniform, k = 201)", Choice(falling, Plus(falling, 0.05)));
        Assert.Contains("k = 1**", Choice(rising, Plus(rising, 0.05)));
        Assert.Contains("15.00% for L2 (uniform, k = 1)", Choice(rising, Plus(rising, 0.05)));
    }
}
