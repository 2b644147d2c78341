using System.Diagnostics;
using GpuNet.Data;
using GpuNet.Nn;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Training;

/// <summary>What a <see cref="Trainer"/> does each epoch.</summary>
public sealed record TrainerOptions
{
    /// <summary>Epochs to train.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>The learning-rate schedule (null: constant).</summary>
    public ILearningRateSchedule? Schedule { get; init; }

    /// <summary>Measure loss and accuracy on the training set in evaluation mode after each epoch (without augmentation or
    /// dropout), so the train and test curves are comparable.</summary>
    public bool EvaluateTrain { get; init; } = true;

    /// <summary>Report progress every this many steps (one small host read each time).</summary>
    public int ProgressEvery { get; init; } = 50;
}

/// <summary>One epoch's results. Losses are mean cross-entropy in nats; accuracies are fractions.</summary>
/// <param name="Epoch">The epoch, from 1.</param>
/// <param name="LearningRate">The rate used during the epoch.</param>
/// <param name="RunningLoss">Mean training loss over the epoch's batches, in training mode (dropout, augmentation on).</param>
/// <param name="TrainLoss">Loss on the training set in evaluation mode (NaN when not measured).</param>
/// <param name="TrainAccuracy">Accuracy on the training set in evaluation mode.</param>
/// <param name="Penalty">The L1/L2 penalty's value after the epoch (0 without one).</param>
/// <param name="ValidationLoss">Loss on the validation split (NaN without one).</param>
/// <param name="ValidationAccuracy">Accuracy on the validation split.</param>
/// <param name="TestLoss">Loss on the test split (NaN without one).</param>
/// <param name="TestAccuracy">Accuracy on the test split.</param>
/// <param name="Seconds">Wall time of the epoch, evaluation included.</param>
public sealed record EpochMetrics(int Epoch, double LearningRate, double RunningLoss, double TrainLoss, double TrainAccuracy, double Penalty,
    double ValidationLoss, double ValidationAccuracy, double TestLoss, double TestAccuracy, double Seconds)
{
    /// <summary>The training objective: evaluation-mode training loss plus the penalty.</summary>
    public double TrainObjective => TrainLoss + Penalty;
}

/// <summary>A progress report during training.</summary>
/// <param name="Epoch">The epoch, from 1.</param>
/// <param name="Epochs">Epochs in all.</param>
/// <param name="Step">Steps done in this epoch.</param>
/// <param name="Steps">Steps per epoch.</param>
/// <param name="Loss">The last batch's training loss.</param>
/// <param name="Finished">The epoch's metrics when the epoch has just finished, else null.</param>
public sealed record TrainProgress(int Epoch, int Epochs, int Step, int Steps, double Loss, EpochMetrics? Finished);

/// <summary>The outcome of <see cref="Trainer.Fit"/>.</summary>
public sealed class TrainResult
{
    /// <summary>One entry per finished epoch.</summary>
    public List<EpochMetrics> History { get; } = [];

    /// <summary>Every training step's batch loss, in order (training mode).</summary>
    public List<float> StepLosses { get; } = [];

    /// <summary>The epoch (from 1) with the best validation accuracy (the last epoch without validation data); 0 if none finished.</summary>
    public int BestEpoch { get; internal set; }

    /// <summary>True when a loss became NaN or infinite and training stopped.</summary>
    public bool Diverged { get; internal set; }

    /// <summary>The training step (from 1, counting the steps of every epoch, as <see cref="StepLosses"/> does) whose batch
    /// loss was the first NaN or infinite one; 0 when every step's loss was finite (also when a run diverged in evaluation).</summary>
    public int DivergedAtStep { get; internal set; }

    /// <summary>The metrics of <see cref="BestEpoch"/>, or null.</summary>
    public EpochMetrics? Best => BestEpoch > 0 ? History[BestEpoch - 1] : null;

    /// <summary>A result as it was recorded (for example read back from a run's files).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bestEpoch"/> is not 0 or an epoch of the history.</exception>
    public static TrainResult Restore(IEnumerable<EpochMetrics> history, int bestEpoch, bool diverged, IEnumerable<float>? stepLosses = null)
    {
        var result = new TrainResult();
        result.History.AddRange(history);
        if (bestEpoch < 0 || bestEpoch > result.History.Count) throw new ArgumentOutOfRangeException(nameof(bestEpoch));
        result.BestEpoch = bestEpoch;
        result.Diverged = diverged;
        if (stepLosses is not null) result.StepLosses.AddRange(stepLosses);
        return result;
    }
}

