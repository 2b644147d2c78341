using System.Globalization;
using System.Text.Json.Nodes;

namespace GpuNet.Experiments.Engine;

/// <summary>What a paired comparison over seeds says.</summary>
public enum Verdict
{
    /// <summary>Fewer than two seeds: no interval, so nothing can be said.</summary>
    NoInterval,
    /// <summary>The 95% interval lies above zero.</summary>
    Gain,
    /// <summary>The 95% interval lies below zero.</summary>
    Loss,
    /// <summary>The 95% interval contains zero.</summary>
    WithinNoise,
}

/// <summary>
/// One reported figure over seeds: the per-seed values, their mean, sample standard deviation and the 95% confidence
/// interval of the mean from Student's t with n - 1 degrees of freedom. A difference between two configurations is an
/// estimate too, made by <see cref="Paired"/> from the per-seed differences, so the noise the seeds share cancels.
/// </summary>
public sealed class Estimate
{
    /// <summary>Creates an estimate from (seed, value) pairs; the order of seeds is kept.</summary>
    /// <exception cref="ArgumentException">No values, or a seed twice.</exception>
    public Estimate(IEnumerable<(int Seed, double Value)> values)
    {
        var list = values.ToList();
        if (list.Count == 0) throw new ArgumentException("an estimate needs at least one value.", nameof(values));
        if (list.Select(v => v.Seed).Distinct().Count() != list.Count) throw new ArgumentException("a seed appears twice.", nameof(values));
        Seeds = list.Select(v => v.Seed).ToArray();
        Values = list.Select(v => v.Value).ToArray();
        Mean = Values.Average();
        Std = N < 2 ? double.NaN : Math.Sqrt(Values.Sum(v => (v - Mean) * (v - Mean)) / (N - 1));
        HalfWidth = N < 2 ? double.NaN : StudentT975(N - 1) * Std / Math.Sqrt(N);
    }

    /// <summary>The seeds, in the order given.</summary>
    public IReadOnlyList<int> Seeds { get; }

    /// <summary>The value of each seed.</summary>
    public IReadOnlyList<double> Values { get; }

    /// <summary>The number of seeds.</summary>
    public int N => Values.Count;

    /// <summary>The mean over seeds.</summary>
    public double Mean { get; }

    /// <summary>The sample standard deviation (n - 1 in the denominator); NaN for one seed.</summary>
    public double Std { get; }

    /// <summary>Half the width of the 95% interval: <c>t(0.975, n-1) · std / √n</c>; NaN for one seed.</summary>
    public double HalfWidth { get; }

    /// <summary>The interval's lower end.</summary>
    public double Low => Mean - HalfWidth;

    /// <summary>The interval's upper end.</summary>
    public double High => Mean + HalfWidth;

    /// <summary>Gain when the interval lies above zero, loss when below, within noise when it holds zero.</summary>
    public Verdict Verdict => N < 2 ? Verdict.NoInterval : Low > 0 ? Verdict.Gain : High < 0 ? Verdict.Loss : Verdict.WithinNoise;

    /// <summary>The per-seed differences <c>a - b</c> over the seeds both have, in <paramref name="a"/>'s order.</summary>
    /// <exception cref="ArgumentException">The two share no seed.</exception>
    public static Estimate Paired(Estimate a, Estimate b)
    {
        var other = b.Seeds.Select((s, i) => (s, i)).ToDictionary(p => p.s, p => b.Values[p.i]);
        var pairs = a.Seeds.Select((s, i) => (s, i)).Where(p => other.ContainsKey(p.s)).Select(p => (p.s, a.Values[p.i] - other[p.s])).ToList();
        if (pairs.Count == 0) throw new ArgumentException("the two estimates share no seed.");
        return new Estimate(pairs);
    }

    /// <summary>An estimate from per-seed values given in seed order.</summary>
    public static Estimate Of(IReadOnlyList<int> seeds, IEnumerable<double> values) => new(seeds.Zip(values));

    /// <summary>As JSON: mean, std, ci95 ([low, high], null for one seed), n, seeds and values.</summary>
    public JsonObject ToJson() => new()
    {
        ["mean"] = Number(Mean),
        ["std"] = Number(Std),
        ["ci95"] = N < 2 ? null : new JsonArray(Number(Low), Number(High)),
        ["n"] = N,
        ["seeds"] = new JsonArray(Seeds.Select(s => (JsonNode)s).ToArray()),
        ["values"] = new JsonArray(Values.Select(Number).ToArray()),
    };

    /// <summary>
    /// The figure in words with a formatter for its unit, for example <c>83.10% ± 0.40 (95% CI 82.11% to 84.09%, 3 seeds)</c>;
    /// one seed gives the value alone and says so.
    /// </summary>
    public string Describe(Func<double, string> format) => N < 2
        ? $"{format(Mean)} (one seed, no interval)"
        : $"{format(Mean)} (95% CI {format(Low)} to {format(High)}, {N} seeds)";

    /// <summary>
    /// A paired difference in words: <c>+1.20 pp (95% CI +0.30 to +2.10 pp, 3 seeds): a gain</c>, or <c>within noise</c>,
    /// or a loss; <paramref name="higherIsBetter"/> false swaps gain and loss (for losses, errors).
    /// </summary>
    public string DescribeDifference(Func<double, string> format, bool higherIsBetter = true) =>
        Describe(format) + ": " + Word(higherIsBetter);

    /// <summary><c>a gain</c>, <c>a loss</c>, <c>within noise</c> or <c>one seed, no verdict</c>.</summary>
    public string Word(bool higherIsBetter = true) => (Verdict, higherIsBetter) switch
    {
        (Verdict.Gain, true) or (Verdict.Loss, false) => "a gain",
        (Verdict.Loss, true) or (Verdict.Gain, false) => "a loss",
        (Verdict.WithinNoise, _) => "within noise",
        _ => "one seed, no verdict",
    };

    private static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    // t(0.975, df) for df = 1..30, from the standard tables.
    private static readonly double[] T975 =
    [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];

    /// <summary>The 0.975 quantile of Student's t with <paramref name="df"/> degrees of freedom (a table to 30, then the
    /// Cornish-Fisher expansion around the normal quantile, good to 1e-3 there).</summary>
    public static double StudentT975(int df)
    {
        if (df < 1) throw new ArgumentOutOfRangeException(nameof(df));
        if (df <= T975.Length) return T975[df - 1];
        const double z = 1.959963985;
        double z3 = z * z * z, z5 = z3 * z * z;
        return z + (z3 + z) / (4.0 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96.0 * df * df);
    }

    /// <inheritdoc />
    public override string ToString() => Describe(v => v.ToString("G4", CultureInfo.InvariantCulture));
}
