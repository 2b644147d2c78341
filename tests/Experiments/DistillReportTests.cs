using GpuNet.Experiments;
using GpuNet.Experiments.Engine;

namespace GpuNet.Tests.Experiments;

/// <summary>
/// distill's report writer fed made-up results: where distillation helps, hurts or is within noise, and whether the
/// gains sit where labels are scarce, must follow the numbers. A report with a fixed claim fails one of these.
/// </summary>
public class DistillReportTests
{
    private static readonly int[] Seeds = [42, 43, 44];

    private static Estimate E(params double[] values) => Estimate.Of(Seeds, values);

    // Per-seed accuracies: a base value plus a per-seed wobble shared by the methods of a seed (what pairing removes).
    private static Estimate At(double mean, double noise = 0) => E(mean + 0.004, mean - 0.003 + noise, mean - 0.001 - noise);

    private static readonly string[] Methods = ["student alone", "features", "soft targets", "features + soft targets"];

    /// <summary>Results where method k at size i has accuracy <c>alone[i] + gains[i][k-1]</c>, with the given noise on the gains.</summary>
    private static DistillResults Results(double[][] gains, double noise = 0.0005, double teacher = 0.895)
    {
        double[] fractions = [0.01, 0.05, 0.2, 1.0];
        double[] alone = [0.70, 0.78, 0.84, 0.87];
        var sizes = fractions.Select((f, i) => new SizeResult(f, (int)(54000 * f), 10, 1600,
            [At(alone[i]), .. gains[i].Select(g => At(alone[i] + g, noise))],
            [At(0.99), At(0.99), At(0.97), At(0.97)])).ToList();
        return new DistillResults(Seeds, Methods, sizes, At(teacher), 8, 235_146, 25_450, 4_224, 3.0, 0.5, "", 54000, 6000, 10000, 12.5, Quick: false);
    }

    private static double[][] Zero => [[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]];

    [Fact]
    public void A_gain_at_the_smallest_size_only_is_stated_there_and_read_as_scarce_labels()
    {
        var gains = Zero;
        gains[0] = [0, 0.03, 0.02];
        string text = DistillReport.Write(Results(gains, noise: 0.0005));
        Assert.Contains("**Distillation helps, beyond the noise of the seeds, for soft targets at 540 images (1%); features + soft targets at 540 images (1%).**", text);
        Assert.Contains("The gains are where labels are scarce", text);
        Assert.Contains("- **soft targets**: a gain at 540 images (1%); within noise at 2,700 images (5%), 10,800 images (20%), 54,000 images (100%)", text);
        Assert.DoesNotContain("At no size", text);
        Assert.Equal("soft targets at 540 images (1%); features + soft targets at 540 images (1%)", Results(gains).HelpsText());
    }

    [Fact]
    public void No_gain_anywhere_says_so_and_that_the_literatures_expectation_does_not_show()
    {
        string text = DistillReport.Write(Results(Zero, noise: 0.004));
        Assert.Contains("**At no size does a distilled student's paired 95% interval lie above zero: this run shows no gain from distillation.**", text);
        Assert.Contains("does not show at 540 images (1%)", text);
        Assert.DoesNotContain("Distillation helps", text);
        Assert.Equal("", Results(Zero, noise: 0.004).HelpsText());
    }

    [Fact]
    public void A_distillation_loss_is_called_a_loss_at_its_size()
    {
        var gains = Zero;
        gains[3] = [-0.02, 0, 0];
        string text = DistillReport.Write(Results(gains, noise: 0.0005));
        Assert.Contains("It hurts, beyond the noise of the seeds, for features at 54,000 images (100%).", text);
        Assert.Contains("- **features**: within noise at 540 images (1%), 2,700 images (5%), 10,800 images (20%); a loss at 54,000 images (100%)", text);
    }

    [Fact]
    public void A_gain_at_the_whole_split_only_is_not_read_as_scarce_labels()
    {
        var gains = Zero;
        gains[3] = [0.02, 0, 0];
        string text = DistillReport.Write(Results(gains, noise: 0.0005));
        Assert.Contains("**Distillation helps, beyond the noise of the seeds, for features at 54,000 images (100%).**", text);
        Assert.Contains("Unexpectedly, a gain shows at the whole split", text);
        Assert.DoesNotContain("The gains are where labels are scarce", text);
    }

    [Fact]
    public void The_teacher_gap_follows_the_numbers()
    {
        string above = DistillReport.Write(Results(Zero, teacher: 0.895));
        Assert.Contains("The teacher beats the student alone trained on 54,000 images (100%) by +2.50 pp", above);
        Assert.Contains("the student alone is 19.50 pp below the teacher", above);

        string below = DistillReport.Write(Results(Zero, teacher: 0.85));
        Assert.Contains("The student alone trained on 54,000 images (100%) beats the teacher", below);
    }

    [Fact]
    public void Size_and_speed_ratios_are_computed_from_the_numbers()
    {
        string text = DistillReport.Write(Results(Zero));
        Assert.Contains("The teacher has 9x the student's parameters", text);
        Assert.Contains("takes 6.0x its time per image (3.00 against 0.50 µs", text);
    }
}
