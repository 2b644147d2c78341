using GpuNet.Kernels;
using GpuNet.Nn;

namespace GpuNet.Tests.Kernels;

/// <summary>The mean-squared-error op and <see cref="MseLoss"/> against float64 references, on the ILGPU kernels and the host engine.</summary>
[Collection("devices")]
public class MeanSquaredErrorTests(DeviceFixture devices)
{
    public static TheoryData<string> Specs() => new(DeviceFixture.Specs);

    private const double Eps = 5.96e-8;

    private static readonly int[] Cols = [1, 10, 33, 300];

    private static double[] RowLoss(float[] p, float[] t, int rows, int cols)
    {
        var loss = new double[rows];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                double d = (double)p[r * cols + c] - t[r * cols + c];
                loss[r] += d * d;
            }
        return loss;
    }

    // width: -1 runs the public entry; 0, 1, 2 the host engine at that SIMD width.
    private static (float[] RowLoss, float Loss) RunForward(Device device, float[] p, float[] t, int rows, int cols, int width = -1)
    {
        using var tp = Tensor.FromArray(device, p, rows, cols);
        using var tt = Tensor.FromArray(device, t, rows, cols);
        using var rowLoss = Tensor.FromArray(device, Enumerable.Repeat(-5f, rows).ToArray(), rows);
        using var loss = Tensor.FromArray(device, [-5f], 1);
        if (width < 0) MeanSquaredError.Forward(device, tp.View, tt.View, rows, cols, rowLoss.View, loss.View);
        else MeanSquaredError.ForwardHostAt(device, tp.View, tt.View, rows, cols, rowLoss.View, loss.View, width);
        return (rowLoss.ToArray(), loss.ToArray()[0]);
    }

    private static void CheckForward(Device device, string what, int rows, int cols, int seed, int width = -1)
    {
        var p = Data.Uniform(rows * cols, seed, -3f, 3f);
        var t = Data.Uniform(rows * cols, seed + 1, -2f, 2f);
        var expected = RowLoss(p, t, rows, cols);
        var (rowLoss, loss) = RunForward(device, p, t, rows, cols, width);
        // A float sum of cols non-negative terms: relative error at most about cols·eps.
        double rtol = Math.Max(cols, 16) * Eps;
        Close.All(rowLoss, expected, 1e-30, rtol, $"{what} {rows}x{cols} rowLoss");
        Close.Scalar(loss, expected.Sum() / ((double)rows * cols), 1e-30, rtol + Math.Max(rows, 16) * Eps, $"{what} {rows}x{cols} mean loss");
    }

    // ilgpu-cpu:nvidia: the row reduction with a GPU's row groups (a warp-rounded row, at most 256 threads); a few rows,
    // columns just past one warp and one group.
    [Fact]
    public void Forward_at_gpu_launch_shapes_matches_reference()
    {
        var device = devices.Nvidia;
        foreach (int cols in new[] { 1, 33, 257 })
            CheckForward(device, device.Spec, 3, cols, 900 + cols);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Forward_matches_reference_on_odd_sizes(string spec)
    {
        var device = devices.Get(spec);
        foreach (int rows in Data.OddSizes)
            foreach (int cols in Cols)
                CheckForward(device, spec, rows, cols, rows * 1000 + cols);
    }

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    [HostWidthData(2)]
    public void Host_widths_match_reference_for_every_row_length(int width)
    {
        foreach (int cols in HostSimdTestData.RowLengths)
            CheckForward(devices.Host, $"width {width}", 3, cols, cols, width);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Backward_matches_reference_and_accumulates_on_odd_sizes(string spec)
    {
        var device = devices.Get(spec);
        const float scale = 0.75f;
        foreach (int rows in Data.OddSizes)
            foreach (int cols in Cols)
            {
                var p = Data.Uniform(rows * cols, rows + cols, -3f, 3f);
                var t = Data.Uniform(rows * cols, rows + cols + 1, -2f, 2f);
                var d0 = Data.Uniform(rows * cols, rows + cols + 2);
                using var tp = Tensor.FromArray(device, p, rows, cols);
                using var tt = Tensor.FromArray(device, t, rows, cols);
                using var td = Tensor.FromArray(device, d0, rows, cols);
                MeanSquaredError.Backward(device, tp.View, tt.View, rows, cols, td.View, scale);
                double k = 2.0 * scale / ((double)rows * cols);
                var expected = d0.Select((v, i) => v + k * ((double)p[i] - t[i])).ToArray();
                // Three roundings (difference, product, sum), each of eps relative to a value of at most |d0| + 5k.
                Close.All(td.ToArray(), expected, 4 * Eps * (1 + 5 * k), 0, $"{spec} backward {rows}x{cols}");
            }
    }

    [Fact]
    public void Gradient_matches_finite_differences_of_the_reference_loss()
    {
        const int rows = 4, cols = 7;
        var p = Data.Uniform(rows * cols, 11, -2f, 2f);
        var t = Data.Uniform(rows * cols, 12, -2f, 2f);
        var tD = t.Select(v => (double)v).ToArray();
        double F(double[] q)
        {
            double s = 0;
            for (int i = 0; i < q.Length; i++) s += (q[i] - tD[i]) * (q[i] - tD[i]);
            return s / q.Length;
        }
        var numeric = FiniteDifference.Gradient(p.Select(v => (double)v).ToArray(), F);
        foreach (var device in new[] { devices.Host, devices.Ilgpu })
        {
            using var loss = new MseLoss(device);
            using var tp = Tensor.FromArray(device, p, rows, cols);
            using var tt = Tensor.FromArray(device, t, rows, cols);
            loss.Forward(tp, tt);
            Close.Scalar(loss.ReadLoss(), F(p.Select(v => (double)v).ToArray()), 1e-7, 1e-6, $"{device.Spec} MseLoss value");
            Close.All(loss.Backward(tp, tt).ToArray(), numeric, 1e-7, 1e-5, $"{device.Spec} MseLoss gradient");
        }
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("ilgpu-cpu")]
    public void Gradient_check_through_a_linear_layer(string spec)
    {
        var device = devices.Get(spec);
        const int B = 5, D = 4, O = 3;
        using var model = new Sequential(device, D, 9, new Linear(D, O));
        using var loss = new MseLoss(device);
        var xData = Data.Uniform(B * D, 21);
        var tData = Data.Uniform(B * O, 22);
        using var x = Tensor.FromArray(device, xData, B, D);
        using var target = Tensor.FromArray(device, tData, B, O);
        model.ZeroGrad();
        var y = model.Forward(x);
        loss.Forward(y, target);
        model.Backward(loss.Backward(y, target, 0.5f));

        var w = model.Parameters["0.weight"].Value.ToArray().Select(v => (double)v).ToArray();
        var b = model.Parameters["0.bias"].Value.ToArray().Select(v => (double)v).ToArray();
        double F(double[] pw, double[] pb)
        {
            double s = 0;
            for (int r = 0; r < B; r++)
                for (int o = 0; o < O; o++)
                {
                    double z = pb[o];
                    for (int d = 0; d < D; d++) z += xData[r * D + d] * pw[o * D + d];
                    s += (z - tData[r * O + o]) * (z - tData[r * O + o]);
                }
            return 0.5 * s / (B * O);
        }
        Close.All(model.Parameters["0.weight"].Grad.ToArray(), FiniteDifference.Gradient(w, q => F(q, b)), 1e-6, 1e-4, $"{spec} dW");
        Close.All(model.Parameters["0.bias"].Grad.ToArray(), FiniteDifference.Gradient(b, q => F(w, q)), 1e-6, 1e-4, $"{spec} db");
    }

    [Fact]
    public void One_and_two_threads_give_the_same_bits()
    {
        const int rows = 1031, cols = 257;
        var p = Data.Uniform(rows * cols, 31);
        var t = Data.Uniform(rows * cols, 32);
        using var one = Device.Open("cpu", new DeviceOptions { Threads = 1 });
        using var two = Device.Open("cpu", new DeviceOptions { Threads = 2 });
        var (r1, l1) = RunForward(one, p, t, rows, cols);
        var (r2, l2) = RunForward(two, p, t, rows, cols);
        HostSimdTestData.SameBits(r1, r2, "row losses, 1 vs 2 threads");
        HostSimdTestData.SameBits([l1], [l2], "mean loss, 1 vs 2 threads");
    }

    [Fact]
    public void Mismatched_shapes_are_a_clear_error()
    {
        using var loss = new MseLoss(devices.Host);
        using var p = Tensor.FromArray(devices.Host, new float[6], 2, 3);
        using var t = Tensor.FromArray(devices.Host, new float[6], 3, 2);
        var e = Assert.Throws<ArgumentException>(() => loss.Forward(p, t));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Throws<ArgumentException>(() => MeanSquaredError.Forward(devices.Host, p.View, t.View, 2, 4, p.View, p.View));
    }
}
