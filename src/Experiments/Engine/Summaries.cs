using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;

namespace GpuNet.Experiments;

/// <summary>Reading numbers back from a summary.json.</summary>
public static class Summaries
{
    // The node at a path of keys (and array indices) separated by '.'.
    private static JsonNode? At(JsonNode? node, string path)
    {
        foreach (string key in path.Split('.'))
            node = node switch
            {
                JsonObject o => o.TryGetPropertyValue(key, out var child) ? child : null,
                JsonArray a => int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int i) && i < a.Count ? a[i] : null,
                _ => null,
            };
        return node;
    }

    /// <summary>The number at <paramref name="path"/> (keys, or array indices, separated by '.'), or null when it is missing or not a number.</summary>
    public static double? Number(JsonNode? node, string path)
    {
        node = At(node, path);
        return node is JsonValue v && v.TryGetValue(out double d) ? d : null;
    }

    /// <summary>The string at <paramref name="path"/>, or null.</summary>
    public static string? Text(JsonNode? node, string path)
    {
        node = At(node, path);
        return node is JsonValue v && v.TryGetValue(out string? s) ? s : null;
    }

    /// <summary>
    /// The estimate at <paramref name="path"/> (as <see cref="Engine.Estimate.ToJson"/> writes it) in words: the mean, then the
    /// 95% interval and the number of seeds, for example <c>83.10% (95% CI 82.11% to 84.09%, 3 seeds)</c>; the mean alone
    /// for one seed; <c>-</c> when it is missing.
    /// </summary>
    public static string MeanWithInterval(JsonNode? node, string path, Func<double, string> format)
    {
        if (Number(node, path + ".mean") is not { } mean) return "-";
        double? low = Number(node, path + ".ci95.0"), high = Number(node, path + ".ci95.1");
        return low is { } l && high is { } h
            ? $"{format(mean)} (95% CI {format(l)} to {format(h)}, {Number(node, path + ".n")} seeds)"
            : format(mean);
    }
}
