using System.Text;

namespace GpuNet.Tests;

/// <summary>Element-wise comparison with <c>|a - r| &lt;= atol + rtol·|r|</c>; a failure lists the first mismatches and the max difference.</summary>
public static class Close
{
    public static void All(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double atol, double rtol, string what)
    {
        Assert.True(actual.Length == expected.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        int bad = 0;
        double maxDiff = 0;
        var sb = new StringBuilder();
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i], r = expected[i];
            double diff = Math.Abs(a - r);
            bool ok = diff <= atol + rtol * Math.Abs(r) || (double.IsNaN(a) && double.IsNaN(r)) || a == r;
            if (!double.IsNaN(diff)) maxDiff = Math.Max(maxDiff, diff);
            if (!ok)
            {
                if (bad < 5) sb.Append($"\n  [{i}] got {a:R}, expected {r:R} (diff {diff:G3})");
                bad++;
            }
        }
        if (bad > 0)
            Assert.Fail($"{what}: {bad} of {actual.Length} elements differ (atol {atol}, rtol {rtol}); max diff {maxDiff:G4}{sb}");
    }

    public static void All(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double atol, double rtol, string what)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        All(actual, e, atol, rtol, what);
    }

    public static void Scalar(double actual, double expected, double atol, double rtol, string what)
    {
        double diff = Math.Abs(actual - expected);
        Assert.True(diff <= atol + rtol * Math.Abs(expected), $"{what}: got {actual:R}, expected {expected:R} (diff {diff:G3})");
    }
}

/// <summary>Deterministic test data.</summary>
public static class Data
{
    public static float[] Uniform(int n, int seed, float lo = -1f, float hi = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }

    public static int[] Labels(int n, int classes, int seed)
    {
        var rng = new Random(seed);
        var a = new int[n];
        for (int i = 0; i < n; i++) a[i] = rng.Next(classes);
        return a;
    }

    /// <summary>Odd sizes that are multiples of no tile: every tail path runs.</summary>
    public static readonly int[] OddSizes = [1, 3, 17, 33, 127, 257];
}

/// <summary>Central finite differences in float64, for gradient checks.</summary>
public static class FiniteDifference
{
    /// <summary>
    /// ∂f/∂p_i ≈ (f(p + h·e_i) − f(p − h·e_i)) / 2h for every i. With a float64 f and h = 1e-6 the truncation error is
    /// ~1e-12 and the rounding error ~1e-10, far below what a float32 kernel's gradient is checked to.
    /// </summary>
    public static double[] Gradient(double[] p, Func<double[], double> f, double h = 1e-6)
    {
        var g = new double[p.Length];
        var q = (double[])p.Clone();
        for (int i = 0; i < p.Length; i++)
        {
            q[i] = p[i] + h;
            double up = f(q);
            q[i] = p[i] - h;
            double down = f(q);
            q[i] = p[i];
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }
}
