using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Tests.Engine;

/// <summary>
/// A quick run's test subset (<see cref="TrainingConfig.Test"/>) is part of a run's identity only when it is set: a full
/// run, which measures the whole test set, keeps the identity (and so the hash and the stored runs) it had before the
/// option existed, and two different subsets are two different runs.
/// </summary>
public sealed class TestSubsetIdentityTests
{
    private static TrainingConfig Config() =>
        new("overfit", new MlpSpec([512, 512]), 0.05, 0.9, 64, 60, false, "none", Regularization.None, [1, 2, 3], [4, 5], 42);

    [Fact]
    public void A_full_run_has_no_test_subset_in_its_configuration_or_identity()
    {
        var full = new TrainingPlan(Config());
        Assert.Null(full.Config.Test);
        Assert.False(full.Config.ToJson().ContainsKey("test_images"));
        Assert.False(full.Identity().ContainsKey("test_indices_sha256"));
        Assert.False(full.Identity().ContainsKey("test_images"));
    }

    [Fact]
    public void A_test_subset_enters_the_identity_and_another_subset_is_another_run()
    {
        var full = new TrainingPlan(Config()).Identity().ToJsonString();
        var a = new TrainingPlan(Config() with { Test = [0, 1, 2, 3] }).Identity();
        var b = new TrainingPlan(Config() with { Test = [0, 1, 2, 4] }).Identity();
        Assert.Equal(4, a["test_images"]!.GetValue<int>());
        Assert.NotNull(a["test_indices_sha256"]);
        Assert.NotEqual(full, a.ToJsonString());
        Assert.NotEqual(a.ToJsonString(), b.ToJsonString());
    }
}
