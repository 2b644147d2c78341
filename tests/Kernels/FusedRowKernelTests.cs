using GpuNet.Kernels;
using GpuNet.Nn;
using static GpuNet.Tests.Kernels.SoftmaxCrossEntropyTests;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// The row kernels of issue 11's second part, on both CPU accelerators: the fused cross-entropy forward + backward (one
/// launch) against float64 references, finite differences and the separate ops; the warp-per-row argmax and correct
/// count against a reference and the group kernels; the warp-per-row soft-target (distillation) loss and its gradient;
/// and Linear + ReLU fused in Sequential's forward.
/// </summary>
[Collection("devices")]
public class FusedRowKernelTests(DeviceFixture devices)
{
    public static TheoryData<string> Accelerators() => new("ilgpu-cpu", Device.NvidiaShapedSpec);

    private const double Eps = 5.96e-8;

    // ---- fused cross-entropy forward + backward ---------------------------------------------------------------------

    private sealed record CeResult(float[] RowLoss, float Loss, int Correct, float[] Gradient, IReadOnlyDictionary<string, long> Kernels);

    private static CeResult ForwardBackward(Device device, float[] z, int[] labels, int batch, int classes, float scale, bool unfused)
    {
        using var tz = Tensor.FromArray(device, z, batch, classes);
        using var tl = IntBuffers.Upload(device, labels);
        using var rowLoss = Tensor.FromArray(device, Enumerable.Repeat(-5f, batch).ToArray(), batch);
        using var loss = Tensor.FromArray(device, [-5f], 1);
        using var correct = IntBuffers.Filled(device, 1, -5);
        // Garbage in the gradient: the op writes it, it does not accumulate.
        using var g = Tensor.FromArray(device, Enumerable.Repeat(123f, batch * classes).ToArray(), batch * classes);
        var before = device.LaunchesByKernel;
        SoftmaxCrossEntropy.UnfusedForwardBackward = unfused;
        try
        {
            SoftmaxCrossEntropy.ForwardBackward(device, tz.View, tl.View, batch, classes, rowLoss.View, loss.View, correct.View, g.View, scale);
        }
        finally { SoftmaxCrossEntropy.UnfusedForwardBackward = false; }
        var kernels = device.LaunchesByKernel.Where(kv => kv.Value > before.GetValueOrDefault(kv.Key))
            .ToDictionary(kv => kv.Key, kv => kv.Value - before.GetValueOrDefault(kv.Key));
        return new CeResult(rowLoss.ToArray(), loss.ToArray()[0], IntBuffers.Download(device, correct)[0], g.ToArray(), kernels);
    }

