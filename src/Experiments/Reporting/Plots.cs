using ScottPlot;

namespace GpuNet.Experiments.Reporting;

/// <summary>One line of a plot: a label and its points.</summary>
/// <param name="Label">The legend text.</param>
/// <param name="X">X values.</param>
/// <param name="Y">Y values (NaN or infinite points are left out).</param>
/// <param name="Dashed">Draw dashed (e.g. the training curve beside a solid test curve).</param>
/// <param name="Group">Series with the same group share a colour (default: consecutive dashed/solid pairs share one).</param>
public sealed record Series(string Label, double[] X, double[] Y, bool Dashed = false, int? Group = null);

/// <summary>PNG line plots for the reports (ScottPlot).</summary>
public static class Plots
{
    // Text in the embedded DejaVu Sans, so that plots have labels on machines without fonts, like the image grids.
    static Plots() => EmbeddedFontResolver.Install();

    /// <summary>Writes a line plot of <paramref name="series"/> to <paramref name="path"/>, with dotted vertical lines at the
    /// <paramref name="markers"/>' x values, labelled in the legend (e.g. the epoch of the lowest test loss), and the legend
    /// where <paramref name="legend"/> says (default: upper right).</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series,
        bool logY = false, int width = 800, int height = 500, IReadOnlyList<(double X, string Label)>? markers = null, Alignment? legend = null)
    {
        var plot = new Plot();
        AddLines(plot, series, logY);
        foreach (var (x, label) in markers ?? [])
        {
            var line = plot.Add.VerticalLine(x, 1, Colors.Gray, LinePattern.Dotted);
            line.LegendText = label;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(logY ? yLabel + " (log10)" : yLabel);
        plot.ShowLegend(legend ?? Alignment.UpperRight);
        Save(plot, path, width, height);
    }

    /// <summary>Writes a grid of line plots, one panel per entry, to <paramref name="path"/>.</summary>
    public static void Panels(string path, string title, string xLabel, string yLabel,
        IReadOnlyList<(string Title, IReadOnlyList<Series> Series)> panels, bool logY = false, int columns = 3)
    {
        int rows = (panels.Count + columns - 1) / columns;
        var multi = new Multiplot();
        multi.AddPlots(panels.Count);
        multi.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        for (int i = 0; i < panels.Count; i++)
        {
            var plot = multi.GetPlot(i);
            AddLines(plot, panels[i].Series, logY);
            plot.Title(panels[i].Title, size: 13);
            plot.XLabel(xLabel, size: 11);
            plot.YLabel(logY ? yLabel + " (log10)" : yLabel, size: 11);
            plot.ShowLegend(Alignment.UpperRight);
        }
        multi.SavePng(path, 420 * columns, 320 * rows);
    }

    /// <summary>Writes a histogram-like step plot of several distributions (e.g. weights under L1 vs L2), over
    /// <paramref name="range"/> when given (values outside it are counted in the first or last bin), else over all values.</summary>
    public static void Histograms(string path, string title, string xLabel, IReadOnlyList<(string Label, double[] Values)> data, int bins = 80,
        (double Lo, double Hi)? range = null)
    {
        double lo = range?.Lo ?? data.SelectMany(d => d.Values).DefaultIfEmpty(0).Min(), hi = range?.Hi ?? data.SelectMany(d => d.Values).DefaultIfEmpty(1).Max();
        if (hi <= lo) hi = lo + 1;
        BinnedHistograms(path, title, xLabel, data.Select(d => (d.Label, Bin(d.Values, bins, lo, hi))).ToList(), (lo, hi));
    }

    /// <summary>The counts of <paramref name="values"/> in <paramref name="bins"/> equal bins over <c>[lo, hi)</c>; values
    /// outside fall into the end bins.</summary>
    public static double[] Bin(IEnumerable<double> values, int bins, double lo, double hi)
    {
        var counts = new double[bins];
        foreach (double v in values) counts[Math.Clamp((int)((v - lo) / (hi - lo) * bins), 0, bins - 1)]++;
        return counts;
    }

    /// <summary>Writes histograms already binned by <see cref="Bin"/> over <paramref name="range"/>, as lines of
    /// <c>log10(count + 1)</c>, one per entry.</summary>
    public static void BinnedHistograms(string path, string title, string xLabel, IReadOnlyList<(string Label, double[] Counts)> data,
        (double Lo, double Hi) range)
    {
        var plot = new Plot();
        var (lo, hi) = range;
        foreach (var (label, counts) in data)
        {
            int bins = counts.Length;
            var xs = Enumerable.Range(0, bins).Select(b => lo + (b + 0.5) * (hi - lo) / bins).ToArray();
            var line = plot.Add.ScatterLine(xs, counts.Select(c => Math.Log10(c + 1)).ToArray());
            line.LegendText = label;
            line.LineWidth = 2;
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel("log10(count + 1)");
        plot.ShowLegend(Alignment.UpperRight);
        Save(plot, path, 800, 500);
    }

    /// <summary>Writes a horizontal bar chart, one labelled bar per entry from top to bottom, with the value printed on each bar.</summary>
    public static void Bars(string path, string title, string valueLabel, IReadOnlyList<(string Label, double Value, bool Highlight)> bars,
        string valueFormat = "0.00", int width = 900)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var list = new List<Bar>();
        var ticks = new List<Tick>();
        for (int i = 0; i < bars.Count; i++)
        {
            double y = bars.Count - 1 - i;
            list.Add(new Bar
            {
                Position = y,
                Value = bars[i].Value,
                FillColor = bars[i].Highlight ? palette.GetColor(3) : palette.GetColor(0),
                Label = bars[i].Value.ToString(valueFormat, System.Globalization.CultureInfo.InvariantCulture),
                Orientation = Orientation.Horizontal,
            });
            ticks.Add(new Tick(y, bars[i].Label));
        }
        var series = plot.Add.Bars(list);
        series.Horizontal = true;
        series.ValueLabelStyle.FontSize = 12;
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Grid.YAxisStyle.MajorLineStyle.Width = 0;
        double lo = bars.Min(b => b.Value), hi = bars.Max(b => b.Value), pad = Math.Max((hi - lo) * 0.25, 0.5);
        plot.Axes.SetLimitsX(Math.Max(0, lo - pad), hi + pad / 2);
        plot.Title(title);
        plot.XLabel(valueLabel);
        Save(plot, path, width, Math.Max(300, 60 + 34 * bars.Count));
    }

    /// <summary>Writes a line plot of <paramref name="series"/> with a logarithmic x axis: the points at log10(x) and the
    /// ticks at <paramref name="ticks"/>, labelled with their values (for example k = 1, 3, 5, ..., 201).</summary>
    public static void LinesLogX(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series,
        IReadOnlyList<double> ticks, Alignment? legend = null, int width = 900, int height = 560)
    {
        var plot = new Plot();
        AddLines(plot, series.Select(s => s with { X = s.X.Select(Math.Log10).ToArray() }).ToList(), logY: false);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.Where(t => t > 0)
            .Select(t => new Tick(Math.Log10(t), t.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToArray());
        plot.Title(title);
        plot.XLabel(xLabel + " (log scale)");
        plot.YLabel(yLabel);
        plot.ShowLegend(legend ?? Alignment.UpperRight);
        Save(plot, path, width, height);
    }

    private static void AddLines(Plot plot, IReadOnlyList<Series> series, bool logY)
    {
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < series.Count; i++)
        {
            var s = series[i];
            var keep = Enumerable.Range(0, Math.Min(s.X.Length, s.Y.Length))
                .Where(j => double.IsFinite(s.Y[j]) && (!logY || s.Y[j] > 0)).ToArray();
            if (keep.Length == 0) continue;
            var xs = keep.Select(j => s.X[j]).ToArray();
            var ys = keep.Select(j => logY ? Math.Log10(s.Y[j]) : s.Y[j]).ToArray();
            int color = s.Group ?? i / (series.Any(x => x.Dashed) ? 2 : 1);
            var line = plot.Add.ScatterLine(xs, ys, palette.GetColor(color % 10));
            line.LegendText = s.Label;
            line.LineWidth = 2;
            if (s.Dashed) line.LinePattern = LinePattern.Dashed;
        }
    }

    private static void Save(Plot plot, string path, int width, int height)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, width, height);
    }
}
