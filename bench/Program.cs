using BenchmarkDotNet.Running;

namespace GpuNet.Bench;

internal static class Program
{
    private static void Main(string[] args)
    {
        // The memory-bound ops and the copy interleaved round by round, for a machine shared with other work.
        if (args is ["--interleaved", ..])
        {
            MemoryBoundInterleaved.Run(Console.Out, args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20);
            return;
        }
        if (args is ["--gemm-threads", var shapes])
        {
            GemmBlockingTune.Threads(Console.Out, shapes);
            return;
        }
        if (args is ["--gemm-kernel"])
        {
            GemmBlockingTune.Kernel(Console.Out);
            return;
        }
        if (args is ["--gemm-blocking", var sizes, ..])
        {
            GemmBlockingTune.Run(Console.Out, sizes, args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 5);
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
