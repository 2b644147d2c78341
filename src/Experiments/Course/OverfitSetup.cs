using System.Globalization;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Engine;
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
            augment, regularization ?? Regularization.None, train, validation, seed);
    }

    /// <summary>The configuration of one run of the setup for an experiment not yet on the engine (the run's one seed).</summary>
    public static TrainingConfig Config(CourseRun run, string name, string augment = "none", Regularization? regularization = null, float dropout = 0)
    {
        var data = run.Data;
        bool quick = run.Options.Quick;
        int[] train = data.Subset(data.TrainSplit, quick ? QuickTrainImages : TrainImages, 2);
        int[] validation = data.Subset(data.ValidationSplit, quick ? QuickValidationImages : ValidationImages, 3);
        return new TrainingConfig(name, new MlpSpec(Hidden, dropout), LearningRate, Momentum, BatchSize, run.Epochs(Epochs, QuickEpochs), Cosine: false,
            augment, regularization ?? Regularization.None, train, validation, run.Options.Seed);
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
