using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;

namespace GpuNet.Experiments;

/// <summary>Reading numbers back from a summary.json.</summary>
public static class Summaries
{
    /// <summary>The number at <paramref name="path"/> (keys separated by '.'), or null when it is missing or not a number.</summary>
    public static double? Number(JsonNode? node, string path)
    {
        foreach (string key in path.Split('.'))
            node = node is JsonObject o && o.TryGetPropertyValue(key, out var child) ? child : null;
        return node is JsonValue v && v.TryGetValue(out double d) ? d : null;
    }

    /// <summary>The string at <paramref name="path"/>, or null.</summary>
    public static string? Text(JsonNode? node, string path)
    {
        foreach (string key in path.Split('.'))
            node = node is JsonObject o && o.TryGetPropertyValue(key, out var child) ? child : null;
        return node is JsonValue v && v.TryGetValue(out string? s) ? s : null;
    }
}
