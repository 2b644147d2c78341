using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.Nn;

namespace GpuNet.Experiments.Training;

/// <summary>Everything one training run is: model, optimizer, data and schedule.</summary>
/// <param name="Name">A short name for tables, files and the <c>run</c> column of metrics.csv.</param>
/// <param name="Model">The network.</param>
/// <param name="LearningRate">SGD's learning rate.</param>
/// <param name="Momentum">SGD's momentum (0: plain SGD).</param>
/// <param name="BatchSize">Training batch size.</param>
/// <param name="Epochs">Epochs to train.</param>
/// <param name="Cosine">Anneal the learning rate to 0 with a cosine over the epochs (else constant).</param>
/// <param name="Augment">The augmentation spec (<see cref="AugmentPipeline.Parse"/>), <c>none</c> for none.</param>
/// <param name="Regularization">L1/L2 penalties on the weights.</param>
/// <param name="Train">Indices of the training images used.</param>
/// <param name="Validation">Indices of the validation images used for model selection.</param>
/// <param name="Seed">The seed of initialisation, shuffles, augmentation and dropout.</param>
/// <param name="Algorithm">The optimizer: <c>sgd</c> (with <paramref name="Momentum"/>), <c>nesterov</c> (SGD with Nesterov
/// momentum <paramref name="Momentum"/>), <c>adagrad</c>, <c>rmsprop</c> or <c>adam</c> (PyTorch's defaults apart from the rate).</param>
public sealed record TrainingConfig(string Name, MlpSpec Model, double LearningRate, double Momentum, int BatchSize, int Epochs,
    bool Cosine, string Augment, Regularization Regularization, int[] Train, int[] Validation, int Seed, string Algorithm = "sgd")
{
    /// <summary>
    /// Measure the whole test set after every epoch (the default), for a per-epoch test curve. False measures the test set
    /// once, for the restored best-validation model only: the per-epoch rows then hold NaN for the test loss and accuracy.
    /// Evaluating 10,000 test images every epoch can cost more than training on a small set, and an experiment that reports
    /// only the selected model's test figures does not need the curve. Part of the identity only when false, so runs
    /// planned before this option keep their hashes.
    /// </summary>
    public bool TestEveryEpoch { get; init; } = true;

    /// <summary>
    /// Indices of the test images measured, or null (the default) for the whole test set. Only <c>--quick</c> runs take a
    /// subset (<see cref="Engine.ExperimentContext.QuickTest"/>): measuring 10,000 test images after every epoch costs several
    /// times what training on a few hundred images does. Part of the identity only when set, so full runs keep their hashes.
    /// </summary>
    public int[]? Test { get; init; }

    /// <summary>The optimizer in PyTorch's terms.</summary>
    public string Optimizer => Algorithm switch
    {
        "nesterov" => FormattableString.Invariant($"SGD(lr={LearningRate}, momentum={Momentum}, nesterov=True)"),
        "adagrad" => FormattableString.Invariant($"Adagrad(lr={LearningRate})"),
        "rmsprop" => FormattableString.Invariant($"RMSprop(lr={LearningRate})"),
        "adam" => FormattableString.Invariant($"Adam(lr={LearningRate})"),
        _ => FormattableString.Invariant($"SGD(lr={LearningRate}{(Momentum != 0 ? $", momentum={Momentum}" : "")})"),
    } + (Cosine ? ", cosine schedule" : "");

    /// <summary>Creates the optimizer of <paramref name="parameters"/> that <see cref="Algorithm"/> names.</summary>
    /// <exception cref="ArgumentException">An unknown algorithm.</exception>
    public Nn.Optimizer CreateOptimizer(ParameterStore parameters) => Algorithm switch
    {
        "sgd" => new Sgd(parameters, LearningRate, Momentum),
        "nesterov" => new Sgd(parameters, LearningRate, Momentum, nesterov: true),
        "adagrad" => new Adagrad(parameters, LearningRate),
        "rmsprop" => new RmsProp(parameters, LearningRate),
        "adam" => new Adam(parameters, LearningRate),
        _ => throw new ArgumentException($"unknown optimizer '{Algorithm}'.", nameof(Algorithm)),
    };

    /// <summary>The configuration as JSON, for config.json and summary.json (<c>l1_method</c> only when the L1 penalty is proximal,
    /// <c>test_every_epoch</c> only when it is false, <c>test_images</c> only for a test subset).</summary>
    public JsonObject ToJson()
    {
        var json = Json();
        if (Regularization.UsesProximalStep) json["l1_method"] = "proximal";
        if (!TestEveryEpoch) json["test_every_epoch"] = false;
        if (Test is not null) json["test_images"] = Test.Length;
        return json;
    }

    private JsonObject Json() => new()
    {
        ["name"] = Name,
        ["model"] = Model.ToString(),
        ["hidden"] = new JsonArray(Model.Hidden.Select(h => (JsonNode)h).ToArray()),
        ["dropout"] = (double)(decimal)Model.Dropout,
        ["optimizer"] = Algorithm switch { "nesterov" => "SGD (Nesterov)", "adagrad" => "Adagrad", "rmsprop" => "RMSprop", "adam" => "Adam", _ => "SGD" },
        ["learning_rate"] = LearningRate,
        ["momentum"] = Momentum,
        ["schedule"] = Cosine ? "cosine" : "constant",
        ["batch_size"] = BatchSize,
        ["epochs"] = Epochs,
        ["augment"] = Augment,
        ["l1"] = Regularization.L1,
        ["l2"] = Regularization.L2,
        ["train_images"] = Train.Length,
        ["validation_images"] = Validation.Length,
        ["seed"] = Seed,
    };
}
