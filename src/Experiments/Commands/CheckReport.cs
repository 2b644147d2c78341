using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Reporting;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace GpuNet.Experiments.Commands;

/// <summary>What <c>gpunet check</c> found: the comparisons and timings so far, and where they were made.</summary>
internal sealed class CheckReport
{
    /// <summary>Describes the device under test and the software around it.</summary>
    public CheckReport(Device device, Device host, bool quick, string? perturbed)
    {
        DeviceSpec = device.Spec;
        DeviceKind = device.Kind.ToString();
        DeviceName = NameOf(device);
        Driver = DriverOf(device);
        Reference = NameOf(host);
        Trivial = device.UsesHostEngine;
        Quick = quick;
        Perturbed = perturbed;
    }

    public string DeviceSpec { get; }
    public string DeviceKind { get; }
    public string DeviceName { get; }
    public string Driver { get; }
    public string Reference { get; }

    /// <summary>The device under test is the host engine itself: the comparisons only show that it is deterministic.</summary>
    public bool Trivial { get; }

    public bool Quick { get; }

    /// <summary>The op whose device results were deliberately changed (the hidden <c>--perturb</c>), or null.</summary>
    public string? Perturbed { get; }

    public DateTimeOffset Started { get; } = DateTimeOffset.Now;
    public List<CheckRow> Rows { get; } = [];
    public List<TimingRow> Timings { get; } = [];
    public double CompareSeconds { get; set; }
    public double TimingSeconds { get; set; }

    /// <summary>Timing groups skipped or cut short, with the reason.</summary>
    public List<string> TimingNotes { get; } = [];

    /// <summary>False while the check is still running (a report written in between says so).</summary>
    public bool Finished { get; set; }

    public bool Pass => Rows.Count > 0 && Rows.All(r => r.Pass);

    public static string IlgpuVersion => Version(typeof(ILGPU.Context).Assembly);
    public static string GpuNetVersion => Version(typeof(CheckReport).Assembly);

