using GpuNet.Experiments.Engine;

namespace GpuNet.Tests.Engine;

/// <summary>The statistics every report's verdict rests on, against values worked out by hand and from t tables.</summary>
public sealed class EstimateTests
{
    [Fact]
    public void Mean_std_and_student_t_interval_match_hand_computed_values()
    {
        // 1, 2, 3: mean 2, sample std 1, t(0.975, 2) = 4.303, half-width 4.303 / sqrt(3) = 2.48433.
        var e = new Estimate([(42, 1.0), (43, 2.0), (44, 3.0)]);
        Assert.Equal(2.0, e.Mean, 12);
        Assert.Equal(1.0, e.Std, 12);
        Assert.Equal(4.303 / Math.Sqrt(3), e.HalfWidth, 12);
        Assert.Equal(2 - 4.303 / Math.Sqrt(3), e.Low, 12);
        Assert.Equal(2 + 4.303 / Math.Sqrt(3), e.High, 12);
    }

    [Fact]
    public void Verdict_follows_the_interval()
    {
        // Mean 2, half-width 2.48: the interval holds zero.
        Assert.Equal(Verdict.WithinNoise, new Estimate([(1, 1.0), (2, 2.0), (3, 3.0)]).Verdict);
        // Mean 2, std 0.1: [1.75, 2.25] lies above zero.
        Assert.Equal(Verdict.Gain, new Estimate([(1, 1.9), (2, 2.0), (3, 2.1)]).Verdict);
        Assert.Equal(Verdict.Loss, new Estimate([(1, -1.9), (2, -2.0), (3, -2.1)]).Verdict);
        Assert.Equal(Verdict.NoInterval, new Estimate([(1, 5.0)]).Verdict);
        Assert.Equal("a loss", new Estimate([(1, 1.9), (2, 2.0), (3, 2.1)]).Word(higherIsBetter: false));
        Assert.Equal("within noise", new Estimate([(1, 1.0), (2, 2.0), (3, 3.0)]).Word());
    }

    [Fact]
    public void Paired_difference_matches_seeds_and_cancels_shared_noise()
    {
        // Each seed moves both configurations by the same amount; the paired difference is exactly 0.5 every time.
        var a = new Estimate([(42, 10.5), (43, 20.5), (44, 30.5)]);
        var b = new Estimate([(44, 30.0), (42, 10.0), (43, 20.0)]);
        var d = Estimate.Paired(a, b);
        Assert.Equal([42, 43, 44], d.Seeds);
        Assert.All(d.Values, v => Assert.Equal(0.5, v, 12));
        Assert.Equal(0, d.Std, 12);
        Assert.Equal(Verdict.Gain, d.Verdict);
        // Alone, either configuration varies over seeds far more than the difference between them.
        Assert.Equal(Verdict.WithinNoise, a.Verdict);
        Assert.True(a.HalfWidth > 10 * d.Mean, $"{a.HalfWidth}");
        Assert.Throws<ArgumentException>(() => Estimate.Paired(a, new Estimate([(7, 1.0)])));
    }

    [Theory]
    [InlineData(1, 12.706)]
    [InlineData(4, 2.776)]
    [InlineData(30, 2.042)]
    [InlineData(40, 2.021)]
    [InlineData(60, 2.000)]
    [InlineData(120, 1.980)]
    public void Student_t_quantile_matches_the_tables(int df, double expected) =>
        Assert.Equal(expected, Estimate.StudentT975(df), 3);

    [Fact]
    public void Json_has_mean_std_interval_and_per_seed_values()
    {
        var json = new Estimate([(42, 0.8), (43, 0.9)]).ToJson();
        Assert.Equal(0.85, json["mean"]!.GetValue<double>(), 12);
        Assert.Equal(2, json["ci95"]!.AsArray().Count);
        Assert.Equal([42, 43], json["seeds"]!.AsArray().Select(s => s!.GetValue<int>()));
        Assert.Equal([0.8, 0.9], json["values"]!.AsArray().Select(s => s!.GetValue<double>()));
        Assert.Null(new Estimate([(1, 1.0)]).ToJson()["ci95"]);
    }

    [Fact]
    public void Bad_input_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new Estimate([]));
        Assert.Throws<ArgumentException>(() => new Estimate([(1, 1.0), (1, 2.0)]));
    }
}
