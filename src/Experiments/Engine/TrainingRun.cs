using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.IO;
using GpuNet.Nn;
using GpuNet.Training;

namespace GpuNet.Experiments.Training;

/// <summary>A ReLU MLP for 28x28 images: <c>784 - hidden... - 10</c>, with inverted dropout after each hidden ReLU when
/// <see cref="Dropout"/> is positive.</summary>
/// <param name="Hidden">The widths of the hidden layers.</param>
/// <param name="Dropout">The drop probability after each hidden layer (0: no dropout layers).</param>
public sealed record MlpSpec(int[] Hidden, float Dropout = 0)
{
    /// <summary>Builds the model on <paramref name="device"/>, initialised from <paramref name="seed"/>.</summary>
    public Sequential Build(Device device, ulong seed)
    {
        var modules = new List<Module>();
        int input = FashionMnist.Pixels;
        foreach (int h in Hidden)
        {
            modules.Add(new Linear(input, h));
            modules.Add(new ReLU());
            if (Dropout > 0) modules.Add(new Nn.Dropout(Dropout));
            input = h;
        }
        modules.Add(new Linear(input, FashionMnist.Classes));
        return new Sequential(device, FashionMnist.Pixels, seed, [.. modules]);
    }

    /// <summary><c>784-256-128-10</c>.</summary>
    public string Widths => string.Join("-", new[] { FashionMnist.Pixels }.Concat(Hidden).Append(FashionMnist.Classes));

    /// <inheritdoc />
    public override string ToString() =>
        Widths + " ReLU" + (Dropout > 0 ? string.Create(CultureInfo.InvariantCulture, $", dropout {Dropout:0.##}") : "");
}

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

    /// <summary>The configuration as JSON, for config.json and summary.json (<c>l1_method</c> only when the L1 penalty is proximal).</summary>
    public JsonObject ToJson()
    {
        var json = Json();
        if (Regularization.UsesProximalStep) json["l1_method"] = "proximal";
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

/// <summary>Trains one <see cref="TrainingConfig"/> on <see cref="CourseData"/>.</summary>
public static class TrainingRun
{
    /// <summary>
    /// Trains, evaluating the (evaluation-mode) training images, the validation images and the whole test set after every
    /// epoch; restores the parameters of the best-validation epoch and measures the test set with them.
    /// </summary>
    /// <param name="data">The data.</param>
    /// <param name="config">What to train.</param>
    /// <param name="console">Where progress goes.</param>
    /// <param name="label">The progress display's label (default: the configuration's name).</param>
    /// <param name="afterEpoch">Called after every epoch with its metrics and the model as that epoch left it.</param>
    /// <param name="objective">Creates, for the freshly built model, what training minimises instead of the model's plain
    /// cross-entropy (for example <see cref="DistillationObjective"/>); the caller keeps and disposes it.</param>
    public static RunOutcome Fit(CourseData data, TrainingConfig config, RunConsole console, string? label = null,
        Action<EpochMetrics, Sequential>? afterEpoch = null, Func<Sequential, ITrainingObjective>? objective = null)
    {
        var clock = Stopwatch.StartNew();
        var device = data.Device;
        // The statistics of the images the model is trained on, as a user of that subset alone would compute them.
        var normalization = Normalization.FromImages(data.TrainSet, config.Train);
        var augment = AugmentPipeline.Parse(config.Augment);
        using var train = data.TrainLoader(config.Train, config.BatchSize, normalization, augment, (ulong)config.Seed);
        using var trainEval = CourseData.EvalLoader(data.Train, config.Train, normalization);
        using var validation = CourseData.EvalLoader(data.Train, config.Validation, normalization);
        using var test = CourseData.EvalLoader(data.Test, null, normalization);
        var model = config.Model.Build(device, (ulong)config.Seed);
        try
        {
            using var sgd = config.CreateOptimizer(model.Parameters);
            sgd.Regularization = config.Regularization;
            using var trainer = new Trainer(model, sgd, objective?.Invoke(model));
            var options = new TrainerOptions
            {
                Epochs = config.Epochs,
                Schedule = config.Cosine ? new CosineSchedule(config.Epochs) : null,
                ProgressEvery = Math.Max(1, train.BatchCount / 10),
            };
            TrainResult result;
            using (var display = console.StartTraining(label ?? config.Name, config.Epochs))
            {
                IProgress<TrainProgress> progress = afterEpoch is null ? display : new EpochHook(display, m => afterEpoch(m, model));
                result = trainer.Fit(train, trainEval, validation, test, options, progress);
            }
            if (result.Diverged) console.WriteLine($"{config.Name}: the loss became NaN or infinite; training stopped after {result.History.Count} epochs.");
            var (testLoss, testAccuracy) = trainer.Evaluate(test);
            int correct = (int)Math.Round(testAccuracy * test.Count);
            return new RunOutcome(config, result, model, normalization, testLoss, correct, test.Count, clock.Elapsed.TotalSeconds);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    // The trainer reports each finished epoch before it moves on, so the model is still as that epoch left it.
    private sealed class EpochHook(IProgress<TrainProgress> inner, Action<EpochMetrics> hook) : IProgress<TrainProgress>
    {
        public void Report(TrainProgress value)
        {
            inner.Report(value);
            if (value.Finished is { } m) hook(m);
        }
    }
}
