using System.Text.Json.Nodes;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;

namespace GpuNet.Experiments;

/// <summary>One experiment of the course, run by <c>gpunet run NAME</c>.</summary>
public interface IExperiment
{
    /// <summary>The name on the command line.</summary>
    string Name { get; }

    /// <summary>One line saying what it shows.</summary>
    string Summary { get; }

    /// <summary>
    /// The experiment's headline numbers, read from the summary.json it wrote, for the index that
    /// <c>gpunet run all</c> writes. By default the test accuracy of the reported model.
    /// </summary>
    string KeyNumbers(JsonObject summary) =>
        Summaries.Number(summary, "test_accuracy") is { } a ? $"test accuracy {RunFiles.Pct(a)}" : "-";
}

/// <summary>
/// An experiment the <see cref="ExperimentEngine"/> runs: a set of runs (configurations x seeds) declared by
/// <see cref="Plan"/>, each fitted once into a folder of its own, and an analysis of the finished runs into the
/// experiment's report. The engine owns everything else: the device, the data, progress, folders, resuming, shards.
/// </summary>
public interface ICourseExperiment : IExperiment
{
    /// <summary>Seeds per configuration when <c>--seeds</c> is not given.</summary>
    int DefaultSeeds { get; }

    /// <summary>Seeds per configuration of a <c>--quick</c> run when <c>--seeds</c> is not given: two where the experiment
    /// compares anything (the least that gives a paired interval, so every report section is still written), else one.</summary>
    int QuickSeeds => Math.Min(DefaultSeeds, 2);

    /// <summary>The runs of the sweep, in the order they are fitted; the same options must give the same list.</summary>
    IReadOnlyList<PlannedRun> Plan(ExperimentContext context);

    /// <summary>Reads the finished runs and writes the experiment's aggregate files (summary.json, metrics.csv, plots,
    /// report.md) into <see cref="ExperimentContext.Folder"/>. It sees only what the runs' folders hold, so it gives the same
    /// bytes after one process, a resumed one, or shards on several machines.</summary>
    void Analyse(ExperimentContext context, RunSet runs);
}
