using GpuNet.Experiments;

namespace GpuNet.Tests.Experiments;

/// <summary>
/// The optimizers report's reading of the usual explanation (momentum suits smaller rates than plain SGD; the adaptive
/// optimizers suit small rates), fed made-up best rates that follow it, break it either way, or leave an optimizer without a
/// rate: each claim follows the rates, so a fixed sentence fails one case.
/// </summary>
public sealed class OptimizersPatternTests
{
    private static OptimizersExperiment.Rate R(string key, double lr) =>
        new(key, OptimizersExperiment.Optimizers.Single(o => o.Key == key).Label, lr, []);

    // The best rate of each optimizer (null: none trained on every seed), with the rates tied with it.
    private static string Pattern(double? sgd, double? momentum, double? adam, double[]? sgdTied = null)
    {
        OptimizersExperiment.Best? B(string key, double? lr, double[]? tied = null) => lr is { } r
            ? new OptimizersExperiment.Best(R(key, r), null, null) { Tied = (tied ?? []).Select(t => R(key, t)).ToList() }
            : null;
        var best = new Dictionary<string, OptimizersExperiment.Best?>
        {
            ["sgd"] = B("sgd", sgd, sgdTied), ["momentum"] = B("momentum", momentum), ["adagrad"] = null, ["rmsprop"] = null, ["adam"] = B("adam", adam),
        };
        return OptimizersExperiment.Pattern(best);
    }

    [Fact]
    public void The_pattern_is_claimed_only_as_far_as_the_best_rates_show_it()
    {
        Assert.StartsWith("These runs follow it: momentum's good rates start below plain SGD's", Pattern(sgd: 0.1, momentum: 0.01, adam: 0.001));
        Assert.StartsWith("These runs do not follow it", Pattern(sgd: 0.01, momentum: 0.1, adam: 0.1));
        Assert.Contains("but some adaptive optimizer's good rate is not below SGD's largest", Pattern(sgd: 0.1, momentum: 0.01, adam: 0.1));
        Assert.Contains("but momentum's smallest good rate is not below plain SGD's", Pattern(sgd: 0.1, momentum: 0.1, adam: 0.001));
        // A tie counts as a good rate: SGD tied down to 0.01 puts its smallest good rate at momentum's.
        Assert.Contains("momentum's smallest good rate is not below plain SGD's", Pattern(sgd: 0.1, momentum: 0.01, adam: 0.001, sgdTied: [0.01]));
        Assert.StartsWith("Some optimizer has no rate that trains on every seed", Pattern(sgd: 0.1, momentum: null, adam: 0.001));
    }
}
