using System.Diagnostics;
using System.Globalization;
using GpuNet.Kernels;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet bench gemm</c>: a quick GEMM timing without BenchmarkDotNet, one line per shape ending in its GFLOP/s.
/// For quoted numbers use the BenchmarkDotNet suite in bench/ and the peer scripts in bench/peers.
/// </summary>
public static class GemmBench
{
    /// <summary>One GEMM shape: C[M×N] = op(A)·op(B) with depth K.</summary>
    public sealed record Shape(int M, int K, int N, Transpose TransA, Transpose TransB)
    {
        /// <summary>The shape as the command line writes it: <c>MxKxN</c>, with <c>:TN</c>-style transposes when not NN.</summary>
        public override string ToString() =>
            $"{M}x{K}x{N}" + (TransA == Transpose.No && TransB == Transpose.No ? "" : $":{Letter(TransA)}{Letter(TransB)}");

        private static char Letter(Transpose t) => t == Transpose.Yes ? 'T' : 'N';
    }

    /// <summary>The shapes the 784-256-128-10 MLP multiplies in one training step at batch <paramref name="batch"/>:
    /// forward <c>X·Wᵀ</c> (NT), the weight gradient <c>dZᵀ·X</c> (TN) and the input gradient <c>dZ·W</c> (NN).</summary>
    public static IEnumerable<Shape> MlpShapes(int batch)
    {
        int[] widths = [784, 256, 128, 10];
        for (int l = 0; l < 3; l++)
        {
            int fanIn = widths[l], fanOut = widths[l + 1];
            yield return new Shape(batch, fanIn, fanOut, Transpose.No, Transpose.Yes);   // Z = X·Wᵀ
            yield return new Shape(fanOut, batch, fanIn, Transpose.Yes, Transpose.No);   // dW = dZᵀ·X
            if (l > 0) yield return new Shape(batch, fanOut, fanIn, Transpose.No, Transpose.No); // dX = dZ·W
        }
    }

