using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Training;
using GpuNet.Training;

namespace GpuNet.Experiments.Reporting;

// The run-folder writers of the experiments that run in one piece (not yet on the engine). They go when the last of them moves.
public static partial class RunFiles
{
    /// <summary>Writes metrics.csv and timing.csv for runs fitted in this process.</summary>
    public static void WriteMetrics(RunFolder folder, IEnumerable<RunOutcome> runs)
    {
        var metrics = new StringBuilder("run," + MetricsColumns + "\n");
        var timing = new StringBuilder("run,epoch,seconds\n");
        foreach (var run in runs)
            foreach (var m in run.Result.History)
            {
                metrics.AppendLine(string.Join(",", Csv(run.Config.Name), I(m.Epoch), R(m.LearningRate), R(m.RunningLoss), R(m.TrainLoss),
                    R(m.TrainAccuracy), R(m.Penalty), R(m.ValidationLoss), R(m.ValidationAccuracy), R(m.TestLoss), R(m.TestAccuracy)));
                timing.AppendLine(string.Join(",", Csv(run.Config.Name), I(m.Epoch), m.Seconds.ToString("F3", CultureInfo.InvariantCulture)));
            }
        folder.WriteText("metrics.csv", metrics.ToString());
        folder.WriteText("timing.csv", timing.ToString());
    }

    /// <summary>The reported model's part of summary.json for a run fitted in this process.</summary>
    public static JsonObject ModelSummary(RunOutcome run, string? checkpoint)
    {
        var o = new JsonObject
        {
            ["test_accuracy"] = run.TestAccuracy,
            ["test_loss"] = run.TestLoss,
            ["test_correct"] = run.TestCorrect,
            ["test_images"] = run.TestCount,
        };
        if (checkpoint is not null) o["checkpoint"] = checkpoint;
        o["best_epoch"] = run.Result.BestEpoch;
        o["epochs_trained"] = run.Result.History.Count;
        o["diverged"] = run.Result.Diverged;
        if (run.Result.Best is { } best)
        {
            o["validation_accuracy"] = best.ValidationAccuracy;
            o["validation_loss"] = best.ValidationLoss;
            o["train_accuracy"] = best.TrainAccuracy;
            o["train_loss"] = best.TrainLoss;
        }
        o["peak_test_accuracy"] = run.PeakTestAccuracy;
        o["seconds"] = Math.Round(run.Seconds, 1);
        o["config"] = run.Config.ToJson();
        return o;
    }

    /// <summary>Saves the run's restored model as the folder's checkpoint; returns its path relative to the folder.</summary>
    public static string SaveCheckpoint(RunFolder folder, RunOutcome run, string experiment, CourseData data)
    {
        run.SaveCheckpoint(folder.File(CheckpointFile), experiment, data);
        return CheckpointFile;
    }

    /// <summary>The curves of a run fitted in this process.</summary>
    public static IReadOnlyList<Series> LossCurves(RunOutcome run, string label, bool accuracy = false, bool validation = false, int group = 0) =>
        Curves(run.Result.History, label, accuracy, validation, group);

    /// <summary>The checkpoint section for a run fitted in this process.</summary>
    public static string CheckpointSection(RunOutcome o) => CheckpointSection(o.Normalization);
}
