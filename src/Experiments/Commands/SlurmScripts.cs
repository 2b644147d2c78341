using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using GpuNet.Data;

namespace GpuNet.Experiments;

/// <summary>What <c>gpunet slurm</c> asks of the cluster besides the experiment's options.</summary>
/// <param name="Shards">Array tasks: task i runs shard i of the sweep.</param>
/// <param name="Partition">The partition (null: the cluster's default).</param>
/// <param name="GpusPerTask">GPUs per array task (null: none asked for).</param>
/// <param name="Time">The time limit of each task, in Slurm's notation (null: the partition's default).</param>
public sealed record SlurmRequest(int Shards, string? Partition, int? GpusPerTask, string? Time);

/// <summary>
/// <c>gpunet slurm NAME</c>: a Slurm job array whose task i runs <c>gpunet run NAME --shard i/n</c> with the same options,
/// and a report job that runs <c>gpunet report NAME</c> once every task has succeeded (<c>--dependency=afterok</c>). The
/// scheduler does the scheduling; the engine's run store makes the tasks safe to run anywhere that sees the output folder,
/// and to requeue.
/// </summary>
public static class SlurmScripts
{
    /// <summary>The array script's file name, in <c>OUT/slurm/</c>.</summary>
    public const string ArrayFile = "array.sbatch";

    /// <summary>The report script's file name, in <c>OUT/slurm/</c>.</summary>
    public const string ReportFile = "report.sbatch";

    /// <summary>Writes both scripts into <c>OUT/slurm/</c> and returns their paths.</summary>
    public static (string Array, string Report) Write(string experiment, RunOptions options, SlurmRequest request, string gpunet)
    {
        string outDir = Path.GetFullPath(options.OutDir);
        string dir = Path.Combine(outDir, "slurm");
        Directory.CreateDirectory(Path.Combine(dir, "logs"));
        // Absolute paths: the jobs may start in another folder.
        var absolute = options with { OutDir = outDir, DataDir = Path.GetFullPath(options.DataDir ?? FashionMnist.DefaultDirectory), Shard = null };
        string common = $"--out {Quote(absolute.OutDir)} --data {Quote(absolute.DataDir!)} {absolute.Arguments()}";
        string array = Path.Combine(dir, ArrayFile), report = Path.Combine(dir, ReportFile);
        WriteScript(array, Header($"gpunet-{experiment}", Path.Combine(dir, "logs", "array-%A_%a.out"), request, withGpus: true)
            + string.Create(CultureInfo.InvariantCulture, $"#SBATCH --array=0-{request.Shards - 1}\n")
            + Body($"{gpunet} run {experiment} {common} --shard \"${{SLURM_ARRAY_TASK_ID}}/{request.Shards}\""));
        WriteScript(report, Header($"gpunet-{experiment}-report", Path.Combine(dir, "logs", "report-%j.out"), request, withGpus: false)
            + Body($"{gpunet} report {experiment} {common}"));
        return (array, report);
    }

    private static string Header(string name, string log, SlurmRequest request, bool withGpus)
    {
        var text = new StringBuilder("#!/bin/bash\n");
        text.Append($"#SBATCH --job-name={name}\n");
        text.Append($"#SBATCH --output={log}\n");
        text.Append($"#SBATCH --chdir={Environment.CurrentDirectory}\n");
        text.Append("#SBATCH --ntasks=1\n");
        if (request.Partition is { } p) text.Append($"#SBATCH --partition={p}\n");
        if (request.Time is { } t) text.Append($"#SBATCH --time={t}\n");
        if (withGpus && request.GpusPerTask is { } g) text.Append(string.Create(CultureInfo.InvariantCulture, $"#SBATCH --gpus-per-task={g}\n"));
        return text.ToString();
    }

    private static string Body(string command) =>
        "set -euo pipefail\n" +
        "# Plain progress lines in the log; the run store makes a requeued task pick up where it stopped.\n" +
        "export GPUNET_PLAIN=1\n" +
        $"exec {command}\n";

    private static void WriteScript(string path, string text)
    {
        string temp = path + ".tmp";
        File.WriteAllText(temp, text);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The command line that runs this same gpunet: the app host, or <c>dotnet</c> and the assembly.</summary>
    public static string CurrentCommand()
    {
        string process = Environment.ProcessPath ?? "dotnet";
        string assembly = Assembly.GetEntryAssembly()?.Location ?? typeof(SlurmScripts).Assembly.Location;
        bool viaDotnet = Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase);
        // Under a test host the entry assembly is not gpunet; name gpunet's own assembly then.
        if (viaDotnet || !Path.GetFileNameWithoutExtension(process).StartsWith("GpuNet.Experiments", StringComparison.OrdinalIgnoreCase))
        {
            string dll = typeof(SlurmScripts).Assembly.Location;
            return $"{Quote(viaDotnet ? process : "dotnet")} {Quote(dll)}";
        }
        return Quote(process);
    }

    /// <summary>Submits the array, then the report job depending on it; returns both job ids.</summary>
    /// <exception cref="InvalidOperationException">sbatch failed or is not on PATH.</exception>
    public static (string ArrayJob, string ReportJob) Submit(string array, string report)
    {
        string arrayJob = Sbatch(array);
        string reportJob = Sbatch($"--dependency=afterok:{arrayJob}", report);
        return (arrayJob, reportJob);
    }

    private static string Sbatch(params string[] args)
    {
        var info = new ProcessStartInfo("sbatch") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("--parsable");
        foreach (string a in args) info.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("sbatch did not start.");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException("sbatch is not on PATH: is this a Slurm login node? The scripts are written; submit them by hand.");
        }
        using (process)
        {
            string output = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException($"sbatch failed ({process.ExitCode}): {error.Trim()}");
            // --parsable prints "jobid" or "jobid;cluster".
            return output.Trim().Split(';')[0];
        }
    }

    private static string Quote(string s) =>
        s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+:=,".Contains(c)) ? s : "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
