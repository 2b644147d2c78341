using System.Globalization;
using GpuNet.Kernels;

namespace GpuNet.Bench;

/// <summary>
/// Compares cache blockings of the host GEMM's packed path on the same shapes, round-robin (every blocking runs once per
/// round, so all see the same machine load), and prints the best time of each: for choosing
/// <see cref="HostBlocking.Derive"/>'s rules on a machine. Run:
/// <c>dotnet run -c Release --project bench -- --gemm-blocking 1024,2048,mlp64 [rounds]</c>.
/// </summary>
internal static class GemmBlockingTune
{
    public static void Run(TextWriter output, string sizes, int rounds)
    {
        using var device = GpuNet.Device.Open("cpu");
        var derived = GpuNet.Kernels.Gemm.HostKernelTile.Blocking;
        var variants = new List<(string Name, HostBlocking? Blocking)> { ("derived", null) };
        foreach (int kc in new[] { 256, 384 })
            foreach (int nc in new[] { 256, 512, 1024 })
                variants.Add(($"kc{kc} nc{nc} B-inner", new HostBlocking(kc, nc, int.MaxValue, true)));
        foreach (int mc in new[] { 96, 192, 384 })
            variants.Add(($"kc256 nc4096 mc{mc} A-inner", new HostBlocking(256, 4096, mc, false)));
        output.WriteLine($"# host GEMM blockings on {GpuNet.Kernels.Gemm.HostKernelName}; caches L1 {HostCache.L1 / 1024} KiB, L2 {HostCache.L2 / 1024} KiB ({HostCache.Source}); derived {derived}");
        foreach (var s in Shapes(sizes))
        {
            var operands = Operands(device, s);
            using var a = operands.A;
            using var b = operands.B;
            using var c = operands.C;
            // One thread, timed by the thread's CPU clock: on a shared machine the wall clock measures the other work too.
            void Once() => GpuNet.Kernels.Gemm.RunHost(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a.View, b.View, 0f, c.View, 1);
            var best = new double[variants.Count];
            Array.Fill(best, double.MaxValue);

            for (int round = 0; round < rounds; round++)
                for (int v = 0; v < variants.Count; v++)
                {
                    GpuNet.Kernels.Gemm.ForceBlocking = variants[v].Blocking;
                    Once();
                    for (int r = 0; r < 5; r++)
                    {
                        double t0 = ThreadCpuSeconds();
                        int reps = 0;
                        double t;
                        do { Once(); reps++; t = ThreadCpuSeconds() - t0; } while (t < 0.01);
                        best[v] = Math.Min(best[v], t / reps);
                    }
                }
            GpuNet.Kernels.Gemm.ForceBlocking = null;
            for (int v = 0; v < variants.Count; v++)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{s,-18} {variants[v].Name,-26} {best[v] * 1e3,9:F4} ms {2.0 * s.M * s.N * s.K / best[v] / 1e9,8:F1} GFLOP/s"));
        }
    }

    /// <summary>Each micro-kernel this processor runs (AVX-512 12x32, AVX2 6x16), alone on L1-resident panels: the
    /// ceiling of the packed path on one core.</summary>
    public static void Kernel(TextWriter output)
    {
        if (Avx512MicroKernel12x32.IsSupported) KernelAlone<Avx512MicroKernel12x32>(output, "AVX-512 12x32");
        if (Avx2MicroKernel6x16.IsSupported) KernelAlone<Avx2MicroKernel6x16>(output, "AVX2 6x16");
    }

