using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Training;

namespace GpuNet.Experiments.Engine;

/// <summary>
/// One run of a sweep: a configuration with one seed. It is a pure function of its <see cref="Identity"/>, its seed, the
/// device kind and the data, so the engine fits it once into the folder <see cref="Key"/> of the run store and never again
/// while that folder holds a complete result for the same hash; experiments that declare the same run share it.
/// </summary>
public abstract class PlannedRun
{
    /// <summary>Creates a run called <paramref name="name"/> with <paramref name="seed"/>.</summary>
    protected PlannedRun(string name, int seed)
    {
        Name = name;
        Seed = seed;
        Key = FolderName(name) + "-s" + seed.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The configuration's name (the same for every seed).</summary>
    public string Name { get; }

    /// <summary>The seed.</summary>
    public int Seed { get; }

    /// <summary>The run's folder name in the store: the name made safe for a file system, then <c>-s</c> and the seed.</summary>
    public string Key { get; }

    /// <summary>The progress display's label.</summary>
    public virtual string Label => $"{Name} (seed {Seed})";

    /// <summary>Everything besides the seed, device and data that decides the result, as JSON (it is hashed).</summary>
    public abstract JsonObject Identity();

    /// <summary>False for a run that reads no images (a table or a toy problem computed from constants and its seed): its
    /// hash leaves the data out, and fitting it loads none, so <c>gpunet run</c> of such an experiment needs no data folder.</summary>
    public virtual bool UsesData => true;

    /// <summary>Fits the run, writing its files (at least summary.json) into <see cref="RunContext.Folder"/>.</summary>
    public abstract void Fit(RunContext context);

    /// <summary>Reads the run back from its complete folder.</summary>
    public virtual FinishedRun Read(string directory) => new(this, directory);

    /// <summary>The first 16 hex digits of the SHA-256 of <paramref name="indices"/> (for an identity that names a subset).</summary>
    protected static string Digest(int[] indices)
    {
        var bytes = new byte[indices.Length * sizeof(int)];
        Buffer.BlockCopy(indices, 0, bytes, 0, bytes.Length);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16];
    }

    private static string FolderName(string name)
    {
        var text = new StringBuilder();
        foreach (char c in name.ToLowerInvariant())
            text.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' ? c : '-');
        string s = text.ToString().Trim('-');
        while (s.Contains("--", StringComparison.Ordinal)) s = s.Replace("--", "-", StringComparison.Ordinal);
        return s.Length == 0 ? "run" : s;
    }
}

/// <summary>What a run's <see cref="PlannedRun.Fit"/> gets: where to write, the device, the data of its seed, the console.</summary>
public sealed class RunContext
{
    private readonly Func<PlannedRun, FinishedRun> _require;
    private readonly Func<CourseData> _data;

    internal RunContext(string experiment, RunFolder folder, Device device, Func<CourseData> data, RunConsole console, Func<PlannedRun, FinishedRun> require)
    {
        Experiment = experiment;
        Folder = folder;
        Device = device;
        _data = data;
        Console = console;
        _require = require;
    }

    /// <summary>The experiment that asked for the run first.</summary>
    public string Experiment { get; }

    /// <summary>The run's folder (a temporary name until the run is complete).</summary>
    public RunFolder Folder { get; }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>The data, split with the run's seed (loaded on first use).</summary>
    public CourseData Data => _data();

    /// <summary>Where text and progress go.</summary>
    public RunConsole Console { get; }

    /// <summary>Another run this one needs (a teacher, say): fitted first if its folder is not complete.</summary>
    public FinishedRun Require(PlannedRun run) => _require(run);
}