    /// <summary>
    /// Parses a comma-separated list: <c>N</c> (N×N×N), <c>MxKxN</c>, either with an optional <c>:XY</c> suffix of
    /// transposes (X for A, Y for B, each N or T), or <c>mlp64</c>/<c>mlpB</c> for the MLP's training shapes at batch B.
    /// </summary>
    /// <exception cref="UsageException">An entry is malformed.</exception>
    public static List<Shape> ParseShapes(string text)
    {
        var shapes = new List<Shape>();
        foreach (string raw in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string entry = raw.ToUpperInvariant();
            if (entry.StartsWith("MLP", StringComparison.Ordinal) && int.TryParse(entry[3..], out int batch) && batch > 0)
            {
                shapes.AddRange(MlpShapes(batch));
                continue;
            }
            var (dims, trans) = entry.Split(':') switch
            {
                [var d] => (d, "NN"),
                [var d, var t] => (d, t),
                _ => throw Bad(raw),
            };
            if (trans.Length != 2 || trans.Any(ch => ch is not ('N' or 'T'))) throw Bad(raw);
            var parts = dims.Split('X');
            var numbers = new int[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]) || numbers[i] <= 0)
                    throw Bad(raw);
            var (m, k, n) = numbers switch
            {
                [var s] => (s, s, s),
                [var a, var b, var c] => (a, b, c),
                _ => throw Bad(raw),
            };
            shapes.Add(new Shape(m, k, n, trans[0] == 'T' ? Transpose.Yes : Transpose.No, trans[1] == 'T' ? Transpose.Yes : Transpose.No));
        }
        if (shapes.Count == 0) throw new UsageException("--sizes lists no shape.");
        return shapes;
    }

    private static UsageException Bad(string entry) =>
        new($"cannot read shape '{entry}': use N, MxKxN or MxKxN:TN (transposes of A and B), or mlpB for the MLP's shapes at batch B.");

    /// <summary>
    /// Checks C = op(A)·op(B) on every entry of a C of at most 64, else on the four corners and 60 random entries against a float64 dot
    /// product: <c>|c - r| &lt;= 2·K·2⁻²⁴·Σ|a·b|</c>, twice float32's worst-case summation error, so only a wrong product fails.
    /// </summary>
    /// <exception cref="InvalidOperationException">An entry is wrong; the message names the shape, the entry and both values.</exception>
    public static void Verify(Shape s, float[] a, float[] b, float[] c, string device)
    {
        // Every entry of a small C; else the corners and 60 entries drawn at random.
        bool all = (long)s.M * s.N <= 64;
        int samples = all ? s.M * s.N : 64;
        var rng = new Random(2);
        for (int t = 0; t < samples; t++)
        {
            int i = all ? t / s.N : t switch { 0 or 1 => 0, 2 or 3 => s.M - 1, _ => rng.Next(s.M) };
            int j = all ? t % s.N : t switch { 0 or 2 => 0, 1 or 3 => s.N - 1, _ => rng.Next(s.N) };
            double r = 0, magnitude = 0;
            for (int p = 0; p < s.K; p++)
            {
                double x = a[s.TransA == Transpose.No ? (long)i * s.K + p : (long)p * s.M + i];
                double y = b[s.TransB == Transpose.No ? (long)p * s.N + j : (long)j * s.K + p];
                r += x * y;
                magnitude += Math.Abs(x * y);
            }
            double got = c[(long)i * s.N + j];
            if (!(Math.Abs(got - r) <= 2.0 * s.K * Math.Pow(2, -24) * magnitude))
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"gemm {s} on {device} is wrong: C[{i},{j}] = {got:R}, the float64 reference is {r:R}; not timed."));
        }
    }

    /// <summary>Times each shape on <paramref name="device"/> and writes one line per shape.</summary>
    /// <param name="device">The device.</param>
    /// <param name="shapes">The shapes.</param>
    /// <param name="seconds">Minimum measuring time per shape.</param>
    /// <param name="output">Where the lines go.</param>
    /// <returns>The GFLOP/s of each shape, in order.</returns>
    public static List<double> Run(Device device, IReadOnlyList<Shape> shapes, double seconds, TextWriter output)
    {
        output.WriteLine($"# gpunet bench gemm on {device.Spec} ({device.Name}); host kernel {Gemm.HostKernelName}; median of timed batches");
        var results = new List<double>();
        foreach (var s in shapes)
        {
            var rng = new Random(1);
            float[] Fill(long n) { var a = new float[n]; for (long i = 0; i < n; i++) a[i] = (float)rng.NextDouble() - 0.5f; return a; }
            float[] hostA = Fill((long)s.M * s.K), hostB = Fill((long)s.K * s.N);
            using var a = Tensor.FromArray(device, hostA, s.M * s.K);
            using var b = Tensor.FromArray(device, hostB, s.K * s.N);
            using var c = Tensor.Zeros(device, s.M * s.N);
            void Once() => Gemm.Run(device, s.TransA, s.TransB, s.M, s.N, s.K, 1f, a.View, b.View, 0f, c.View);

            // Warm up (kernel compilation, packing buffers) and check the result, then size a batch to ~1/10 of the budget.
            Once();
            device.Synchronize();
            Verify(s, hostA, hostB, c.ToArray(), device.Spec);
            var sw = Stopwatch.StartNew();
            Once();
            device.Synchronize();
            double single = Math.Max(sw.Elapsed.TotalSeconds, 1e-7);
            int perBatch = (int)Math.Clamp(seconds / 10 / single, 1, 1_000_000);
            var times = new List<double>();
            var total = Stopwatch.StartNew();
            while (times.Count < 3 || (total.Elapsed.TotalSeconds < seconds && times.Count < 50))
            {
                sw.Restart();
                for (int r = 0; r < perBatch; r++) Once();
                device.Synchronize();
                times.Add(sw.Elapsed.TotalSeconds / perBatch);
            }
            times.Sort();
            double median = times[times.Count / 2];
            double gflops = 2.0 * s.M * s.N * s.K / median / 1e9;
            results.Add(gflops);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"gemm {s,-18} {device.Spec,-10} {median * 1e3,10:F4} ms {gflops,9:F2} GFLOP/s"));
        }
        return results;
    }
}
