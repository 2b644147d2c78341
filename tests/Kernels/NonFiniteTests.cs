using GpuNet.Data;
using GpuNet.Kernels;
using ILGPU.Runtime;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// NaN and infinities through every op that combines values (GEMM, softmax cross-entropy, MSE, sums, bias add and bias
/// gradient), against a float64 reference of the same arithmetic: where the reference is NaN the op must give NaN, where it
/// is ±inf the same infinity, and elsewhere a finite value; an op that skips zeros, clamps, or takes a max that drops NaN
/// fails here. Then zero-size inputs for the element-wise ops, bias, augmentation, gather, the data loader and k-NN.
/// </summary>
[Collection("devices")]
public class NonFiniteTests(DeviceFixture devices)
{
    public static TheoryData<string> Specs() => DeviceFixture.Rows(DeviceFixture.Specs);

    private static void SameClass(float[] got, double[] expected, string what)
    {
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++)
        {
            string at = $"{what}: [{i}] = {got[i]:R}, reference {expected[i]:R}";
            if (double.IsNaN(expected[i])) Assert.True(float.IsNaN(got[i]), at);
            else if (double.IsInfinity(expected[i])) Assert.True(got[i] == (float)expected[i], at);
            else Assert.True(float.IsFinite(got[i]), at);
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Gemm_propagates_nan_and_inf_like_the_reference(string spec)
    {
        var device = devices.Get(spec);
        // Shapes that take the host's direct path (10 columns) and its packed path (40×40×40).
        foreach (var (m, n, k) in new[] { (7, 10, 9), (40, 40, 40) })
        {
            var a = Data.Uniform(m * k, m + n);
            var b = Data.Uniform(k * n, m + n + 1);
            a[2 * k + 3] = float.NaN;              // row 2 of C: NaN everywhere
            a[4 * k + 1] = float.PositiveInfinity; // row 4: ±inf, and NaN where B's row 1 is 0
            b[1 * n + 5] = 0f;
            b[6 * n + 0] = float.NegativeInfinity; // column 0: -inf·a, NaN for row 2 and where inf meets -inf
            var c = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
                    c[i * n + j] = s;
                }
            using var ta = Tensor.FromArray(device, a, a.Length);
            using var tb = Tensor.FromArray(device, b, b.Length);
            using var tc = Tensor.Zeros(device, m * n);
            Gemm.Run(device, Transpose.No, Transpose.No, m, n, k, 1f, ta.View, tb.View, 0f, tc.View);
            var got = tc.ToArray();
            SameClass(got, c, $"GEMM {m}x{n}x{k} on {spec}");
            Assert.True(float.IsNaN(got[4 * n + 5]), "inf·0 is NaN");
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Cross_entropy_gives_nan_for_a_row_with_nan_and_the_mean_is_nan(string spec)
    {
        var device = devices.Get(spec);
        const int batch = 5, classes = 10;
        var logits = Data.Uniform(batch * classes, 3, -2f, 2f);
        logits[1 * classes + 4] = float.NaN;
        logits[3 * classes + 7] = float.PositiveInfinity; // softmax of +inf is inf/inf: NaN, as in PyTorch
        int[] labels = [0, 1, 2, 3, 4];
        using var tl = Tensor.FromArray(device, logits, batch, classes);
        using var lab = IntBuffers.Upload(device, labels);
        using var rowLoss = Tensor.Zeros(device, batch);
        using var loss = Tensor.Zeros(device, 1);
        using var correct = IntBuffers.Filled(device, 1, 0);
        SoftmaxCrossEntropy.Forward(device, tl.View, lab.View, batch, classes, rowLoss.View, loss.View, correct.View);
        var rows = rowLoss.ToArray();
        Assert.True(float.IsNaN(rows[1]), $"row with NaN: {rows[1]}");
        Assert.True(float.IsNaN(rows[3]), $"row with +inf: {rows[3]}");
        Assert.All(new[] { 0, 2, 4 }, r => Assert.True(float.IsFinite(rows[r]), $"row {r}: {rows[r]}"));
        Assert.True(float.IsNaN(loss.ToArray()[0]), "the mean of a NaN row is NaN");

        using var dlogits = Tensor.Zeros(device, batch * classes);
        SoftmaxCrossEntropy.Backward(device, tl.View, lab.View, batch, classes, dlogits.View);
        var d = dlogits.ToArray();
        Assert.All(d[(1 * classes)..(2 * classes)], v => Assert.True(float.IsNaN(v), $"gradient of the NaN row: {v}"));
        Assert.All(d[..classes], v => Assert.True(float.IsFinite(v)));

        // Soft targets: a NaN in the teacher's logits makes its row NaN too.
        var teacher = Data.Uniform(batch * classes, 4, -2f, 2f);
        teacher[2 * classes] = float.NaN;
        using var tt = Tensor.FromArray(device, teacher, batch, classes);
        SoftmaxCrossEntropy.ForwardSoft(device, tl.View, tt.View, batch, classes, 2f, rowLoss.View, loss.View);
        rows = rowLoss.ToArray();
        Assert.True(float.IsNaN(rows[2]), $"soft row with a NaN teacher logit: {rows[2]}");
        Assert.True(float.IsFinite(rows[0]) && float.IsFinite(rows[4]));
        Assert.True(float.IsNaN(loss.ToArray()[0]));
    }

    public static TheoryData<string> SpecsWithGpuShapes() => DeviceFixture.Rows(DeviceFixture.SpecsWithGpuShapes);

    [Theory]
    [MemberData(nameof(SpecsWithGpuShapes))]
    public void Mse_sum_and_bias_propagate_nan_and_inf(string spec)
    {
        var device = devices.Get(spec);
        const int rows = 6, cols = 33;
        var p = Data.Uniform(rows * cols, 7);
        var t = Data.Uniform(rows * cols, 8);
        p[2 * cols + 30] = float.NaN;
        t[4 * cols + 1] = float.PositiveInfinity;
        using var tp = Tensor.FromArray(device, p, p.Length);
        using var tt = Tensor.FromArray(device, t, t.Length);
        using var rowLoss = Tensor.Zeros(device, rows);
        using var loss = Tensor.Zeros(device, 1);
        MeanSquaredError.Forward(device, tp.View, tt.View, rows, cols, rowLoss.View, loss.View);
        SameClass(rowLoss.ToArray(), [1, 1, double.NaN, 1, double.PositiveInfinity, 1], $"MSE rows on {spec}");
        Assert.True(float.IsNaN(loss.ToArray()[0]));

        // Sums long enough to take several groups on every device (ilgpu-cpu: 16·16 elements a group; GPU-shaped:
        // 256·16) and several SIMD blocks on the host: one NaN, one +inf, or +inf and -inf in different groups.
        const int n = 5000;
        foreach (var (positions, expected) in new (int[], double)[] { ([n - 1], double.NaN), ([17], double.PositiveInfinity), ([3, 4500], double.NaN) })
        {
            var x = Data.Uniform(n, 9);
            for (int q = 0; q < positions.Length; q++)
                x[positions[q]] = expected is double.PositiveInfinity ? float.PositiveInfinity : positions.Length == 1 ? float.NaN
                    : q == 0 ? float.PositiveInfinity : float.NegativeInfinity;
            using var tx = Tensor.FromArray(device, x, x.Length);
            using var sum = Tensor.Zeros(device, 1);
            Reduce.Sum(device, tx.View, sum.View);
            SameClass(sum.ToArray(), [expected], $"sum with {string.Join(",", positions)} on {spec}");
            Reduce.SumOfSquares(device, tx.View, sum.View);
            SameClass(sum.ToArray(), [positions.Length == 2 ? double.PositiveInfinity : expected], $"sum of squares on {spec}");
        }

        // Bias: a NaN bias makes its column NaN; a NaN in dy makes its column's gradient NaN, an inf gives inf.
        var y = Data.Uniform(rows * cols, 10);
        var bias = Data.Uniform(cols, 11);
        bias[31] = float.NaN;
        using var ty = Tensor.FromArray(device, y, y.Length);
        using var tb = Tensor.FromArray(device, bias, cols);
        Bias.Add(device, ty.View, tb.View, rows, cols);
        var got = ty.ToArray();
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                Assert.True(float.IsNaN(got[i * cols + j]) == (j == 31), $"bias add [{i},{j}] = {got[i * cols + j]}");
        var dy = Data.Uniform(rows * cols, 12);
        dy[3 * cols + 2] = float.NaN;
        dy[5 * cols + 20] = float.NegativeInfinity;
        using var tdy = Tensor.FromArray(device, dy, dy.Length);
        using var db = Tensor.Zeros(device, cols);
        Bias.Gradient(device, tdy.View, db.View, rows, cols);
        var expectedDb = Enumerable.Range(0, cols).Select(j => j == 2 ? double.NaN : j == 20 ? double.NegativeInfinity : 0.5).ToArray();
        SameClass(db.ToArray(), expectedDb, $"bias gradient on {spec}");
    }

    // A NaN loss must come back as NaN, not hang. ILGPU's CPU accelerator emulates a float Atomic.Add with a
    // compare-exchange loop that compares floats, so a sum that added group partials atomically spun forever once a NaN
    // partial had landed and another group added to it. Every row is NaN here, so every group's partial is NaN and the
    // second group to finish would spin whatever the order. Each call runs in a task with a deadline, so a regression
    // fails this test instead of hanging the suite.
    [Theory]
    [InlineData("ilgpu-cpu")]
    [InlineData(Device.NvidiaShapedSpec)]
    public async Task A_nan_loss_returns_nan_on_the_ilgpu_cpu_accelerator(string spec)
    {
        var device = devices.Get(spec);
        // More elements than one group sums (GroupSize·16), so the sum takes several groups.
        int n = device.GroupSize * 16 * 2 + 1;
        using var nan = Tensor.FromArray(device, Enumerable.Repeat(float.NaN, n).ToArray(), n);
        using var result = Tensor.Zeros(device, 1);
        await Returns(() => Reduce.Sum(device, nan.View, result.View), $"Reduce.Sum of {n} NaNs on {spec}");
        Assert.True(float.IsNaN(result.ToArray()[0]));
        await Returns(() => Reduce.SumOfSquares(device, nan.View, result.View), $"Reduce.SumOfSquares of {n} NaNs on {spec}");
        Assert.True(float.IsNaN(result.ToArray()[0]));
        if (device.LaunchesLikeGpu) return; // the row kernels below cost seconds per thousand rows at GPU group shapes

        // The losses of a batch of NaN predictions: the row losses' mean is the multi-group sum above.
        int rows = n, cols = 4;
        using var prediction = Tensor.FromArray(device, Enumerable.Repeat(float.NaN, rows * cols).ToArray(), rows * cols);
        using var target = Tensor.Zeros(device, rows * cols);
        using var rowLoss = Tensor.Zeros(device, rows);
        using var loss = Tensor.Zeros(device, 1);
        await Returns(() => MeanSquaredError.Forward(device, prediction.View, target.View, rows, cols, rowLoss.View, loss.View),
            $"MSE forward of {rows} NaN rows on {spec}");
        Assert.True(float.IsNaN(loss.ToArray()[0]), "MSE of NaN predictions");
        using var labels = IntBuffers.Upload(device, new int[rows]);
        using var correct = IntBuffers.Filled(device, 1, 0);
        await Returns(() => SoftmaxCrossEntropy.Forward(device, prediction.View, labels.View, rows, cols, rowLoss.View, loss.View, correct.View),
            $"cross-entropy forward of {rows} NaN rows on {spec}");
        Assert.True(float.IsNaN(loss.ToArray()[0]), "cross-entropy of NaN logits");
    }

    private static async Task Returns(Action call, string what)
    {
        var work = Task.Run(call);
        var first = await Task.WhenAny(work, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.True(first == work, $"{what} did not return within 30 s");
        await work; // rethrows what the call threw
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Zero_size_inputs_do_nothing_and_touch_nothing(string spec)
    {
        var device = devices.Get(spec);
        var sentinels = Enumerable.Range(0, 8).Select(i => 100f + i).ToArray();
        using var around = Tensor.FromArray(device, sentinels, 8);
        var empty = around.View.SubView(4, 0);

        foreach (var kind in Enum.GetValues<ActivationKind>())
        {
            Activation.Forward(device, kind, empty, empty);
            Activation.Backward(device, kind, empty, empty, empty, empty);
        }
        using var bias = Tensor.FromArray(device, [1f, 2f, 3f], 3);
        Bias.Add(device, empty, bias.View, 0, 3);
        Bias.Gradient(device, empty, bias.View, 0, 3);
        Assert.Equal([1f, 2f, 3f], bias.ToArray()); // no rows add nothing to the gradient

        using var ids = IntBuffers.Upload(device, [0]);
        var noIds = ids.View.SubView(0, 0);
        foreach (var stage in new[] { AugmentStage.Flip(1f), AugmentStage.Shift(2), AugmentStage.Rotate(-10, 10), AugmentStage.Erase(1f), AugmentStage.Noise(0.1f) })
            Augment.Apply(device, stage, empty, around.View.SubView(2, 0), noIds, 28, 28, 1, 2);
        Gather.Rows(device, around.View, 4, noIds, empty);
        using var ints = IntBuffers.Upload(device, [7, 8, 9]);
        Gather.Values(device, ints.View, noIds, ints.View.SubView(1, 0));
        Assert.Equal([7, 8, 9], IntBuffers.Download(device, ints));

        // k-NN with no queries, and with queries but no references.
        using var q = Tensor.FromArray(device, [1f, 2f, 3f, 4f], 4);
        Knn.L1Distances(device, empty, 0, q.View, 2, 2, empty);
        Knn.L1Distances(device, q.View, 2, empty, 0, 2, empty);
        Knn.SquaredL2Distances(device, empty, empty, 0, q.View, q.View.SubView(0, 2), 2, 2, empty);
        Assert.Equal(sentinels, around.ToArray());
        Assert.Equal([1f, 2f, 3f, 4f], q.ToArray());
    }

    [Fact]
    public void An_empty_data_loader_has_no_batches_and_evaluates_to_nan()
    {
        var device = devices.Host;
        var set = new ImageSet("tiny", new byte[4 * 16], [0, 1, 0, 1], 4, 4, 2);
        using var images = DeviceImages.Upload(device, set);
        using var loader = new DataLoader(images, Array.Empty<int>(), new DataLoaderOptions { BatchSize = 3 });
        Assert.Equal(0, loader.Count);
        Assert.Empty(loader.Epoch(0));
        using var model = new GpuNet.Nn.Sequential(device, 16, 1, new GpuNet.Nn.Linear(16, 2));
        using var sgd = new GpuNet.Nn.Sgd(model.Parameters, 0.1);
        using var trainer = new GpuNet.Training.Trainer(model, sgd);
        var (l, acc) = trainer.Evaluate(loader);
        Assert.True(double.IsNaN(l) && double.IsNaN(acc));
    }
}
