using System.Text.Json.Nodes;
using GpuNet.Experiments.Training;

namespace GpuNet.Experiments.Engine;

/// <summary>
/// Runs experiments: opens the device and loads the data once per process (shared by every run and every experiment of
/// <c>gpunet run all</c>), fits each planned run that its store does not hold complete (only a shard's, with
/// <c>--shard</c>), then hands the finished runs to the experiment's analysis. <see cref="Report"/> analyses without
/// fitting, once every run is present.
/// </summary>
public sealed class ExperimentEngine : IDisposable
{
    private readonly string? _deviceSpec;
    private readonly string? _dataDir;
    private readonly bool _fits;
    private Device? _device;
    private CourseData? _data;
    private DeviceKind? _kind;
    private readonly Dictionary<int, CourseData> _bySeed = [];

    /// <summary>An engine that fits runs on <paramref name="deviceSpec"/> (opened on first use) and keeps them in <paramref name="store"/>.</summary>
    /// <param name="deviceSpec">The device runs are fitted on (null: the default).</param>
    /// <param name="dataDir">The Fashion-MNIST folder (null: the default).</param>
    /// <param name="store">Where the runs' folders are.</param>
    /// <param name="console">Where text and progress go.</param>
    /// <param name="fits">False for an engine that only reports: it loads the data on the host engine and never opens
    /// <paramref name="deviceSpec"/> unless it is <c>auto</c>, whose kind it must find out.</param>
    public ExperimentEngine(string? deviceSpec, string? dataDir, RunStore store, RunConsole console, bool fits = true)
    {
        _deviceSpec = deviceSpec;
        _dataDir = dataDir;
        Store = store;
        Console = console;
        _fits = fits;
    }

    /// <summary>The runs' store.</summary>
    public RunStore Store { get; }

    /// <summary>Where text and progress go.</summary>
    public RunConsole Console { get; }

    /// <summary>The device (opened on first use): the fitting device, or the host engine for an engine that only reports.</summary>
    public Device Device => _device ??= Device.Open(_fits ? _deviceSpec : "cpu");

    /// <summary>The kind of device runs are fitted on, which is part of every run's hash.</summary>
    public DeviceKind Kind => _kind ??= _fits ? Device.Kind : KindOf(_deviceSpec ?? Device.DefaultSpec);

    private static DeviceKind KindOf(string spec)
    {
        spec = spec.Trim().ToLowerInvariant();
        if (spec == "cpu") return DeviceKind.Cpu;
        if (spec.StartsWith("ilgpu-cpu", StringComparison.Ordinal)) return DeviceKind.IlgpuCpu;
        if (spec.StartsWith("cuda", StringComparison.Ordinal)) return DeviceKind.Cuda;
        if (spec.StartsWith("opencl", StringComparison.Ordinal)) return DeviceKind.OpenCL;
        using var device = Device.Open(spec);
        return device.Kind;
    }

    /// <summary>The data split with <paramref name="seed"/>; the images are loaded and uploaded on the first call only.</summary>
    public CourseData Data(int seed)
    {
        _data ??= CourseData.Load(Device, _dataDir, seed, Console);
        if (_data.Seed == seed) return _data;
        if (!_bySeed.TryGetValue(seed, out var view)) _bySeed[seed] = view = _data.WithSeed(seed);
        return view;
    }

    /// <summary>
    /// Runs each experiment with its options: plans every run, fits those of the shard (all without one) that the store
    /// does not hold complete, each once even when several experiments plan it, then (without a shard) analyses each
    /// experiment. An experiment whose run or analysis fails is reported and the others go on.
    /// </summary>
    /// <returns>For each experiment, null when it succeeded, else the error.</returns>
    public IReadOnlyList<string?> Run(IReadOnlyList<(ICourseExperiment Experiment, RunOptions Options)> experiments, Shard? shard,
        Action<ExperimentContext>? beforeAnalysis = null)
    {
        var contexts = experiments.Select(e => new ExperimentContext(this, e.Experiment, e.Options)).ToList();
        var errors = new string?[contexts.Count];
        var plans = contexts.Select(c => c.Experiment.Plan(c)).ToList();
        var unique = Unique(contexts, plans);

        var chosen = unique.Where((_, position) => shard is null || shard.Holds(position)).ToList();
        var toFit = chosen.Where(u => !Store.IsComplete(u.Run, u.Hash)).ToList();
        Console.WriteLine($"on {Device.Spec} ({Device.Name}): {unique.Count} runs" + (shard is null ? "" : $", {chosen.Count} in shard {shard}") +
            $", {chosen.Count - toFit.Count} already done, {toFit.Count} to fit; runs in {Store.Directory}");
        Console.PlanRuns(toFit.Count);
        foreach (var u in toFit)
        {
            try
            {
                Fit(u.Context, u.Run, u.Hash);
            }
            catch (Exception e) when (e is not UsageException and not DeviceNotAvailableException and not OperationCanceledException)
            {
                string error = $"run {u.Run.Key} failed: {e.GetType().Name}: {e.Message}";
                Console.WriteLine(error);
                for (int i = 0; i < contexts.Count; i++)
                    if (plans[i].Any(p => p.Key == u.Run.Key)) errors[i] ??= error;
            }
        }
        if (shard is not null) return errors;

        for (int i = 0; i < contexts.Count; i++)
        {
            if (errors[i] is not null) continue;
            try
            {
                beforeAnalysis?.Invoke(contexts[i]);
                Analyse(contexts[i], plans[i]);
            }
            catch (Exception e) when (e is not UsageException and not DeviceNotAvailableException and not OperationCanceledException)
            {
                errors[i] = $"{e.GetType().Name}: {e.Message}";
                Console.WriteLine($"{contexts[i].Name} failed: {errors[i]}");
            }
        }
        return errors;
    }

