using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

[Collection("devices")]
public class BiasTests(DeviceFixture devices)
{
    public static TheoryData<string> Specs() => new(DeviceFixture.SpecsWithGpuShapes);

    private static readonly int[] Cols = [1, 10, 33, 257];

    [Theory]
    [MemberData(nameof(Specs))]
    public void Add_matches_reference_on_odd_sizes(string spec)
    {
        var device = devices.Get(spec);
        foreach (int rows in Data.OddSizes)
            foreach (int cols in Cols)
            {
                var y = Data.Uniform(rows * cols, rows * 1000 + cols);
                var b = Data.Uniform(cols, cols + 5);
                using var ty = Tensor.FromArray(device, y, rows, cols);
                using var tb = Tensor.FromArray(device, b, cols);
                Bias.Add(device, ty.View, tb.View, rows, cols);
                var expected = new double[rows * cols];
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++)
                        expected[r * cols + c] = (double)y[r * cols + c] + b[c];
                // One float addition: at most half an ulp of the result.
                Close.All(ty.ToArray(), expected, 0, 1e-7, $"{spec} bias add {rows}x{cols}");
            }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Gradient_accumulates_column_sums_on_odd_sizes(string spec)
    {
        var device = devices.Get(spec);
        foreach (int rows in Data.OddSizes)
            foreach (int cols in Cols)
            {
                var dy = Data.Uniform(rows * cols, rows * 7 + cols);
                var db0 = Data.Uniform(cols, cols + 11);
                using var tdy = Tensor.FromArray(device, dy, rows, cols);
                using var tdb = Tensor.FromArray(device, db0, cols);
                Bias.Gradient(device, tdy.View, tdb.View, rows, cols);
                var expected = new double[cols];
                var absSum = new double[cols];
                for (int c = 0; c < cols; c++)
                {
                    expected[c] = db0[c];
                    absSum[c] = Math.Abs(db0[c]);
                }
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++)
                    {
                        expected[c] += dy[r * cols + c];
                        absSum[c] += Math.Abs(dy[r * cols + c]);
                    }
                // A float32 sum of rows+1 terms is within (rows+1)·eps·Σ|terms| of the exact sum; the values here are in
                // [-1, 1], so Σ|terms| <= rows + 1 and (rows+1)²·6e-8 <= 4e-3 for 257 rows. Checked per element below.
                var got = tdb.ToArray();
                for (int c = 0; c < cols; c++)
                {
                    double bound = (rows + 1) * 6e-8 * absSum[c] + 1e-7;
                    Close.Scalar(got[c], expected[c], bound, 0, $"{spec} bias gradient {rows}x{cols} column {c}");
                }
            }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Gradient_adds_to_what_is_there(string spec)
    {
        var device = devices.Get(spec);
        const int rows = 3, cols = 2;
        using var tdy = Tensor.FromArray(device, [1f, 2f, 3f, 4f, 5f, 6f], rows, cols);
        using var tdb = Tensor.FromArray(device, [10f, 20f], cols);
        Bias.Gradient(device, tdy.View, tdb.View, rows, cols);
        Bias.Gradient(device, tdy.View, tdb.View, rows, cols);
        Assert.Equal([10f + 2 * 9f, 20f + 2 * 12f], tdb.ToArray());
    }

