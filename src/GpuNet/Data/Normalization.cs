namespace GpuNet.Data;

/// <summary>
/// Per-pixel normalisation <c>x' = (x - Mean) / Std</c> of pixel values <c>x</c> in [0, 1] (byte / 255), with one mean and
/// one standard deviation over all pixels of the training images.
/// </summary>
/// <param name="Mean">The mean pixel value, in [0, 1].</param>
/// <param name="Std">The standard deviation of the pixel values, positive.</param>
public readonly record struct Normalization(double Mean, double Std)
{
    /// <summary>No normalisation: mean 0, standard deviation 1.</summary>
    public static Normalization Identity => new(0, 1);

    /// <summary>The factor applied to a pixel value: <c>1/Std</c>.</summary>
    public float Scale => (float)(1 / Std);

    /// <summary>The offset added after scaling: <c>-Mean/Std</c>.</summary>
    public float Shift => (float)(-Mean / Std);

    /// <summary>
    /// The mean and (population) standard deviation of all pixels of the given images, as values in [0, 1], summed exactly
    /// in integers. <paramref name="indices"/> null means every image.
    /// </summary>
    /// <exception cref="ArgumentException">No image is selected.</exception>
    public static Normalization FromImages(ImageSet images, IReadOnlyList<int>? indices = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        int count = indices?.Count ?? images.Count;
        if (count == 0) throw new ArgumentException("normalisation statistics need at least one image.", nameof(indices));
        // Per-image sums fit a long easily (784·255² < 2^26), and so do the totals for millions of images.
        long sum = 0, sumSquares = 0;
        for (int k = 0; k < count; k++)
        {
            var image = images.Image(indices is null ? k : indices[k]);
            foreach (byte b in image)
            {
                sum += b;
                sumSquares += b * b;
            }
        }
        double n = (double)count * images.PixelsPerImage;
        double mean = sum / n;
        double variance = Math.Max(0, sumSquares / n - mean * mean);
        double std = Math.Sqrt(variance);
        return new Normalization(mean / 255, std > 0 ? std / 255 : 1);
    }
}
