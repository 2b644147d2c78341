using System.Globalization;
using GpuNet.Data;
using GpuNet.Nn;

namespace GpuNet.IO;

/// <summary>A model read back from a checkpoint, with the preprocessing its inputs need and the file's metadata.</summary>
/// <param name="Model">The rebuilt model with the checkpoint's parameters (the caller disposes it).</param>
/// <param name="Normalization">The normalisation of pixel values in [0, 1] that the model was trained with.</param>
/// <param name="Metadata">Every <c>__metadata__</c> entry of the file.</param>
public sealed record LoadedCheckpoint(Sequential Model, Normalization Normalization, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// A classifier checkpoint: a safetensors file (<see cref="SafeTensors"/>) with the parameters under their PyTorch names
/// and a <c>__metadata__</c> that makes the file usable without GpuNet: the architecture (<see cref="Architecture"/>) and
/// the input preprocessing, <c>x = (pixel / 255 - mean) / std</c> on the image flattened row by row.
/// </summary>
/// <remarks>
/// Metadata keys (all strings, as safetensors requires): <c>format</c> = <c>pt</c>; <c>architecture</c> (JSON);
/// <c>input</c> (the layout of one input); <c>preprocessing</c> (the formula); <c>input_scale</c> = <c>1/255</c>;
/// <c>input_mean</c> and <c>input_std</c> (round-trip decimal); plus whatever the caller adds.
/// </remarks>
public static class Checkpoint
{
    /// <summary>The formula of the input preprocessing, as written into every checkpoint.</summary>
    public const string Preprocessing = "x = (pixel / 255 - input_mean) / input_std, pixel in 0..255, image flattened row-major";

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> with its architecture, the preprocessing
    /// <paramref name="normalization"/> and the <paramref name="extra"/> metadata (which must not reuse the reserved keys).</summary>
    /// <exception cref="ArgumentException">An extra key is one of the reserved ones.</exception>
    public static void Save(string path, Sequential model, Normalization normalization, string input,
        IReadOnlyDictionary<string, string>? extra = null)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = "pt",
            ["architecture"] = Architecture.Describe(model),
            ["input"] = input,
            ["preprocessing"] = Preprocessing,
            ["input_scale"] = "1/255",
            ["input_mean"] = normalization.Mean.ToString("R", CultureInfo.InvariantCulture),
            ["input_std"] = normalization.Std.ToString("R", CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
            if (!metadata.TryAdd(key, value))
                throw new ArgumentException($"the metadata key '{key}' is reserved for the checkpoint itself.", nameof(extra));
        SafeTensors.Save(path, model, metadata);
    }

    /// <summary>Reads a checkpoint written by <see cref="Save"/> and rebuilds its model on <paramref name="device"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file, lacks the architecture or the
    /// preprocessing, or its tensors do not fit the architecture; the message names the file.</exception>
    public static LoadedCheckpoint Load(string path, Device device)
    {
        var (tensors, metadata) = SafeTensors.Load(path);
        string Need(string key) => metadata.TryGetValue(key, out var v)
            ? v : throw new InvalidDataException($"{path}: the checkpoint's metadata has no '{key}'; it was not written by gpunet.");
        // A finite number (NaN, infinities and out-of-range values would turn every input into NaN), and a positive std.
        double Number(string key, bool positive) =>
            double.TryParse(Need(key), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) && (positive ? d > 0 : d >= 0)
                ? d : throw new InvalidDataException($"{path}: the metadata's '{key}' is not a {(positive ? "positive" : "non-negative")} finite number: '{metadata[key]}'.");
        var normalization = new Normalization(Number("input_mean", positive: false), Number("input_std", positive: true));
        Sequential model;
        try
        {
            model = Architecture.Build(device, Need("architecture"));
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        try
        {
            SafeTensors.LoadInto(model, tensors, path);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new LoadedCheckpoint(model, normalization, metadata);
    }
}
