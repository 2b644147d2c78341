using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>How the <c>k</c> nearest neighbours of a point vote on its class in <see cref="Knn.Vote"/>.</summary>
public enum KnnWeights
{
    /// <summary>Every neighbour has one vote.</summary>
    Uniform,
    /// <summary>A neighbour at distance <c>d</c> has weight <c>1/d</c>; when some neighbours are at distance 0, they have
    /// weight 1 and all others 0 (scikit-learn's <c>weights="distance"</c>).</summary>
    Distance,
}

/// <summary>
/// The building blocks of brute-force k-nearest-neighbour classification: pairwise distance blocks between query rows and
/// reference rows (squared Euclidean through GEMM, L1 with its own kernel), a top-k selection that merges block after
/// block of reference rows into a running list per query, and the class vote of the first <c>k</c> entries of such a list.
/// </summary>
/// <remarks>
/// Matrices are dense and row-major: <c>queries</c> is <c>[m × dim]</c>, <c>references</c> <c>[n × dim]</c> and a
/// distance block <c>[m × n]</c>. Every op gives the same result with any number of host threads or any group size.
/// </remarks>
public static partial class Knn
{
    /// <summary>Tests set this (on their own thread) to add the norms in their own pass after the GEMM, as before the norms
    /// moved into the GEMM's epilogue, to compare the two.</summary>
    [ThreadStatic]
    internal static bool UnfusedNorms;

    /// <summary>Computes <c>norms[r] = Σ_c x[r·cols + c]²</c> for every row <c>r &lt; rows</c>.</summary>
    /// <param name="device">The device both views live on.</param>
    /// <param name="x">The rows, <c>rows · cols</c> elements.</param>
    /// <param name="rows">Number of rows, at least 0.</param>
    /// <param name="cols">Elements per row, at least 1.</param>
    /// <param name="norms">Output, <c>rows</c> elements.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> is negative or <paramref name="cols"/> is not positive.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void RowSquaredNorms(Device device, ArrayView<float> x, int rows, int cols, ArrayView<float> norms)
    {
        ArgumentNullException.ThrowIfNull(device);
        Check.NonNegative(rows, nameof(rows));
        Check.Positive(cols, nameof(cols));
        Check.Length(x, (long)rows * cols, nameof(x));
        Check.Length(norms, rows, nameof(norms));
        Check.Device(device, x, nameof(x));
        Check.Device(device, norms, nameof(norms));
        if (rows == 0) return;
        if (device.UsesHostEngine) RowSquaredNormsHost(device, x, rows, cols, norms);
        else RowSquaredNormsIlgpu(device, x, rows, cols, norms);
    }

    /// <summary>
    /// Computes the squared Euclidean distances
    /// <c>distances[i·n + j] = max(queryNorms[i] + referenceNorms[j] − 2·Σ_p queries[i·dim + p]·references[j·dim + p], 0)</c>
    /// for <c>i &lt; m</c>, <c>j &lt; n</c>: the product by <see cref="Gemm.Run(Device, Transpose, Transpose, int, int, int, float, ArrayView{float}, ArrayView{float}, float, ArrayView{float})"/> (<c>C = −2·Q·Rᵀ</c>), then the norms are
    /// added (<c>(queryNorms[i] + referenceNorms[j]) + C[i, j]</c>) and negative results, which only rounding makes, set
    /// to 0. On ILGPU devices the addition and the clamp are the GEMM's epilogue (one launch, the same arithmetic). The norms are normally those of <see cref="RowSquaredNorms"/>. In float32 the expansion loses about
    /// <c>|q|²·2⁻²³</c> to cancellation, which is what every GEMM-based k-NN (scikit-learn's, FAISS's) accepts.
    /// </summary>
    /// <param name="device">The device all views live on.</param>
    /// <param name="queries">Q, <c>m · dim</c> elements.</param>
    /// <param name="queryNorms"><c>|Q_i|²</c>, <c>m</c> elements.</param>
    /// <param name="m">Query rows, at least 0.</param>
    /// <param name="references">R, <c>n · dim</c> elements.</param>
    /// <param name="referenceNorms"><c>|R_j|²</c>, <c>n</c> elements.</param>
    /// <param name="n">Reference rows, at least 0.</param>
    /// <param name="dim">Elements per row, at least 1.</param>
    /// <param name="distances">Output, <c>m · n</c> elements (at most <see cref="int.MaxValue"/>); must not overlap the inputs.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or <paramref name="dim"/> is 0.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device, or the block has more than
    /// <see cref="int.MaxValue"/> elements.</exception>
    public static void SquaredL2Distances(Device device, ArrayView<float> queries, ArrayView<float> queryNorms, int m,
        ArrayView<float> references, ArrayView<float> referenceNorms, int n, int dim, ArrayView<float> distances)
    {
        CheckDistances(device, queries, m, references, n, dim, distances);
        Check.Length(queryNorms, m, nameof(queryNorms));
        Check.Length(referenceNorms, n, nameof(referenceNorms));
        Check.Device(device, queryNorms, nameof(queryNorms));
        Check.Device(device, referenceNorms, nameof(referenceNorms));
        if (m == 0 || n == 0) return;
        if (device.UsesHostEngine)
        {
            Gemm.Run(device, Transpose.No, Transpose.Yes, m, n, dim, -2f, queries, references, 0f, distances);
            AddNormsHost(device, queryNorms, referenceNorms, m, n, distances);
            return;
        }
        if (UnfusedNorms)
        {
            Gemm.Run(device, Transpose.No, Transpose.Yes, m, n, dim, -2f, queries, references, 0f, distances);
            AddNormsIlgpu(device, queryNorms, referenceNorms, m, n, distances);
            return;
        }
        // One launch (two with split-K): the norms and the clamp ride in the GEMM's epilogue, in the same order.
        Gemm.RunPlanned(device, Gemm.Plan(device, m, n, dim), Transpose.No, Transpose.Yes, m, n, dim, -2f, queries, references, 0f,
            distances, referenceNorms, ActivationKind.Identity, queryNorms);
    }

