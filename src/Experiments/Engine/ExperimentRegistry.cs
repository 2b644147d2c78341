using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;

namespace GpuNet.Experiments;

/// <summary>Every experiment, in the course's order.</summary>
public static class ExperimentRegistry
{
    /// <summary>All experiments.</summary>
    public static IReadOnlyList<ICourseExperiment> All { get; } =
        [new MlpExperiment(), new OverfitExperiment(), new AugmentExperiment(), new RegularizeExperiment(), new DropoutTable(), new ComboExperiment(), new OptimizersExperiment(),
            new KnnExperiment(), new L1VsL2Experiment(), new DistillExperiment()];

    /// <summary><c>gpunet run all</c>: every experiment of <see cref="All"/>, then an index report.</summary>
    public static IExperiment RunAll { get; } = new AllExperiment();

    /// <summary>The names <c>gpunet run</c> accepts: every experiment, then <c>all</c>.</summary>
    public static IEnumerable<string> Names => All.Select(e => e.Name).Append(RunAll.Name);

    /// <summary>The experiment called <paramref name="name"/>.</summary>
    /// <exception cref="UsageException">No experiment has that name.</exception>
    public static IExperiment Get(string name) =>
        (name == RunAll.Name ? RunAll : All.FirstOrDefault(e => e.Name == name))
        ?? throw new UsageException($"unknown experiment '{name}'; choose one of: {string.Join(", ", Names)}.");
}
