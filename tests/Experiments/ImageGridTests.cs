using GpuNet.Experiments;
using SkiaSharp;

namespace GpuNet.Tests.Experiments;

/// <summary>
/// The image grids drawn with SkiaSharp, checked on the pixels of the PNG file read back: each image lands, magnified,
/// exactly where the layout says; captions are drawn in a real font (ink where the text is, different text gives
/// different pixels), a marked caption in red and the others in dark grey.
/// </summary>
public sealed class ImageGridTests : IDisposable
{
    private const int Side = 28, Scale = 3;
    private readonly string _dir = Directory.CreateTempSubdirectory("gpunet-grid-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>An image whose every pixel differs from its neighbours: value (x + 28·y + 97·seed) mod 256, as a fraction.</summary>
    private static float[] Pattern(int seed) =>
        Enumerable.Range(0, Side * Side).Select(i => (i % Side + Side * (i / Side) + 97 * seed) % 256 / 255f).ToArray();

    private (ImageGrid.Grid Grid, SKBitmap Png) RenderAndReadBack(IReadOnlyList<ImageGrid.Cell> cells, int columns, string? title)
    {
        var grid = ImageGrid.Render(cells, Side, Side, columns, Scale, title);
        string path = Path.Combine(_dir, "grid.png");
        grid.WritePng(path);
        var png = SKBitmap.Decode(path);
        Assert.NotNull(png);
        Assert.Equal((grid.Width, grid.Height), (png.Width, png.Height));
        return (grid, png);
    }

    [Fact]
    public void Every_image_lands_magnified_and_exact_in_its_cell()
    {
        var cells = Enumerable.Range(0, 5).Select(k => new ImageGrid.Cell(Pattern(k), $"image {k}")).ToList();
        var (grid, png) = RenderAndReadBack(cells, columns: 3, title: "five patterns");
        using (grid)
        using (png)
        {
            Assert.Equal(5, grid.Images.Count);
            Assert.True(grid.Images[3].Top > grid.Images[0].Bottom, "the fourth image starts a second row");
            Assert.Equal(grid.Images[0].Left, grid.Images[3].Left);
            for (int k = 0; k < cells.Count; k++)
            {
                var r = grid.Images[k];
                Assert.Equal((Side * Scale, Side * Scale), (r.Width, r.Height));
                for (int y = 0; y < Side * Scale; y++)
                    for (int x = 0; x < Side * Scale; x++)
                    {
                        byte expected = (byte)MathF.Round(cells[k].Pixels[y / Scale * Side + x / Scale] * 255f);
                        var c = png.GetPixel(r.Left + x, r.Top + y);
                        if (c != new SKColor(expected, expected, expected))
                            Assert.Fail($"image {k} at ({x}, {y}): {c}, expected grey {expected}");
                    }
                // Just outside the image is background (the caption starts 4 pixels below).
                Assert.Equal(ImageGrid.Background, png.GetPixel(r.Left - 1, r.Top));
                Assert.Equal(ImageGrid.Background, png.GetPixel(r.Left, r.Bottom + 1));
            }
        }
    }

    [Fact]
    public void A_marked_caption_is_red_the_others_dark_and_text_is_really_drawn()
    {
        var cells = new List<ImageGrid.Cell>
        {
            new(Pattern(0), "Shirt"),
            new(Pattern(1), "Sneaker (Sandal)", Mark: true),
            new(Pattern(2), "Sneaker"),
        };
        var (grid, png) = RenderAndReadBack(cells, columns: 3, title: "predictions");
        using (grid)
        using (png)
        {
            (int Red, int Dark, int Other) Count(SKRectI r)
            {
                int red = 0, dark = 0, other = 0;
                for (int y = r.Top; y < r.Bottom; y++)
                    for (int x = r.Left; x < r.Right; x++)
                    {
                        var c = png.GetPixel(x, y);
                        if (c == ImageGrid.Background) continue;
                        if (c.Red > 150 && c.Green < 70 && c.Blue < 70) red++;
                        else if (c.Red < 110 && Math.Abs(c.Red - c.Green) < 6 && Math.Abs(c.Red - c.Blue) < 6) dark++;
                        else if (Math.Abs(c.Red - c.Green) > 20) other++; // reddish anti-aliased edges
                    }
                return (red, dark, other);
            }
            var plain = Count(grid.Captions[0]);
            var marked = Count(grid.Captions[1]);
            Assert.True(plain.Dark > 20, $"the caption 'Shirt' left {plain.Dark} ink pixels: no text was drawn");
            Assert.Equal(0, plain.Red + plain.Other);
            Assert.True(marked.Red > 20, $"the marked caption has {marked.Red} red pixels");
            Assert.Equal(0, marked.Dark);

            // Different words give different pixels, the same word the same ones: glyphs, not boxes.
            int Differences(SKRectI a, SKRectI b)
            {
                int n = 0;
                for (int y = 0; y < Math.Min(a.Height, b.Height); y++)
                    for (int x = 0; x < Math.Min(a.Width, b.Width); x++)
                        if (png.GetPixel(a.Left + x, a.Top + y) != png.GetPixel(b.Left + x, b.Top + y)) n++;
                return n;
            }
            Assert.True(Differences(grid.Captions[0], grid.Captions[2]) > 20, "'Shirt' and 'Sneaker' look alike");
            Assert.True(Count(new SKRectI(0, 0, grid.Width, grid.Images[0].Top)).Dark > 20, "the title was not drawn");
        }
    }

    [Fact]
    public void Bad_cells_are_refused_with_a_clear_message()
    {
        var e = Assert.Throws<ArgumentException>(() => ImageGrid.Render([new ImageGrid.Cell(new float[10], "x")], Side, Side, 4));
        Assert.Contains("expected 28x28", e.Message);
        Assert.Throws<ArgumentException>(() => ImageGrid.Render([], Side, Side, 4));
    }
}
