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
        // Parsed files hold JSON numbers; objects built in memory may hold ints or longs.
        return node is not JsonValue v ? null
            : v.TryGetValue(out double d) ? d
            : v.TryGetValue(out int i) ? i
            : v.TryGetValue(out long l) ? l
            : null;
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

    /// <summary>
    /// The estimate at <paramref name="path"/> as mean ± sample standard deviation over the seeds, for example
    /// <c>83.10% ± 0.40 pp (3 seeds)</c> (<paramref name="formatStd"/> formats the deviation; <paramref name="format"/> when
    /// null); the mean alone and <c>one seed</c> for one seed; <c>-</c> when it is missing.
    /// </summary>
    public static string MeanStd(JsonNode? node, string path, Func<double, string> format, Func<double, string>? formatStd = null)
    {
        if (Number(node, path + ".mean") is not { } mean) return "-";
        int n = (int)(Number(node, path + ".n") ?? 1);
        return Number(node, path + ".std") is { } std && n > 1
            ? $"{format(mean)} ± {(formatStd ?? format)(std)} ({n} seeds)"
            : $"{format(mean)} (one seed)";
    }

    /// <summary>
    /// The paired difference at <paramref name="path"/> with its 95% interval and the verdict that interval allows, worked
    /// out here from the interval (not copied from a stored word): <c>+0.56 pp (95% CI -0.20 to +1.30 pp, 3 seeds): within
    /// noise</c>; <paramref name="higherIsBetter"/> false swaps gain and loss; <c>-</c> when it is missing.
    /// </summary>
    public static string Difference(JsonNode? node, string path, Func<double, string> format, bool higherIsBetter = true)
    {
        if (Number(node, path + ".mean") is not { } mean) return "-";
        double? low = Number(node, path + ".ci95.0"), high = Number(node, path + ".ci95.1");
        if (low is not { } l || high is not { } h) return $"{format(mean)} (one seed, no verdict)";
        string word = l > 0 ? (higherIsBetter ? "a gain" : "a loss") : h < 0 ? (higherIsBetter ? "a loss" : "a gain") : "within noise";
        return $"{format(mean)} (95% CI {format(l)} to {format(h)}, {Number(node, path + ".n")} seeds): {word}";
    }
}