    /// <summary>
    /// Computes the L1 (Manhattan) distances <c>distances[i·n + j] = Σ_p |queries[i·dim + p] − references[j·dim + p]|</c>
    /// for <c>i &lt; m</c>, <c>j &lt; n</c>, accumulated in float32.
    /// </summary>
    /// <remarks>
    /// The ILGPU kernel adds the <c>|q − r|</c> in order of <c>p</c>. The host engine uses
    /// <c>|q − r| = 2·max(q, r) − q − r</c>: it adds up <c>max(q, r)</c> (two instructions per pair instead of three) and
    /// subtracts the row sums at the end, so its rounding error is that of a sum of <c>max</c> values rather than of the
    /// differences (about <c>dim·max|x|·2⁻²⁴</c>); results below 0 (only rounding makes them) are set to 0. A NaN input
    /// gives an unspecified value in its row or column.
    /// </remarks>
    /// <param name="device">The device all views live on.</param>
    /// <param name="queries">Q, <c>m · dim</c> elements.</param>
    /// <param name="m">Query rows, at least 0.</param>
    /// <param name="references">R, <c>n · dim</c> elements.</param>
    /// <param name="n">Reference rows, at least 0.</param>
    /// <param name="dim">Elements per row, at least 1.</param>
    /// <param name="distances">Output, <c>m · n</c> elements (at most <see cref="int.MaxValue"/>); must not overlap the inputs.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, or <paramref name="dim"/> is 0.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device, or the block has more than
    /// <see cref="int.MaxValue"/> elements.</exception>
    public static void L1Distances(Device device, ArrayView<float> queries, int m, ArrayView<float> references, int n, int dim,
        ArrayView<float> distances)
    {
        CheckDistances(device, queries, m, references, n, dim, distances);
        if (m == 0 || n == 0) return;
        if (device.UsesHostEngine) L1Host(device, queries, m, references, n, dim, distances);
        else L1Ilgpu(device, queries, m, references, n, dim, distances);
    }