    private static string Version(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString() ?? "?";

    /// <summary>The name <c>gpunet devices</c> shows (the host engine's cores and instruction set, the GPU's model).</summary>
    private static string NameOf(Device device) =>
        Device.List().FirstOrDefault(d => d.Spec == device.Spec)?.Name ?? device.Name;

    private static string DriverOf(Device device) => device.Accelerator switch
    {
        CudaAccelerator cuda => $"CUDA driver {cuda.DriverVersion}, compute capability {cuda.Architecture}",
        CLAccelerator cl => $"OpenCL {cl.CLStdVersion}, platform {cl.PlatformVersion}",
        _ => "none (a CPU device)",
    };

    /// <summary>Writes check.md and check.json into <paramref name="folder"/>.</summary>
    public void Write(RunFolder folder)
    {
        folder.WriteText("check.json", ToJson().ToJsonString(JsonOptions) + "\n");
        folder.WriteText("check.md", ToMarkdown());
    }

    // Relaxed escaping keeps '+' and '·' readable; the file is never embedded in HTML.
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    public JsonObject ToJson() => new()
    {
        ["device"] = new JsonObject
        {
            ["spec"] = DeviceSpec,
            ["kind"] = DeviceKind,
            ["name"] = DeviceName,
            ["driver"] = Driver,
        },
        ["reference"] = Reference,
        ["trivial"] = Trivial,
        ["quick"] = Quick,
        ["perturbed"] = Perturbed,
        ["ilgpu"] = IlgpuVersion,
        ["gpunet"] = GpuNetVersion,
        ["runtime"] = RuntimeInformation.FrameworkDescription,
        ["os"] = RuntimeInformation.OSDescription,
        ["started"] = Started.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture),
        ["finished"] = Finished,
        ["pass"] = Pass,
        ["compare_seconds"] = Math.Round(CompareSeconds, 3),
        ["timing_seconds"] = Math.Round(TimingSeconds, 3),
        ["comparisons"] = new JsonArray([.. Rows.Select(r => (JsonNode)new JsonObject
        {
            ["op"] = r.Op,
            ["shape"] = r.Shape,
            ["elements"] = r.Elements,
            ["max_abs"] = Number(r.MaxAbs),
            ["max_rel"] = Number(r.MaxRel),
            ["tolerance"] = r.Tolerance.ToString(),
            ["atol"] = r.Tolerance.Atol,
            ["rtol"] = r.Tolerance.Rtol,
            ["bit_identical"] = r.Tolerance.Bits,
            ["mismatches"] = r.Mismatches,
            ["first_mismatch"] = r.FirstMismatch,
            ["pass"] = r.Pass,
            ["seconds"] = Math.Round(r.Seconds, 3),
        })]),
        ["timings"] = new JsonArray([.. Timings.Select(t => (JsonNode)new JsonObject
        {
            ["name"] = t.Name,
            ["shape"] = t.Shape,
            ["value"] = Number(t.Value),
            ["unit"] = t.Unit,
            ["note"] = t.Note,
        })]),
        ["timing_notes"] = new JsonArray([.. TimingNotes.Select(n => (JsonNode)JsonValue.Create(n))]),
    };

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        md.AppendLine($"# gpunet check on `{DeviceSpec}`");
        md.AppendLine();
        int failed = Rows.Count(r => !r.Pass);
        string verdict = !Finished && Rows.Count == 0 ? "UNFINISHED (no comparison had finished when this was written)"
            : failed == 0 ? $"PASS: all {Rows.Count} comparisons within tolerance"
            : $"FAIL: {failed} of {Rows.Count} comparisons outside tolerance ({string.Join(", ", Rows.Where(r => !r.Pass).Select(r => r.Op).Distinct())})";
        if (!Finished && Rows.Count > 0) verdict += "; the timings had not finished when this was written (still running, or stopped by a time limit)";
        md.AppendLine($"**{verdict}**");
        md.AppendLine();
        if (Perturbed is not null)
            md.AppendLine($"> The results of `{Perturbed}` were deliberately changed on the device side (`--perturb`), to show that the check catches a wrong result.\n");
        if (Trivial)
            md.AppendLine("> The device under test is the host engine itself, so every comparison is of the host engine with itself: it shows " +
                          "that the host engine is deterministic, nothing more. Run it on `ilgpu-cpu`, `cuda` or `opencl` to check kernels.\n");
        md.AppendLine(RunFiles.Table(["", ""],
        [
            ["device under test", $"`{DeviceSpec}` ({DeviceKind}): {DeviceName}"],
            ["driver", Driver],
            ["reference", $"`cpu`: {Reference}"],
            ["ILGPU", IlgpuVersion],
            ["GpuNet", GpuNetVersion],
            ["runtime", $"{RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription}"],
            ["mode", Quick ? "`--quick`: tiny shapes, shrunk timings (a smoke test, not a measurement)" : "full: the MLP's training shapes and large shapes"],
            ["started", Started.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture)],
            ["took", $"comparisons {RunFiles.Duration(CompareSeconds)}, timings {RunFiles.Duration(TimingSeconds)}"],
        ]));
        md.AppendLine("## Comparisons with the host engine");
        md.AppendLine();
        md.AppendLine("Each op runs on the device under test and on the host engine (`cpu`) from the same inputs, drawn from a fixed " +
                      "seed. An output element passes when `|a - r| <= atol + rtol·|r|` (a the device's value, r the host engine's; " +
                      "NaN only matches NaN), or, where the table says bit-identical, when its float32 bits are equal. `max abs` is the " +
                      "largest `|a - r|`, `max rel` the largest `|a - r| / |r|` over elements with `|r| > atol`.");
        md.AppendLine();
        md.AppendLine(RunFiles.Table(["op", "shape", "elements", "max abs", "max rel", "tolerance", "result"],
            Rows.Select(r => (IReadOnlyList<string>)
            [
                $"`{r.Op}`", r.Shape, r.Elements.ToString(CultureInfo.InvariantCulture), G(r.MaxAbs), G(r.MaxRel), r.Tolerance.ToString(),
                r.Pass ? "pass" : $"**FAIL** ({r.Mismatches} of {r.Elements})",
            ]), "llrrrll"));
        var failures = Rows.Where(r => !r.Pass).ToList();
        if (failures.Count > 0)
        {
            md.AppendLine("### Mismatches");
            md.AppendLine();
            foreach (var r in failures) md.AppendLine($"- `{r.Op}` {r.Shape}: {r.Mismatches} elements outside {r.Tolerance}; first {r.FirstMismatch}");
            md.AppendLine();
        }
        md.AppendLine("### Why these tolerances");
        md.AppendLine();
        foreach (var group in Rows.GroupBy(r => r.Tolerance.Why))
            md.AppendLine($"- {string.Join(", ", group.Select(r => $"`{r.Op}`").Distinct())}: {group.Key}.");
        md.AppendLine();
        md.AppendLine("## Timings on the device under test");
        md.AppendLine();
        if (Quick) md.AppendLine("With `--quick` the timings run on tiny shapes to exercise the code; they are not measurements.\n");
        if (Timings.Count > 0)
            md.AppendLine(RunFiles.Table(["what", "shape", "value", "unit", "how"],
                Timings.Select(t => (IReadOnlyList<string>)[t.Name, t.Shape, G(t.Value), t.Unit, t.Note]), "llrll"));
        else md.AppendLine("(none)\n");
        foreach (string note in TimingNotes) md.AppendLine($"- {note}");
        return md.ToString();
    }

    private static string G(double v) => double.IsNaN(v) ? "NaN" : v == 0 ? "0" : v.ToString("G3", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal);
}