    [Fact]
    public void Host_and_ilgpu_agree()
    {
        const int rows = 127, cols = 33;
        var y = Data.Uniform(rows * cols, 1);
        var b = Data.Uniform(cols, 2);
        var results = new List<(float[] Y, float[] Db)>();
        foreach (var device in new[] { devices.Ilgpu, devices.Host })
        {
            using var ty = Tensor.FromArray(device, y, rows, cols);
            using var tb = Tensor.FromArray(device, b, cols);
            using var tdb = Tensor.Zeros(device, cols);
            Bias.Add(device, ty.View, tb.View, rows, cols);
            Bias.Gradient(device, ty.View, tdb.View, rows, cols);
            results.Add((ty.ToArray(), tdb.ToArray()));
        }
        Close.All(results[1].Y, results[0].Y, 0, 0, "bias add parity (bit-identical)");
        // Column sums of 127 values of magnitude <= 2: float32 (kernel) vs float64 (host) accumulation.
        Close.All(results[1].Db, results[0].Db, 127 * 2 * 127 * 6e-8, 0, "bias gradient parity");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Host engine: every SIMD width this processor has, every column count to 70 and some wide ones (several column
    // blocks of the gradient, with tails), and the same bits on 1 and 2 threads.
    // ---------------------------------------------------------------------------------------------------------------

    [Theory]
    [HostWidthData(0)]
    [HostWidthData(1)]
    [HostWidthData(2)]
    public void Host_widths_match_reference_for_every_column_count(int width)
    {
        var device = devices.Host;
        foreach (int cols in HostSimdTestData.RowLengths.Concat([255, 256, 513]))
            foreach (int rows in new[] { 1, 6 })
            {
                var y = Data.Uniform(rows * cols, rows * 1000 + cols);
                var b = Data.Uniform(cols, cols + 5);
                using var ty = Tensor.FromArray(device, y, rows, cols);
                using var tb = Tensor.FromArray(device, b, cols);
                Bias.AddHostAt(device, ty.View, tb.View, rows, cols, width);
                var expected = new double[rows * cols];
                for (int i = 0; i < expected.Length; i++) expected[i] = (double)y[i] + b[i % cols];
                Close.All(ty.ToArray(), expected, 0, 1e-7, $"width {width} bias add {rows}x{cols}");

                var db0 = Data.Uniform(cols, cols + 11);
                using var tdb = Tensor.FromArray(device, db0, cols);
                Bias.GradientHostAt(device, ty.View, tdb.View, rows, cols, width);
                // Summed in float64 and rounded once: within an ulp of the float64 sum of the float inputs.
                var sums = db0.Select(v => (double)v).ToArray();
                var result = ty.ToArray();
                for (int i = 0; i < result.Length; i++) sums[i % cols] += result[i];
                Close.All(tdb.ToArray(), sums, 1e-12, 1.2e-7, $"width {width} bias gradient {rows}x{cols}");
            }
    }

    [Fact]
    public void Host_results_have_the_same_bits_on_1_and_2_threads()
    {
        using var one = Device.Open("cpu", new DeviceOptions { Threads = 1 });
        using var two = Device.Open("cpu", new DeviceOptions { Threads = 2 });
        // Many row blocks of one column block, and several column blocks (with a tail) of a few row blocks.
        foreach (var (rows, cols) in new[] { (20011, 10), (301, 1000) })
        {
            var y = Data.Uniform(rows * cols, rows);
            var b = Data.Uniform(cols, cols);
            var results = new List<(float[] Y, float[] Db)>();
            foreach (var device in new[] { one, two })
            {
                using var ty = Tensor.FromArray(device, y, rows, cols);
                using var tb = Tensor.FromArray(device, b, cols);
                using var tdb = Tensor.FromArray(device, b, cols);
                Bias.Add(device, ty.View, tb.View, rows, cols);
                Bias.Gradient(device, ty.View, tdb.View, rows, cols);
                results.Add((ty.ToArray(), tdb.ToArray()));
            }
            HostSimdTestData.SameBits(results[0].Y, results[1].Y, $"bias add {rows}x{cols}");
            HostSimdTestData.SameBits(results[0].Db, results[1].Db, $"bias gradient {rows}x{cols}");
        }
    }

    [Fact]
    public void Wrong_lengths_throw_argument_exception_naming_the_argument()
    {
        var device = devices.Ilgpu;
        using var y = Tensor.Zeros(device, 6);
        using var b = Tensor.Zeros(device, 4);
        var e = Assert.Throws<ArgumentException>(() => Bias.Add(device, y.View, b.View, 2, 3));
        Assert.Equal("bias", e.ParamName);
        Assert.Contains("bias has 4 elements; expected 3", e.Message);
        e = Assert.Throws<ArgumentException>(() => Bias.Gradient(device, y.View, b.View, 2, 4));
        Assert.Equal("dy", e.ParamName);
        Assert.Contains("expected 8", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Bias.Add(device, y.View, b.View, -1, 4));
    }
}