    /// <summary>The runs of <paramref name="experiment"/> that the store does not hold complete (keys), in plan order.</summary>
    public IReadOnlyList<string> Missing(ICourseExperiment experiment, RunOptions options)
    {
        var context = new ExperimentContext(this, experiment, options);
        var plan = experiment.Plan(context);
        return Unique([context], [plan]).Where(u => !Store.IsComplete(u.Run, u.Hash)).Select(u => u.Run.Key).ToList();
    }

    /// <summary>Analyses <paramref name="experiment"/> from its finished runs, fitting nothing.</summary>
    /// <exception cref="InvalidOperationException">A run is missing.</exception>
    public void Report(ICourseExperiment experiment, RunOptions options)
    {
        var context = new ExperimentContext(this, experiment, options);
        var plan = experiment.Plan(context);
        var missing = Unique([context], [plan]).Where(u => !Store.IsComplete(u.Run, u.Hash)).ToList();
        if (missing.Count > 0) throw new InvalidOperationException($"{missing.Count} runs are missing, for example {missing[0].Run.Key}.");
        Analyse(context, plan);
    }

    private sealed record UniqueRun(ExperimentContext Context, PlannedRun Run, string Hash);

    // One entry per run key in plan order; the same key with another hash in one sweep is a mistake in the experiments.
    private List<UniqueRun> Unique(List<ExperimentContext> contexts, List<IReadOnlyList<PlannedRun>> plans)
    {
        var seen = new Dictionary<string, string>();
        var unique = new List<UniqueRun>();
        for (int i = 0; i < contexts.Count; i++)
            foreach (var run in plans[i])
            {
                string hash = HashOf(contexts[i], run);
                if (seen.TryGetValue(run.Key, out var other))
                {
                    if (other != hash)
                        throw new InvalidOperationException($"two different runs are called {run.Key} (in {contexts[i].Name}); give them different names.");
                    continue;
                }
                seen[run.Key] = hash;
                unique.Add(new UniqueRun(contexts[i], run, hash));
            }
        return unique;
    }

    private string HashOf(ExperimentContext context, PlannedRun run) => RunStore.Hash(run, Kind, run.UsesData ? context.Data(run.Seed).Hash : NoData);

    // The data hash of a run that reads no images.
    private const string NoData = "none";

    private FinishedRun Fit(ExperimentContext context, PlannedRun run, string hash)
    {
        var config = new JsonObject
        {
            ["run"] = run.Key,
            ["name"] = run.Name,
            ["seed"] = run.Seed,
            ["hash"] = hash,
            ["device_kind"] = Kind.ToString(),
            ["data_sha256"] = run.UsesData ? Data(run.Seed).Hash : NoData,
            ["device"] = Device.Spec,
            ["device_name"] = Device.Name,
            ["experiment"] = context.Name,
            ["identity"] = run.Identity(),
        };
        Store.FitIfNeeded(run, hash, config, folder =>
        {
            CrashIfAsked();
            run.Fit(new RunContext(context.Name, folder, Device, () => Data(run.Seed), Console, required => Require(context, required)));
        });
        _fitted++;
        return run.Read(Store.PathOf(run));
    }

    private int _fitted;

    /// <summary>
    /// Fault injection for the resume test: with <c>GPUNET_CRASH_AFTER_RUNS=N</c> the process kills itself (SIGKILL: no
    /// finally block, no flush) once N runs are fitted and the next one has begun, leaving its half-made folder behind,
    /// as a killed job would.
    /// </summary>
    private void CrashIfAsked()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("GPUNET_CRASH_AFTER_RUNS"), out int n) && _fitted == n)
            System.Diagnostics.Process.GetCurrentProcess().Kill();
    }

    private FinishedRun Require(ExperimentContext context, PlannedRun run)
    {
        string hash = HashOf(context, run);
        return Store.IsComplete(run, hash) ? run.Read(Store.PathOf(run)) : Fit(context, run, hash);
    }

    private void Analyse(ExperimentContext context, IReadOnlyList<PlannedRun> plan)
    {
        var runs = plan.Select(p => p.Read(Store.PathOf(p))).ToList();
        context.Experiment.Analyse(context, new RunSet(runs));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var view in _bySeed.Values) view.Dispose();
        _data?.Dispose();
        _device?.Dispose();
    }
}
