using GpuNet.Data;
using GpuNet.Kernels;
using GpuNet.Neighbors;
using GpuNet.Nn;
using GpuNet.Training;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// The host engine gives the same bits on every SIMD width: each op at AVX-512 or AVX2 against the portable path
/// (width 2, which every processor runs), then whole training runs and a k-NN search with the width capped on the test's
/// thread (<see cref="HostRowSimd.WidthCap"/>), and the same runs on 1 and 3 threads. This is what makes the course's
/// verdicts the same on AVX2-only and AVX-512 machines. A width the processor lacks is reported as skipped.
/// </summary>
[Collection("devices")]
public class SameBitsOnEveryWidthTests(DeviceFixture devices)
{
    private const int Portable = 2;

    /// <summary>Row lengths: every tail of a 16-lane vector, the transposed path's limit (16) on both sides, wide rows.</summary>
    private static readonly int[] Lengths = [.. Enumerable.Range(1, 35), 47, 63, 64, 65, 100, 257, 1000];

    private static void Same(float[] portable, float[] wide, string what) => HostSimdTestData.SameBits(portable, wide, what);

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    public void Softmax_cross_entropy_forward_and_backward(int width)
    {
        var device = devices.Host;
        foreach (int classes in Lengths)
        {
            const int batch = 37; // two 16-row transposed groups and a partial one
            var z = Data.Uniform(batch * classes, classes, -6f, 6f);
            var labels = Data.Labels(batch, classes, classes + 1);
            (float[], float[], int[], float[]) Run(int w)
            {
                using var tz = Tensor.FromArray(device, z, batch, classes);
                using var tl = IntBuffers.Upload(device, labels);
                using var rowLoss = Tensor.Zeros(device, batch);
                using var loss = Tensor.Zeros(device, 1);
                using var correct = IntBuffers.Filled(device, 1, 0);
                using var dz = Tensor.FromArray(device, Data.Uniform(batch * classes, 3, -1f, 1f), batch, classes);
                SoftmaxCrossEntropy.ForwardHostAt(device, tz.View, tl.View, batch, classes, rowLoss.View, loss.View, correct.View, w);
                SoftmaxCrossEntropy.BackwardHostAt(device, tz.View, tl.View, batch, classes, dz.View, 0.7f, w);
                return (rowLoss.ToArray(), loss.ToArray(), IntBuffers.Download(device, correct), dz.ToArray());
            }
            var p = Run(Portable);
            var v = Run(width);
            Same(p.Item1, v.Item1, $"row losses, {classes} classes");
            Same(p.Item2, v.Item2, $"mean loss, {classes} classes");
            Assert.Equal(p.Item3, v.Item3);
            Same(p.Item4, v.Item4, $"dlogits, {classes} classes");
        }
    }

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    public void Soft_target_loss_forward_and_backward(int width)
    {
        var device = devices.Host;
        foreach (int classes in Lengths)
        {
            const int batch = 21;
            var s = Data.Uniform(batch * classes, classes, -5f, 5f);
            var t = Data.Uniform(batch * classes, classes + 7, -5f, 5f);
            (float[], float[], float[]) Run(int w)
            {
                using var ts = Tensor.FromArray(device, s, batch, classes);
                using var tt = Tensor.FromArray(device, t, batch, classes);
                using var rowLoss = Tensor.Zeros(device, batch);
                using var loss = Tensor.Zeros(device, 1);
                using var ds = Tensor.Zeros(device, batch, classes);
                SoftmaxCrossEntropy.ForwardSoftHostAt(device, ts.View, tt.View, batch, classes, 4f, rowLoss.View, loss.View, w);
                SoftmaxCrossEntropy.BackwardSoftHostAt(device, ts.View, tt.View, batch, classes, 4f, ds.View, 0.5f, w);
                return (rowLoss.ToArray(), loss.ToArray(), ds.ToArray());
            }
            var p = Run(Portable);
            var v = Run(width);
            Same(p.Item1, v.Item1, $"soft row losses, {classes} classes");
            Same(p.Item2, v.Item2, $"soft mean loss, {classes} classes");
            Same(p.Item3, v.Item3, $"soft gradient, {classes} classes");
        }
    }

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    public void Sums_norms_bias_gradients_and_mean_squared_error(int width)
    {
        var device = devices.Host;
        foreach (int n in Lengths.Append(100_003))
        {
            var x = Data.Uniform(n, n, -2f, 3f);
            float[] Sum<TTerm>(int w) where TTerm : struct, IReduceTerm
            {
                using var tx = Tensor.FromArray(device, x, n);
                using var result = Tensor.Zeros(device, 1);
                Reduce.SumHostAt<TTerm>(device, tx.View, result.View, w);
                return result.ToArray();
            }
            Same(Sum<ValueTerm>(Portable), Sum<ValueTerm>(width), $"sum of {n}");
            Same(Sum<SquareTerm>(Portable), Sum<SquareTerm>(width), $"sum of squares of {n}");
        }
        foreach (int cols in Lengths)
        {
            const int rows = 19;
            var x = Data.Uniform(rows * cols, cols, -2f, 2f);
            var y = Data.Uniform(rows * cols, cols + 1, -2f, 2f);
            (float[], float[], float[], float[], float[]) Run(int w)
            {
                using var tx = Tensor.FromArray(device, x, rows, cols);
                using var ty = Tensor.FromArray(device, y, rows, cols);
                using var norms = Tensor.Zeros(device, rows);
                using var dbias = Tensor.FromArray(device, Data.Uniform(cols, 5), cols);
                using var rowLoss = Tensor.Zeros(device, rows);
                using var loss = Tensor.Zeros(device, 1);
                Knn.RowSquaredNormsHostAt(device, tx.View, rows, cols, norms.View, w);
                Bias.GradientHostAt(device, tx.View, dbias.View, rows, cols, w);
                MeanSquaredError.ForwardHostAt(device, tx.View, ty.View, rows, cols, rowLoss.View, loss.View, w);
                using var biased = Tensor.FromArray(device, x, rows, cols);
                using var bias = Tensor.FromArray(device, Data.Uniform(cols, 6), cols);
                Bias.AddHostAt(device, biased.View, bias.View, rows, cols, w);
                return (norms.ToArray(), dbias.ToArray(), rowLoss.ToArray(), loss.ToArray(), biased.ToArray());
            }
            var p = Run(Portable);
            var v = Run(width);
            Same(p.Item1, v.Item1, $"row norms, {cols} columns");
            Same(p.Item2, v.Item2, $"bias gradient, {cols} columns");
            Same(p.Item3, v.Item3, $"MSE rows, {cols} columns");
            Same(p.Item4, v.Item4, $"MSE, {cols} columns");
            Same(p.Item5, v.Item5, $"bias add, {cols} columns");
        }
    }

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    public void Gemm_direct_and_packed_paths(int width)
    {
        var device = devices.Host;
        var shapes = new List<(int M, int N, int K)>();
        foreach (int n in new[] { 1, 3, 8, 10, 15, 16, 17, 24, 31, 32, 33, 40, 47, 48, 63, 65 }) shapes.Add((9, n, 37));
        shapes.AddRange([(64, 10, 128), (10, 256, 64), (257, 33, 129), (64, 256, 784), (127, 129, 300), (33, 517, 65)]);
        foreach (var (m, n, k) in shapes)
            foreach (var ta in new[] { Transpose.No, Transpose.Yes })
                foreach (var tb in new[] { Transpose.No, Transpose.Yes })
                    foreach (float beta in new[] { 0f, 0.5f })
                    {
                        var a = Data.Uniform(m * k, m + k, -1f, 1f);
                        var b = Data.Uniform(k * n, n + k + 1, -1f, 1f);
                        var c0 = Data.Uniform(m * n, m + n, -1f, 1f);
                        float[] Direct(int w)
                        {
                            using var tA = Tensor.FromArray(device, a, a.Length);
                            using var tB = Tensor.FromArray(device, b, b.Length);
                            using var tC = Tensor.FromArray(device, c0, c0.Length);
                            Gemm.RunDirectAt(w, ta, tb, m, n, k, 0.75f, tA.View, tB.View, beta, tC.View, maxThreads: 1);
                            return tC.ToArray();
                        }
                        float[] Packed(int w)
                        {
                            using var tA = Tensor.FromArray(device, a, a.Length);
                            using var tB = Tensor.FromArray(device, b, b.Length);
                            using var tC = Tensor.FromArray(device, c0, c0.Length);
                            Gemm.ForceHostPath = HostGemmPath.Packed;
                            HostRowSimd.WidthCap = w;
                            try { Gemm.Run(device, ta, tb, m, n, k, 0.75f, tA.View, tB.View, beta, tC.View); }
                            finally
                            {
                                Gemm.ForceHostPath = HostGemmPath.Auto;
                                HostRowSimd.WidthCap = 0;
                            }
                            return tC.ToArray();
                        }
                        string what = $"{m}x{n}x{k} {ta}/{tb} beta {beta}";
                        Same(Direct(Portable), Direct(width), "direct " + what);
                        Same(Packed(Portable), Packed(width), "packed " + what);
                    }
    }

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    public void Training_runs_and_knn_searches(int width)
    {
        var p = WithWidth(Portable, () => Train(devices.Host));
        var v = WithWidth(width, () => Train(devices.Host));
        Same(p.Losses, v.Losses, "step losses");
        Same(p.Parameters, v.Parameters, "final parameters");
        Same(p.Evaluation, v.Evaluation, "per-epoch test loss and accuracy");
        Same(p.Distilled, v.Distilled, "distilled student's parameters");

        var kp = WithWidth(Portable, () => Search(devices.Host));
        var kv = WithWidth(width, () => Search(devices.Host));
        Same(kp.L2, kv.L2, "L2 neighbour distances");
        Same(kp.L1, kv.L1, "L1 neighbour distances");
        Assert.Equal(kp.Indices, kv.Indices);
    }