    private static unsafe void KernelAlone<TK>(TextWriter output, string name) where TK : struct, IGemmMicroKernel
    {
        const int kc = 256;
        int mr = TK.MR, nr = TK.NR;
        float* ap = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(mr * kc * 4), 64);
        float* bp = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(nr * kc * 4), 64);
        float* c = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(mr * nr * 4), 64);
        for (int i = 0; i < mr * kc; i++) ap[i] = 0.001f * i;
        for (int i = 0; i < nr * kc; i++) bp[i] = 0.002f * i;
        double best = double.MaxValue;
        for (int r = 0; r < 20; r++)
        {
            double t0 = ThreadCpuSeconds();
            for (int i = 0; i < 2000; i++) TK.Run(kc, ap, bp, c, nr, 1f, 0f);
            best = Math.Min(best, (ThreadCpuSeconds() - t0) / 2000);
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name} micro-kernel, kc {kc}, L1-resident: {2.0 * mr * nr * kc / best / 1e9:F1} GFLOP/s on one core"));
        System.Runtime.InteropServices.NativeMemory.AlignedFree(ap);
        System.Runtime.InteropServices.NativeMemory.AlignedFree(bp);
        System.Runtime.InteropServices.NativeMemory.AlignedFree(c);
    }

    /// <summary>CPU time per call (all threads) and wall time per call (the best and the median of 10 batches), on 1 thread
    /// and on all: how much work the parallel version adds (duplicated packing, spinning) apart from the machine's load. <c>GEMM_TUNE_NC=512,1024</c>
    /// adds rows with those B-block widths forced (KC 256), beside the derived blocking.</summary>
    public static void Threads(TextWriter output, string sizes)
    {
        using var device = GpuNet.Device.Open("cpu");
        foreach (var s in Shapes(sizes))
        {
            var operands = Operands(device, s);
            using var a = operands.A;
            using var b = operands.B;
            using var c = operands.C;
            var blockings = new List<HostBlocking?> { null };
            if (Environment.GetEnvironmentVariable("GEMM_TUNE_NC") is { } ncs)
                foreach (string nc in ncs.Split(','))
                    blockings.Add(new HostBlocking(256, int.Parse(nc, CultureInfo.InvariantCulture), int.MaxValue, true));
            foreach (var blocking in blockings)
            foreach (int threads in new[] { 1, Environment.ProcessorCount, 1, Environment.ProcessorCount })
            {
                GpuNet.Kernels.Gemm.ForceBlocking = blocking;
                if (threads == 1) output.Write(blocking is null ? "derived " : $"nc {blocking.Value.NC} ");
                void Once() => GpuNet.Kernels.Gemm.RunHost(s.TransA, s.TransB, s.M, s.N, s.K, 1f, a.View, b.View, 0f, c.View, threads);
                Once();
                double bestCpu = double.MaxValue, bestWall = double.MaxValue;
                var walls = new List<double>();
                for (int r = 0; r < 10; r++)
                {
                    var proc = System.Diagnostics.Process.GetCurrentProcess();
                    double cpu0 = proc.TotalProcessorTime.TotalSeconds;
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    int reps = 0;
                    do { Once(); reps++; } while (sw.Elapsed.TotalSeconds < 0.05);
                    proc.Refresh();
                    bestCpu = Math.Min(bestCpu, (proc.TotalProcessorTime.TotalSeconds - cpu0) / reps);
                    bestWall = Math.Min(bestWall, sw.Elapsed.TotalSeconds / reps);
                    walls.Add(sw.Elapsed.TotalSeconds / reps);
                }
                walls.Sort();
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{s,-18} {threads} threads: cpu {bestCpu * 1e3,9:F4} ms/call, wall {bestWall * 1e3,9:F4} ms/call ({2.0 * s.M * s.N * s.K / bestWall / 1e9:F1} GFLOP/s; median {2.0 * s.M * s.N * s.K / walls[walls.Count / 2] / 1e9:F1})"));
            }
            GpuNet.Kernels.Gemm.ForceBlocking = null;
        }
    }

    /// <summary>A and B uniform in [-0.5, 0.5) from a fixed seed, and a zero C, for shape <paramref name="s"/>.</summary>
    private static (Tensor A, Tensor B, Tensor C) Operands(GpuNet.Device device, Shape s)
    {
        var rng = new Random(1);
        float[] Fill(long n) { var x = new float[n]; for (long i = 0; i < n; i++) x[i] = (float)rng.NextDouble() - 0.5f; return x; }
        return (Tensor.FromArray(device, Fill((long)s.M * s.K), s.M * s.K), Tensor.FromArray(device, Fill((long)s.K * s.N), s.K * s.N),
            Tensor.Zeros(device, s.M * s.N));
    }

    private sealed record Shape(int M, int K, int N, Transpose TransA, Transpose TransB)
    {
        public override string ToString() => $"{M}x{K}x{N}:{(TransA == Transpose.Yes ? 'T' : 'N')}{(TransB == Transpose.Yes ? 'T' : 'N')}";
    }

    // "1024" (square), "MxKxN:NT", or "mlpB" (the 784-256-128-10 MLP's packed-path products at batch B).
    private static IEnumerable<Shape> Shapes(string text)
    {
        foreach (string e in text.Split(','))
        {
            if (e.StartsWith("mlp", StringComparison.Ordinal))
            {
                int batch = int.Parse(e[3..], CultureInfo.InvariantCulture);
                yield return new Shape(batch, 784, 256, Transpose.No, Transpose.Yes);
                yield return new Shape(256, batch, 784, Transpose.Yes, Transpose.No);
                yield return new Shape(batch, 256, 128, Transpose.No, Transpose.Yes);
                yield return new Shape(128, batch, 256, Transpose.Yes, Transpose.No);
                yield return new Shape(batch, 128, 256, Transpose.No, Transpose.No);
                continue;
            }
            var parts = e.Split(':');
            var d = parts[0].Split('x').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            string t = parts.Length > 1 ? parts[1] : "NN";
            yield return d.Length == 1
                ? new Shape(d[0], d[0], d[0], t[0] == 'T' ? Transpose.Yes : Transpose.No, t[1] == 'T' ? Transpose.Yes : Transpose.No)
                : new Shape(d[0], d[1], d[2], t[0] == 'T' ? Transpose.Yes : Transpose.No, t[1] == 'T' ? Transpose.Yes : Transpose.No);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec value);

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds; public long Nanoseconds; }

    private static double ThreadCpuSeconds()
    {
        ClockGetTime(3, out var t); // CLOCK_THREAD_CPUTIME_ID
        return t.Seconds + t.Nanoseconds * 1e-9;
    }

}
