
namespace GpuNet.Experiments.Engine;

/// <summary>What <c>gpunet run</c> and <c>gpunet report</c> do with an experiment: one engine per command, whose store is
/// the <c>runs/</c> folder of the output folder.</summary>
public static class ExperimentRunner
{
    /// <summary>The run store's folder inside an output folder.</summary>
    public const string StoreFolder = "runs";

    /// <summary>Runs <paramref name="experiment"/> (or every experiment, for <c>all</c>).</summary>
    /// <returns>The exit code.</returns>
    public static int Run(IExperiment experiment, RunOptions options, RunConsole console)
    {
        if (experiment is AllExperiment all) return all.Run(options, console, reportOnly: false);
        var course = (ICourseExperiment)experiment;
        console.WriteLine($"{course.Name}: {course.Summary}");
        using var engine = new ExperimentEngine(options.Device, options.DataDir, StoreFor(options.OutDir), console);
        var errors = engine.Run([(course, options)], options.Shard);
        if (errors[0] is { } error)
        {
            console.WriteLine($"{course.Name} failed: {error}");
            return Cli.ExitFailure;
        }
        if (options.Shard is { } shard)
            console.WriteLine($"shard {shard} done; when every shard is, write the report with `gpunet report {course.Name} --out {options.OutDir} {options.Arguments()}`.");
        return Cli.ExitOk;
    }

    /// <summary>Writes <paramref name="experiment"/>'s report from its finished runs; lists the missing ones and returns 1
    /// when some are.</summary>
    public static int Report(IExperiment experiment, RunOptions options, RunConsole console)
    {
        if (experiment is AllExperiment all) return all.Run(options, console, reportOnly: true);
        var course = (ICourseExperiment)experiment;
        using var engine = new ExperimentEngine(options.Device, options.DataDir, StoreFor(options.OutDir), console, fits: false);
        var missing = engine.Missing(course, options);
        if (missing.Count > 0)
        {
            console.WriteLine($"{course.Name}: {missing.Count} runs are not finished in {engine.Store.Directory}:");
            foreach (string key in missing) console.WriteLine($"  {key}");
            return Cli.ExitFailure;
        }
        engine.Report(course, options);
        return Cli.ExitOk;
    }

    /// <summary>The run store of the output folder <paramref name="outDir"/>.</summary>
    public static RunStore StoreFor(string outDir) => new(Path.Combine(outDir, StoreFolder));
}
