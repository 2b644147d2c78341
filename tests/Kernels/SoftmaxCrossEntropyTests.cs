using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// Fused softmax cross-entropy (hard labels and distillation soft targets) against a naive float64 reference written
/// here, on the ILGPU kernels and the host engine.
/// </summary>
[Collection("devices")]
public class SoftmaxCrossEntropyTests(DeviceFixture devices)
{
    public static TheoryData<string> Specs() => new(DeviceFixture.Specs);

    private static readonly int[] Classes = [1, 10, 33];

    // ---------------------------------------------------------------------------------------------------------------
    // float64 references
    // ---------------------------------------------------------------------------------------------------------------

    internal static double LogSumExp(ReadOnlySpan<double> z)
    {
        double m = double.NegativeInfinity;
        foreach (double v in z) m = Math.Max(m, v);
        double s = 0;
        foreach (double v in z) s += Math.Exp(v - m);
        return m + Math.Log(s);
    }

    internal static double[] Softmax(ReadOnlySpan<double> z)
    {
        double lse = LogSumExp(z);
        var p = new double[z.Length];
        for (int c = 0; c < z.Length; c++) p[c] = Math.Exp(z[c] - lse);
        return p;
    }

    internal static double[] ToDouble(float[] x) => x.Select(v => (double)v).ToArray();

    /// <summary>rowLoss[r] = logsumexp(z_r) - z_r[label_r]; NaN for a label outside [0, classes).</summary>
    internal static double[] HardRowLoss(double[] z, int[] labels, int batch, int classes)
    {
        var loss = new double[batch];
        for (int r = 0; r < batch; r++)
        {
            var row = z.AsSpan(r * classes, classes);
            int l = labels[r];
            loss[r] = l >= 0 && l < classes ? LogSumExp(row) - row[l] : double.NaN;
        }
        return loss;
    }

    /// <summary>rowLoss[r] = T²·Σ_c -softmax(t_r/T)[c]·log softmax(s_r/T)[c].</summary>
    internal static double[] SoftRowLoss(double[] s, double[] t, int batch, int classes, double temperature)
    {
        var loss = new double[batch];
        for (int r = 0; r < batch; r++)
        {
            var sT = s.AsSpan(r * classes, classes).ToArray().Select(v => v / temperature).ToArray();
            var tT = t.AsSpan(r * classes, classes).ToArray().Select(v => v / temperature).ToArray();
            var q = Softmax(tT);
            double lse = LogSumExp(sT);
            double sum = 0;
            for (int c = 0; c < classes; c++) sum -= q[c] * (sT[c] - lse);
            loss[r] = temperature * temperature * sum;
        }
        return loss;
    }

    /// <summary>The analytic gradient of scale·mean(rowLoss): scale·(softmax - onehot)/batch.</summary>
    internal static double[] HardGradient(double[] z, int[] labels, int batch, int classes, double scale)
    {
        var g = new double[z.Length];
        for (int r = 0; r < batch; r++)
        {
            var p = Softmax(z.AsSpan(r * classes, classes));
            for (int c = 0; c < classes; c++)
                g[r * classes + c] = scale * (p[c] - (c == labels[r] ? 1 : 0)) / batch;
        }
        return g;
    }

