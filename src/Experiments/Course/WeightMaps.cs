using GpuNet.Data;

namespace GpuNet.Experiments;

/// <summary>A first layer's weights (<c>[hidden, 784]</c>) as pictures: the histogram's range and 28x28 maps of chosen units.</summary>
public static class WeightMaps
{
    /// <summary>The 99.5th percentile of |w|: a histogram range that shows both the bulk and a spike at zero.</summary>
    public static double HistogramRange(float[] w)
    {
        var a = w.Select(v => Math.Abs((double)v)).Order().ToArray();
        return a.Length == 0 ? 1 : Math.Max(a[(int)(0.995 * (a.Length - 1))], 1e-6);
    }

    /// <summary>The <paramref name="count"/> hidden units with the largest incoming-weight norm, in index order.</summary>
    public static int[] StrongestUnits(float[] first, int count)
    {
        int pixels = FashionMnist.Pixels, hidden = first.Length / pixels;
        return Enumerable.Range(0, hidden)
            .OrderByDescending(u => Enumerable.Range(0, pixels).Sum(p => (double)first[u * pixels + p] * first[u * pixels + p])).ThenBy(u => u)
            .Take(count).Order().ToArray();
    }

    /// <summary>Unit <paramref name="unit"/>'s incoming weights as an image: 0.5 + 0.5·w/max|w| (each map its own scale; 0 is mid-grey).</summary>
    public static float[] Map(float[] first, int unit)
    {
        var w = first.AsSpan(unit * FashionMnist.Pixels, FashionMnist.Pixels).ToArray();
        float max = w.Max(MathF.Abs);
        return w.Select(v => max == 0f ? 0.5f : 0.5f + 0.5f * v / max).ToArray();
    }
}