    /// <summary>
    /// Keeps, for each row <c>r &lt; rows</c> of the distance block <paramref name="distances"/> (<c>[rows × cols]</c>,
    /// whose column <c>j</c> is reference <c>columnOffset + j</c>), the <paramref name="k"/> smallest
    /// <c>(distance, reference index)</c> pairs seen so far, in <c>bestDistances[r·k ..]</c> and <c>bestIndices[r·k ..]</c>,
    /// sorted ascending by distance, ties by the lower index. With <paramref name="merge"/> the lists already there (from
    /// earlier blocks of references) are merged with the block's columns, so calling it block after block gives exactly
    /// the lists of one call over all the references; without it they are overwritten. Slots no reference has filled
    /// (fewer than <c>k</c> references so far) hold distance <c>+∞</c> and index −1, at the end of the list.
    /// NaN distances are never selected; <c>exclude[r]</c>, when <paramref name="exclude"/> is given, is a reference
    /// index row <c>r</c> never selects (the query itself, for a leave-one-out error; −1 excludes nothing).
    /// </summary>
    /// <param name="device">The device all views live on.</param>
    /// <param name="distances">The block, <c>rows · cols</c> elements.</param>
    /// <param name="rows">Rows of the block (queries), at least 0.</param>
    /// <param name="cols">Columns of the block (references in this block), at least 0.</param>
    /// <param name="columnOffset">The reference index of column 0, at least 0; <c>columnOffset + cols</c> must fit an int.</param>
    /// <param name="k">Neighbours kept per row, at least 1.</param>
    /// <param name="bestDistances">The running lists' distances, <c>rows · k</c> elements; read when merging, written.</param>
    /// <param name="bestIndices">The running lists' reference indices, <c>rows · k</c> elements; read when merging, written.</param>
    /// <param name="merge">Merge with the lists in the outputs (true) or start new ones (false).</param>
    /// <param name="exclude">Optional: <c>rows</c> reference indices, one per row, never to select.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is negative, <paramref name="k"/> is not positive, or the
    /// column indices overflow an int.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void SelectTopK(Device device, ArrayView<float> distances, int rows, int cols, int columnOffset, int k,
        ArrayView<float> bestDistances, ArrayView<int> bestIndices, bool merge, ArrayView<int> exclude = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        Check.NonNegative(rows, nameof(rows));
        Check.NonNegative(cols, nameof(cols));
        Check.NonNegative(columnOffset, nameof(columnOffset));
        Check.Positive(k, nameof(k));
        if ((long)columnOffset + cols > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(columnOffset), columnOffset, $"columnOffset + cols ({cols}) must fit an int.");
        Check.Length(distances, (long)rows * cols, nameof(distances));
        Check.Length(bestDistances, (long)rows * k, nameof(bestDistances));
        Check.Length(bestIndices, (long)rows * k, nameof(bestIndices));
        Check.Device(device, distances, nameof(distances));
        Check.Device(device, bestDistances, nameof(bestDistances));
        Reduce.CheckDevice(device, bestIndices, nameof(bestIndices));
        bool hasExclude = exclude.IsValid;
        if (hasExclude)
        {
            Check.Length(exclude, rows, nameof(exclude));
            Reduce.CheckDevice(device, exclude, nameof(exclude));
        }
        if (rows == 0) return;
        var args = new TopKArgs(rows, cols, columnOffset, k, merge, hasExclude);
        if (device.UsesHostEngine) SelectTopKHost(device, distances, bestDistances, bestIndices, exclude, args);
        else SelectTopKIlgpu(device, distances, bestDistances, bestIndices, hasExclude ? exclude : bestIndices, args);
    }

    /// <summary>
    /// The class each row's first <paramref name="k"/> neighbours vote for: <c>predictions[r] = argmax_c Σ_{t &lt; k,
    /// labels[bestIndices[r·kMax + t]] = c} w_t</c>, with <c>w_t = 1</c> for <see cref="KnnWeights.Uniform"/> and
    /// <c>w_t = 1/d_t</c> for <see cref="KnnWeights.Distance"/>, where <c>d_t</c> is <c>bestDistances[r·kMax + t]</c>, or
    /// its square root when <paramref name="squaredDistances"/> (so squared Euclidean lists vote by Euclidean distance).
    /// If some of the <c>k</c> neighbours are at distance 0, those weigh 1 and the others 0 (scikit-learn's rule). Ties go
    /// to the smallest class, as in scikit-learn (<c>scipy.stats.mode</c> and <c>weighted_mode</c> both return the
    /// smallest of the most frequent values). Weights are added in float32 in neighbour order. Entries with index −1 (empty
    /// slots) and labels outside <c>[0, classes)</c> do not vote; a row with no vote at all gets −1.
    /// </summary>
    /// <param name="device">The device all views live on.</param>
    /// <param name="bestDistances">Sorted neighbour distances, <c>rows · kMax</c> elements (from <see cref="SelectTopK"/>).</param>
    /// <param name="bestIndices">Their reference indices, <c>rows · kMax</c> elements.</param>
    /// <param name="rows">Rows (queries), at least 0.</param>
    /// <param name="kMax">Entries per row in the lists, at least 1.</param>
    /// <param name="k">Neighbours that vote, <c>1..kMax</c>.</param>
    /// <param name="labels">The class of every reference; an index beyond it does not vote.</param>
    /// <param name="classes">Number of classes, 1..1024.</param>
    /// <param name="weights">Uniform or distance-weighted votes.</param>
    /// <param name="squaredDistances">The distances are squared (Euclidean): weigh by <c>1/√d</c>.</param>
    /// <param name="predictions">Output, <c>rows</c> class indices.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void Vote(Device device, ArrayView<float> bestDistances, ArrayView<int> bestIndices, int rows, int kMax, int k,
        ArrayView<int> labels, int classes, KnnWeights weights, bool squaredDistances, ArrayView<int> predictions)
    {
        ArgumentNullException.ThrowIfNull(device);
        Check.NonNegative(rows, nameof(rows));
        Check.Positive(kMax, nameof(kMax));
        if (k < 1 || k > kMax) throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in 1..kMax ({kMax}).");
        if (classes < 1 || classes > MaxClasses)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"classes must be in 1..{MaxClasses}.");
        if (weights is not (KnnWeights.Uniform or KnnWeights.Distance))
            throw new ArgumentOutOfRangeException(nameof(weights), weights, "unknown weighting.");
        Check.Length(bestDistances, (long)rows * kMax, nameof(bestDistances));
        Check.Length(bestIndices, (long)rows * kMax, nameof(bestIndices));
        Check.Length(predictions, rows, nameof(predictions));
        Check.Device(device, bestDistances, nameof(bestDistances));
        Reduce.CheckDevice(device, bestIndices, nameof(bestIndices));
        Reduce.CheckDevice(device, labels, nameof(labels));
        Reduce.CheckDevice(device, predictions, nameof(predictions));
        if (rows == 0) return;
        var args = new VoteArgs(rows, kMax, k, classes, weights == KnnWeights.Distance, squaredDistances);
        if (device.UsesHostEngine) VoteHost(device, bestDistances, bestIndices, labels, predictions, args);
        else VoteIlgpu(device, bestDistances, bestIndices, labels, predictions, args);
    }

    /// <summary>The most classes <see cref="Vote"/> takes (the host engine keeps one weight per class on the stack).</summary>
    public const int MaxClasses = 1024;

    private static void CheckDistances(Device device, ArrayView<float> queries, int m, ArrayView<float> references, int n, int dim,
        ArrayView<float> distances)
    {
        ArgumentNullException.ThrowIfNull(device);
        Check.NonNegative(m, nameof(m));
        Check.NonNegative(n, nameof(n));
        Check.Positive(dim, nameof(dim));
        Check.Length(queries, (long)m * dim, nameof(queries));
        Check.Length(references, (long)n * dim, nameof(references));
        if ((long)m * n > int.MaxValue || (long)m * dim > int.MaxValue || (long)n * dim > int.MaxValue)
            throw new ArgumentException($"a {m}×{n} distance block of {dim}-element rows has a matrix over {int.MaxValue} elements; " +
                "split the queries or the references into blocks.", nameof(distances));
        Check.Length(distances, (long)m * n, nameof(distances));
        Check.Device(device, queries, nameof(queries));
        Check.Device(device, references, nameof(references));
        Check.Device(device, distances, nameof(distances));
    }

    /// <summary>
    /// True when the pair <c>(d, i)</c> comes before <c>(bd, bi)</c> in a top-k list: an empty slot (<c>bi &lt; 0</c>)
    /// comes after everything, else the smaller distance, then the smaller index. <paramref name="d"/> is not NaN.
    /// </summary>
    internal static bool Before(float d, int i, float bd, int bi) => bi < 0 || d < bd || (d == bd && i < bi);
}

