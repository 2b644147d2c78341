using System.Globalization;

namespace GpuNet.Experiments;

/// <summary>What <c>gpunet run</c> (or <c>gpunet report</c>) was asked for.</summary>
/// <param name="Device">The device specification, or null for the default.</param>
/// <param name="Seed">The first seed; a sweep of <see cref="Seeds"/> seeds uses <c>Seed, Seed + 1, ...</c>.</param>
/// <param name="Epochs">An override of the experiment's epoch count.</param>
/// <param name="Quick">Run on a small subset.</param>
/// <param name="OutDir">The experiment's folder.</param>
/// <param name="DataDir">The Fashion-MNIST folder (null: <c>$GPUNET_DATA</c>, else <c>./data/fashion-mnist</c>).</param>
public sealed record RunOptions(string? Device, int Seed, int? Epochs, bool Quick, string OutDir, string? DataDir = null)
{
    /// <summary>How many seeds to run each configuration with; null takes the experiment's default.</summary>
    public int? Seeds { get; init; }

    /// <summary>Fit only this shard's runs and write no aggregate (null: every run, then the aggregate).</summary>
    public Shard? Shard { get; init; }

    /// <summary>The seeds of the sweep: <see cref="Seed"/> and the next ones, <see cref="Seeds"/> (else
    /// <paramref name="defaultSeeds"/>) in all.</summary>
    public IReadOnlyList<int> SeedList(int defaultSeeds) => Enumerable.Range(Seed, Seeds ?? defaultSeeds).ToArray();

    /// <summary>The options as command-line arguments, as <c>gpunet run</c> takes them (without the shard).</summary>
    public string Arguments(int? defaultSeeds = null)
    {
        var args = new List<string>();
        if (Device is { } d) args.Add($"--device {d}");
        args.Add(string.Create(CultureInfo.InvariantCulture, $"--seed {Seed}"));
        if (Seeds is { } s) args.Add(string.Create(CultureInfo.InvariantCulture, $"--seeds {s}"));
        else if (defaultSeeds is { } ds) args.Add(string.Create(CultureInfo.InvariantCulture, $"--seeds {ds}"));
        if (Epochs is { } e) args.Add(string.Create(CultureInfo.InvariantCulture, $"--epochs {e}"));
        if (Quick) args.Add("--quick");
        return string.Join(" ", args);
    }
}

/// <summary>Shard <see cref="Index"/> of <see cref="Count"/>: the runs whose position in the sweep is <c>Index</c> modulo <c>Count</c>.</summary>
/// <param name="Index">From 0.</param>
/// <param name="Count">How many shards the sweep is cut into.</param>
public sealed record Shard(int Index, int Count)
{
    /// <summary>Parses <c>i/n</c> with <c>0 &lt;= i &lt; n</c>.</summary>
    /// <exception cref="UsageException">Anything else.</exception>
    public static Shard Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int i)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && i < n)
            return new Shard(i, n);
        throw new UsageException($"--shard takes i/n with 0 <= i < n (for example 0/4); got '{text}'.");
    }

    /// <summary>True for the run at <paramref name="position"/> of the sweep.</summary>
    public bool Holds(int position) => position % Count == Index;

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");
}