    [Fact]
    public void Training_runs_and_knn_searches_do_not_depend_on_the_thread_count()
    {
        using var one = Device.Open("cpu", new DeviceOptions { Threads = 1 });
        using var three = Device.Open("cpu", new DeviceOptions { Threads = 3 });
        var p = Train(one);
        var v = Train(three);
        Same(p.Losses, v.Losses, "step losses");
        Same(p.Parameters, v.Parameters, "final parameters");
        Same(p.Evaluation, v.Evaluation, "per-epoch test loss and accuracy");
        Same(p.Distilled, v.Distilled, "distilled student's parameters");
        var kp = Search(one);
        var kv = Search(three);
        Same(kp.L2, kv.L2, "L2 neighbour distances");
        Same(kp.L1, kv.L1, "L1 neighbour distances");
        Assert.Equal(kp.Indices, kv.Indices);
    }

    private static T WithWidth<T>(int width, Func<T> run)
    {
        HostRowSimd.WidthCap = width;
        try { return run(); }
        finally { HostRowSimd.WidthCap = 0; }
    }

    // 10 classes of 12x12 images: class c lights the c-th band of rows and columns, with noise.
    private static ImageSet Bands(int n, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[n * 144];
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            int c = i % 10;
            labels[i] = (byte)c;
            for (int p = 0; p < 144; p++)
            {
                bool lit = p / 12 == c || p % 12 == c + 1;
                pixels[i * 144 + p] = (byte)Math.Clamp((lit ? 180 : 50) + rng.Next(-70, 70), 0, 255);
            }
        }
        return new ImageSet("bands", pixels, labels, 12, 12, 10);
    }

    // The width cap is per thread: every op of a step is called from the test's thread (worker threads only take parts
    // of an op the calling thread has already dispatched).
    private static (float[] Losses, float[] Parameters, float[] Evaluation, float[] Distilled) Train(Device device)
    {
        using var train = DeviceImages.Upload(device, Bands(400, 1));
        using var test = DeviceImages.Upload(device, Bands(150, 2));
        var ids = Enumerable.Range(0, 400).ToArray();
        var norm = Normalization.FromImages(train.Source, ids);
        using var loader = new DataLoader(train, ids, new DataLoaderOptions { BatchSize = 32, Seed = 5, Normalization = norm });
        using var testLoader = new DataLoader(test, null, new DataLoaderOptions { BatchSize = 64, Shuffle = false, Normalization = norm });
        using var model = new Sequential(device, 144, 9,
            new Linear(144, 96), new ReLU(), new GpuNet.Nn.Dropout(0.3f), new Linear(96, 40), new ReLU(), new Linear(40, 10));
        using var adam = new Adam(model.Parameters, 0.003);
        using var trainer = new Trainer(model, adam);
        var result = trainer.Fit(loader, null, null, testLoader, new TrainerOptions { Epochs = 3, EvaluateTrain = false });
        var evaluation = result.History.SelectMany(h => new[] { (float)h.TestLoss, (float)h.TestAccuracy }).ToArray();

        using var student = new Sequential(device, 144, 10, new Linear(144, 20), new ReLU(), new Linear(20, 10));
        var options = new DistillationOptions { TeacherFeatures = 2, StudentFeatures = 1, FeatureWeight = 1, SoftWeight = 0.5 };
        using var objective = new DistillationObjective(model, student, options, p => new Sgd(p, 0.05), seed: 33);
        using var sgd = new Sgd(student.Parameters, 0.05);
        using var distiller = new Trainer(student, sgd, objective);
        distiller.Fit(loader, null, null, null, new TrainerOptions { Epochs = 2, EvaluateTrain = false });

        return ([.. result.StepLosses], model.Parameters.Values.ToArray(), evaluation, student.Parameters.Values.ToArray());
    }

    private static (float[] L2, float[] L1, int[] Indices) Search(Device device)
    {
        const int m = 70, n = 333, dim = 50, k = 7;
        using var q = Tensor.FromArray(device, Data.Uniform(m * dim, 1, 0f, 1f), m, dim);
        using var r = Tensor.FromArray(device, Data.Uniform(n * dim, 2, 0f, 1f), n, dim);
        using var l2 = NeighborLists.Search(device, q.View, m, r.View, n, dim, KnnMetric.L2, k);
        using var l1 = NeighborLists.Search(device, q.View, m, r.View, n, dim, KnnMetric.L1, k);
        var (d2, i2) = l2.ToHost();
        var (d1, i1) = l1.ToHost();
        return (d2, d1, [.. i2, .. i1]);
    }
}
