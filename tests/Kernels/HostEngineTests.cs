using System.Runtime.Intrinsics;
using GpuNet.Kernels;
using ILGPU;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// The host engine's SIMD elementwise ops (activations, dropout, optimizer steps) on every SIMD path this processor
/// has: against float64 references on every length from 1 to 300 (every tail of every width), bit for bit against the
/// widest path and against the ILGPU kernels, and bit for bit between one and two threads on a multi-block input.
/// </summary>
/// <summary>One path of <see cref="HostSimd"/> as a theory row; a path wider than this processor's widest
/// (<see cref="HostSimd.Best"/>) is reported as skipped with the reason.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class HostPathDataAttribute : Xunit.Sdk.DataAttribute
{
    private readonly string _path;

    public HostPathDataAttribute(string path)
    {
        _path = path;
        if (Enum.Parse<HostWidth>(path) > HostSimd.Best)
            Skip = $"the {path} path is wider than this processor's widest ({HostSimd.Best}, after the runtime's settings): untested here";
    }

    public override IEnumerable<object[]> GetData(System.Reflection.MethodInfo testMethod) => [[_path]];
}

[Collection("devices")]
public class HostEngineTests(DeviceFixture devices)
{
    private const int MaxLength = 300;

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in HostCases.All) data.Add(c.Name);
        return data;
    }

    /// <summary>Runs <paramref name="body"/> with the host engine capped at <paramref name="width"/>.</summary>
    private static T AtWidth<T>(HostWidth width, Func<T> body)
    {
        var saved = HostSimd.Limit;
        HostSimd.Limit = width;
        try
        {
            return body();
        }
        finally
        {
            HostSimd.Limit = saved;
        }
    }

    private static void AssertSameBits(float[][] expected, float[][] actual, string what)
    {
        for (int k = 0; k < expected.Length; k++)
        {
            for (int i = 0; i < expected[k].Length; i++)
            {
                int e = BitConverter.SingleToInt32Bits(expected[k][i]), a = BitConverter.SingleToInt32Bits(actual[k][i]);
                if (e != a)
                    Assert.Fail($"{what}: array {k} differs first at [{i}] of {expected[k].Length}: {actual[k][i]:R} (0x{a:X8}), expected {expected[k][i]:R} (0x{e:X8})");
            }
        }
    }

    private static void AssertReference(HostCase c, float[][] inputs, float[][] actual, string what)
    {
        var expected = c.Reference(inputs);
        for (int k = 0; k < expected.Length; k++)
            if (expected[k] is { } e)
                Close.All(actual[k], e, c.Atol, c.Rtol, $"{what}, array {k}");
    }

    // Every length from 1 to 300 runs every tail of every width (up to 15 scalar elements after Vector512; the dropout
    // mask's 128-element groups, then 32-element groups, then single quads), and the offsets move the views through
    // every alignment.
    [Theory]
    [HostPathData("Scalar")]
    [HostPathData("VectorT")]
    [HostPathData("V256")]
    [HostPathData("V512")]
    public void Every_op_matches_the_float64_reference_and_the_widest_path_on_every_length_1_to_300(string width)
    {
        var w = Enum.Parse<HostWidth>(width);
        using var runner = new HostCaseRunner(devices.Host, MaxLength + 16);
        foreach (var c in HostCases.All)
        {
            for (int n = 1; n <= MaxLength; n++)
            {
                int offset = n % 17;
                var inputs = c.Inputs(n, n);
                var actual = AtWidth(w, () => runner.Run(c, inputs, offset));
                AssertReference(c, inputs, actual, $"{c.Name} at {width}, n={n}");
                if (w != HostSimd.Best)
                    AssertSameBits(AtWidth(HostSimd.Best, () => runner.Run(c, inputs, offset)), actual, $"{c.Name} at {width} vs {HostSimd.Best}, n={n}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Host_engine_matches_the_ilgpu_kernel(string name)
    {
        // Bit for bit, except Tanh and Sigmoid forward, whose host versions are polynomial approximations: those must
        // agree within the reference tolerance. Lengths 1..70 cover every tail; 100_003 spans two host blocks.
        var c = HostCases.Get(name);
        using var host = new HostCaseRunner(devices.Host, 100_003);
        using var kernel = new HostCaseRunner(devices.Ilgpu, 100_003);
        foreach (int n in Enumerable.Range(1, 70).Append(100_003))
        {
            var inputs = c.Inputs(n, 1000 + n);
            var h = host.Run(c, inputs);
            var k = kernel.Run(c, inputs);
            if (c.ExactVsKernel)
            {
                AssertSameBits(k, h, $"{c.Name}, host vs ILGPU kernel, n={n}");
            }
            else
            {
                for (int a = 0; a < h.Length; a++)
                    Close.All(h[a], k[a], c.Atol, c.Rtol, $"{c.Name}, host vs ILGPU kernel, n={n}, array {a}");
            }
        }
    }

    [Fact]
    public void One_and_two_threads_give_the_same_bits_on_a_million_elements()
    {
        // 1M + 12345 elements: seventeen 64K blocks, the last one partial, run on one thread and spread over two.
        const int n = (1 << 20) + 12345;
        using var one = Device.Open("cpu", new DeviceOptions { Threads = 1 });
        using var two = Device.Open("cpu", new DeviceOptions { Threads = 2 });
        using var runOne = new HostCaseRunner(one, n);
        using var runTwo = new HostCaseRunner(two, n);
        foreach (var c in HostCases.All)
        {
            var inputs = c.Inputs(n, 77);
            var a = runOne.Run(c, inputs);
            var b = runTwo.Run(c, inputs);
            AssertSameBits(a, b, $"{c.Name}, 1 thread vs 2 threads");
            if (c.Name.StartsWith("dropout mask", StringComparison.Ordinal) || c.Name.StartsWith("adam ", StringComparison.Ordinal))
                AssertReference(c, inputs, b, $"{c.Name}, 2 threads");
        }
    }

    // ---- special values ----

    private static readonly float[] Specials =
    [
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, float.Epsilon, -float.Epsilon, 1e-30f, -1e-30f,
        1e-7f, -1e-7f, 0.624f, 0.625f, 0.626f, -0.625f, 9f, -9f, 10f, 10.5f, -44f, 87f, -87.3f, -87.4f, 88.5f, -88.5f, 100f, -100f,
        1e4f, -1e4f, float.MaxValue, float.MinValue, 1f, -1f, 0.5f,
    ];

    [Fact]
    public void Activations_of_special_values_are_sensible_and_the_same_at_every_width()
    {
        float[] Forward(ActivationKind kind)
        {
            using var x = Tensor.FromArray(devices.Host, Specials, Specials.Length);
            using var y = Tensor.Zeros(devices.Host, Specials.Length);
            Activation.Forward(devices.Host, kind, x.View, y.View);
            return y.ToArray();
        }

        foreach (var kind in Enum.GetValues<ActivationKind>())
        {
            var widest = Forward(kind);
            foreach (var w in Enum.GetValues<HostWidth>().Where(w => w <= HostSimd.Best))
                AssertSameBits([widest], [AtWidth(w, () => Forward(kind))], $"{kind} of special values at {w}");
            for (int i = 0; i < Specials.Length; i++)
            {
                float x = Specials[i], y = widest[i];
                string what = $"{kind}({x:R}) = {y:R}";
                switch (kind)
                {
                    case ActivationKind.Tanh:
                        if (float.IsNaN(x)) Assert.True(float.IsNaN(y), what);
                        else Close.Scalar(y, Math.Tanh(x), 1e-7, 2e-7, what);
                        if (x == 0f) Assert.True(float.IsNegative(x) == float.IsNegative(y), what + ": the sign of zero is kept");
                        break;
                    case ActivationKind.Sigmoid:
                        if (float.IsNaN(x)) Assert.True(float.IsNaN(y), what);
                        else Close.Scalar(y, 1 / (1 + Math.Exp(-(double)x)), 1e-7, 2e-7, what);
                        break;
                    case ActivationKind.Relu:
                        // As the kernel: NaN > 0 is false, so NaN gives 0.
                        Assert.Equal(x > 0f ? x : 0f, y);
                        break;
                }
            }
        }
    }

    [Fact]
    public void Tanh_and_sigmoid_are_within_the_reference_tolerance_across_their_range()
    {
        // A dense sweep of [-20, 20] plus tiny values: every branch of the approximations (the small-|x| polynomial,
        // exp past 0.625, the clamps) against float64.
        var x = Enumerable.Range(0, 400_001).Select(i => -20f + i * 1e-4f)
            .Concat(Enumerable.Range(0, 200).Select(i => MathF.Pow(2f, -i * 0.7f))).ToArray();
        using var tx = Tensor.FromArray(devices.Host, x, x.Length);
        using var ty = Tensor.Zeros(devices.Host, x.Length);
        Activation.Forward(devices.Host, ActivationKind.Tanh, tx.View, ty.View);
        Close.All(ty.ToArray(), x.Select(v => Math.Tanh(v)).ToArray(), 1e-6, 1e-5, "tanh sweep");
        Activation.Forward(devices.Host, ActivationKind.Sigmoid, tx.View, ty.View);
        Close.All(ty.ToArray(), x.Select(v => 1 / (1 + Math.Exp(-(double)v))).ToArray(), 1e-6, 1e-5, "sigmoid sweep");
    }

    [Fact]
    public void Sigmoid_is_stable_for_huge_inputs_on_the_host()
    {
        float[] x = [-1e4f, -100f, 0f, 100f, 1e4f];
        using var tx = Tensor.FromArray(devices.Host, x, x.Length);
        using var ty = Tensor.Zeros(devices.Host, x.Length);
        Activation.Forward(devices.Host, ActivationKind.Sigmoid, tx.View, ty.View);
        Assert.Equal([0f, 0f, 0.5f, 1f, 1f], ty.ToArray());
    }

    // ---- Philox ----

    [Fact]
    public void Simd_Philox_matches_scalar_Philox_including_counter_carries()
    {
        // Quads around 2^32 carry into the counter's second word; seeds use both key words.
        ulong[] seeds = [0, 42, 0xFFFF_FFFF_FFFF_FFFFul, 0x0123_4567_89AB_CDEFul];
        ulong[] firstQuads = [0, 1, 0xFFFF_FFF0ul, 0xFFFF_FFFFul - 3, 0x1_2345_6789ul, ulong.MaxValue - 40];
        var c512 = new Vector512<uint>[8];
        var c256 = new Vector256<uint>[4];
        foreach (ulong seed in seeds)
        {
            foreach (ulong q0 in firstQuads)
            {
                foreach (uint stream in new uint[] { 0, 7, uint.MaxValue })
                {
                    for (ulong q = q0; q < q0 + 40; q++)
                        Assert.Equal(Philox.Block(seed, stream, q), PhiloxSimd.Block(seed, stream, q));
                    if (PhiloxSimd.IsSupported512)
                    {
                        var step = Vector512.Create(4ul, 0ul, 4ul, 0ul, 4ul, 0ul, 4ul, 0ul);
                        var counters = PhiloxSimd.Counters512(q0, stream);
                        var c = c512;
                        for (int r = 0; r < 8; r++) c[r] = (counters + step * (ulong)r).AsUInt32();
                        PhiloxSimd.Generate512(ref c[0], ref c[1], ref c[2], ref c[3], ref c[4], ref c[5], ref c[6], ref c[7], PhiloxSimd.Key512(seed));
                        for (int r = 0; r < 8; r++)
                            for (int j = 0; j < 4; j++)
                            {
                                var b = Philox.Block(seed, stream, q0 + (ulong)(4 * r + j));
                                Assert.Equal([b.X, b.Y, b.Z, b.W], new[] { c[r][4 * j], c[r][4 * j + 1], c[r][4 * j + 2], c[r][4 * j + 3] });
                            }
                    }
                    if (PhiloxSimd.IsSupported256)
                    {
                        var step = Vector256.Create(2ul, 0ul, 2ul, 0ul);
                        var counters = PhiloxSimd.Counters256(q0, stream);
                        var c = c256;
                        for (int r = 0; r < 4; r++) c[r] = (counters + step * (ulong)r).AsUInt32();
                        PhiloxSimd.Generate256(ref c[0], ref c[1], ref c[2], ref c[3], PhiloxSimd.Key256(seed));
                        for (int r = 0; r < 4; r++)
                            for (int j = 0; j < 2; j++)
                            {
                                var b = Philox.Block(seed, stream, q0 + (ulong)(2 * r + j));
                                Assert.Equal([b.X, b.Y, b.Z, b.W], new[] { c[r][4 * j], c[r][4 * j + 1], c[r][4 * j + 2], c[r][4 * j + 3] });
                            }
                    }
                }
            }
        }
    }

    [Fact]
    public void Keep_limit_agrees_with_the_float_keep_test_at_every_threshold()
    {
        // The SIMD mask compares the random word with an integer limit instead of converting it to a float; the two must
        // agree for every word. They can only disagree next to the threshold, so test the words around it.
        float[] pKeeps = [1f, 1f - MathF.Pow(2, -24), 0.999f, 0.8f, 0.7f, 0.5f, 1f / 3f, 0.1f, 1e-3f, MathF.Pow(2, -24), 1e-9f, float.Epsilon];
        foreach (float p in pKeeps)
        {
            var args = new MaskArgs(1, 2, p);
            uint limit = args.KeepLimit;
            var words = new List<uint> { 0, 1, 255, 256, uint.MaxValue, uint.MaxValue - 255, uint.MaxValue - 256 };
            for (long d = -600; d <= 600; d++)
                words.Add((uint)Math.Clamp(limit + d, 0, uint.MaxValue));
            foreach (uint r in words)
                Assert.True(args.Keep(r) == 1f == (r <= limit), $"pKeep {p:R}, word 0x{r:X8}: Keep {args.Keep(r)}, limit 0x{limit:X8}");
        }
    }
}