/// <summary>
/// What a <see cref="Trainer"/> minimises on a training batch when that is more than the model's own cross-entropy (for
/// example knowledge distillation, <see cref="DistillationObjective"/>). Evaluation always measures the model's cross-entropy.
/// The objective may train parameters of its own besides the model's; it steps them at the model's learning rate.
/// </summary>
public interface ITrainingObjective
{
    /// <summary>Called before a training epoch of <paramref name="steps"/> batches.</summary>
    void BeginEpoch(int steps);

    /// <summary>Sets the gradients of the objective's own parameters to zero (the trainer clears the model's).</summary>
    void ZeroGrad();

    /// <summary>
    /// Called after the model's forward pass on training batch <paramref name="step"/> (in training mode): writes the batch's
    /// cross-entropy to <paramref name="loss"/>[0] and its correct count to <paramref name="correct"/>[0], and back-propagates
    /// the whole objective, accumulating its gradient into the model's parameter gradients and the objective's own.
    /// </summary>
    void Backward(Tensor images, ArrayView<int> labels, Tensor logits, ArrayView<float> loss, ArrayView<int> correct, int step);

    /// <summary>Updates the objective's own parameters at <paramref name="learningRate"/> (the model's rate for this step).</summary>
    void Step(double learningRate);

    /// <summary>Called after a training epoch.</summary>
    void EndEpoch();
}

