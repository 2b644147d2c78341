using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;
using GpuNet.Training;

namespace GpuNet.Experiments.Engine;

/// <summary>
/// A training run: one <see cref="TrainingConfig"/> fitted by <see cref="TrainingRun.Fit"/>. Its folder gets metrics.csv
/// and timing.csv (one row per epoch), steps.csv when <see cref="RecordSteps"/> is set, the restored model as
/// model.safetensors, and summary.json with the test figures of that model, its size, its input normalisation, and the
/// experiment's own <c>extras</c> measured on the live model by <see cref="AfterEpoch"/> and <see cref="AfterFit"/>.
/// </summary>
public sealed class TrainingPlan : PlannedRun
{
    /// <summary>Plans <paramref name="config"/> (its name and seed name the run).</summary>
    public TrainingPlan(TrainingConfig config, string? label = null) : base(config.Name, config.Seed)
    {
        Config = config;
        _label = label;
    }

    private readonly string? _label;

    /// <summary>What is trained.</summary>
    public TrainingConfig Config { get; }

    /// <inheritdoc />
    public override string Label => _label is null ? base.Label : $"{_label} (seed {Seed})";

    /// <summary>Write every step's training loss to steps.csv.</summary>
    public bool RecordSteps { get; init; }

    /// <summary>Called after each epoch with its metrics, the model as the epoch left it, and the run's extras to fill.</summary>
    public Action<EpochMetrics, Sequential, JsonObject>? AfterEpoch { get; init; }

    /// <summary>Called once the best-validation model is restored, with the run's extras to fill.</summary>
    public Action<RunOutcome, RunContext, JsonObject>? AfterFit { get; init; }

    /// <summary>What training minimises instead of the model's cross-entropy (created for the fresh model; disposed after
    /// the fit when it is <see cref="IDisposable"/>).</summary>
    public Func<Sequential, RunContext, ITrainingObjective>? Objective { get; init; }

    /// <summary>More of what decides the result, beyond the configuration (for example the hash of a teacher run).</summary>
    public JsonObject? ExtraIdentity { get; init; }

    /// <inheritdoc />
    public override JsonObject Identity()
    {
        var identity = Config.ToJson();
        identity["train_indices_sha256"] = Digest(Config.Train);
        identity["validation_indices_sha256"] = Digest(Config.Validation);
        if (Config.Test is { } test) identity["test_indices_sha256"] = Digest(test);
        if (RecordSteps) identity["record_steps"] = true;
        if (ExtraIdentity is not null) identity["extra"] = ExtraIdentity.DeepClone();
        return identity;
    }

    /// <inheritdoc />
    public override FinishedRun Read(string directory) => new TrainedRun(this, directory);

    /// <inheritdoc />
    public override void Fit(RunContext context)
    {
        var extras = new JsonObject();
        ITrainingObjective? objective = null;
        try
        {
            Action<EpochMetrics, Sequential>? afterEpoch = AfterEpoch is null ? null : (m, model) => AfterEpoch(m, model, extras);
            Func<Sequential, ITrainingObjective>? makeObjective = Objective is null ? null : model => objective = Objective(model, context);
            using var outcome = TrainingRun.Fit(context.Data, Config, context.Console, Label, afterEpoch, makeObjective);
            AfterFit?.Invoke(outcome, context, extras);
            var folder = context.Folder;
            RunFiles.WriteRunMetrics(folder, outcome);
            if (RecordSteps) RunFiles.WriteSteps(folder, outcome.Result.StepLosses);
            outcome.SaveCheckpoint(folder.File(RunFiles.CheckpointFile), context.Experiment, context.Data);
            folder.WriteJson(RunStore.SummaryFile, new JsonObject
            {
                ["run"] = Key,
                ["test_accuracy"] = outcome.TestAccuracy,
                ["test_loss"] = outcome.TestLoss,
                ["test_correct"] = outcome.TestCorrect,
                ["test_images"] = outcome.TestCount,
                ["best_epoch"] = outcome.Result.BestEpoch,
                ["epochs_trained"] = outcome.Result.History.Count,
                ["diverged"] = outcome.Result.Diverged,
                ["checkpoint"] = RunFiles.CheckpointFile,
                ["parameters"] = outcome.Model.ParameterCount,
                ["input_mean"] = outcome.Normalization.Mean,
                ["input_std"] = outcome.Normalization.Std,
                ["seconds"] = Math.Round(outcome.Seconds, 1),
                ["config"] = Config.ToJson(),
                ["extras"] = extras,
            });
        }
        finally
        {
            (objective as IDisposable)?.Dispose();
        }
    }
}

