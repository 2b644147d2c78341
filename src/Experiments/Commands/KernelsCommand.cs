using System.CommandLine;
using System.Text.RegularExpressions;
using GpuNet.Kernels;
using ILGPU.Runtime.Cuda;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet kernels [--ptx DIR]</c>: lists every registered kernel and, with <c>--ptx</c>, writes the code ILGPU generates
/// for it (PTX for each target architecture and OpenCL C) for review; <c>--loops</c> prints, for every kernel with a loop that
/// multiplies (the GEMMs, the k-NN distances, ...), what that loop executes per iteration in the sm_90 PTX (<see cref="PtxLoops"/>).
/// Needs no GPU: ILGPU's backends compile on any machine.
/// </summary>
internal static partial class KernelsCommand
{
    public static Command Build(TextWriter stdout)
    {
        var dir = new Option<string?>("--ptx")
        {
            Description = "Write <kernel>.sm_75.ptx, <kernel>.sm_90.ptx and <kernel>.cl for every kernel into this folder.",
        };
        var loops = new Option<bool>("--loops")
        {
            Description = "Also print each kernel's inner multiply loop from its sm_90 PTX: multiply-adds, shared and global loads, barriers per iteration.",
        };
        var command = new Command("kernels", "List the ILGPU kernels and the approximate GPU instructions each uses; --ptx writes their PTX and OpenCL C.")
        {
            dir, loops,
        };
        command.SetAction(parse => Run(parse.GetValue(dir), parse.GetValue(loops), stdout));
        return command;
    }

    private static int Run(string? dir, bool loops, TextWriter stdout)
    {
        var figures = new List<(string Kernel, PtxLoopFigures Loop)>();
        if (dir is not null) Directory.CreateDirectory(dir);
        using var context = KernelCatalog.CreateCompileContext();
        int width = KernelCatalog.All.Max(k => k.Name.Length);
        stdout.WriteLine($"{"kernel".PadRight(width)}  approximate instructions (sm_75)");
        foreach (var kernel in KernelCatalog.All)
        {
            string? turing = null;
            foreach (var arch in KernelCatalog.PtxTargets)
            {
                string ptx = KernelCatalog.CompilePtx(context, kernel, arch);
                turing ??= ptx;
                if (loops && arch == CudaArchitecture.SM_90 && PtxLoops.MultiplyLoop(ptx) is { } loop) figures.Add((kernel.Name, loop));
                if (dir is not null)
                    File.WriteAllText(Path.Combine(dir, $"{kernel.FileName}.{KernelCatalog.ArchitectureName(arch)}.ptx"), ptx);
            }
            if (dir is not null)
                File.WriteAllText(Path.Combine(dir, $"{kernel.FileName}.cl"), KernelCatalog.CompileOpenCL(context, kernel));
            var approx = ApproxInstruction().Matches(turing!).Select(m => m.Value).Distinct().Order(StringComparer.Ordinal);
            string list = string.Join(", ", approx);
            stdout.WriteLine($"{kernel.Name.PadRight(width)}  {(list.Length == 0 ? "-" : list)}");
        }
        stdout.WriteLine(dir is null
            ? $"{KernelCatalog.All.Count} kernels"
            : $"{KernelCatalog.All.Count} kernels written to {dir} ({KernelCatalog.PtxTargets.Count} PTX targets and OpenCL C each)");
        if (loops) WriteLoops(figures, stdout);
        return Cli.ExitOk;
    }

    /// <summary>The inner multiply loops as a Markdown table (what docs/gpu.md quotes).</summary>
    internal static void WriteLoops(IEnumerable<(string Kernel, PtxLoopFigures Loop)> figures, TextWriter stdout)
    {
        stdout.WriteLine();
        stdout.WriteLine("Inner multiply loop per iteration, sm_90 PTX (mul.f32+add.f32 pairs counted as multiply-adds; ptxas fuses them):");
        stdout.WriteLine();
        stdout.WriteLine("| kernel | multiply-adds | ld.shared | ld.global | st.shared | barriers | MAD / ld.shared | MAD / ld.global |");
        stdout.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (kernel, l) in figures)
            stdout.WriteLine($"| `{kernel}` | {l.MultiplyAdds} | {l.LdShared} | {l.LdGlobal} | {l.StShared} | {l.Barriers} | {Ratio(l.PerSharedLoad)} | {Ratio(l.PerGlobalLoad)} |");
    }

    private static string Ratio(double x) => double.IsPositiveInfinity(x) ? "-" : x.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);

    // PTX's fast-math forms: rcp/sqrt/ex2/lg2/sin/cos/tanh with .approx lose accuracy against the IEEE versions.
    [GeneratedRegex(@"\b[a-z0-9]+\.approx\b")]
    private static partial Regex ApproxInstruction();
}
