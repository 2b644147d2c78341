using System.Text.Json.Nodes;

namespace GpuNet.Experiments.Engine;

/// <summary>A complete run's folder as the analysis sees it: its plan, config.json and summary.json.</summary>
public class FinishedRun
{
    /// <summary>Reads the run in <paramref name="directory"/>.</summary>
    public FinishedRun(PlannedRun plan, string directory)
    {
        Plan = plan;
        Directory = directory;
        Summary = RunStore.ReadObject(Path.Combine(directory, RunStore.SummaryFile));
    }

    /// <summary>The run as planned.</summary>
    public PlannedRun Plan { get; }

    /// <summary>The run's folder.</summary>
    public string Directory { get; }

    /// <summary>The run's summary.json.</summary>
    public JsonObject Summary { get; }

    /// <summary>The full path of a file of the run.</summary>
    public string File(string name) => Path.Combine(Directory, name);
}

/// <summary>The finished runs of one experiment, in the order of its plan.</summary>
public sealed class RunSet
{
    private readonly IReadOnlyList<FinishedRun> _runs;

    internal RunSet(IReadOnlyList<FinishedRun> runs) => _runs = runs;

    /// <summary>Every run.</summary>
    public IReadOnlyList<FinishedRun> All => _runs;

    /// <summary>The run of configuration <paramref name="name"/> with <paramref name="seed"/>.</summary>
    /// <exception cref="KeyNotFoundException">The plan has no such run.</exception>
    public FinishedRun Get(string name, int seed) =>
        _runs.FirstOrDefault(r => r.Plan.Name == name && r.Plan.Seed == seed)
        ?? throw new KeyNotFoundException($"no run '{name}' with seed {seed} in this experiment.");

    /// <summary>The runs of configuration <paramref name="name"/>, one per seed, in seed order.</summary>
    public IReadOnlyList<FinishedRun> Of(string name) => _runs.Where(r => r.Plan.Name == name).OrderBy(r => r.Plan.Seed).ToList();

    /// <summary>The training runs of configuration <paramref name="name"/>, one per seed, in seed order.</summary>
    public IReadOnlyList<TrainedRun> Trained(string name) => Of(name).Cast<TrainedRun>().ToList();

    /// <summary>The training run of configuration <paramref name="name"/> with <paramref name="seed"/>.</summary>
    public TrainedRun Trained(string name, int seed) => (TrainedRun)Get(name, seed);

    /// <summary>The configurations' names, in plan order.</summary>
    public IReadOnlyList<string> Names => _runs.Select(r => r.Plan.Name).Distinct().ToList();
}
