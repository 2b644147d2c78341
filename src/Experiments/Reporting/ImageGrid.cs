using System.Reflection;
using GpuNet.Data;
using SkiaSharp;

namespace GpuNet.Experiments;

/// <summary>
/// Lays out grey images in a grid with a caption under each (and an optional title), drawn with SkiaSharp in DejaVu
/// Sans (embedded, so captions render on machines without fonts): Fashion-MNIST samples, augmentation previews, weight
/// maps and predictions, where a caption can be marked (drawn in red) for a wrong one.
/// </summary>
public static class ImageGrid
{
    /// <summary>The background colour.</summary>
    public static readonly SKColor Background = SKColors.White;

    /// <summary>The colour of titles and captions.</summary>
    public static readonly SKColor Ink = new(20, 20, 20);

    /// <summary>The colour of a marked caption.</summary>
    public static readonly SKColor Marked = new(200, 0, 0);

    private const int Pad = 8;
    private const float CaptionSize = 12f, TitleSize = 14f;

    private static readonly Lazy<SKData> FontData = new(LoadFont);
    private static readonly Lazy<SKTypeface> EmbeddedTypeface = new(NewTypeface);

    /// <summary>The family name of the embedded font.</summary>
    public const string FontFamily = "DejaVu Sans";

    /// <summary>The embedded DejaVu Sans, loaded once.</summary>
    internal static SKTypeface Typeface => EmbeddedTypeface.Value;

    /// <summary>One cell: an image of values in [0, 1] (0 black, 1 white; clamped), its caption, and whether to mark it.</summary>
    /// <param name="Pixels">Row-major values, <c>height·width</c> of them.</param>
    /// <param name="Caption">The text under the image.</param>
    /// <param name="Mark">Draw the caption in red.</param>
    public sealed record Cell(float[] Pixels, string Caption, bool Mark = false);

    /// <summary>A rendered grid: the bitmap and, per cell, where its image and its caption were drawn.</summary>
    public sealed class Grid : IDisposable
    {
        internal Grid(SKBitmap bitmap, SKRectI[] images, SKRectI[] captions)
        {
            Bitmap = bitmap;
            Images = images;
            Captions = captions;
        }

        /// <summary>The image (RGBA, opaque).</summary>
        public SKBitmap Bitmap { get; }

        /// <summary>Width in pixels.</summary>
        public int Width => Bitmap.Width;

        /// <summary>Height in pixels.</summary>
        public int Height => Bitmap.Height;

        /// <summary>Per cell, the rectangle its magnified image fills.</summary>
        public IReadOnlyList<SKRectI> Images { get; }

        /// <summary>Per cell, the band its caption is drawn in.</summary>
        public IReadOnlyList<SKRectI> Captions { get; }

        /// <summary>Writes the grid as a PNG file atomically (temporary file, then rename), creating the folder.</summary>
        public void WritePng(string path)
        {
            using var image = SKImage.FromBitmap(Bitmap);
            using var data = image.Encode(SKEncodedImageFormat.Png, 100);
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
            AtomicFile.Write(path, s => data.SaveTo(s));
        }

        public void Dispose() => Bitmap.Dispose();
    }

    /// <summary>Renders the cells row by row, <paramref name="columns"/> per row, each image magnified <paramref name="scale"/>
    /// times (each source pixel a <paramref name="scale"/>² block of its exact grey), captions centred under the images.</summary>
    /// <exception cref="ArgumentException">No cell, or an image is not <paramref name="height"/>·<paramref name="width"/> values.</exception>
    public static Grid Render(IReadOnlyList<Cell> cells, int height, int width, int columns, int scale = 3, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Count == 0) throw new ArgumentException("an image grid needs at least one image.", nameof(cells));
        if (columns <= 0 || scale <= 0) throw new ArgumentOutOfRangeException(nameof(columns), "columns and scale must be positive.");
        foreach (var c in cells)
            if (c.Pixels.Length != height * width)
                throw new ArgumentException($"an image has {c.Pixels.Length} values; expected {height}x{width}.", nameof(cells));