    /// <summary>Central finite differences (float64) of <paramref name="loss"/> at <paramref name="x"/>.</summary>
    internal static double[] FiniteDifference(double[] x, Func<double[], double> loss, double h)
    {
        var g = new double[x.Length];
        var xp = (double[])x.Clone();
        for (int i = 0; i < x.Length; i++)
        {
            xp[i] = x[i] + h;
            double up = loss(xp);
            xp[i] = x[i] - h;
            double down = loss(xp);
            xp[i] = x[i];
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Runners: upload, run the op, download
    // ---------------------------------------------------------------------------------------------------------------

    // width: -1 runs the public entry; 0, 1, 2 run the host engine at that SIMD width (512, 256, Vector<T>).

    private static (float[] RowLoss, float Loss, int Correct) RunForward(Device device, float[] z, int[] labels, int batch, int classes,
        int width = -1)
    {
        using var tz = Tensor.FromArray(device, z, batch, classes);
        using var tl = IntBuffers.Upload(device, labels);
        using var rowLoss = Tensor.FromArray(device, Enumerable.Repeat(-5f, batch).ToArray(), batch);
        using var loss = Tensor.FromArray(device, [-5f], 1);
        using var correct = IntBuffers.Filled(device, 1, -5);
        if (width < 0) SoftmaxCrossEntropy.Forward(device, tz.View, tl.View, batch, classes, rowLoss.View, loss.View, correct.View);
        else SoftmaxCrossEntropy.ForwardHostAt(device, tz.View, tl.View, batch, classes, rowLoss.View, loss.View, correct.View, width);
        return (rowLoss.ToArray(), loss.ToArray()[0], IntBuffers.Download(device, correct)[0]);
    }

    private static float[] RunBackward(Device device, float[] z, int[] labels, int batch, int classes, float[] dlogits, float scale,
        int width = -1)
    {
        using var tz = Tensor.FromArray(device, z, batch, classes);
        using var tl = IntBuffers.Upload(device, labels);
        using var td = Tensor.FromArray(device, dlogits, batch, classes);
        if (width < 0) SoftmaxCrossEntropy.Backward(device, tz.View, tl.View, batch, classes, td.View, scale);
        else SoftmaxCrossEntropy.BackwardHostAt(device, tz.View, tl.View, batch, classes, td.View, scale, width);
        return td.ToArray();
    }

    private static (float[] RowLoss, float Loss) RunForwardSoft(Device device, float[] s, float[] t, int batch, int classes, float temperature,
        int width = -1)
    {
        using var ts = Tensor.FromArray(device, s, batch, classes);
        using var tt = Tensor.FromArray(device, t, batch, classes);
        using var rowLoss = Tensor.FromArray(device, Enumerable.Repeat(-5f, batch).ToArray(), batch);
        using var loss = Tensor.FromArray(device, [-5f], 1);
        if (width < 0) SoftmaxCrossEntropy.ForwardSoft(device, ts.View, tt.View, batch, classes, temperature, rowLoss.View, loss.View);
        else SoftmaxCrossEntropy.ForwardSoftHostAt(device, ts.View, tt.View, batch, classes, temperature, rowLoss.View, loss.View, width);
        return (rowLoss.ToArray(), loss.ToArray()[0]);
    }

    private static float[] RunBackwardSoft(Device device, float[] s, float[] t, int batch, int classes, float temperature, float[] dlogits,
        float scale, int width = -1)
    {
        using var ts = Tensor.FromArray(device, s, batch, classes);
        using var tt = Tensor.FromArray(device, t, batch, classes);
        using var td = Tensor.FromArray(device, dlogits, batch, classes);
        if (width < 0) SoftmaxCrossEntropy.BackwardSoft(device, ts.View, tt.View, batch, classes, temperature, td.View, scale);
        else SoftmaxCrossEntropy.BackwardSoftHostAt(device, ts.View, tt.View, batch, classes, temperature, td.View, scale, width);
        return td.ToArray();
    }

    private static int Argmax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int c = 1; c < row.Length; c++)
            if (row[c] > row[best]) best = c;
        return best;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Tolerances. float32 unit roundoff is eps = 6e-8. A row loss is (max - z[label]) + log(Σ exp): the first term is
    // one rounding, the second carries the error of C float exps and a C-term float sum (a few eps each, relative), so
    // |error| <~ (1 + |loss|)·C·eps worst case. Gradients are coef·(p - onehot): p has a relative error of a few eps
    // plus the sum's, so |error| <~ coef·C·eps. The checks below use these bounds with C replaced by max(C, 16).
    // ---------------------------------------------------------------------------------------------------------------

    private const double Eps = 5.96e-8;

    private static double LossAtol(int classes) => Math.Max(classes, 16) * Eps;

    private static double GradientAtol(int classes, double coefficient) => Math.Max(classes, 16) * Eps * coefficient;

    private static void CheckForward(Device device, string what, int batch, int classes, float lo, float hi, int seed, int width = -1)
    {
        var z = Data.Uniform(batch * classes, seed, lo, hi);
        var labels = Data.Labels(batch, classes, seed + 1);
        for (int r = 0; r < batch; r += 3) labels[r] = Argmax(z.AsSpan(r * classes, classes)); // some rows right
        var expected = HardRowLoss(ToDouble(z), labels, batch, classes);
        int expectedCorrect = Enumerable.Range(0, batch).Count(r => Argmax(z.AsSpan(r * classes, classes)) == labels[r]);
        var (rowLoss, loss, correct) = RunForward(device, z, labels, batch, classes, width);
        string name = $"{what} {batch}x{classes} logits in [{lo}, {hi}]";
        Close.All(rowLoss, expected, LossAtol(classes), LossAtol(classes), $"{name} rowLoss");
        Close.Scalar(loss, expected.Average(), LossAtol(classes), LossAtol(classes), $"{name} mean loss");
        Assert.True(expectedCorrect == correct, $"{name}: correct {correct}, expected {expectedCorrect}");
    }

    private static void CheckBackward(Device device, string what, int batch, int classes, int seed, int width = -1)
    {
        var z = Data.Uniform(batch * classes, seed, -4f, 4f);
        var labels = Data.Labels(batch, classes, seed + 1);
        var d0 = Data.Uniform(batch * classes, seed + 2);
        const float scale = 0.75f;
        var got = RunBackward(device, z, labels, batch, classes, d0, scale, width);
        var g = HardGradient(ToDouble(z), labels, batch, classes, scale);
        var expected = g.Select((v, i) => d0[i] + v).ToArray();
        // d0 in [-1, 1] adds one rounding of up to eps·|result|.
        Close.All(got, expected, GradientAtol(classes, scale / batch), 2 * Eps, $"{what} backward {batch}x{classes} (accumulated)");
    }

    private static void CheckSoft(Device device, string what, int batch, int classes, float temperature, int seed, int width = -1)
    {
        var s = Data.Uniform(batch * classes, seed, -4f, 4f);
        var t = Data.Uniform(batch * classes, seed + 1, -6f, 6f);
        var expected = SoftRowLoss(ToDouble(s), ToDouble(t), batch, classes, temperature);
        var (rowLoss, loss) = RunForwardSoft(device, s, t, batch, classes, temperature, width);
        string name = $"{what} soft T={temperature} {batch}x{classes}";
        double t2 = temperature * temperature;
        Close.All(rowLoss, expected, t2 * LossAtol(classes), LossAtol(classes), $"{name} rowLoss");
        Close.Scalar(loss, expected.Average(), t2 * LossAtol(classes), LossAtol(classes), $"{name} mean loss");

        var d0 = Data.Uniform(batch * classes, seed + 2);
        const float scale = 0.5f;
        var got = RunBackwardSoft(device, s, t, batch, classes, temperature, d0, scale, width);
        var expectedGrad = new double[batch * classes];
        for (int r = 0; r < batch; r++)
        {
            var p = Softmax(ToDouble(s).AsSpan(r * classes, classes).ToArray().Select(v => v / temperature).ToArray());
            var q = Softmax(ToDouble(t).AsSpan(r * classes, classes).ToArray().Select(v => v / temperature).ToArray());
            for (int c = 0; c < classes; c++)
                expectedGrad[r * classes + c] = d0[r * classes + c] + scale * temperature * (p[c] - q[c]) / batch;
        }
        Close.All(got, expectedGrad, GradientAtol(classes, scale * temperature / batch), 2 * Eps, $"{name} backward (accumulated)");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Hard labels
    // ---------------------------------------------------------------------------------------------------------------

    // ilgpu-cpu:nvidia: one group per row sized to the row (rounded to the 32-thread warp, at most 256 threads), so rows
    // of 33 (just past one warp) and 257 classes (just past one 256-thread group); one or two rows, since every barrier of
    // a row's folds costs milliseconds there.
    [Fact]
    public void Kernels_at_gpu_launch_shapes_match_reference()
    {
        var device = devices.Nvidia;
        CheckForward(device, device.Spec, 2, 257, -5f, 5f, 757);
        CheckForward(device, device.Spec, 1, 33, -5f, 5f, 533);
        CheckBackward(device, device.Spec, 2, 33, 633);
        CheckBackward(device, device.Spec, 1, 257, 857);
        CheckSoft(device, device.Spec, 1, 257, 4f, 957);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Forward_matches_reference_on_odd_sizes(string spec)
    {
        var device = devices.Get(spec);
        foreach (int batch in Data.OddSizes)
            foreach (int classes in Classes)
                CheckForward(device, spec, batch, classes, -5f, 5f, batch * 100 + classes);
        CheckForward(device, spec, 17, 1000, -5f, 5f, 1);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Backward_matches_reference_and_accumulates_on_odd_sizes(string spec)
    {
        var device = devices.Get(spec);
        foreach (int batch in Data.OddSizes)
            foreach (int classes in Classes)
                CheckBackward(device, spec, batch, classes, batch * 100 + classes);
        CheckBackward(device, spec, 17, 1000, 2);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Forward_is_exact_for_logits_of_1e4(string spec)
    {
        var device = devices.Get(spec);
        float[] row = [1e4f, -1e4f, 0f];
        var z = row.Concat(row).Concat(row).ToArray();
        var (rowLoss, loss, correct) = RunForward(device, z, [0, 1, 2], 3, 3);
        // Label 0 is the max: log(1 + e^-2e4 + e^-1e4) = 0 exactly in float. Label 1: 2e4. Label 2: 1e4.
        Assert.Equal([0f, 2e4f, 1e4f], rowLoss);
        Assert.Equal(1e4f, loss);
        Assert.Equal(1, correct);

        // Random logits of magnitude up to 1e4, against the reference (relative accuracy of the (max - z[label]) term).
        CheckForward(device, spec, 33, 10, -1e4f, 1e4f, 5);
        CheckForward(device, spec, 17, 33, -1e4f, 1e4f, 6);
        var big = Data.Uniform(17 * 33, 7, -1e4f, 1e4f);
        var labels = Data.Labels(17, 33, 8);
        var grad = RunBackward(device, big, labels, 17, 33, new float[17 * 33], 1f);
        Close.All(grad, HardGradient(ToDouble(big), labels, 17, 33, 1), GradientAtol(33, 1.0 / 17), 2 * Eps, $"{spec} backward, logits of 1e4");
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Backward_matches_float64_finite_differences(string spec)
    {
        var device = devices.Get(spec);
        foreach (var (batch, classes) in new[] { (1, 1), (1, 10), (3, 10), (17, 33), (4, 257) })
        {
            var z = Data.Uniform(batch * classes, batch + classes, -3f, 3f);
            var labels = Data.Labels(batch, classes, batch * classes);
            var got = RunBackward(device, z, labels, batch, classes, new float[batch * classes], 1f);
            // Finite differences of the float64 reference mean loss: truncation ~h²·|L'''| ~ 1e-10 and rounding
            // ~1e-16/h ~ 1e-11, far below the float32 error of the kernel, so the tolerance is the kernel's (see above).
            var fd = FiniteDifference(ToDouble(z), x => HardRowLoss(x, labels, batch, classes).Average(), 1e-5);
            Close.All(got, fd, GradientAtol(classes, 1.0 / batch) + 1e-9, 0, $"{spec} backward vs finite differences {batch}x{classes}");
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Backward_matches_finite_differences_of_its_own_forward(string spec)
    {
        // Independent of the reference: the kernel's backward is the derivative of the kernel's forward. Both losses are
        // float32, so the difference quotient carries their rounding (a few ulp of the loss each) divided by 2h; with
        // h = 1e-2 that dominates the O(h²) truncation. The tolerance is 8 ulp(loss)/h.
        var device = devices.Get(spec);
        const int batch = 3, classes = 10;
        const float h = 1e-2f;
        var z = Data.Uniform(batch * classes, 11, -3f, 3f);
        var labels = Data.Labels(batch, classes, 12);
        var t = Data.Uniform(batch * classes, 13, -3f, 3f);
        var hard = RunBackward(device, z, labels, batch, classes, new float[z.Length], 1f);
        var soft = RunBackwardSoft(device, z, t, batch, classes, 4f, new float[z.Length], 1f);
        var fdHard = new double[z.Length];
        var fdSoft = new double[z.Length];
        double tolHard = 0, tolSoft = 0;
        for (int i = 0; i < z.Length; i++)
        {
            var zp = (float[])z.Clone();
            var zm = (float[])z.Clone();
            zp[i] += h;
            zm[i] -= h;
            float lp = RunForward(device, zp, labels, batch, classes).Loss, lm = RunForward(device, zm, labels, batch, classes).Loss;
            fdHard[i] = ((double)lp - lm) / ((double)zp[i] - zm[i]);
            tolHard = Math.Max(tolHard, 8 * (MathF.BitIncrement(lp) - lp) / h);
            float sp = RunForwardSoft(device, zp, t, batch, classes, 4f).Loss, sm = RunForwardSoft(device, zm, t, batch, classes, 4f).Loss;
            fdSoft[i] = ((double)sp - sm) / ((double)zp[i] - zm[i]);
            tolSoft = Math.Max(tolSoft, 8 * (MathF.BitIncrement(sp) - sp) / h);
        }
        Close.All(hard, fdHard, tolHard, 0, $"{spec} hard backward vs own forward");
        Close.All(soft, fdSoft, tolSoft, 0, $"{spec} soft T=4 backward vs own forward");
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Out_of_range_labels_give_nan_for_their_rows_only(string spec)
    {
        var device = devices.Get(spec);
        // Row argmaxes: 0, 1, 2, 2.
        float[] z = [5f, 1f, 1f, 0f, 9f, 0f, 0f, 0f, 1f, 3f, 2f, 7f];
        int[] labels = [0, -1, 3, 2];
        var (rowLoss, loss, correct) = RunForward(device, z, labels, 4, 3);
        Assert.True(float.IsNaN(rowLoss[1]) && float.IsNaN(rowLoss[2]), $"rowLoss [{string.Join(", ", rowLoss)}]");
        var expected = HardRowLoss(ToDouble(z), labels, 4, 3);
        Close.Scalar(rowLoss[0], expected[0], 1e-6, 1e-6, "row 0");
        Close.Scalar(rowLoss[3], expected[3], 1e-6, 1e-6, "row 3");
        Assert.True(float.IsNaN(loss));
        Assert.Equal(2, correct);

        var grad = RunBackward(device, z, labels, 4, 3, new float[12], 1f);
        Assert.All(grad.AsSpan(3, 6).ToArray(), g => Assert.True(float.IsNaN(g)));
        Assert.All(grad.AsSpan(0, 3).ToArray().Concat(grad.AsSpan(9, 3).ToArray()), g => Assert.True(float.IsFinite(g)));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Soft targets (distillation)
    // ---------------------------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(Specs))]
    public void Soft_forward_and_backward_match_reference_on_odd_sizes(string spec)
    {
        var device = devices.Get(spec);
        // Every odd size at T = 4 (the simulated kernels are slow enough that one temperature per sweep is the budget);
        // T = 1 and T = 0.5 on a few sizes. Finite-difference and group-size tests cover T = 1 and 4 again.
        foreach (int batch in Data.OddSizes)
            foreach (int classes in Classes)
                CheckSoft(device, spec, batch, classes, 4f, batch * 100 + classes);
        foreach (float temperature in new[] { 1f, 0.5f })
            foreach (var (batch, classes) in new[] { (1, 1), (3, 10), (33, 33) })
                CheckSoft(device, spec, batch, classes, temperature, batch + classes);
        CheckSoft(device, spec, 17, 1000, 4f, 3);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Soft_backward_matches_float64_finite_differences(string spec)
    {
        var device = devices.Get(spec);
        foreach (float temperature in new[] { 1f, 4f })
            foreach (var (batch, classes) in new[] { (1, 1), (3, 10), (17, 33), (4, 257) })
            {
                var s = Data.Uniform(batch * classes, batch + classes, -3f, 3f);
                var t = Data.Uniform(batch * classes, batch + classes + 1, -5f, 5f);
                var got = RunBackwardSoft(device, s, t, batch, classes, temperature, new float[s.Length], 1f);
                var td = ToDouble(t);
                var fd = FiniteDifference(ToDouble(s), x => SoftRowLoss(x, td, batch, classes, temperature).Average(), 1e-5);
                Close.All(got, fd, GradientAtol(classes, temperature / batch) + 1e-9, 0,
                    $"{spec} soft T={temperature} backward vs finite differences {batch}x{classes}");
            }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Soft_is_stable_for_logits_of_1e4(string spec)
    {
        var device = devices.Get(spec);
        foreach (float temperature in new[] { 1f, 4f })
        {
            const int batch = 17, classes = 10;
            var s = Data.Uniform(batch * classes, 21, -1e4f, 1e4f);
            var t = Data.Uniform(batch * classes, 22, -1e4f, 1e4f);
            var expected = SoftRowLoss(ToDouble(s), ToDouble(t), batch, classes, temperature);
            var (rowLoss, _) = RunForwardSoft(device, s, t, batch, classes, temperature);
            Assert.All(rowLoss, v => Assert.True(float.IsFinite(v)));
            // Losses here are up to ~2e4·T; the (s/T - max) terms are exact to a few float roundings of 1e4/T.
            Close.All(rowLoss, expected, temperature * temperature * 1e4 / temperature * 4 * Eps, 4 * Eps, $"{spec} soft T={temperature} 1e4");
            var grad = RunBackwardSoft(device, s, t, batch, classes, temperature, new float[s.Length], 1f);
            Assert.All(grad, v => Assert.True(float.IsFinite(v)));
        }
        // Student equal to teacher: the loss is the teacher's entropy (T²·H(q)) and the gradient is zero.
        float[] row = [1e4f, -1e4f, 0f, 1e4f];
        var (same, _) = RunForwardSoft(device, row, row, 1, 4, 1f);
        Close.Scalar(same[0], Math.Log(2), 1e-6, 1e-6, "soft loss of two equal one-hot-ish rows");
        Assert.All(RunBackwardSoft(device, row, row, 1, 4, 1f, new float[4], 1f), g => Assert.Equal(0f, g));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Group sizes, parity, validation
    // ---------------------------------------------------------------------------------------------------------------

    [Fact]
    public void Results_do_not_depend_on_group_size()
    {
        foreach (int g in IntBuffers.GroupSizes)
        {
            using var device = Device.Open("ilgpu-cpu", new DeviceOptions { GroupSize = g });
            foreach (var (batch, classes) in new[] { (17, 1), (33, 10), (17, 33), (3, 257) })
            {
                CheckForward(device, $"group {g}", batch, classes, -5f, 5f, 3 * batch + classes);
                CheckBackward(device, $"group {g}", batch, classes, 5 * batch + classes);
                CheckSoft(device, $"group {g}", batch, classes, 4f, 7 * batch + classes);
            }
        }
    }

    [Theory]
    [InlineData("ilgpu-cpu")]
    [InlineData(Device.NvidiaShapedSpec)]
    public void Warp_kernels_and_group_kernels_both_match_reference(string spec)
    {
        // Version 2 (one warp per row, shuffles) runs up to 1,024 classes; version 1 (one group per row) above that and
        // when forced. Both against the float64 reference, at rows narrower than, equal to and wider than a warp, several
        // rows per group, and the widest warp row; the launch counts show which kernel ran.
        var device = devices.Get(spec);
        long Launches(string kernel) => device.LaunchesByKernel.GetValueOrDefault(kernel);
        foreach (var (batch, classes) in new[] { (1, 1), (3, 10), (9, 33), (2, 1024) })
            foreach (bool force in new[] { false, true })
            {
                SoftmaxCrossEntropy.ForceGroupKernels = force;
                try
                {
                    long warpBefore = Launches("SoftmaxCrossEntropy.ForwardWarpKernel") + Launches("SoftmaxCrossEntropy.BackwardWarpKernel");
                    long groupBefore = Launches("SoftmaxCrossEntropy.ForwardKernel") + Launches("SoftmaxCrossEntropy.BackwardKernel");
                    string what = $"{spec} {(force ? "group" : "warp")} kernels";
                    CheckForward(device, what, batch, classes, -5f, 5f, 40 * batch + classes);
                    CheckBackward(device, what, batch, classes, 50 * batch + classes);
                    long warp = Launches("SoftmaxCrossEntropy.ForwardWarpKernel") + Launches("SoftmaxCrossEntropy.BackwardWarpKernel") - warpBefore;
                    long group = Launches("SoftmaxCrossEntropy.ForwardKernel") + Launches("SoftmaxCrossEntropy.BackwardKernel") - groupBefore;
                    Assert.True(force ? warp == 0 && group > 0 : warp > 0 && group == 0, $"{what} {batch}x{classes}: warp {warp}, group {group}");
                }
                finally { SoftmaxCrossEntropy.ForceGroupKernels = false; }
            }
        // Just past the warp limit: version 1.
        Assert.False(SoftmaxCrossEntropy.UsesWarpKernels(device, SoftmaxCrossEntropy.WarpRowLimit + 1));
        Assert.True(SoftmaxCrossEntropy.UsesWarpKernels(device, SoftmaxCrossEntropy.WarpRowLimit));
    }

    [Fact]
    public void Host_and_ilgpu_agree()
    {
        // 10 classes (one vector), 70 (several vectors and a tail) and 1000 (the wide-row path).
        foreach (var (batch, classes) in new[] { (127, 10), (9, 70), (3, 1000) })
        {
            var z = Data.Uniform(batch * classes, 31, -5f, 5f);
            var t = Data.Uniform(batch * classes, 32, -5f, 5f);
            var labels = Data.Labels(batch, classes, 33);
            var ilgpu = RunForward(devices.Ilgpu, z, labels, batch, classes);
            var host = RunForward(devices.Host, z, labels, batch, classes);
            Close.All(host.RowLoss, ilgpu.RowLoss, 2 * LossAtol(classes), 2 * LossAtol(classes), $"rowLoss parity {batch}x{classes}");
            Close.Scalar(host.Loss, ilgpu.Loss, 2 * LossAtol(classes), 2 * LossAtol(classes), $"loss parity {batch}x{classes}");
            Assert.Equal(ilgpu.Correct, host.Correct);
            var gi = RunBackward(devices.Ilgpu, z, labels, batch, classes, new float[z.Length], 1f);
            var gh = RunBackward(devices.Host, z, labels, batch, classes, new float[z.Length], 1f);
            Close.All(gh, gi, 2 * GradientAtol(classes, 1.0 / batch), 0, $"backward parity {batch}x{classes}");
            var si = RunForwardSoft(devices.Ilgpu, z, t, batch, classes, 4f);
            var sh = RunForwardSoft(devices.Host, z, t, batch, classes, 4f);
            Close.All(sh.RowLoss, si.RowLoss, 32 * LossAtol(classes), 2 * LossAtol(classes), $"soft rowLoss parity {batch}x{classes}");
            var bi = RunBackwardSoft(devices.Ilgpu, z, t, batch, classes, 4f, new float[z.Length], 1f);
            var bh = RunBackwardSoft(devices.Host, z, t, batch, classes, 4f, new float[z.Length], 1f);
            Close.All(bh, bi, 2 * GradientAtol(classes, 4.0 / batch), 0, $"soft backward parity {batch}x{classes}");
        }
    }

    [Fact]
    public void Wrong_arguments_throw_with_useful_messages()
    {
        var device = devices.Ilgpu;
        using var z = Tensor.Zeros(device, 2, 3);
        using var rowLoss = Tensor.Zeros(device, 2);
        using var loss = Tensor.Zeros(device, 1);
        using var labels = IntBuffers.Filled(device, 2, 0);
        using var wrongLabels = IntBuffers.Filled(device, 3, 0);
        using var correct = IntBuffers.Filled(device, 1, 0);

        var e = Assert.Throws<ArgumentException>(() =>
            SoftmaxCrossEntropy.Forward(device, z.View, labels.View, 2, 4, rowLoss.View, loss.View, correct.View));
        Assert.Equal("logits", e.ParamName);
        Assert.Contains("logits has 6 elements; expected 8", e.Message);
        e = Assert.Throws<ArgumentException>(() =>
            SoftmaxCrossEntropy.Forward(device, z.View, wrongLabels.View, 2, 3, rowLoss.View, loss.View, correct.View));
        Assert.Equal("labels", e.ParamName);
        e = Assert.Throws<ArgumentException>(() =>
            SoftmaxCrossEntropy.Forward(device, z.View, labels.View, 2, 3, rowLoss.View, rowLoss.View, correct.View));
        Assert.Equal("loss", e.ParamName);
        Assert.Contains("loss has 2 elements; expected 1", e.Message);
        e = Assert.Throws<ArgumentException>(() =>
            SoftmaxCrossEntropy.Forward(device, z.View, labels.View, 2, 3, loss.View, loss.View, correct.View));
        Assert.Equal("rowLoss", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.Backward(device, z.View, labels.View, 2, 3, rowLoss.View));
        Assert.Equal("dlogits", e.ParamName);
        e = Assert.Throws<ArgumentException>(() =>
            SoftmaxCrossEntropy.ForwardSoft(device, z.View, rowLoss.View, 2, 3, 2f, rowLoss.View, loss.View));
        Assert.Equal("teacherLogits", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.BackwardSoft(device, z.View, z.View, 2, 3, 2f, loss.View));
        Assert.Equal("dlogits", e.ParamName);

        var range = Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.ForwardSoft(device, z.View, z.View, 2, 3, 0f, rowLoss.View, loss.View));
        Assert.Equal("temperature", range.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.BackwardSoft(device, z.View, z.View, 2, 3, float.NaN, z.View));
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Backward(device, z.View, labels.View, 2, 3, z.View, float.PositiveInfinity));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.Forward(device, z.View, labels.View, 0, 3, rowLoss.View, loss.View, correct.View));
    }
}