/// <summary>
/// Trains a <see cref="Sequential"/> classifier with cross-entropy (or with an <see cref="ITrainingObjective"/>): epochs over a data loader, each step on the device;
/// the batch losses of an epoch are written to device slots and read back once per epoch (plus one value every
/// <see cref="TrainerOptions.ProgressEvery"/> steps for the progress display). After each epoch it measures the training
/// set (evaluation mode), validation and test splits, keeps the parameters of the epoch with the best validation accuracy,
/// and stops a run whose loss becomes NaN or infinite (marked diverged). At the end the best parameters are restored.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly Sequential _model;
    private readonly Optimizer _optimizer;
    private readonly CrossEntropyLoss _loss;
    private readonly ITrainingObjective? _objective;
    private MemoryBuffer1D<float, ILGPU.Stride1D.Dense>? _lossSlots;
    private MemoryBuffer1D<int, ILGPU.Stride1D.Dense>? _correctSlots;

    /// <summary>A trainer of <paramref name="model"/> with <paramref name="optimizer"/>, minimising the model's cross-entropy or,
    /// when given, <paramref name="objective"/> (which the caller owns).</summary>
    public Trainer(Sequential model, Optimizer optimizer, ITrainingObjective? objective = null)
    {
        _model = model;
        _optimizer = optimizer;
        _objective = objective;
        _loss = new CrossEntropyLoss(model.Device);
    }

    /// <summary>Trains and evaluates; see the class remarks.</summary>
    public TrainResult Fit(DataLoader train, DataLoader? trainEval, DataLoader? validation, DataLoader? test, TrainerOptions options,
        IProgress<TrainProgress>? progress = null, CancellationToken cancel = default)
    {
        var result = new TrainResult();
        float[]? best = null;
        double bestAccuracy = double.NegativeInfinity;
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            cancel.ThrowIfCancellationRequested();
            var sw = Stopwatch.StartNew();
            _optimizer.LearningRate = options.Schedule?.At(epoch, _optimizer.BaseLearningRate) ?? _optimizer.BaseLearningRate;
            var (losses, _) = RunEpoch(train, epoch, training: true, progress, epoch + 1, options);
            result.StepLosses.AddRange(losses);
            double running = losses.Length == 0 ? double.NaN : losses.Average(v => (double)v);
            if (!double.IsFinite(running))
            {
                result.Diverged = true;
                result.DivergedAtStep = result.StepLosses.FindIndex(v => !float.IsFinite(v)) + 1;
                break;
            }
            var (trainLoss, trainAcc) = options.EvaluateTrain && trainEval is not null ? Evaluate(trainEval) : (double.NaN, double.NaN);
            var (valLoss, valAcc) = validation is not null ? Evaluate(validation) : (double.NaN, double.NaN);
            var (testLoss, testAcc) = test is not null ? Evaluate(test) : (double.NaN, double.NaN);
            double penalty = _optimizer.Regularization.Value(_model.Parameters);
            var metrics = new EpochMetrics(epoch + 1, _optimizer.LearningRate, running, trainLoss, trainAcc, penalty, valLoss, valAcc,
                testLoss, testAcc, sw.Elapsed.TotalSeconds);
            result.History.Add(metrics);
            progress?.Report(new TrainProgress(epoch + 1, options.Epochs, losses.Length, losses.Length, running, metrics));
            if (!double.IsFinite(trainLoss) && options.EvaluateTrain && trainEval is not null)
            {
                result.Diverged = true;
                break;
            }
            double score = validation is not null ? valAcc : epoch;
            if (score > bestAccuracy)
            {
                bestAccuracy = score;
                result.BestEpoch = epoch + 1;
                best = _model.Parameters.Values.ToArray();
            }
        }
        if (best is not null) _model.Parameters.Values.CopyFrom(best);
        return result;
    }

    /// <summary>Mean loss and accuracy of the model on <paramref name="data"/> in evaluation mode.</summary>
    public (double Loss, double Accuracy) Evaluate(DataLoader data)
    {
        var (losses, correct) = RunEpoch(data, 0, training: false, null, 0, null);
        if (data.Count == 0) return (double.NaN, double.NaN);
        // Each slot holds a batch's mean loss: weight it by the batch size.
        double sum = 0;
        int bs = data.Options.BatchSize, n = 0;
        for (int i = 0; i < losses.Length; i++)
        {
            int size = Math.Min(bs, data.Count - i * bs);
            sum += (double)losses[i] * size;
            n += size;
        }
        return (sum / n, correct.Sum(c => (double)c) / n);
    }

    private (float[] Losses, int[] Correct) RunEpoch(DataLoader data, int epoch, bool training, IProgress<TrainProgress>? progress,
        int epochNumber, TrainerOptions? options)
    {
        var device = _model.Device;
        int steps = data.BatchCount;
        EnsureSlots(steps);
        if (training) _model.Train();
        else _model.Eval();
        int every = Math.Max(1, options?.ProgressEvery ?? int.MaxValue);
        if (training) _objective?.BeginEpoch(steps);
        foreach (var batch in data.Epoch(training ? epoch : 0))
        {
            var lossSlot = _lossSlots!.View.SubView(batch.Index, 1);
            var correctSlot = _correctSlots!.View.SubView(batch.Index, 1);
            var logits = _model.Forward(batch.Images);
            if (!training)
            {
                _loss.Forward(logits, batch.Labels, lossSlot, correctSlot);
                continue;
            }
            _optimizer.ZeroGrad();
            if (_objective is null)
            {
                _model.Backward(_loss.ForwardBackward(logits, batch.Labels, lossSlot, correctSlot));
            }
            else
            {
                _objective.ZeroGrad();
                _objective.Backward(batch.Images, batch.Labels, logits, lossSlot, correctSlot, batch.Index);
            }
            _optimizer.Step();
            _objective?.Step(_optimizer.LearningRate);
            if (progress is not null && (batch.Index + 1) % every == 0)
            {
                device.Synchronize();
                float last = lossSlot.GetAsArray1D()[0];
                progress.Report(new TrainProgress(epochNumber, options!.Epochs, batch.Index + 1, steps, last, null));
            }
        }
        if (training) _objective?.EndEpoch();
        device.Synchronize();
        var losses = new float[steps];
        var correct = new int[steps];
        if (steps > 0)
        {
            _lossSlots!.View.SubView(0, steps).CopyToCPU(losses);
            _correctSlots!.View.SubView(0, steps).CopyToCPU(correct);
        }
        return (losses, correct);
    }

    private void EnsureSlots(int steps)
    {
        if (_lossSlots is not null && _lossSlots.Length >= steps) return;
        _lossSlots?.Dispose();
        _correctSlots?.Dispose();
        _lossSlots = _model.Device.Accelerator.Allocate1D<float>(Math.Max(1, steps));
        _correctSlots = _model.Device.Accelerator.Allocate1D<int>(Math.Max(1, steps));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _loss.Dispose();
        _lossSlots?.Dispose();
        _correctSlots?.Dispose();
    }
}
