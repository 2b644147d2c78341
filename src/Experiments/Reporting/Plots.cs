using ScottPlot;

namespace GpuNet.Experiments.Reporting;

/// <summary>One line of a plot: a label and its points.</summary>
/// <param name="Label">The legend text.</param>
/// <param name="X">X values.</param>
/// <param name="Y">Y values (NaN or infinite points are left out).</param>
/// <param name="Dashed">Draw dashed (e.g. the training curve beside a solid test curve).</param>
public sealed record Series(string Label, double[] X, double[] Y, bool Dashed = false);

/// <summary>PNG line plots for the reports (ScottPlot).</summary>
public static class Plots
{
    /// <summary>Writes a line plot of <paramref name="series"/> to <paramref name="path"/>.</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series,
        bool logY = false, int width = 800, int height = 500)
    {
        var plot = new Plot();
        AddLines(plot, series, logY);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(logY ? yLabel + " (log10)" : yLabel);
        plot.ShowLegend(Alignment.UpperRight);
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

    /// <summary>Writes a histogram-like step plot of several distributions (e.g. weights under L1 vs L2).</summary>
    public static void Histograms(string path, string title, string xLabel, IReadOnlyList<(string Label, double[] Values)> data, int bins = 80)
    {
        var plot = new Plot();
        double lo = data.SelectMany(d => d.Values).DefaultIfEmpty(0).Min(), hi = data.SelectMany(d => d.Values).DefaultIfEmpty(1).Max();
        if (hi <= lo) hi = lo + 1;
        foreach (var (label, values) in data)
        {
            var counts = new double[bins];
            foreach (double v in values) counts[Math.Clamp((int)((v - lo) / (hi - lo) * bins), 0, bins - 1)]++;
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
            var line = plot.Add.ScatterLine(xs, ys, palette.GetColor(i / (series.Any(x => x.Dashed) ? 2 : 1) % 10));
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
