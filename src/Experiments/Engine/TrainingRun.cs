using System.Diagnostics;
using GpuNet.Data;
using GpuNet.Nn;
using GpuNet.Training;

namespace GpuNet.Experiments.Training;

/// <summary>Trains one <see cref="TrainingConfig"/> on <see cref="CourseData"/>.</summary>
public static class TrainingRun
{
    /// <summary>
    /// Trains, evaluating the (evaluation-mode) training images, the validation images and (unless
    /// <see cref="TrainingConfig.TestEveryEpoch"/> is false) the test set (<see cref="TrainingConfig.Test"/>: all of it unless a quick run
    /// took a subset) after every epoch; restores the parameters of
    /// the best-validation epoch and measures the test set with them.
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
        using var test = CourseData.EvalLoader(data.Test, config.Test, normalization);
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
                result = trainer.Fit(train, trainEval, validation, config.TestEveryEpoch ? test : null, options, progress);
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
