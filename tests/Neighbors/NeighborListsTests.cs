using GpuNet.Kernels;
using GpuNet.Neighbors;
using GpuNet.Tests.Kernels;

namespace GpuNet.Tests.Neighbors;

/// <summary>
/// The chunked brute-force search: on integer data (where every distance is exact in float32, so ties are real ties) it
/// must give exactly the lists of a float64 brute force with ties by index, whatever the block sizes, on both devices.
/// </summary>
[Collection("devices")]
public class NeighborListsTests(DeviceFixture devices)
{
    public static TheoryData<string, KnnMetric> Cases() => new()
    {
        { "ilgpu-cpu", KnnMetric.L2 }, { "ilgpu-cpu", KnnMetric.L1 }, { "cpu", KnnMetric.L2 }, { "cpu", KnnMetric.L1 },
    };

    private static float[] Integers(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)rng.Next(4)).ToArray();
    }

    private static (float[] D, int[] I) BruteForce(float[] q, float[] r, int m, int n, int dim, KnnMetric metric, int k, int[]? exclude)
    {
        var d = new float[m * k];
        var idx = new int[m * k];
        for (int i = 0; i < m; i++)
        {
            var all = Enumerable.Range(0, n).Where(j => exclude is null || exclude[i] != j).Select(j =>
            {
                double s = 0;
                for (int p = 0; p < dim; p++)
                {
                    double t = (double)q[i * dim + p] - r[j * dim + p];
                    s += metric == KnnMetric.L2 ? t * t : Math.Abs(t);
                }
                return (D: s, I: j);
            }).OrderBy(c => c.D).ThenBy(c => c.I).Take(k).ToList();
            for (int t = 0; t < k; t++)
            {
                d[i * k + t] = t < all.Count ? (float)all[t].D : float.PositiveInfinity;
                idx[i * k + t] = t < all.Count ? all[t].I : -1;
            }
        }
        return (d, idx);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Chunked_search_equals_brute_force_with_ties_by_index_and_exclusion(string spec, KnnMetric metric)
    {
        var device = devices.Get(spec);
        const int m = 23, n = 97, dim = 13;
        var q = Integers(m * dim, 1);
        var r = Integers(n * dim, 2);
        Array.Copy(r, 5 * dim, q, 0, dim); // query 0 is reference 5
        var exclude = Enumerable.Range(0, m).Select(i => i == 0 ? 5 : i % 4 == 0 ? -1 : (i * 7) % n).ToArray();
        using var tq = Tensor.FromArray(device, q, q.Length);
        using var tr = Tensor.FromArray(device, r, r.Length);
        foreach (int k in new[] { 1, 10, 100 })
            foreach (var ex in new[] { null, exclude })
            {
                var (ed, ei) = BruteForce(q, r, m, n, dim, metric, k, ex);
                // One block; blocks of 5 queries x 10 references; and (on the host, where launches are cheap) one by one.
                foreach (var options in new[]
                         {
                             new KnnSearchOptions(),
                             new KnnSearchOptions { ReferenceChunk = 10, BlockFloats = 50 },
                             new KnnSearchOptions { ReferenceChunk = 1, BlockFloats = 1 },
                         }.Take(device.UsesHostEngine ? 3 : 2))
                {
                    var timings = new KnnTimings();
                    using var lists = NeighborLists.Search(device, tq.View, m, tr.View, n, dim, metric, k, ex, options, timings);
                    var (d, i) = lists.ToHost();
                    string what = $"{spec} {metric} k={k} chunk {options.ReferenceChunk} exclude {ex is not null}";
                    Assert.True(ei.SequenceEqual(i), what);
                    Close.All(d, ed, 0, 0, what);
                    Assert.True(timings.DistanceSeconds > 0 && timings.TopKSeconds > 0, what);
                }
            }
    }

    [Fact]
    public void Predictions_vote_from_the_lists_and_l2_weighs_by_the_root()
    {
        var device = devices.Host;
        // A query at 0 on a line; references at 1 (class 0) and at ±1.5 (class 1). Uniform, k = 3: class 1; k = 1: class 0.
        // Weights 1/d: class 0 weighs 1, class 1 weighs 2/1.5 = 1.33, so class 1, for L1 and for L2, whose lists hold the
        // squares (1, 2.25, 2.25): weighing those by 1/d² instead would give class 1 only 0.89 and pick class 0.
        using var tq = Tensor.FromArray(device, [0f], 1);
        using var tr = Tensor.FromArray(device, [1.5f, 1f, -1.5f], 3);
        using var labels = IntBuffers.Upload(device, [1, 0, 1]);
        foreach (var metric in new[] { KnnMetric.L1, KnnMetric.L2 })
        {
            using var lists = NeighborLists.Search(device, tq.View, 1, tr.View, 3, 1, metric, 3);
            var (d, i) = lists.ToHost();
            Assert.Equal([1, 0, 2], i);
            Assert.Equal(metric == KnnMetric.L2 ? [1f, 2.25f, 2.25f] : [1f, 1.5f, 1.5f], d);
            Assert.Equal([1], lists.Predict(3, labels.View, 2, KnnWeights.Uniform));
            Assert.Equal([0], lists.Predict(1, labels.View, 2, KnnWeights.Uniform));
            Assert.Equal([1], lists.Predict(3, labels.View, 2, KnnWeights.Distance));
        }
    }
}
