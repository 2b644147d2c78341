using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;

namespace GpuNet.Experiments;

/// <summary>Reading numbers back from a summary.json.</summary>
public static class Summaries
{
    /// <summary>The number at <paramref name="path"/> (keys, or indices into arrays, separated by '.'), or null when it is
    /// missing or not a number.</summary>
    public static double? Number(JsonNode? node, string path)
    {
        foreach (string key in path.Split('.'))
            node = node switch
            {
                JsonObject o => o.TryGetPropertyValue(key, out var child) ? child : null,
                JsonArray a => int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int i) && i < a.Count ? a[i] : null,
                _ => null,
            };
        return node is JsonValue v && v.TryGetValue(out double d) ? d : null;
    }

    /// <summary>
    /// The <see cref="Engine.Estimate.ToJson"/> at <paramref name="path"/> in words: <c>83.10% (95% CI 82.11% to 84.09%)</c>,
    /// the mean alone when it has no interval (one seed), <c>-</c> when it is missing.
    /// </summary>
    public static string EstimateText(JsonNode? node, string path, Func<double, string> format)
    {
        if (Number(node, path + ".mean") is not { } mean) return "-";
        return Number(node, path + ".ci95.0") is { } low && Number(node, path + ".ci95.1") is { } high
            ? $"{format(mean)} (95% CI {format(low)} to {format(high)})"
            : format(mean);
    }

    /// <summary>The string at <paramref name="path"/>, or null.</summary>
    public static string? Text(JsonNode? node, string path)
    {
        foreach (string key in path.Split('.'))
            node = node is JsonObject o && o.TryGetPropertyValue(key, out var child) ? child : null;
        return node is JsonValue v && v.TryGetValue(out string? s) ? s : null;
    }
}
