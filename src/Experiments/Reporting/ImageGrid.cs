namespace GpuNet.Experiments;

/// <summary>
/// Lays out grey images in a grid with a caption under each (and an optional title): Fashion-MNIST samples,
/// augmentation previews, and later predictions, where a caption can be marked (drawn in red) for a wrong one.
/// </summary>
public static class ImageGrid
{
    private static readonly (byte, byte, byte) Background = (255, 255, 255);
    private static readonly (byte, byte, byte) Ink = (20, 20, 20);
    private static readonly (byte, byte, byte) Marked = (200, 0, 0);

    /// <summary>One cell: an image of values in [0, 1] (0 black, 1 white; clamped), its caption, and whether to mark it.</summary>
    /// <param name="Pixels">Row-major values, <c>height·width</c> of them.</param>
    /// <param name="Caption">The text under the image.</param>
    /// <param name="Mark">Draw the caption in red.</param>
    public sealed record Cell(float[] Pixels, string Caption, bool Mark = false);

    /// <summary>Renders the cells row by row, <paramref name="columns"/> per row, each image magnified <paramref name="scale"/> times.</summary>
    /// <exception cref="ArgumentException">No cell, or an image is not <paramref name="height"/>·<paramref name="width"/> values.</exception>
    public static RgbImage Render(IReadOnlyList<Cell> cells, int height, int width, int columns, int scale = 3, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Count == 0) throw new ArgumentException("an image grid needs at least one image.", nameof(cells));
        if (columns <= 0 || scale <= 0) throw new ArgumentOutOfRangeException(nameof(columns), "columns and scale must be positive.");
        foreach (var c in cells)
            if (c.Pixels.Length != height * width)
                throw new ArgumentException($"an image has {c.Pixels.Length} values; expected {height}x{width}.", nameof(cells));

        const int pad = 8;
        columns = Math.Min(columns, cells.Count);
        int rows = (cells.Count + columns - 1) / columns;
        int cellWidth = Math.Max(width * scale, cells.Max(c => BitmapFont.Width(c.Caption))) + pad;
        int cellHeight = height * scale + 4 + BitmapFont.LineHeight + pad;
        int titleHeight = title is null ? 0 : BitmapFont.LineHeight + pad;
        int imageWidth = Math.Max(columns * cellWidth + pad, title is null ? 0 : BitmapFont.Width(title) + 2 * pad);
        var image = new RgbImage(imageWidth, rows * cellHeight + titleHeight + pad, Background);
        if (title is not null) image.DrawText(pad, pad, title, Ink);

        for (int k = 0; k < cells.Count; k++)
        {
            var cell = cells[k];
            int x0 = pad + (k % columns) * cellWidth;
            int y0 = pad + titleHeight + (k / columns) * cellHeight;
            int ix = x0 + (cellWidth - pad - width * scale) / 2;
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    float v = Math.Clamp(cell.Pixels[y * width + x], 0f, 1f);
                    byte g = (byte)MathF.Round(v * 255f);
                    image.FillRect(ix + x * scale, y0 + y * scale, scale, scale, (g, g, g));
                }
            int tx = x0 + (cellWidth - pad - BitmapFont.Width(cell.Caption)) / 2;
            image.DrawText(tx, y0 + height * scale + 4, cell.Caption, cell.Mark ? Marked : Ink);
        }
        return image;
    }
}
