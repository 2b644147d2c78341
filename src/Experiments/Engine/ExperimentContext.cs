using System.Diagnostics;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;

namespace GpuNet.Experiments.Engine;

/// <summary>What an experiment sees while it plans its runs and analyses them: the options, the seeds, the data of each
/// seed, the device, the console and its own folder.</summary>
public sealed class ExperimentContext
{
    private readonly ExperimentEngine _engine;
    private RunFolder? _folder;

    internal ExperimentContext(ExperimentEngine engine, ICourseExperiment experiment, RunOptions options)
    {
        _engine = engine;
        Experiment = experiment;
        Options = options;
        Seeds = options.SeedList(options.Quick ? experiment.QuickSeeds : experiment.DefaultSeeds);
    }

    /// <summary>The experiment.</summary>
    public ICourseExperiment Experiment { get; }

    /// <summary>The experiment's name.</summary>
    public string Name => Experiment.Name;

    /// <summary>The command line's options.</summary>
    public RunOptions Options { get; }

    /// <summary>The seeds of the sweep, in order; the first is <c>--seed</c>.</summary>
    public IReadOnlyList<int> Seeds { get; }

    /// <summary>The first seed (the one a single-seed figure or a checkpoint comes from).</summary>
    public int Seed => Seeds[0];

    /// <summary>True for a <c>--quick</c> run.</summary>
    public bool Quick => Options.Quick;

    /// <summary>Test images of a quick run (stratified, 100 per class): every experiment's test figures in a quick run are
    /// measured on them instead of all 10,000.</summary>
    public const int QuickTestImages = 1000;

    // The salt of the quick test subset (k-NN draws its own with another salt).
    private const int QuickTestSalt = 9;

    /// <summary>The test images a training run of <paramref name="data"/>'s seed measures: null (the whole test set) in a
    /// full run, a stratified subset of <see cref="QuickTestImages"/> in a quick one (<see cref="TrainingConfig.Test"/>).</summary>
    public int[]? QuickTest(CourseData data) => Quick ? data.TestSubset(QuickTestImages, QuickTestSalt) : null;

    /// <summary>Epochs to train: the command line's <c>--epochs</c>, else <paramref name="quick"/> or <paramref name="full"/>.</summary>
    public int Epochs(int full, int quick) => Options.Epochs ?? (Options.Quick ? quick : full);

    /// <summary>The data split with <paramref name="seed"/> (the images are loaded and uploaded once per process).</summary>
    public CourseData Data(int seed) => _engine.Data(seed);

    /// <summary>The device.</summary>
    public Device Device => _engine.Device;

    /// <summary>Where text and progress go.</summary>
    public RunConsole Console => _engine.Console;

    /// <summary>The experiment's folder (its aggregate files; created on first use).</summary>
    public RunFolder Folder => _folder ??= new RunFolder(Options.OutDir);

    /// <summary>Time since the experiment began.</summary>
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    /// <summary>The command that runs the experiment again.</summary>
    public string Command => $"gpunet run {Name} {Options.Arguments(Seeds.Count)}";

    /// <summary>Writes the experiment's config.json: the command, the seeds, the data (unless <paramref name="usesData"/> is
    /// false: an experiment whose runs read no images) and <paramref name="settings"/>.</summary>
    public void WriteConfig(JsonObject settings, bool usesData = true)
    {
        var config = new JsonObject
        {
            ["experiment"] = Name,
            ["device"] = Device.Spec,
            ["device_name"] = Device.Name,
            ["seed"] = Options.Seed,
            ["seeds"] = new JsonArray(Seeds.Select(s => (JsonNode)s).ToArray()),
            ["epochs"] = Options.Epochs,
            ["quick"] = Options.Quick,
            ["command"] = Command,
            ["runs"] = Path.GetRelativePath(Folder.Path, _engine.Store.Directory),
        };
        if (usesData)
        {
            var data = Data(Seed);
            config["data_dir"] = data.Directory;
            config["data_sha256"] = data.Hash;
        }
        foreach (var (key, value) in settings.ToList())
        {
            settings.Remove(key);
            config[key] = value;
        }
        Folder.WriteJson("config.json", config);
    }

    /// <summary>The report's last lines: the command that reproduces it, the device and the time it took.</summary>
    public string Footer() =>
        $"---\n\nRun with `{Command}` on {Device.Name} in {RunFiles.Duration(Clock.Elapsed.TotalSeconds)}; " +
        $"each run's folder (config, metrics, summary, checkpoint) is in `{Path.GetRelativePath(Folder.Path, _engine.Store.Directory)}/`.";

    /// <summary>Writes report.md and says where the folder is.</summary>
    public void Finish(string report)
    {
        Folder.WriteText("report.md", report);
        Console.WriteLine($"wrote {Folder.Path} (report.md, summary.json, metrics.csv, plots)");
    }
}
