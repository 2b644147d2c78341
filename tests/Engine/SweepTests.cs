using System.Diagnostics;
using GpuNet.Tests.Experiments;

namespace GpuNet.Tests.Engine;

/// <summary>
/// The engine's promises, shown on <c>augment --quick --seeds 2</c> (four runs) over the small generated data set: a sweep
/// killed part-way and run again, or cut into shards and reported, or sent to Slurm, gives the same aggregate bytes as
/// one uninterrupted local sweep; and a finished run is never fitted again.
/// </summary>
[Collection("devices")]
public sealed class SweepTests(TinyFashion tiny) : IClassFixture<TinyFashion>
{
    private string[] Args(string command, string outDir, params string[] more) =>
        [command, "augment", "--quick", "--seeds", "2", "--device", "cpu", "--data", tiny.DataDir, "--out", outDir, .. more];

    // One uninterrupted local sweep, the reference for the others.
    private string Reference()
    {
        string dir = Path.Combine(tiny.Root, "sweep-reference");
        if (!File.Exists(Path.Combine(dir, "summary.json")))
        {
            var (code, _, err) = TinyFashion.Cli(Args("run", dir));
            Assert.True(code == 0, err);
        }
        return dir;
    }

    private static void AssertSameAggregate(string expected, string actual)
    {
        foreach (string file in new[] { "summary.json", "metrics.csv" })
            Assert.True(File.ReadAllBytes(Path.Combine(expected, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, file))),
                $"{file} differs between {expected} and {actual}");
    }

    [Fact]
    public void A_second_run_fits_nothing_and_writes_the_same_aggregate()
    {
        string reference = Reference();
        string dir = Path.Combine(tiny.Root, "sweep-again");
        CopyDirectory(reference, dir);
        var (code, output, err) = TinyFashion.Cli(Args("run", dir));
        Assert.True(code == 0, err);
        Assert.Contains("4 already done, 0 to fit", output);
        Assert.DoesNotContain("epoch 1/", output);
        AssertSameAggregate(reference, dir);
    }

    [Fact]
    public void A_changed_configuration_is_fitted_again()
    {
        string reference = Reference();
        string dir = Path.Combine(tiny.Root, "sweep-changed");
        CopyDirectory(reference, dir);
        var (code, output, err) = TinyFashion.Cli(Args("run", dir, "--epochs", "2"));
        Assert.True(code == 0, err);
        Assert.Contains("0 already done, 4 to fit", output);
    }

    [Fact]
    public void Two_shards_and_a_report_equal_one_local_sweep()
    {
        string reference = Reference();
        string dir = Path.Combine(tiny.Root, "sweep-shards");
        var (code0, out0, err0) = TinyFashion.Cli(Args("run", dir, "--shard", "0/2"));
        Assert.True(code0 == 0, err0);
        Assert.Contains("2 in shard 0/2", out0);
        Assert.False(File.Exists(Path.Combine(dir, "summary.json")), "a shard writes no aggregate");

        // Reporting early lists what is missing and fails.
        var (early, earlyOut, _) = TinyFashion.Cli(Args("report", dir));
        Assert.Equal(1, early);
        Assert.Contains("2 runs are not finished", earlyOut);
        Assert.Contains("overfit-s43", earlyOut);

        var (code1, _, err1) = TinyFashion.Cli(Args("run", dir, "--shard", "1/2"));
        Assert.True(code1 == 0, err1);
        var (code, _, err) = TinyFashion.Cli(Args("report", dir));
        Assert.True(code == 0, err);
        AssertSameAggregate(reference, dir);
    }

    [Fact]
    public void A_sweep_killed_part_way_and_run_again_gives_the_same_bytes()
    {
        string reference = Reference();
        string dir = Path.Combine(tiny.Root, "sweep-killed");
        string[] args = Args("run", dir);
        // The process kills itself (SIGKILL) as the third run begins: two runs are complete, the third is half-made.
        using (var process = StartGpunet(args, ("GPUNET_CRASH_AFTER_RUNS", "2")))
        {
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), "the sweep did not stop");
            Assert.Equal(137, process.ExitCode);
        }
        Assert.False(File.Exists(Path.Combine(dir, "summary.json")), "the killed sweep wrote an aggregate");
        var folders = Directory.GetDirectories(Path.Combine(dir, "runs")).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(["overfit-s42", "overfit-s43"], folders.Where(f => !f!.Contains(".part-", StringComparison.Ordinal)));
        Assert.Contains(folders, f => f!.StartsWith("augmented-s42.part-", StringComparison.Ordinal));

        var (code, output, err) = TinyFashion.Cli(args);
        Assert.True(code == 0, err);
        Assert.Contains("2 already done, 2 to fit", output);
        AssertSameAggregate(reference, dir);
    }

    [SlurmFact]
    public void A_slurm_array_and_its_report_job_equal_one_local_sweep()
    {
        string reference = Reference();
        string dir = Path.Combine(tiny.Root, "sweep-slurm");
        var (code, output, err) = TinyFashion.Cli(Args("slurm", dir, "--shards", "2", "--submit"));
        Assert.True(code == 0, err + output);
        Assert.Contains("#SBATCH --array=0-1", output);
        var ids = System.Text.RegularExpressions.Regex.Match(output, @"submitted array job (\d+) \(2 tasks\) and report job (\d+)");
        Assert.True(ids.Success, output);
        // The report job waits for every task of the array to succeed.
        string job = Run("scontrol", "show", "job", ids.Groups[2].Value);
        Assert.Contains($"afterok:{ids.Groups[1].Value}", job);
        var clock = Stopwatch.StartNew();
        string summary = Path.Combine(dir, "summary.json");
        while (!File.Exists(summary) && clock.Elapsed < TimeSpan.FromMinutes(5)) Thread.Sleep(500);
        string logs = string.Join("\n", Directory.GetFiles(Path.Combine(dir, "slurm", "logs")).Select(f => $"{f}:\n{File.ReadAllText(f)}"));
        Assert.True(File.Exists(summary), "the report job wrote no summary.json within 5 minutes; logs:\n" + logs);
        // The report job writes summary.json before report.md; wait for the job to finish writing.
        while (!File.Exists(Path.Combine(dir, "report.md")) && clock.Elapsed < TimeSpan.FromMinutes(6)) Thread.Sleep(200);
        AssertSameAggregate(reference, dir);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(dir, "slurm", "logs"), "array-*.out").Length);
    }

    private static string Run(string tool, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return output;
    }

    private static Process StartGpunet(string[] args, params (string Name, string Value)[] environment)
    {
        string dll = typeof(GpuNet.Experiments.Cli).Assembly.Location;
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (string a in args) info.ArgumentList.Add(a);
        info.Environment["GPUNET_PLAIN"] = "1";
        foreach (var (name, value) in environment) info.Environment[name] = value;
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (string d in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(d.Replace(from, to, StringComparison.Ordinal));
        Directory.CreateDirectory(to);
        foreach (string f in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(f, f.Replace(from, to, StringComparison.Ordinal), overwrite: true);
    }
}

/// <summary>
/// A fact that needs a running Slurm cluster (<c>SLURM_CONF</c> set, <c>sinfo</c> answering with a usable node), as
/// <c>.ci/run</c> starts with <c>scripts/slurm-local.sh</c>; elsewhere it is skipped and says why.
/// </summary>
public sealed class SlurmFactAttribute : FactAttribute
{
    private static readonly string? Reason = Check();

    public SlurmFactAttribute()
    {
        if (Reason is not null) Skip = Reason;
    }

    private static string? Check()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("SLURM_CONF")))
            return "no Slurm cluster (SLURM_CONF is not set; scripts/slurm-local.sh starts a one-node one): Slurm test skipped";
        try
        {
            var info = new ProcessStartInfo("sinfo", "-h -N -o %T") { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(info)!;
            string state = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit(10_000);
            return p.ExitCode == 0 && (state.StartsWith("idle", StringComparison.Ordinal) || state.StartsWith("mixed", StringComparison.Ordinal))
                ? null : $"the Slurm cluster of SLURM_CONF has no usable node (sinfo: '{state}'): Slurm test skipped";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "sinfo is not on PATH: Slurm test skipped";
        }
    }
}
