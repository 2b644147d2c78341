using GpuNet.Data;
using GpuNet.IO;

namespace GpuNet.Experiments;

/// <summary>
/// How sparse an MLP's weights are, measured from its checkpoint (the restored best-validation model): shares of weights
/// at zero, dead hidden units and ignored pixels, where in the image the first layer's zeros are, and how smooth its 28x28
/// maps are. Biases are not counted.
/// </summary>
/// <param name="ExactZero">Share of all weights that are exactly 0.</param>
/// <param name="NearZero">Share of all weights with |w| below the threshold.</param>
/// <param name="FirstExactZero">The same for the first layer only.</param>
/// <param name="FirstNearZero">The same for the first layer only.</param>
/// <param name="DeadUnits">Hidden units whose incoming weights are all exactly 0.</param>
/// <param name="IgnoredPixels">Input pixels whose outgoing weights are all exactly 0 (the model does not look at them).</param>
/// <param name="FrameExactZero">Share of the first layer's weights from the image's outer <see cref="Frame"/> pixels that are exactly 0.</param>
/// <param name="CentreExactZero">The same for the pixels inside the frame.</param>
/// <param name="FrameNearZero">Share of the frame's first-layer weights below the threshold in magnitude.</param>
/// <param name="CentreNearZero">The same for the pixels inside the frame.</param>
/// <param name="FirstStd">Standard deviation of the first layer's weights.</param>
/// <param name="Roughness">How rough the first layer's 28x28 maps are: the mean squared difference of neighbouring weights
/// over twice the mean squared weight (about 1 for independent noise, lower for smooth maps).</param>
public sealed record WeightSparsity(double ExactZero, double NearZero, double FirstExactZero, double FirstNearZero, int DeadUnits, int IgnoredPixels,
    double FrameExactZero, double CentreExactZero, double FrameNearZero, double CentreNearZero, double FirstStd, double Roughness)
{
    /// <summary>The frame's width in pixels: Fashion-MNIST's garments rarely reach the outer 3 pixels of the image.</summary>
    public const int Frame = 3;

    /// <summary>The weights of a checkpoint: all weight matrices flat (biases left out) and the first layer's <c>[hidden, 784]</c>.</summary>
    /// <exception cref="InvalidDataException">The checkpoint has no first layer <c>0.weight</c>.</exception>
    public static (float[] All, float[] First) Weights(string checkpoint)
    {
        var (tensors, _) = SafeTensors.Load(checkpoint);
        if (!tensors.TryGetValue("0.weight", out var first)) throw new InvalidDataException($"{checkpoint} has no first layer '0.weight'.");
        var all = tensors.Where(t => t.Key.EndsWith(".weight", StringComparison.Ordinal)).OrderBy(t => t.Key, StringComparer.Ordinal)
            .SelectMany(t => t.Value.Data).ToArray();
        return (all, first.Data);
    }

    /// <summary>Measures <paramref name="all"/> weights and the first layer <paramref name="first"/> (<c>[hidden, 784]</c>),
    /// counting |w| below <paramref name="nearZero"/> as near zero.</summary>
    public static WeightSparsity Measure(float[] all, float[] first, double nearZero)
    {
        int pixels = FashionMnist.Pixels, hidden = first.Length / pixels;
        int dead = 0, ignored = 0;
        for (int u = 0; u < hidden; u++)
        {
            bool zero = true;
            for (int p = 0; p < pixels && zero; p++) zero = first[u * pixels + p] == 0f;
            if (zero) dead++;
        }
        for (int p = 0; p < pixels; p++)
        {
            bool zero = true;
            for (int u = 0; u < hidden && zero; u++) zero = first[u * pixels + p] == 0f;
            if (zero) ignored++;
        }
        static double Share(float[] w, Func<float, bool> f) => w.Length == 0 ? 0 : w.Count(f) / (double)w.Length;
        int side = FashionMnist.Side;
        long frame = 0, frameZero = 0, frameNear = 0, centre = 0, centreZero = 0, centreNear = 0;
        double squares = 0, differences = 0, sum = 0;
        long pairs = 0;
        for (int u = 0; u < hidden; u++)
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                {
                    float v = first[u * pixels + y * side + x];
                    bool zero = v == 0f, near = Math.Abs(v) < nearZero;
                    if (Math.Min(Math.Min(x, y), Math.Min(side - 1 - x, side - 1 - y)) < Frame)
                    {
                        frame++;
                        if (zero) frameZero++;
                        if (near) frameNear++;
                    }
                    else
                    {
                        centre++;
                        if (zero) centreZero++;
                        if (near) centreNear++;
                    }
                    sum += v;
                    squares += (double)v * v;
                    if (x + 1 < side) { differences += Math.Pow((double)v - first[u * pixels + y * side + x + 1], 2); pairs++; }
                    if (y + 1 < side) { differences += Math.Pow((double)v - first[u * pixels + (y + 1) * side + x], 2); pairs++; }
                }
        double n = hidden * (double)pixels, mean = sum / n;
        return new WeightSparsity(Share(all, v => v == 0f), Share(all, v => Math.Abs(v) < nearZero), Share(first, v => v == 0f),
            Share(first, v => Math.Abs(v) < nearZero), dead, ignored, frameZero / (double)frame, centreZero / (double)centre,
            frameNear / (double)frame, centreNear / (double)centre,
            Math.Sqrt(Math.Max(squares / n - mean * mean, 0)), squares == 0 ? 0 : differences / pairs / (2 * squares / n));
    }

    /// <summary>Every figure under the name summary.json gives it.</summary>
    public static readonly IReadOnlyList<(string Key, Func<WeightSparsity, double> Value)> Figures =
    [
        ("exact_zero_fraction", s => s.ExactZero),
        ("near_zero_fraction", s => s.NearZero),
        ("first_layer_exact_zero_fraction", s => s.FirstExactZero),
        ("first_layer_near_zero_fraction", s => s.FirstNearZero),
        ("dead_hidden_units", s => s.DeadUnits),
        ("ignored_pixels", s => s.IgnoredPixels),
        ("first_layer_frame_exact_zero_fraction", s => s.FrameExactZero),
        ("first_layer_centre_exact_zero_fraction", s => s.CentreExactZero),
        ("first_layer_frame_near_zero_fraction", s => s.FrameNearZero),
        ("first_layer_centre_near_zero_fraction", s => s.CentreNearZero),
        ("first_layer_std", s => s.FirstStd),
        ("first_layer_roughness", s => s.Roughness),
    ];
}
