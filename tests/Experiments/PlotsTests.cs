using GpuNet.Experiments.Reporting;

namespace GpuNet.Tests.Experiments;

public class PlotsTests
{
    [Fact]
    public void Line_and_panel_plots_write_png_files()
    {
        string dir = Directory.CreateTempSubdirectory("gpunet-plots-").FullName;
        try
        {
            double[] x = [1, 2, 3, 4, 5];
            string lines = Path.Combine(dir, "lines.png");
            Plots.Lines(lines, "loss", "epoch", "loss",
                [new Series("train", x, [2, 1, 0.5, 0.3, 0.2], Dashed: true), new Series("test", x, [2, 1.2, 1, 1.1, double.NaN])]);
            string panels = Path.Combine(dir, "panels.png");
            Plots.Panels(panels, "p", "step", "loss", [("a", [new Series("lr 0.1", x, x)]), ("b", [new Series("lr 1", x, x.Reverse().ToArray())])], logY: true, columns: 2);
            string hist = Path.Combine(dir, "hist.png");
            Plots.Histograms(hist, "weights", "w", [("L1", [0, 0, 0.1, -0.2]), ("L2", [0.05, -0.03, 0.1])]);
            foreach (string f in new[] { lines, panels, hist })
            {
                var head = File.ReadAllBytes(f).Take(8).ToArray();
                Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, head);
            }
            if (Environment.GetEnvironmentVariable("GPUNET_KEEP_PLOTS") is { } keep) File.Copy(lines, keep, overwrite: true);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Plots_draw_their_text_in_the_embedded_font()
    {
        string dir = Directory.CreateTempSubdirectory("gpunet-plots-").FullName;
        try
        {
            Plots.Lines(Path.Combine(dir, "lines.png"), "loss", "epoch", "loss", [new Series("train", [1, 2], [2, 1])]);
            Assert.Equal(GpuNet.Experiments.ImageGrid.FontFamily, ScottPlot.Fonts.Default);
            // ScottPlot asks the assembly's resolver first, so the family is the embedded font, not one the machine may lack.
            Assert.IsType<EmbeddedFontResolver>(ScottPlot.Fonts.FontResolvers.First());
            var typeface = ScottPlot.Fonts.GetTypeface(ScottPlot.Fonts.Default, bold: false, italic: false);
            Assert.Equal(GpuNet.Experiments.ImageGrid.FontFamily, typeface.FamilyName);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
