using GpuNet.Kernels;

namespace GpuNet.Tests.Kernels;

[Collection("devices")]
public class ActivationTests(DeviceFixture devices)
{
    public static TheoryData<string, ActivationKind> Cases()
    {
        var data = new TheoryData<string, ActivationKind>();
        foreach (string d in DeviceFixture.SpecsWithGpuShapes)
            foreach (ActivationKind k in Enum.GetValues<ActivationKind>())
                data.Add(d, k);
        return data;
    }


    private const double Slope = 0.1;

    private static double F(ActivationKind k, double x) => k switch
    {
        ActivationKind.Identity => x,
        ActivationKind.Relu => Math.Max(x, 0),
        ActivationKind.LeakyRelu => x > 0 ? x : Slope * x,
        ActivationKind.Tanh => Math.Tanh(x),
        ActivationKind.Sigmoid => 1 / (1 + Math.Exp(-x)),
        _ => throw new ArgumentOutOfRangeException(nameof(k)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_matches_reference_on_odd_sizes(string spec, ActivationKind kind)
    {
        var device = devices.Get(spec);
        foreach (int n in Data.OddSizes)
        {
            var x = Data.Uniform(n, n, -6f, 6f);
            using var tx = Tensor.FromArray(device, x, n);
            using var ty = Tensor.Zeros(device, n);
            Activation.Forward(device, kind, tx.View, ty.View, (float)Slope);
            Close.All(ty.ToArray(), x.Select(v => F(kind, v)).ToArray(), 1e-6, 1e-5, $"{kind} forward n={n}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_accumulates_the_finite_difference_derivative(string spec, ActivationKind kind)
    {
        var device = devices.Get(spec);
        const int n = 257;
        // Keep away from ReLU's kink so the finite difference is well defined.
        var x = Data.Uniform(n, 7, -4f, 4f).Select(v => MathF.Abs(v) < 0.01f ? v + 0.05f : v).ToArray();
        var dy = Data.Uniform(n, 8);
        var dx0 = Data.Uniform(n, 9);
        using var tx = Tensor.FromArray(device, x, n);
        using var ty = Tensor.Zeros(device, n);
        using var tdy = Tensor.FromArray(device, dy, n);
        using var tdx = Tensor.FromArray(device, dx0, n);
        Activation.Forward(device, kind, tx.View, ty.View, (float)Slope);
        Activation.Backward(device, kind, tx.View, ty.View, tdy.View, tdx.View, (float)Slope);
        const double h = 1e-5;
        var expected = new double[n];
        for (int i = 0; i < n; i++)
            expected[i] = dx0[i] + dy[i] * (F(kind, x[i] + h) - F(kind, x[i] - h)) / (2 * h);
        Close.All(tdx.ToArray(), expected, 1e-5, 1e-4, $"{kind} backward");
    }

    // The kernel's tanh is GpuNet's own (XMath.Tanh becomes tanh.approx.f32 on GPUs): a dense sweep through both branches
    // and the 0.625 seam, against float64, at a few float32 ulps; and the special values.
    [Theory]
    [InlineData("ilgpu-cpu")]
    [InlineData("ilgpu-cpu:nvidia")]
    public void Tanh_is_accurate_to_a_few_ulps_over_its_whole_range(string spec)
    {
        var device = devices.Get(spec);
        var x = Enumerable.Range(-4000, 8001).Select(i => i / 400f).Concat([0.6249999f, 0.625f, -0.625f, 1e-30f, -1e-30f, 1e-4f]).ToArray();
        using var tx = Tensor.FromArray(device, x, x.Length);
        using var ty = Tensor.Zeros(device, x.Length);
        Activation.Forward(device, ActivationKind.Tanh, tx.View, ty.View);
        Close.All(ty.ToArray(), x.Select(v => Math.Tanh(v)).ToArray(), 1e-30, 3e-7, $"tanh sweep on {spec}");

        float[] specials = [0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e30f, -1e30f];
        using var ts = Tensor.FromArray(device, specials, specials.Length);
        using var tz = Tensor.Zeros(device, specials.Length);
        Activation.Forward(device, ActivationKind.Tanh, ts.View, tz.View);
        var got = tz.ToArray();
        Assert.Equal(BitConverter.SingleToInt32Bits(0f), BitConverter.SingleToInt32Bits(got[0]));
        Assert.Equal(BitConverter.SingleToInt32Bits(-0f), BitConverter.SingleToInt32Bits(got[1]));
        Assert.True(float.IsNaN(got[2]), $"tanh(NaN) = {got[2]}");
        Assert.Equal([1f, -1f, 1f, -1f], got[3..]);
    }

    [Fact]
    public void Sigmoid_is_stable_for_huge_inputs()
    {
        var device = devices.Ilgpu;
        float[] x = [-1e4f, -100f, 0f, 100f, 1e4f];
        using var tx = Tensor.FromArray(device, x, x.Length);
        using var ty = Tensor.Zeros(device, x.Length);
        Activation.Forward(device, ActivationKind.Sigmoid, tx.View, ty.View);
        Assert.Equal([0f, 0f, 0.5f, 1f, 1f], ty.ToArray().Select(v => MathF.Round(v, 6)).ToArray());
    }

    [Fact]
    public void Mismatched_lengths_throw_argument_exception()
    {
        var device = devices.Ilgpu;
        using var a = Tensor.Zeros(device, 3);
        using var b = Tensor.Zeros(device, 4);
        var e = Assert.Throws<ArgumentException>(() => { Activation.Forward(device, ActivationKind.Relu, a.View, b.View); });
        Assert.Contains("must match", e.Message);
    }
}