/// <summary>
/// A finished <see cref="TrainingPlan"/> read back from its folder: the figures a report needs, under the names
/// <see cref="RunOutcome"/> gives them, but from the files alone (the model itself is in <see cref="CheckpointPath"/>).
/// </summary>
public sealed class TrainedRun : FinishedRun
{
    /// <summary>Reads the run in <paramref name="directory"/>.</summary>
    public TrainedRun(TrainingPlan plan, string directory) : base(plan, directory)
    {
        Config = plan.Config;
        var history = RunFiles.ReadRunMetrics(File("metrics.csv"));
        var steps = plan.RecordSteps ? RunFiles.ReadSteps(File(RunFiles.StepsFile)) : null;
        Result = TrainResult.Restore(history, Int("best_epoch"), Summary["diverged"]?.GetValue<bool>() ?? false, steps);
        TestLoss = Double("test_loss");
        TestCorrect = Int("test_correct");
        TestCount = Int("test_images");
        ParameterCount = Summary["parameters"]?.GetValue<long>() ?? 0;
        Normalization = new Data.Normalization(Double("input_mean"), Double("input_std"));
        Seconds = Double("seconds");
        Extras = Summary["extras"] as JsonObject ?? [];
    }

    private double Double(string key) => Summary[key]?.GetValue<double>() ?? double.NaN;

    private int Int(string key) => Summary[key]?.GetValue<int>() ?? 0;

    /// <summary>The configuration.</summary>
    public TrainingConfig Config { get; }

    /// <summary>The run's seed.</summary>
    public int Seed => Plan.Seed;

    /// <summary>The per-epoch history (and step losses when recorded).</summary>
    public TrainResult Result { get; }

    /// <summary>Test loss (nats) of the restored model.</summary>
    public double TestLoss { get; }

    /// <summary>Test images the restored model classifies correctly.</summary>
    public int TestCorrect { get; }

    /// <summary>Test images.</summary>
    public int TestCount { get; }

    /// <summary>Test accuracy (fraction) of the restored model.</summary>
    public double TestAccuracy => TestCount == 0 ? double.NaN : (double)TestCorrect / TestCount;

    /// <summary>The model's parameter count.</summary>
    public long ParameterCount { get; }

    /// <summary>The input normalisation the model was trained with.</summary>
    public Data.Normalization Normalization { get; }

    /// <summary>Wall time of the fit (not part of any aggregate: it changes from run to run).</summary>
    public double Seconds { get; }

    /// <summary>What the experiment measured on the live model (<see cref="TrainingPlan.AfterEpoch"/>, <see cref="TrainingPlan.AfterFit"/>).</summary>
    public JsonObject Extras { get; }

    /// <summary>The figures a report states, apart from the folder.</summary>
    public RunFigures Figures => new(Config, Result, TestLoss, TestCorrect, TestCount, ParameterCount, Normalization);

    /// <summary>The restored model's checkpoint.</summary>
    public string CheckpointPath => File(RunFiles.CheckpointFile);

    /// <summary>The best-validation epoch's metrics.</summary>
    public EpochMetrics Best => Result.Best ?? throw new InvalidOperationException($"run {Plan.Key} finished no epoch.");

    /// <summary>The highest test accuracy of any epoch (what an oracle that peeks at the test set would pick).</summary>
    public double PeakTestAccuracy => Result.History.Count == 0 ? double.NaN : Result.History.Max(h => h.TestAccuracy);
}
