using System.Globalization;
using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.IO;
using GpuNet.Nn;
using GpuNet.Training;

namespace GpuNet.Experiments.Training;

/// <summary>A finished run: its history, the test metrics of the restored best-validation model, and that model (owned;
/// disposed with the outcome).</summary>
public sealed class RunOutcome(TrainingConfig config, TrainResult result, Sequential model, Normalization normalization,
    double testLoss, int testCorrect, int testCount, double seconds) : IDisposable
{
    /// <summary>The configuration.</summary>
    public TrainingConfig Config { get; } = config;

    /// <summary>The per-epoch history.</summary>
    public TrainResult Result { get; } = result;

    /// <summary>The model with the parameters of the best-validation epoch.</summary>
    public Sequential Model { get; } = model;

    /// <summary>The input normalisation the model was trained with.</summary>
    public Normalization Normalization { get; } = normalization;

    /// <summary>Test loss (nats) of the restored model.</summary>
    public double TestLoss { get; } = testLoss;

    /// <summary>Test images the restored model classifies correctly.</summary>
    public int TestCorrect { get; } = testCorrect;

    /// <summary>Test images.</summary>
    public int TestCount { get; } = testCount;

    /// <summary>Test accuracy (fraction) of the restored model.</summary>
    public double TestAccuracy => TestCount == 0 ? double.NaN : (double)TestCorrect / TestCount;

    /// <summary>Wall time of the run.</summary>
    public double Seconds { get; } = seconds;

    /// <summary>The best-validation epoch's metrics.</summary>
    public EpochMetrics Best => Result.Best ?? throw new InvalidOperationException($"run {Config.Name} finished no epoch.");

    /// <summary>The highest test accuracy of any epoch (what an oracle that peeks at the test set would pick).</summary>
    public double PeakTestAccuracy => Result.History.Count == 0 ? double.NaN : Result.History.Max(h => h.TestAccuracy);

    /// <summary>The weights (not biases) of the restored model, flat.</summary>
    public float[] Weights() => Model.Parameters.Values.Rows(0, (int)Model.Parameters.WeightCount).ToArray();

    /// <summary>The fraction of weights with <c>|w| &lt; threshold</c>.</summary>
    public double NearZeroFraction(double threshold = 1e-3)
    {
        var w = Weights();
        return w.Length == 0 ? 0 : w.Count(v => Math.Abs(v) < threshold) / (double)w.Length;
    }

    /// <summary>Writes the restored model to <paramref name="path"/> with its architecture, preprocessing and provenance.</summary>
    public void SaveCheckpoint(string path, string experiment, CourseData data)
    {
        Checkpoint.Save(path, Model, Normalization, "one 28x28 grey-scale image, 784 values, row-major", new Dictionary<string, string>
        {
            ["experiment"] = experiment,
            ["run"] = Config.Name,
            ["classes"] = new JsonArray(FashionMnist.ClassNames.Select(c => (JsonNode)c!).ToArray()).ToJsonString(),
            ["dataset"] = "Fashion-MNIST",
            ["split_seed"] = data.Seed.ToString(CultureInfo.InvariantCulture),
            ["validation_images"] = data.ValidationCount.ToString(CultureInfo.InvariantCulture),
            ["best_epoch"] = Result.BestEpoch.ToString(CultureInfo.InvariantCulture),
            ["test_accuracy"] = TestAccuracy.ToString("R", CultureInfo.InvariantCulture),
            ["test_loss"] = TestLoss.ToString("R", CultureInfo.InvariantCulture),
            ["training"] = Config.ToJson().ToJsonString(),
        });
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
