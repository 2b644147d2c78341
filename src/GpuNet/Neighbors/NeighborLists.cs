using System.Diagnostics;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Neighbors;

/// <summary>The distance a k-nearest-neighbour search ranks by.</summary>
public enum KnnMetric
{
    /// <summary>Euclidean. The lists hold squared distances (the ranking is the same); votes weigh by the distance itself.</summary>
    L2,
    /// <summary>Manhattan: the sum of absolute differences.</summary>
    L1,
}

/// <summary>How a search cuts its work into distance blocks.</summary>
public sealed record KnnSearchOptions
{
    /// <summary>References per distance block; the lists are merged block after block.</summary>
    public int ReferenceChunk { get; init; } = 8192;

    /// <summary>The most floats one distance block may hold (queries per block = this / <see cref="ReferenceChunk"/>).
    /// The default, 2^24, is 64 MiB.</summary>
    public long BlockFloats { get; init; } = 1L << 24;
}

/// <summary>Wall time spent in a search's phases, added up over searches; the device is synchronised after each phase.</summary>
public sealed class KnnTimings
{
    /// <summary>Distance blocks (with the row norms for L2).</summary>
    public double DistanceSeconds { get; set; }

    /// <summary>Top-k selection and merging.</summary>
    public double TopKSeconds { get; set; }

    /// <summary>Votes (<see cref="NeighborLists.Predict"/>), with the copy of the predictions to the host.</summary>
    public double VoteSeconds { get; set; }
}

/// <summary>
/// The <see cref="K"/> nearest references of each of <see cref="Queries"/> queries, on the device: distances
/// (<c>[Queries × K]</c>, ascending, ties by the lower reference index) and reference indices, as
/// <see cref="Knn.SelectTopK"/> leaves them. Made by <see cref="Search"/>; the votes of any <c>k ≤ K</c> come from the same
/// lists, so a sweep over k computes the neighbours once.
/// </summary>
public sealed class NeighborLists : IDisposable
{
    private NeighborLists(Device device, KnnMetric metric, int queries, int k)
    {
        Device = device;
        Metric = metric;
        Queries = queries;
        K = k;
        Distances = device.Allocate((long)queries * k);
        try
        {
            Indices = device.Accelerator.Allocate1D<int>((long)queries * k);
        }
        catch
        {
            Distances.Dispose();
            throw;
        }
    }

    /// <summary>The device the lists live on.</summary>
    public Device Device { get; }

    /// <summary>The metric of the distances.</summary>
    public KnnMetric Metric { get; }

    /// <summary>Number of queries (rows).</summary>
    public int Queries { get; }

    /// <summary>Neighbours per query.</summary>
    public int K { get; }

    /// <summary>Distances, <c>[Queries × K]</c>: squared for <see cref="KnnMetric.L2"/>; +∞ in empty slots.</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Distances { get; }

    /// <summary>Reference indices, <c>[Queries × K]</c>; −1 in empty slots (fewer references than K).</summary>
    public MemoryBuffer1D<int, Stride1D.Dense> Indices { get; }