/// <summary>The scalar arguments of <see cref="Knn.SelectTopK"/>.</summary>
internal readonly struct TopKArgs(int rows, int cols, int columnOffset, int k, bool merge, bool hasExclude)
{
    public readonly int Rows = rows;
    public readonly int Cols = cols;
    public readonly int ColumnOffset = columnOffset;
    public readonly int K = k;
    /// <summary>1: merge with the lists in the outputs; 0: start new lists.</summary>
    public readonly int Merge = merge ? 1 : 0;
    /// <summary>1: the exclude view holds one index per row; 0: nothing is excluded (the view is a placeholder).</summary>
    public readonly int HasExclude = hasExclude ? 1 : 0;
}

/// <summary>The scalar arguments of <see cref="Knn.Vote"/>.</summary>
internal readonly struct VoteArgs(int rows, int kMax, int k, int classes, bool distanceWeights, bool squaredDistances)
{
    public readonly int Rows = rows;
    public readonly int KMax = kMax;
    public readonly int K = k;
    public readonly int Classes = classes;
    /// <summary>1: weights 1/d; 0: uniform.</summary>
    public readonly int DistanceWeights = distanceWeights ? 1 : 0;
    /// <summary>1: the distances are squared, weigh by 1/√d.</summary>
    public readonly int Squared = squaredDistances ? 1 : 0;
}
