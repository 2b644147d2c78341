using System.Globalization;
using GpuNet.Kernels;
using ILGPU;

namespace GpuNet.Data;

/// <summary>
/// A sequence of augmentations applied in order to every image of a batch, on the device, written as a short spec
/// string such as <c>flip,shift:2,rot:10</c>. Stage <c>k</c> in epoch <c>e</c> draws its parameters from stream
/// <see cref="DataStreams.Augment"/>(e, k) keyed by each image's sample index (see <see cref="Augment"/>).
/// </summary>
public sealed class AugmentPipeline
{
    /// <summary>The grammar, for messages and help.</summary>
    public const string Grammar =
        "comma-separated stages: flip[:P] (horizontal flip with probability P, default 0.5), shift:K (translate by up to K " +
        "pixels each way), rot:D or rot:A..B (rotate by up to D degrees each way, or by A..B), erase[:AREA[:P]] (random " +
        "erasing of an area fraction AREA or LO-HI, default 0.02-0.33, with probability P, default 0.5), noise:S " +
        "(Gaussian noise of standard deviation S, pixel values in [0, 1]); 'none' or empty for no augmentation";

    /// <summary>Wraps the stages.</summary>
    /// <exception cref="ArgumentException">More than <see cref="DataStreams.MaxStages"/> stages.</exception>
    public AugmentPipeline(IEnumerable<AugmentStage> stages)
    {
        Stages = stages.ToArray();
        if (Stages.Count > DataStreams.MaxStages)
            throw new ArgumentException($"a pipeline has at most {DataStreams.MaxStages} stages; got {Stages.Count}.", nameof(stages));
    }

    /// <summary>No augmentation.</summary>
    public static AugmentPipeline None { get; } = new([]);

    /// <summary>The stages, in order.</summary>
    public IReadOnlyList<AugmentStage> Stages { get; }

    /// <summary>True when there is no stage.</summary>
    public bool IsEmpty => Stages.Count == 0;

    /// <summary>The spec string (which <see cref="Parse"/> reads back).</summary>
    public override string ToString() => IsEmpty ? "none" : string.Join(",", Stages);

    /// <summary>Parses a spec string; see <see cref="Grammar"/>.</summary>
    /// <exception cref="FormatException">The spec is malformed or a value is out of range; the message names the stage.</exception>
    public static AugmentPipeline Parse(string? spec)
    {
        if (string.IsNullOrWhiteSpace(spec) || spec.Trim().Equals("none", StringComparison.OrdinalIgnoreCase)) return None;
        var stages = new List<AugmentStage>();
        foreach (string raw in spec.Split(','))
        {
            string entry = raw.Trim().ToLowerInvariant();
            string[] parts = entry.Split(':');
            try
            {
                stages.Add((parts[0], parts.Length) switch
                {
                    ("flip", 1) => AugmentStage.Flip(),
                    ("flip", 2) => AugmentStage.Flip(Number(parts[1])),
                    ("shift", 2) => AugmentStage.Shift(Integer(parts[1])),
                    ("rot", 2) => Rotation(parts[1]),
                    ("erase", 1) => AugmentStage.Erase(),
                    ("erase", 2) => Erasing(parts[1], 0.5f),
                    ("erase", 3) => Erasing(parts[1], Number(parts[2])),
                    ("noise", 2) => AugmentStage.Noise(Number(parts[1])),
                    _ => throw new FormatException("unknown stage or wrong number of values"),
                });
            }
            catch (Exception e) when (e is FormatException or ArgumentException)
            {
                string why = e is ArgumentException a ? a.Message.Split(" (Parameter")[0] : e.Message;
                throw new FormatException($"cannot read augmentation stage '{raw.Trim()}': {why}. Expected {Grammar}.", e);
            }
        }
        if (stages.Count > DataStreams.MaxStages)
            throw new FormatException($"an augmentation pipeline has at most {DataStreams.MaxStages} stages; '{spec}' has {stages.Count}.");
        return new AugmentPipeline(stages);
    }

    private static AugmentStage Rotation(string text)
    {
        int range = text.IndexOf("..", StringComparison.Ordinal);
        if (range < 0)
        {
            float d = Number(text);
            if (d < 0) throw new FormatException("the rotation must not be negative (rot:D turns by -D..D degrees)");
            return AugmentStage.Rotate(-d, d);
        }
        return AugmentStage.Rotate(Number(text[..range]), Number(text[(range + 2)..]));
    }

    private static AugmentStage Erasing(string area, float probability)
    {
        int dash = area.IndexOf('-', 1);
        return dash < 0
            ? AugmentStage.Erase(probability, Number(area), Number(area))
            : AugmentStage.Erase(probability, Number(area[..dash]), Number(area[(dash + 1)..]));
    }

    private static float Number(string text) =>
        float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v)
            ? v
            : throw new FormatException($"'{text}' is not a number");

    private static int Integer(string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)
            ? v
            : throw new FormatException($"'{text}' is not a whole number");

    /// <summary>
    /// Applies every stage to a batch of images (pixel values in [0, 1]) and writes the result, mapped by
    /// <c>value·outScale + outShift</c>, to <paramref name="dst"/>. Stages alternate between <paramref name="src"/> and
    /// <paramref name="scratch"/>, so both are overwritten. With no stage, <c>dst = src·outScale + outShift</c>.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="src">Input images, <c>sampleIds.Length·height·width</c> floats; overwritten when there are three or more stages.</param>
    /// <param name="scratch">Work space of the same length (unused with fewer than two stages).</param>
    /// <param name="dst">Output, same length; must not overlap <paramref name="src"/> or <paramref name="scratch"/>.</param>
    /// <param name="sampleIds">Each image's index in its dataset, which keys its random parameters.</param>
    /// <param name="height">Rows per image.</param>
    /// <param name="width">Columns per image.</param>
    /// <param name="seed">The seed.</param>
    /// <param name="epoch">The epoch: each epoch draws new parameters.</param>
    /// <param name="outScale">Applied to the final values (normalisation).</param>
    /// <param name="outShift">Added to the final values (normalisation).</param>
    public void Apply(Device device, ArrayView<float> src, ArrayView<float> scratch, ArrayView<float> dst, ArrayView<int> sampleIds,
        int height, int width, ulong seed, int epoch, float outScale = 1f, float outShift = 0f)
    {
        if (IsEmpty)
        {
            Augment.Apply(device, AugmentStage.Flip(0f), src, dst, sampleIds, height, width, seed, DataStreams.Augment(epoch, 0), outScale, outShift);
            return;
        }
        var input = src;
        for (int k = 0; k < Stages.Count; k++)
        {
            bool last = k == Stages.Count - 1;
            var output = last ? dst : (k % 2 == 0 ? scratch : src);
            Augment.Apply(device, Stages[k], input, output, sampleIds, height, width, seed, DataStreams.Augment(epoch, k),
                last ? outScale : 1f, last ? outShift : 0f);
            input = output;
        }
    }
}
