using System.CommandLine;
using System.Text.RegularExpressions;
using GpuNet.Kernels;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet kernels [--ptx DIR]</c>: lists every registered kernel and, with <c>--ptx</c>, writes the code ILGPU generates
/// for it (PTX for each target architecture and OpenCL C) for review. Needs no GPU: ILGPU's backends compile on any machine.
/// </summary>
internal static partial class KernelsCommand
{
    public static Command Build(TextWriter stdout)
    {
        var dir = new Option<string?>("--ptx")
        {
            Description = "Write <kernel>.sm_75.ptx, <kernel>.sm_90.ptx and <kernel>.cl for every kernel into this folder.",
        };
        var command = new Command("kernels", "List the ILGPU kernels and the approximate GPU instructions each uses; --ptx writes their PTX and OpenCL C.")
        {
            dir,
        };
        command.SetAction(parse => Run(parse.GetValue(dir), stdout));
        return command;
    }

    private static int Run(string? dir, TextWriter stdout)
    {
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
        return Cli.ExitOk;
    }

    // PTX's fast-math forms: rcp/sqrt/ex2/lg2/sin/cos/tanh with .approx lose accuracy against the IEEE versions.
    [GeneratedRegex(@"\b[a-z0-9]+\.approx\b")]
    private static partial Regex ApproxInstruction();
}