        using var captionFont = new SKFont(Typeface, CaptionSize) { Edging = SKFontEdging.Antialias, Subpixel = true };
        using var titleFont = new SKFont(Typeface, TitleSize) { Edging = SKFontEdging.Antialias, Subpixel = true };
        captionFont.GetFontMetrics(out var cm);
        titleFont.GetFontMetrics(out var tm);
        int captionHeight = (int)MathF.Ceiling(cm.Descent - cm.Ascent);
        int titleHeight = title is null ? 0 : (int)MathF.Ceiling(tm.Descent - tm.Ascent) + Pad;

        columns = Math.Min(columns, cells.Count);
        int rows = (cells.Count + columns - 1) / columns;
        int cellWidth = (int)MathF.Ceiling(Math.Max(width * scale, cells.Max(c => captionFont.MeasureText(c.Caption)))) + Pad;
        int cellHeight = height * scale + 4 + captionHeight + Pad;
        int titleWidth = title is null ? 0 : (int)MathF.Ceiling(titleFont.MeasureText(title)) + 2 * Pad;
        int imageWidth = Math.Max(columns * cellWidth + Pad, titleWidth);
        int imageHeight = rows * cellHeight + titleHeight + Pad;

        var bitmap = new SKBitmap(new SKImageInfo(imageWidth, imageHeight, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var images = new SKRectI[cells.Count];
        var captions = new SKRectI[cells.Count];
        using (var canvas = new SKCanvas(bitmap))
        using (var fill = new SKPaint { IsAntialias = false, Style = SKPaintStyle.Fill })
        using (var text = new SKPaint { IsAntialias = true, Color = Ink })
        {
            canvas.Clear(Background);
            if (title is not null) canvas.DrawText(title, Pad, Pad - tm.Ascent, SKTextAlign.Left, titleFont, text);
            for (int k = 0; k < cells.Count; k++)
            {
                var cell = cells[k];
                int x0 = Pad + (k % columns) * cellWidth;
                int y0 = Pad + titleHeight + (k / columns) * cellHeight;
                int ix = x0 + (cellWidth - Pad - width * scale) / 2;
                images[k] = new SKRectI(ix, y0, ix + width * scale, y0 + height * scale);
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < width; x++)
                    {
                        byte g = (byte)MathF.Round(Math.Clamp(cell.Pixels[y * width + x], 0f, 1f) * 255f);
                        fill.Color = new SKColor(g, g, g);
                        canvas.DrawRect(ix + x * scale, y0 + y * scale, scale, scale, fill);
                    }
                int captionTop = y0 + height * scale + 4;
                captions[k] = new SKRectI(x0, captionTop, x0 + cellWidth - Pad, captionTop + captionHeight);
                text.Color = cell.Mark ? Marked : Ink;
                canvas.DrawText(cell.Caption, x0 + (cellWidth - Pad) / 2f, captionTop - cm.Ascent, SKTextAlign.Center, captionFont, text);
            }
        }
        return new Grid(bitmap, images, captions);
    }

    /// <summary>Renders the cells (as <see cref="Render"/>) and writes them to <paramref name="path"/> as a PNG file.</summary>
    /// <returns>The size of the image written.</returns>
    public static (int Width, int Height) WritePng(string path, IReadOnlyList<Cell> cells, int height, int width, int columns, int scale = 3,
        string? title = null)
    {
        using var grid = Render(cells, height, width, columns, scale, title);
        grid.WritePng(path);
        return (grid.Width, grid.Height);
    }

    /// <summary>A new typeface of the embedded font, for an owner that disposes it (the font's bytes are read once).</summary>
    internal static SKTypeface NewTypeface() =>
        SKTypeface.FromData(FontData.Value) ?? throw new InvalidOperationException("SkiaSharp could not read the embedded font DejaVu Sans.");

    private static SKData LoadFont()
    {
        const string name = "GpuNet.Experiments.DejaVuSans.ttf";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"the font resource {name} is missing from {Assembly.GetExecutingAssembly().GetName().Name}.");
        return SKData.Create(stream);
    }
}
