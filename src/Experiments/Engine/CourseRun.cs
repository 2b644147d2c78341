using System.Diagnostics;
using System.Text.Json.Nodes;

namespace GpuNet.Experiments.Training;

/// <summary>What every training experiment opens first: the device, the data, the run folder and a clock.</summary>
public sealed class CourseRun : IDisposable
{
    private CourseRun(string experiment, RunOptions options, RunConsole console, Device device, CourseData data, RunFolder folder)
    {
        Experiment = experiment;
        Options = options;
        Console = console;
        Device = device;
        Data = data;
        Folder = folder;
    }

    /// <summary>The experiment's name.</summary>
    public string Experiment { get; }

    /// <summary>The command line's options.</summary>
    public RunOptions Options { get; }

    /// <summary>Where text and progress go.</summary>
    public RunConsole Console { get; }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>The data.</summary>
    public CourseData Data { get; }

    /// <summary>The run folder.</summary>
    public RunFolder Folder { get; }

    /// <summary>Time since the run began.</summary>
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    /// <summary>Opens the device and the data and creates the run folder.</summary>
    public static CourseRun Open(string experiment, RunOptions options, RunConsole console)
    {
        var device = Device.Open(options.Device);
        try
        {
            console.WriteLine($"{experiment} on {device.Spec} ({device.Name}), seed {options.Seed}{(options.Quick ? ", quick" : "")}");
            var data = CourseData.Load(device, options.DataDir, options.Seed, console);
            return new CourseRun(experiment, options, console, device, data, new RunFolder(options.OutDir));
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>Epochs to train: the command line's <c>--epochs</c>, else <paramref name="quick"/> or <paramref name="full"/>.</summary>
    public int Epochs(int full, int quick) => Options.Epochs ?? (Options.Quick ? quick : full);

    /// <summary>Writes config.json with the experiment's settings and the data it used.</summary>
    public void WriteConfig(string experiment, JsonObject settings)
    {
        settings["data_dir"] = Data.Directory;
        settings["train_split"] = Data.TrainSplit.Length;
        settings["validation_split"] = Data.ValidationCount;
        settings["test_images"] = Data.TestSet.Count;
        Folder.WriteConfig(experiment, Options, Device, settings);
    }

    /// <summary>Writes report.md and says where the run folder is.</summary>
    public void Finish(string report)
    {
        Folder.WriteText("report.md", report);
        Console.WriteLine($"wrote {Folder.Path} (report.md, summary.json, metrics.csv, plots) in {Reporting.RunFiles.Duration(Clock.Elapsed.TotalSeconds)}");
    }

    /// <summary>The report's last lines: the command that reproduces the run, the device and the time it took.</summary>
    public string Footer() =>
        $"---\n\nRun with `gpunet run {Experiment} --device {Device.Spec} --seed {Options.Seed}" +
        (Options.Epochs is { } e ? $" --epochs {e}" : "") + (Options.Quick ? " --quick" : "") +
        $"` on {Device.Name} in {Reporting.RunFiles.Duration(Clock.Elapsed.TotalSeconds)}.";

    /// <inheritdoc />
    public void Dispose()
    {
        Data.Dispose();
        Device.Dispose();
    }
}