    private static int ReferenceArgmax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int c = 1; c < row.Length; c++)
            if (Reduce.Beats(row[c], c, row[best], best)) best = c;
        return best;
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Fused_forward_backward_matches_float64_and_the_separate_ops_in_one_launch(string spec)
    {
        var device = devices.Get(spec);
        // Batches that leave warps idle and give some warps two rows; 1,000 classes is many per lane.
        var shapes = device.LaunchesLikeGpu ? new[] { (1, 1), (17, 10), (3, 1000) } : new[] { (1, 1), (17, 10), (70, 33), (3, 1000) };
        foreach (var (batch, classes) in shapes)
        {
            var z = Data.Uniform(batch * classes, 31 * batch + classes, -4f, 4f);
            if (classes > 1) z[1] = z[0]; // a tie for the argmax in row 0
            var labels = Data.Labels(batch, classes, batch + 5);
            if (batch > 2) labels[2] = classes; // out of range: NaN row loss and gradient, never correct
            const float scale = 0.7f;
            var fused = ForwardBackward(device, z, labels, batch, classes, scale, unfused: false);
            string what = $"{spec} {batch}x{classes}";
            Assert.Equal(["SoftmaxCrossEntropy.ForwardBackwardWarpKernel"], fused.Kernels.Keys);
            Assert.Equal(1, fused.Kernels.Values.Single());

            var zd = ToDouble(z);
            var rowLoss = HardRowLoss(zd, labels, batch, classes);
            var gradient = HardGradient(zd, labels, batch, classes, scale);
            for (int r = 0; r < batch; r++)
            {
                bool valid = labels[r] < classes;
                Assert.Equal(!valid, float.IsNaN(fused.RowLoss[r]));
                if (!valid)
                {
                    Assert.All(fused.Gradient.Skip(r * classes).Take(classes), v => Assert.True(float.IsNaN(v), what));
                    continue;
                }
                Close.Scalar(fused.RowLoss[r], rowLoss[r], Math.Max(classes, 16) * Eps * (1 + Math.Abs(rowLoss[r])), 0, $"{what} row {r} loss");
                Close.All(fused.Gradient.AsSpan(r * classes, classes), gradient.AsSpan(r * classes, classes),
                    Math.Max(classes, 16) * Eps * scale / batch, 0, $"{what} row {r} gradient");
            }
            if (batch > 2) Assert.True(float.IsNaN(fused.Loss), what);
            else Close.Scalar(fused.Loss, rowLoss.Average(), Math.Max(classes, 16) * Eps * (1 + Math.Abs(rowLoss.Average())), 0, $"{what} mean");
            int correct = Enumerable.Range(0, batch).Count(r => labels[r] < classes && ReferenceArgmax(z.AsSpan(r * classes, classes)) == labels[r]);
            Assert.Equal(correct, fused.Correct);

            // The separate ops: three launches; the same row losses, count and gradient bits (the same warp folds), the
            // mean within rounding (another summation order).
            var separate = ForwardBackward(device, z, labels, batch, classes, scale, unfused: true);
            Assert.Equal(3, separate.Kernels.Values.Sum());
            Assert.Equal(separate.RowLoss.Select(BitConverter.SingleToInt32Bits), fused.RowLoss.Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(separate.Correct, fused.Correct);
            Close.All(fused.Gradient, separate.Gradient, 0, 0, $"{what} fused vs separate gradient");
            if (batch <= 2) Close.Scalar(fused.Loss, separate.Loss, 2 * batch * Eps * Math.Abs(separate.Loss), 0, $"{what} fused vs separate mean");
        }
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Fused_gradient_matches_finite_differences_of_its_own_loss(string spec)
    {
        var device = devices.Get(spec);
        foreach (var (batch, classes) in new[] { (3, 10), (9, 33) })
        {
            var z = Data.Uniform(batch * classes, batch * classes, -3f, 3f);
            var labels = Data.Labels(batch, classes, batch);
            var fused = ForwardBackward(device, z, labels, batch, classes, 1f, unfused: false);
            var fd = FiniteDifference(ToDouble(z), x => HardRowLoss(x, labels, batch, classes).Average(), 1e-5);
            Close.All(fused.Gradient, fd, Math.Max(classes, 16) * Eps / batch + 1e-9, 0, $"{spec} fused gradient vs finite differences {batch}x{classes}");
        }
    }

    [Fact]
    public void Batches_beyond_one_group_and_the_host_engine_run_the_separate_ops()
    {
        var device = devices.Ilgpu;
        int limit = device.GroupSize / device.Accelerator.WarpSize * SoftmaxCrossEntropy.FusedRowsPerWarp;
        Assert.True(SoftmaxCrossEntropy.FusesForwardBackward(device, limit, 10));
        Assert.False(SoftmaxCrossEntropy.FusesForwardBackward(device, limit + 1, 10));
        Assert.False(SoftmaxCrossEntropy.FusesForwardBackward(device, 16, SoftmaxCrossEntropy.WarpRowLimit + 1));
        int batch = limit + 1;
        var z = Data.Uniform(batch * 3, 8, -2f, 2f);
        var labels = Data.Labels(batch, 3, 9);
        var big = ForwardBackward(device, z, labels, batch, 3, 1f, unfused: false);
        Assert.False(big.Kernels.ContainsKey("SoftmaxCrossEntropy.ForwardBackwardWarpKernel"));
        var host = ForwardBackward(devices.Host, z, labels, batch, 3, 1f, unfused: false);
        Close.All(big.Gradient, host.Gradient, 3 * 16 * Eps / batch, 1e-5, "separate ops on ilgpu-cpu vs host engine");
        Close.Scalar(big.Loss, host.Loss, 1e-5, 1e-5, "mean loss, ilgpu-cpu vs host engine");
        Assert.Equal(host.Correct, big.Correct);
    }

    // ---- warp-per-row argmax and correct count ----------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Warp_argmax_and_count_match_the_reference_and_the_group_kernels(string spec)
    {
        var device = devices.Get(spec);
        var cases = device.LaunchesLikeGpu ? new[] { (1, 1), (17, 10), (5, 1000), (2, 1025) } : new[] { (1, 1), (3, 3), (17, 10), (33, 257), (5, 1000), (2, 1025) };
        foreach (var (rows, cols) in cases)
        {
            var rng = new Random(rows * 100 + cols);
            // Quarter steps in a small range: many ties, which go to the lowest index; a NaN beats every number.
            var x = Enumerable.Range(0, rows * cols).Select(_ => rng.Next(8) / 4f).ToArray();
            if (rows > 1 && cols > 3) x[cols + 3] = float.NaN;
            var labels = Data.Labels(rows, cols, rows);
            var expected = Enumerable.Range(0, rows).Select(r => ReferenceArgmax(x.AsSpan(r * cols, cols))).ToArray();
            for (int r = 0; r < rows; r += 2) labels[r] = expected[r]; // about half correct
            foreach (bool group in new[] { false, true })
            {
                using var tx = Tensor.FromArray(device, x, x.Length);
                using var tl = IntBuffers.Upload(device, labels);
                using var result = IntBuffers.Filled(device, rows, -9);
                using var count = IntBuffers.Filled(device, 1, -9);
                var before = device.LaunchesByKernel;
                Reduce.ForceGroupRows = group;
                try
                {
                    Reduce.RowArgmax(device, tx.View, rows, cols, result.View);
                    Reduce.CountCorrect(device, tx.View, tl.View, rows, cols, count.View);
                }
                finally { Reduce.ForceGroupRows = false; }
                string what = $"{spec} {rows}x{cols} {(group ? "group" : "warp")} kernels";
                bool warp = !group && cols <= Reduce.WarpRowLimit;
                Assert.True((warp ? 1 : 0) == device.LaunchesByKernel.GetValueOrDefault("Reduce.RowArgmaxWarpKernel")
                    - before.GetValueOrDefault("Reduce.RowArgmaxWarpKernel"), $"{what}: which argmax kernel ran");
                Assert.True(expected.SequenceEqual(IntBuffers.Download(device, result)), $"{what}: argmax");
                Assert.True(Enumerable.Range(0, rows).Count(r => labels[r] == expected[r]) == IntBuffers.Download(device, count)[0], $"{what}: count");
            }
        }
    }

    // ---- warp-per-row soft-target loss --------------------------------------------------------------------------------

    private static (float[] RowLoss, float[] Gradient) Soft(Device device, float[] s, float[] t, int batch, int classes, float temperature,
        float scale, bool group)
    {
        using var ts = Tensor.FromArray(device, s, s.Length);
        using var tt = Tensor.FromArray(device, t, t.Length);
        using var rowLoss = Tensor.Zeros(device, batch);
        using var loss = Tensor.Zeros(device, 1);
        using var g = Tensor.FromArray(device, Enumerable.Repeat(0.25f, s.Length).ToArray(), s.Length); // accumulated into
        var before = device.LaunchesByKernel;
        SoftmaxCrossEntropy.ForceGroupKernels = group;
        try
        {
            SoftmaxCrossEntropy.ForwardSoft(device, ts.View, tt.View, batch, classes, temperature, rowLoss.View, loss.View);
            SoftmaxCrossEntropy.BackwardSoft(device, ts.View, tt.View, batch, classes, temperature, g.View, scale);
        }
        finally { SoftmaxCrossEntropy.ForceGroupKernels = false; }
        bool warp = device.LaunchesByKernel.GetValueOrDefault("SoftmaxCrossEntropy.ForwardSoftWarpKernel") > before.GetValueOrDefault("SoftmaxCrossEntropy.ForwardSoftWarpKernel")
            && device.LaunchesByKernel.GetValueOrDefault("SoftmaxCrossEntropy.BackwardSoftWarpKernel") > before.GetValueOrDefault("SoftmaxCrossEntropy.BackwardSoftWarpKernel");
        Assert.Equal(!group && classes <= Reduce.WarpRowLimit, warp);
        return (rowLoss.ToArray(), g.ToArray().Select(v => v - 0.25f).ToArray());
    }

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Warp_soft_target_loss_matches_float64_finite_differences_and_the_group_kernels(string spec)
    {
        var device = devices.Get(spec);
        var shapes = device.LaunchesLikeGpu ? new[] { (1, 1), (9, 10), (2, 300) } : new[] { (1, 1), (9, 10), (17, 33), (2, 300) };
        foreach (float temperature in device.LaunchesLikeGpu ? new[] { 4f } : new[] { 1f, 4f })
            foreach (var (batch, classes) in shapes)
            {
                var s = Data.Uniform(batch * classes, batch + classes, -3f, 3f);
                var t = Data.Uniform(batch * classes, batch + classes + 1, -5f, 5f);
                const float scale = 0.5f;
                var (rowLoss, gradient) = Soft(device, s, t, batch, classes, temperature, scale, group: false);
                string what = $"{spec} T={temperature} {batch}x{classes}";
                var sd = ToDouble(s);
                var td = ToDouble(t);
                var expected = SoftRowLoss(sd, td, batch, classes, temperature);
                Close.All(rowLoss, expected, Math.Max(classes, 16) * Eps * temperature * temperature * 4, 1e-6, $"{what} row losses");
                var fd = FiniteDifference(sd, x => scale * SoftRowLoss(x, td, batch, classes, temperature).Average(), 1e-5);
                Close.All(gradient, fd, Math.Max(classes, 16) * Eps * scale * temperature / batch + 1e-9, 0, $"{what} gradient vs finite differences");
                var (groupLoss, groupGradient) = Soft(device, s, t, batch, classes, temperature, scale, group: true);
                Close.All(rowLoss, groupLoss, Math.Max(classes, 16) * Eps * temperature * temperature * 4, 1e-6, $"{what} warp vs group losses");
                Close.All(gradient, groupGradient, Math.Max(classes, 16) * Eps * scale * temperature / batch + 1e-9, 0, $"{what} warp vs group gradient");
            }
    }

    // ---- Linear + ReLU fused in Sequential's forward -----------------------------------------------------------------

    [Theory]
    [MemberData(nameof(Accelerators))]
    public void Sequential_fuses_linear_and_relu_with_the_same_values_and_gradients(string spec)
    {
        var device = devices.Get(spec);
        const int batch = 5, features = 19;
        var x = Data.Uniform(batch * features, 3);
        var dy = Data.Uniform(batch * 4, 4);
        (float[] Y, float[] Grads, float[] Dx, long Launches, long ReluForwards) Run(bool unfused, int keep = -1)
        {
            using var model = new Sequential(device, features, 7, new Linear(features, 33), new ReLU(), new Linear(33, 17), new ReLU(),
                new Linear(17, 4));
            if (keep >= 0) model.KeepOutput(keep);
            using var input = Tensor.FromArray(device, x, batch, features);
            using var gradOut = Tensor.FromArray(device, dy, batch, 4);
            Sequential.UnfusedRelu = unfused;
            try
            {
                model.Train();
                model.ZeroGrad();
                long before = device.KernelLaunches;
                long reluBefore = device.LaunchesByKernel.GetValueOrDefault("Activation.ForwardKernel");
                var y = model.Forward(input).ToArray();
                long launches = device.KernelLaunches - before;
                long relu = device.LaunchesByKernel.GetValueOrDefault("Activation.ForwardKernel") - reluBefore;
                var dx = model.Backward(gradOut, needInputGrad: true)!.ToArray();
                if (keep >= 0) Assert.Equal(33, model.OutputOf(keep).Dim(1));
                return (y, model.Parameters.Grads.ToArray(), dx, launches, relu);
            }
            finally { Sequential.UnfusedRelu = false; }
        }
        var separate = Run(unfused: true);
        var fused = Run(unfused: false);
        Assert.Equal(2, separate.ReluForwards);
        Assert.Equal(0, fused.ReluForwards);
        Assert.Equal(separate.Launches - 2, fused.Launches);
        // The same IEEE operations in the same order: the same bits forward and backward.
        Assert.Equal(separate.Y.Select(BitConverter.SingleToInt32Bits), fused.Y.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(separate.Grads.Select(BitConverter.SingleToInt32Bits), fused.Grads.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(separate.Dx.Select(BitConverter.SingleToInt32Bits), fused.Dx.Select(BitConverter.SingleToInt32Bits));
        // A layer whose own output is wanted is not fused, and says so when it was.
        var kept = Run(unfused: false, keep: 0);
        Assert.Equal(1, kept.ReluForwards);
        Assert.Equal(fused.Y.Select(BitConverter.SingleToInt32Bits), kept.Y.Select(BitConverter.SingleToInt32Bits));
        using var model = new Sequential(device, features, 7, new Linear(features, 33), new ReLU(), new Linear(33, 4));
        using var input = Tensor.FromArray(device, x, batch, features);
        model.Forward(input);
        var e = Assert.Throws<InvalidOperationException>(() => model.OutputOf(0));
        Assert.Contains("KeepOutput(0)", e.Message);
        Assert.Equal(33, model.OutputOf(1).Dim(1));
    }
}
