using System.Globalization;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// The setup that <c>overfit</c> makes overfit and that <c>augment</c>, <c>regularize</c> and <c>combo</c> try to cure:
/// a wider network than <c>mlp</c>'s, a small training subset, no regularisation and many epochs at a constant learning
/// rate. Every run of those experiments shares the subset, the validation images, the seed and the schedule, so their
/// differences are the cures' alone.
/// </summary>
public static class OverfitSetup
{
    /// <summary>The hidden layers: twice as wide as <c>mlp</c>'s first and four times its second (669,706 parameters
    /// against 235,146).</summary>
    public static readonly int[] Hidden = [512, 512];

    /// <summary>Training images: 200 per class.</summary>
    public const int TrainImages = 2000;

    /// <summary>Validation images for model selection: 100 per class of the validation split (a small-data setting has
    /// little validation data too).</summary>
    public const int ValidationImages = 1000;

    /// <summary>SGD's learning rate, constant, so nothing but the data stops the fit.</summary>
    public const double LearningRate = 0.01;

    /// <summary>SGD's momentum. Plain SGD at a rate that fits this quickly (0.05 to 0.1) makes the curves jump from epoch
    /// to epoch; momentum 0.9 at 0.01 fits as fast and keeps them smooth enough to see where they part.</summary>
    public const double Momentum = 0.9;

    /// <summary>Batch size.</summary>
    public const int BatchSize = 64;

    /// <summary>Epochs of a full run.</summary>
    public const int Epochs = 60;

    /// <summary>Epochs of a quick run.</summary>
    public const int QuickEpochs = 3;

    /// <summary>Training images of a quick run.</summary>
    public const int QuickTrainImages = 500;

    /// <summary>Validation images of a quick run.</summary>
    public const int QuickValidationImages = 500;

    /// <summary>
    /// The augmentation that <c>augment</c> and <c>combo</c> use: a shift by up to 1 pixel each way and a rotation by up to
    /// 5 degrees, drawn per image and epoch. Chosen by validation accuracy (seed 42, 60 epochs, 1,000 validation images)
    /// among the specs tried: shift:1,rot:5 85.1%; shift:1,rot:10 84.8%; flip,shift:1 84.4%; flip,shift:1,rot:5 84.2%;
    /// shift:2,rot:5 83.9%; flip,noise:0.1 83.5%; flip,erase 83.1%; flip,shift:2,rot:10 81.7% (it underfits: an MLP has no
    /// translation invariance, and strong transforms leave it too much to learn in 60 epochs); shift:1,rot:5,noise:0.05
    /// 85.3%, within the noise of 1,000 images of the simpler spec, which was preferred.
    /// </summary>
    public const string Augmentation = "shift:1,rot:5";

    /// <summary><see cref="Augmentation"/> in words, for the reports.</summary>
    public const string AugmentationWords = "a shift by up to 1 pixel each way and a rotation by up to 5 degrees";

    /// <summary>The configuration of one run of the setup: <paramref name="augment"/>, <paramref name="regularization"/> and
    /// <paramref name="dropout"/> are the cure (all off for the overfitting run).</summary>
    public static TrainingConfig Config(ExperimentContext run, int seed, string name, string augment = "none", Regularization? regularization = null, float dropout = 0)
    {
        var data = run.Data(seed);
        bool quick = run.Quick;
        int[] train = data.Subset(data.TrainSplit, quick ? QuickTrainImages : TrainImages, 2);
        int[] validation = data.Subset(data.ValidationSplit, quick ? QuickValidationImages : ValidationImages, 3);
        return new TrainingConfig(name, new MlpSpec(Hidden, dropout), LearningRate, Momentum, BatchSize, run.Epochs(Epochs, QuickEpochs), Cosine: false,
            augment, regularization ?? Regularization.None, train, validation, seed) { Test = run.QuickTest(data) };
    }

    /// <summary>A weight with a smaller magnitude counts as near zero (what <c>regularize</c> measures an L1 penalty by).</summary>
    public const double NearZero = 1e-3;

    /// <summary>The last epoch's weight histogram covers <c>[-HistogramRange, HistogramRange]</c>, where almost all weights
    /// are; larger ones fall into the end bins.</summary>
    public const double HistogramRange = 0.15;

    /// <summary>The bins of that histogram.</summary>
    public const int HistogramBins = 101;

