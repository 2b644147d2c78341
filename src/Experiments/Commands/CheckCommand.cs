using System.CommandLine;
using System.Diagnostics;
using System.Globalization;

namespace GpuNet.Experiments.Commands;

/// <summary>
/// <c>gpunet check [--device D] [--out DIR] [--quick]</c>: compares every op on a device with the host engine, then trains
/// the MLP for ten steps on both, then times GEMM, MLP epochs, the k-NN search and kernel launches on the device. Writes
/// <c>check.md</c> and <c>check.json</c> (after the comparisons and again after each group of timings, so a run stopped
/// by a timeout leaves what it measured) and exits with 1 when any comparison fails.
/// </summary>
public static class CheckCommand
{
    /// <summary>Builds the <c>check</c> command.</summary>
    public static Command Build(TextWriter stdout)
    {
        var device = new Option<string>("--device") { Description = "The device to check: auto | cuda[:i] | opencl[:i] | cpu | ilgpu-cpu (default: $GPUNET_DEVICE, else auto)." };
        var output = new Option<string>("--out") { Description = "Folder for check.md and check.json.", DefaultValueFactory = _ => Path.Combine("runs", "check") };
        var quick = new Option<bool>("--quick") { Description = "Tiny shapes and shrunk timings: a smoke test (what CI runs on ilgpu-cpu)." };
        // Hidden, for the test that shows a wrong result fails the check: `--perturb OP` changes the device's results of
        // the op named OP (as check.json names it, for example bias.add) after it ran, so that comparison must fail.
        var perturb = new Option<string?>("--perturb") { Hidden = true };
        var check = new Command("check", "Compare every op on a device with the host engine, train the MLP ten steps on both, and time the device; writes check.md and check.json, exit code 1 on any mismatch.")
        {
            device, output, quick, perturb,
        };
        check.SetAction(parse => Run(parse.GetValue(device), parse.GetValue(output)!, parse.GetValue(quick), parse.GetValue(perturb), stdout));
        return check;
    }

    /// <summary>Runs the check and writes its report into <paramref name="outDir"/>.</summary>
    /// <returns><see cref="Cli.ExitOk"/> when every comparison passes, else <see cref="Cli.ExitFailure"/>.</returns>
    public static int Run(string? deviceSpec, string outDir, bool quick, string? perturb, TextWriter stdout)
    {
        using var device = Device.Open(deviceSpec);
        // The GEMM tile variants whose groups the device cannot hold (the 128- and 256-thread tiles on ilgpu-cpu) get no row.
        var cases = CheckCases.Build(quick, device.UsesHostEngine ? int.MaxValue : device.MaxGroupSize);
        if (perturb is not null && !cases.Any(c => c.Op == perturb))
            throw new UsageException($"--perturb: no op '{perturb}'; the ops are: {string.Join(", ", cases.Select(c => c.Op).Distinct())}.");
        using var host = Device.Open("cpu");
        var folder = new RunFolder(outDir);
        var report = new CheckReport(device, host, quick, perturb);
        stdout.WriteLine($"gpunet check on {device.Spec} ({device.Name}) against the host engine{(quick ? ", --quick" : "")}: {cases.Count} comparisons, then timings");
        if (device.Kind == DeviceKind.IlgpuCpu && !quick)
            stdout.WriteLine("note: ilgpu-cpu simulates every GPU thread; the large shapes take hours there. Use --quick on it.");
        if (report.Trivial) stdout.WriteLine("note: the device under test is the host engine itself; the comparisons only show it is deterministic.");

        var total = Stopwatch.StartNew();
        foreach (var c in cases)
        {
            var row = Compare(c, device, host, perturb == c.Op);
            report.Rows.Add(row);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(row.Pass ? "ok  " : "FAIL")} {c.Op,-34} {c.Shape,-44} max abs {row.MaxAbs,9:G3}  ({row.Tolerance}){(row.Pass ? "" : $"  {row.Mismatches} of {row.Elements} differ; first {row.FirstMismatch}")}"));
        }
        report.CompareSeconds = total.Elapsed.TotalSeconds;
        report.Write(folder);

        var timing = Stopwatch.StartNew();
        foreach (var group in CheckTimings.Groups(quick))
        {
            try
            {
                group.Run(device, report.Timings, stdout);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                string note = $"{group.Name}: stopped by an error: {e.Message}";
                report.TimingNotes.Add(note);
                stdout.WriteLine(note);
            }
            report.TimingSeconds = timing.Elapsed.TotalSeconds;
            report.Write(folder);
        }
        if (device.UsesHostEngine) report.TimingNotes.Add("launch overhead: skipped, the host engine launches no kernels.");
        report.Finished = true;
        report.Write(folder);

        int failed = report.Rows.Count(r => !r.Pass);
        stdout.WriteLine(failed == 0
            ? $"PASS: all {report.Rows.Count} comparisons within tolerance ({RunDuration(report)}); {folder.File("check.md")}"
            : $"FAIL: {failed} of {report.Rows.Count} comparisons outside tolerance: {string.Join(", ", report.Rows.Where(r => !r.Pass).Select(r => r.Op).Distinct())}; {folder.File("check.md")}");
        return failed == 0 ? Cli.ExitOk : Cli.ExitFailure;
    }

    private static string RunDuration(CheckReport report) =>
        $"comparisons {Reporting.RunFiles.Duration(report.CompareSeconds)}, timings {Reporting.RunFiles.Duration(report.TimingSeconds)}";

    /// <summary>Runs one case on both devices and compares; an exception on either side is a failed comparison.</summary>
    private static CheckRow Compare(CheckCase c, Device device, Device host, bool perturb)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var actual = c.Run(device);
            if (perturb) Comparison.Perturb(actual);
            var reference = c.Run(host);
            return Comparison.Compare(c, actual, reference, clock.Elapsed.TotalSeconds);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new CheckRow(c.Op, c.Shape, 0, double.NaN, double.NaN, c.Tolerance, 1,
                $"error: {e.GetType().Name}: {e.Message}", clock.Elapsed.TotalSeconds);
        }
    }
}
