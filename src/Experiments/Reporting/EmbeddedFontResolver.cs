using ScottPlot;
using SkiaSharp;

namespace GpuNet.Experiments.Reporting;

/// <summary>Gives ScottPlot the embedded DejaVu Sans of <see cref="ImageGrid"/>, so plots have their titles, labels and
/// legends on machines without system fonts (SkiaSharp's Linux build used here does not read fontconfig).</summary>
internal sealed class EmbeddedFontResolver : IFontResolver
{
    private static int _installed;

    /// <summary>Puts the resolver first and makes DejaVu Sans ScottPlot's default font (once per process).</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1) return;
        Fonts.FontResolvers.Insert(0, new EmbeddedFontResolver());
        Fonts.Default = ImageGrid.FontFamily;
    }

    /// <summary>A new typeface of the embedded font for its family name (regular only: bold or italic text is drawn
    /// regular), else null, which lets ScottPlot's other resolvers and the system fonts answer.</summary>
    public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
        fontName == ImageGrid.FontFamily ? ImageGrid.NewTypeface() : null;

    /// <inheritdoc cref="CreateTypeface(string, bool, bool)"/>
    public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing width) =>
        fontName == ImageGrid.FontFamily ? ImageGrid.NewTypeface() : null;
}