    /// <summary>
    /// Finds the <paramref name="k"/> nearest of <paramref name="n"/> references for each of <paramref name="m"/> queries
    /// (rows of <paramref name="dim"/> floats), by brute force: blocks of queries × chunks of references go through
    /// <see cref="Knn.SquaredL2Distances"/> (GEMM) or <see cref="Knn.L1Distances"/>, and <see cref="Knn.SelectTopK"/>
    /// merges each block into the running lists, so memory stays at one block whatever <c>m·n</c> is.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="queries">Queries, <c>m · dim</c> floats.</param>
    /// <param name="m">Number of queries.</param>
    /// <param name="references">References, <c>n · dim</c> floats.</param>
    /// <param name="n">Number of references.</param>
    /// <param name="dim">Floats per row.</param>
    /// <param name="metric">The distance.</param>
    /// <param name="k">Neighbours to keep, at least 1.</param>
    /// <param name="exclude">Optional: for each query, a reference index it must not select (itself, for a
    /// leave-one-out error), or −1.</param>
    /// <param name="options">Block sizes (null: the defaults).</param>
    /// <param name="timings">Optional: the phases' wall times are added to it.</param>
    /// <exception cref="ArgumentException">A size or view does not fit (see the ops).</exception>
    public static NeighborLists Search(Device device, ArrayView<float> queries, int m, ArrayView<float> references, int n, int dim,
        KnnMetric metric, int k, int[]? exclude = null, KnnSearchOptions? options = null, KnnTimings? timings = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        options ??= new KnnSearchOptions();
        if (options.ReferenceChunk < 1) throw new ArgumentOutOfRangeException(nameof(options), "ReferenceChunk must be positive.");
        if (exclude is not null && exclude.Length != m)
            throw new ArgumentException($"exclude has {exclude.Length} entries; expected one per query ({m}).", nameof(exclude));
        if (metric is not (KnnMetric.L2 or KnnMetric.L1)) throw new ArgumentOutOfRangeException(nameof(metric), metric, "unknown metric.");
        Check(queries, (long)m * dim, nameof(queries));
        Check(references, (long)n * dim, nameof(references));

        var (queryBlock, chunk) = BlockShape(Knn.QueriesToFill(device), m, n, options);
        var lists = new NeighborLists(device, metric, m, k);
        try
        {
            if (m == 0) return lists;
            if (n == 0)
            {
                // No reference at all: every slot is empty.
                using var none = device.Allocate(1);
                Knn.SelectTopK(device, none.View.SubView(0, 0), m, 0, 0, k, lists.Distances.View, lists.Indices.View, merge: false);
                return lists;
            }
            using var block = device.Allocate((long)queryBlock * chunk);
            using var queryNorms = device.Allocate(metric == KnnMetric.L2 ? queryBlock : 1);
            using var referenceNorms = device.Allocate(metric == KnnMetric.L2 ? n : 1);
            using var skip = exclude is null ? null : device.Accelerator.Allocate1D(exclude);
            var clock = Stopwatch.StartNew();
            if (metric == KnnMetric.L2) Knn.RowSquaredNorms(device, references, n, dim, referenceNorms.View);
            Lap(device, clock, timings, distance: true);
            for (int q0 = 0; q0 < m; q0 += queryBlock)
            {
                int mq = Math.Min(queryBlock, m - q0);
                var q = queries.SubView((long)q0 * dim, (long)mq * dim);
                var qn = queryNorms.View.SubView(0, metric == KnnMetric.L2 ? mq : 0);
                if (metric == KnnMetric.L2) Knn.RowSquaredNorms(device, q, mq, dim, qn);
                var bestD = lists.Distances.View.SubView((long)q0 * k, (long)mq * k);
                var bestI = lists.Indices.View.SubView((long)q0 * k, (long)mq * k);
                var ex = skip is null ? default : skip.View.SubView(q0, mq);
                for (int c0 = 0; c0 < n; c0 += chunk)
                {
                    int nc = Math.Min(chunk, n - c0);
                    var r = references.SubView((long)c0 * dim, (long)nc * dim);
                    var d = block.View.SubView(0, (long)mq * nc);
                    if (metric == KnnMetric.L2)
                        Knn.SquaredL2Distances(device, q, qn, mq, r, referenceNorms.View.SubView(c0, nc), nc, dim, d);
                    else
                        Knn.L1Distances(device, q, mq, r, nc, dim, d);
                    Lap(device, clock, timings, distance: true);
                    Knn.SelectTopK(device, d, mq, nc, c0, k, bestD, bestI, merge: c0 > 0, ex);
                    Lap(device, clock, timings, distance: false);
                }
            }
            return lists;
        }
        catch
        {
            lists.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The class each query's first <paramref name="k"/> neighbours vote for (<see cref="Knn.Vote"/>), copied to the host.
    /// L2 lists vote by the Euclidean distance (the square root of what they hold).
    /// </summary>
    /// <param name="k">Neighbours that vote, <c>1..K</c>.</param>
    /// <param name="labels">The references' classes, on the device.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="weights">Uniform or distance-weighted.</param>
    /// <param name="timings">Optional: the vote's wall time is added to it.</param>
    public int[] Predict(int k, ArrayView<int> labels, int classes, KnnWeights weights, KnnTimings? timings = null)
    {
        var clock = Stopwatch.StartNew();
        using var predictions = Device.Accelerator.Allocate1D<int>(Queries);
        Knn.Vote(Device, Distances.View, Indices.View, Queries, K, k, labels, classes, weights, Metric == KnnMetric.L2, predictions.View);
        Device.Synchronize();
        var result = predictions.GetAsArray1D();
        if (timings is not null) timings.VoteSeconds += clock.Elapsed.TotalSeconds;
        return result;
    }

    /// <summary>Copies the lists to the host: distances and indices, each <c>[Queries × K]</c> row-major.</summary>
    public (float[] Distances, int[] Indices) ToHost()
    {
        Device.Synchronize();
        return (Distances.GetAsArray1D(), Indices.GetAsArray1D());
    }

    /// <summary>
    /// Queries and references per distance block: <see cref="KnnSearchOptions.ReferenceChunk"/> references and as many
    /// queries as <see cref="KnnSearchOptions.BlockFloats"/> leaves room for. On an ILGPU device, where the top-k gives each
    /// query one warp, a block that would hold fewer queries than the device's resident warps (<paramref name="fill"/>,
    /// <see cref="Knn.QueriesToFill"/>: 8,448 on a 132-multiprocessor GPU, against 2,048 from the defaults) takes that
    /// many queries (at most <paramref name="m"/>) and proportionally fewer references, so the block stays within
    /// <see cref="KnnSearchOptions.BlockFloats"/>. The lists do not depend on the block shape (the k smallest of a strict
    /// order are one set).
    /// </summary>
    internal static (int Queries, int References) BlockShape(int fill, int m, int n, KnnSearchOptions options)
    {
        int chunk = Math.Max(1, Math.Min(n, options.ReferenceChunk));
        int queryBlock = (int)Math.Clamp(options.BlockFloats / chunk, 1, Math.Max(1, m));
        fill = Math.Min(fill, Math.Max(1, m));
        if (fill > queryBlock)
        {
            queryBlock = fill;
            chunk = (int)Math.Clamp(options.BlockFloats / queryBlock, 1, chunk);
        }
        return (queryBlock, chunk);
    }

    private static void Lap(Device device, Stopwatch clock, KnnTimings? timings, bool distance)
    {
        if (timings is null) return;
        device.Synchronize();
        double seconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        if (distance) timings.DistanceSeconds += seconds;
        else timings.TopKSeconds += seconds;
    }

    private static void Check(ArrayView<float> view, long expected, string name)
    {
        if (view.Length != expected)
            throw new ArgumentException($"{name} has {view.Length} elements; expected {expected}.", name);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Distances.Dispose();
        Indices.Dispose();
    }
}
