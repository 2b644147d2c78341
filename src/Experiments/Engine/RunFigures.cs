using GpuNet.Data;
using GpuNet.Experiments.Training;
using GpuNet.Training;

namespace GpuNet.Experiments.Engine;

/// <summary>
/// The figures of one finished training run that a report states, apart from where they came from: a run's folder
/// (<see cref="TrainedRun.Figures"/>) or a test that makes them up to check that each sentence of a report follows them.
/// </summary>
/// <param name="Config">The configuration (its seed is the run's).</param>
/// <param name="Result">The per-epoch history, the best-validation epoch, and the step losses when recorded.</param>
/// <param name="TestLoss">Test loss (nats) of the restored model.</param>
/// <param name="TestCorrect">Test images the restored model classifies correctly.</param>
/// <param name="TestCount">Test images.</param>
/// <param name="ParameterCount">The model's parameter count.</param>
/// <param name="Normalization">The input normalisation the model was trained with.</param>
public sealed record RunFigures(TrainingConfig Config, TrainResult Result, double TestLoss, int TestCorrect, int TestCount, long ParameterCount,
    Normalization Normalization)
{
    /// <summary>The run's seed.</summary>
    public int Seed => Config.Seed;

    /// <summary>Test accuracy (fraction) of the restored model.</summary>
    public double TestAccuracy => TestCount == 0 ? double.NaN : (double)TestCorrect / TestCount;

    /// <summary>The best-validation epoch's metrics.</summary>
    public EpochMetrics Best => Result.Best ?? throw new InvalidOperationException($"run {Config.Name} (seed {Seed}) finished no epoch.");

    /// <summary>The highest test accuracy of any epoch (what an oracle that peeks at the test set would pick).</summary>
    public double PeakTestAccuracy => Result.History.Count == 0 ? double.NaN : Result.History.Max(h => h.TestAccuracy);
}
