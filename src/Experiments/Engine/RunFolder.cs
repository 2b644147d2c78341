using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;

namespace GpuNet.Experiments;

/// <summary>A run's output folder: config.json, summary.json, metrics.csv, plots and report.md.</summary>
public sealed class RunFolder
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Creates (or reuses) the folder.</summary>
    public RunFolder(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(Path);
    }

    /// <summary>The folder's full path.</summary>
    public string Path { get; }

    /// <summary>The full path of a file in the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes a JSON document, indented, atomically (temporary file, then rename).</summary>
    public void WriteJson(string name, JsonNode node) => WriteText(name, node.ToJsonString(Indented) + "\n");

    /// <summary>Writes a text file atomically (temporary file, then rename).</summary>
    public void WriteText(string name, string text)
    {
        string target = File(name);
        string temp = target + ".tmp";
        System.IO.File.WriteAllText(temp, text);
        System.IO.File.Move(temp, target, overwrite: true);
    }
}