    /// <summary>
    /// The planned run of <paramref name="config"/> (from <see cref="Config"/>) as every experiment of the setup declares it:
    /// after each epoch it records the share of near-zero weights (<c>near_zero_by_epoch</c>) and the histogram of the
    /// weights (<c>last_epoch_histogram</c>, overwritten, so the last epoch's stays), and after the fit the near-zero
    /// share of the restored model (<c>near_zero_selected</c>). The overfitting run is planned by <c>overfit</c>,
    /// <c>augment</c>, <c>regularize</c> and <c>combo</c> alike, so all of them must plan it this way: whichever fits it,
    /// its folder then holds what <c>regularize</c> reads.
    /// </summary>
    public static TrainingPlan Plan(TrainingConfig config, string? label = null) => new(config, label)
    {
        ExtraIdentity = new JsonObject
        {
            ["weight_statistics"] = new JsonObject { ["near_zero"] = NearZero, ["histogram_range"] = HistogramRange, ["histogram_bins"] = HistogramBins },
        },
        AfterEpoch = (_, model, extras) =>
        {
            var w = model.Parameters.Values.Rows(0, (int)model.Parameters.WeightCount).ToArray();
            ((extras["near_zero_by_epoch"] ??= new JsonArray()) as JsonArray)!.Add(w.Length == 0 ? 0 : w.Count(v => Math.Abs(v) < NearZero) / (double)w.Length);
            extras["last_epoch_histogram"] = new JsonArray(Plots.Bin(w.Select(v => (double)v), HistogramBins, -HistogramRange, HistogramRange)
                .Select(c => (JsonNode)c).ToArray());
        },
        AfterFit = (outcome, _, extras) => extras["near_zero_selected"] = outcome.NearZeroFraction(NearZero),
    };

    /// <summary>What <see cref="Plan"/> recorded about a run's weights.</summary>
    /// <param name="NearZeroByEpoch">The share of near-zero weights after each epoch.</param>
    /// <param name="NearZeroSelected">The share in the restored (best-validation) model.</param>
    /// <param name="LastEpochHistogram">The counts of the last epoch's weights in <see cref="HistogramBins"/> bins.</param>
    public sealed record WeightStatistics(IReadOnlyList<double> NearZeroByEpoch, double NearZeroSelected, IReadOnlyList<double> LastEpochHistogram)
    {
        /// <summary>The share of near-zero weights after the last epoch.</summary>
        public double NearZeroFinal => NearZeroByEpoch.Count > 0 ? NearZeroByEpoch[^1] : double.NaN;

        /// <summary>Reads them from <paramref name="run"/>'s extras.</summary>
        /// <exception cref="InvalidDataException">The run was not planned by <see cref="Plan"/>.</exception>
        public static WeightStatistics Of(TrainedRun run)
        {
            var e = run.Extras;
            if (e["near_zero_by_epoch"] is not JsonArray byEpoch || e["last_epoch_histogram"] is not JsonArray histogram)
                throw new InvalidDataException($"run {run.Plan.Key} holds no weight statistics (it was not planned by OverfitSetup.Plan).");
            return new WeightStatistics(byEpoch.Select(v => v!.GetValue<double>()).ToArray(), e["near_zero_selected"]?.GetValue<double>() ?? double.NaN,
                histogram.Select(v => v!.GetValue<double>()).ToArray());
        }
    }

    /// <summary>The setup's settings for config.json.</summary>
    public static JsonObject Settings(TrainingConfig baseline) => new()
    {
        ["epochs"] = baseline.Epochs,
        ["setup"] = new JsonObject
        {
            ["model"] = baseline.Model.ToString(),
            ["optimizer"] = baseline.Optimizer,
            ["batch_size"] = baseline.BatchSize,
            ["epochs"] = baseline.Epochs,
            ["train_images"] = baseline.Train.Length,
            ["validation_images"] = baseline.Validation.Length,
            ["seed"] = baseline.Seed,
        },
    };

    /// <summary>One paragraph describing the setup, for the reports.</summary>
    public static string Describe(TrainingConfig c, long parameters, int testImages) => string.Create(CultureInfo.InvariantCulture,
        $"The setup: a {c.Model.Widths} ReLU MLP ({parameters:N0} parameters) trained with SGD (learning rate {c.LearningRate}, " +
        $"constant, momentum {c.Momentum}, batch {c.BatchSize}) for {c.Epochs} epochs on only {c.Train.Length:N0} training images ({c.Train.Length / 10} per class, " +
        $"stratified), with {c.Validation.Length:N0} validation images to choose the epoch and the whole test set ({testImages:N0} images) " +
        $"measured after every epoch. Losses are cross-entropy in nats; the training curve is measured in " +
        $"evaluation mode (no augmentation, no dropout) so it is comparable with the test curve.");
}
