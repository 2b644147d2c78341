using GpuNet.Experiments;

namespace GpuNet.Tests.Experiments;

/// <summary>
/// The l1-vs-l2 quiz trained through the library (Linear, MseLoss, Sgd with a proximal L1 penalty) on the host engine:
/// the shape of its answer on the nearly identical (gains) features, that the L1 spike follows the largest gain, and the
/// honest result on exactly identical features (no penalty keeps the start's differences, L1 cannot choose).
/// </summary>
[Collection("devices")]
public class L1L2QuizTests(DeviceFixture devices)
{
    private const int Seed = 42;

    private L1L2Quiz.Fit[] Fits(L1L2Quiz.Problem problem) =>
        L1L2Quiz.Penalties.Select(p => L1L2Quiz.Train(devices.Host, problem, p, Seed)).ToArray();

    [Fact]
    public void On_nearly_identical_features_l2_spreads_the_weight_and_l1_puts_it_on_one_copy_with_exact_zeros()
    {
        var problem = L1L2Quiz.Make("gains", Seed);
        var (none, l2, l1) = Fits(problem) switch { var f => (f[0], f[1], f[2]) };
        Assert.All(new[] { none, l2, l1 }, f => Close.Scalar(f.Sum, 1, 0.06, 0, $"{f.Penalty}: Σw"));
        Assert.True(l2.Weights.Max() - l2.Weights.Min() < 0.02, $"L2 weights {string.Join(", ", l2.Weights)} are not nearly equal");
        Assert.All(l2.Weights, w => Close.Scalar(w, 0.25, 0.01, 0, "an L2 weight"));
        Close.All(l2.Weights, L1L2Quiz.RidgeOptimum(problem), 1e-4, 0, "L2 vs its closed form");
        Assert.Equal(3, l1.Zeros);
        Assert.Equal(0, l1.Dominant);
        Assert.InRange(l1.Weights[0], 0.9, 1.0);
        Close.All(l1.Weights, L1L2Quiz.OneSparseLassoOptimum(problem)!, 1e-4, 0, "L1 vs the one-sparse lasso optimum");
        Assert.True(l1.L1Norm < none.L1Norm && l2.L2Norm < none.L2Norm && l2.L2Norm < l1.L2Norm);
        // Without a penalty the weights keep the start's differences: each moved by the same multiple of its gain.
        var ratio = none.Weights.Select((w, i) => (w - none.Initial[i]) / problem.FeatureGains[i]).ToArray();
        Assert.True(ratio.Max() - ratio.Min() < 1e-4, $"shift/gain {string.Join(", ", ratio)}");
    }

    [Fact]
    public void The_l1_spike_follows_the_largest_gain_not_the_position()
    {
        var problem = L1L2Quiz.Make("gains", Seed, gains: [0.99f, 1.00f, 1.02f, 0.98f]);
        var l1 = L1L2Quiz.Train(devices.Host, problem, "l1", Seed);
        Assert.Equal(2, l1.Dominant);
        Assert.Equal(3, l1.Zeros);
    }

    [Fact]
    public void On_identical_features_no_penalty_keeps_the_start_and_l1_cannot_choose_a_copy()
    {
        var problem = L1L2Quiz.Make("identical", Seed);
        var (none, l2, l1) = Fits(problem) switch { var f => (f[0], f[1], f[2]) };
        var shift = none.Weights.Select((w, i) => w - none.Initial[i]).ToArray();
        Assert.True(shift.Max() - shift.Min() < 1e-5, $"shift {string.Join(", ", shift)}: every weight moves alike");
        Assert.True(l2.Weights.Max() - l2.Weights.Min() < 1e-5);
        Assert.True(l1.DominantShare < 0.9, $"L1 on identical copies concentrated {l1.DominantShare:P0} on one weight");
    }

    [Fact]
    public void The_problem_is_reproducible_from_the_seed_and_the_variants_differ_as_described()
    {
        var a = L1L2Quiz.Make("noisy", Seed);
        Assert.Equal(a.X, L1L2Quiz.Make("noisy", Seed).X);
        Assert.NotEqual(a.X, L1L2Quiz.Make("noisy", Seed + 1).X);
        var identical = L1L2Quiz.Make("identical", Seed);
        var gains = L1L2Quiz.Make("gains", Seed);
        Assert.Equal(identical.Y, gains.Y);
        for (int r = 0; r < 10; r++)
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(identical.X[r * 4], identical.X[r * 4 + i]);
                Close.Scalar(gains.X[r * 4 + i], L1L2Quiz.Gains[i] * (double)identical.X[r * 4], 0, 1e-6, "a gain times x");
                Assert.InRange(a.X[r * 4 + i] - identical.X[r * 4], -0.06, 0.06);
            }
        var (g, _) = identical.Moments();
        Close.Scalar(g[0, 0], 1, 0.1, 0, "E[x²] of 1000 standard normals");
    }
}
