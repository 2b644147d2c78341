using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GpuNet.Experiments.Engine;

/// <summary>
/// The folder that holds the runs of one output folder, one sub-folder per run (<see cref="PlannedRun.Key"/>). A run's
/// config.json carries a hash of what decides its result (identity, seed, device kind, data); a folder with summary.json
/// and the same hash is complete and is never fitted again. A run is fitted into a temporary folder of its own (named
/// after the process) and renamed into place when done, so a killed process leaves no half-written run, and two
/// processes (shards on several machines sharing the folder) never write into the same one.
/// </summary>
public sealed class RunStore(string directory)
{
    /// <summary>The run's summary, written last by its fit.</summary>
    public const string SummaryFile = "summary.json";

    /// <summary>The run's configuration with its hash, written first.</summary>
    public const string ConfigFile = "config.json";

    /// <summary>The store's folder.</summary>
    public string Directory { get; } = Path.GetFullPath(directory);

    /// <summary>The folder of <paramref name="run"/>.</summary>
    public string PathOf(PlannedRun run) => Path.Combine(Directory, run.Key);

    /// <summary>The hash of what decides the result of <paramref name="run"/> on a device of <paramref name="kind"/> with
    /// the data whose hash is <paramref name="dataHash"/>: SHA-256 of the canonical JSON, first 16 hex digits.</summary>
    public static string Hash(PlannedRun run, DeviceKind kind, string dataHash)
    {
        var node = new JsonObject
        {
            ["identity"] = run.Identity(),
            ["seed"] = run.Seed,
            ["device_kind"] = kind.ToString(),
            ["data_sha256"] = dataHash,
        };
        byte[] digest = SHA256.HashData(Encoding.UTF8.GetBytes(node.ToJsonString()));
        return Convert.ToHexStringLower(digest)[..16];
    }

    /// <summary>True when the folder of <paramref name="run"/> holds a complete result with hash <paramref name="hash"/>.</summary>
    public bool IsComplete(PlannedRun run, string hash) => IsComplete(PathOf(run), hash);

    private static bool IsComplete(string folder, string hash)
    {
        if (!File.Exists(Path.Combine(folder, SummaryFile))) return false;
        try
        {
            return ReadObject(Path.Combine(folder, ConfigFile))["hash"]?.GetValue<string>() == hash;
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidOperationException or InvalidDataException)
        {
            return false;
        }
    }

    /// <summary>
    /// Fits <paramref name="run"/> unless it is complete: <paramref name="fit"/> writes into a fresh temporary folder that
    /// already holds config.json (<paramref name="config"/>, hash included); the folder is then renamed into place. If
    /// another process completed the same run meanwhile, its result is kept and this one dropped.
    /// </summary>
    /// <returns>True when this call fitted the run.</returns>
    public bool FitIfNeeded(PlannedRun run, string hash, JsonObject config, Action<RunFolder> fit)
    {
        string final = PathOf(run);
        if (IsComplete(final, hash)) return false;
        System.IO.Directory.CreateDirectory(Directory);
        string temp = $"{final}.part-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var folder = new RunFolder(temp);
        try
        {
            folder.WriteJson(ConfigFile, config);
            fit(folder);
            if (!File.Exists(folder.File(SummaryFile)))
                throw new InvalidOperationException($"run {run.Key} wrote no {SummaryFile}.");
            if (IsComplete(final, hash))
            {
                System.IO.Directory.Delete(temp, recursive: true);
                return true;
            }
            if (System.IO.Directory.Exists(final)) System.IO.Directory.Delete(final, recursive: true);
            System.IO.Directory.Move(temp, final);
            return true;
        }
        catch
        {
            try { System.IO.Directory.Delete(temp, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Reads a JSON object from <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file does not hold a JSON object.</exception>
    public static JsonObject ReadObject(string path) =>
        JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path} does not hold a JSON object.");
}
