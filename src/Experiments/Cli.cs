using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using GpuNet.Experiments.Engine;

namespace GpuNet.Experiments;

/// <summary>The <c>gpunet</c> command line: parsing, dispatch, and the mapping from failures to exit codes.</summary>
public static class Cli
{
    /// <summary>Success.</summary>
    public const int ExitOk = 0;
    /// <summary>The command failed while running.</summary>
    public const int ExitFailure = 1;
    /// <summary>The command line was wrong: unknown command, experiment or option, bad value, or an unavailable device.</summary>
    public const int ExitUsage = 2;

    /// <summary>Runs the command line <paramref name="args"/>, writing to the given writers (the console by default).</summary>
    /// <returns>The process exit code.</returns>
    public static int Run(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        var root = BuildRoot(stdout, stderr);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) stderr.WriteLine($"error: {error.Message}");
            stderr.WriteLine();
            // Show the help of the deepest command that parsed, so the usage fits what was typed.
            parse.CommandResult.Command.Parse("--help").Invoke(new InvocationConfiguration { Output = stderr, Error = stderr });
            return ExitUsage;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (DeviceNotAvailableException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitUsage;
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            return ExitUsage;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("GPUNET_DEBUG") is null)
        {
            stderr.WriteLine($"error: {e.Message}");
            stderr.WriteLine("(set GPUNET_DEBUG=1 for the stack trace)");
            return ExitFailure;
        }
    }

    private static Command BuildRoot(TextWriter stdout, TextWriter stderr)
    {
        // A plain command named "gpunet" rather than a RootCommand, whose name would be the assembly's (GpuNet.Experiments).
        var root = new Command("gpunet", "GpuNet: the regularisation experiments of an introductory deep-learning course, on Fashion-MNIST, on a GPU or a fast CPU engine.");
        root.Options.Add(new HelpOption { Recursive = true });
        root.Options.Add(new VersionOption());

        var devices = new Command("devices", "List the compute devices this machine offers.");
        devices.SetAction(_ => ListDevices(stdout));
        root.Subcommands.Add(devices);

        var experiment = new Argument<string>("experiment")
        {
            Description = "The experiment to run: " + string.Join(", ", ExperimentRegistry.Names) + " (every experiment, then an index report).",
        };
        experiment.AcceptOnlyFromAmong(ExperimentRegistry.Names.ToArray());
        var device = new Option<string>("--device")
        {
            Description = "auto | cuda[:i] | opencl[:i] | cpu | ilgpu-cpu | ilgpu-cpu:nvidia (default: $GPUNET_DEVICE, else auto).",
        };
        var seed = new Option<int>("--seed") { Description = "The first seed: a sweep of N seeds uses seed, seed+1, ..., seed+N-1.", DefaultValueFactory = _ => 42 };
        var seeds = new Option<int?>("--seeds") { Description = "Seeds per configuration (default: the experiment's own, 3 where it compares anything)." };
        var epochs = new Option<int?>("--epochs") { Description = "Override the experiment's number of epochs." };
        var quick = new Option<bool>("--quick") { Description = "Run the same code on a small subset (smoke test)." };
        var output = new Option<string?>("--out") { Description = "Output folder (default: runs/<experiment>); the runs' own folders go in its runs/." };
        var shard = new Option<string?>("--shard") { Description = "i/n: fit only the runs whose position in the sweep is i modulo n, and write no report (then `gpunet report`)." };
        var dataDir = DataOption();
        RunOptions Options(ParseResult parse, string name)
        {
            int? epochCount = parse.GetValue(epochs);
            if (epochCount is <= 0) throw new UsageException($"--epochs must be positive; got {epochCount}.");
            int? seedCount = parse.GetValue(seeds);
            if (seedCount is <= 0 or > 1000) throw new UsageException($"--seeds must be in 1..1000; got {seedCount}.");
            return new RunOptions(
                Device: parse.GetValue(device),
                Seed: parse.GetValue(seed),
                Epochs: epochCount,
                Quick: parse.GetValue(quick),
                OutDir: parse.GetValue(output) ?? Path.Combine("runs", name),
                DataDir: parse.GetValue(dataDir))
            {
                Seeds = seedCount,
                Shard = parse.GetValue(shard) is { } text ? Shard.Parse(text) : null,
            };
        }
        var run = new Command("run", "Run one experiment (every configuration x seed not already done) and write its report folder.")
        {
            experiment, device, seed, seeds, epochs, quick, output, shard, dataDir,
        };
        run.SetAction(parse =>
        {
            string name = parse.GetValue(experiment)!;
            var options = Options(parse, name);
            var chosen = ExperimentRegistry.Get(name);
            return RunConsole.Run(stdout, console => ExperimentRunner.Run(chosen, options, console));
        });
        root.Subcommands.Add(run);

        var reportExperiment = new Argument<string>("experiment") { Description = "The experiment to report: " + string.Join(", ", ExperimentRegistry.Names) + "." };
        reportExperiment.AcceptOnlyFromAmong(ExperimentRegistry.Names.ToArray());
        var report = new Command("report", "Write an experiment's report from its finished runs (after `run --shard` or a Slurm array); lists the missing runs and exits 1 when some are.")
        {
            reportExperiment, device, seed, seeds, epochs, quick, output, dataDir,
        };
        report.SetAction(parse =>
        {
            string name = parse.GetValue(reportExperiment)!;
            var options = Options(parse, name);
            if (options.Shard is not null) throw new UsageException("report takes no --shard.");
            return RunConsole.Run(stdout, console => ExperimentRunner.Report(ExperimentRegistry.Get(name), options, console));
        });
        root.Subcommands.Add(report);

        var tableOut = new Option<string>("--out") { Description = "The `gpunet run all` folder.", DefaultValueFactory = _ => Path.Combine("runs", "all") };
        var compare = new Option<string?>("--compare")
        {
            Description = "Another `gpunet run all` folder: instead of the table, print every verdict and choice of both folders side by side " +
                "and how many differ (exit code 1 when any does).",
        };
        var table = new Command("table", $"Write the README's results table ({Reporting.ResultsTable.FileName} in the `gpunet run all` folder) from the experiments' summary.json files, and print it; with --compare, compare two folders' verdicts.")
        {
            tableOut,
            compare,
        };
        table.SetAction(parse =>
        {
            string dir = parse.GetValue(tableOut)!;
            if (!File.Exists(Path.Combine(dir, "summary.json"))) throw new UsageException($"{dir} holds no summary.json of `gpunet run all`.");
            if (parse.GetValue(compare) is { } other)
            {
                if (!File.Exists(Path.Combine(other, "summary.json"))) throw new UsageException($"{other} holds no summary.json of `gpunet run all`.");
                var result = Reporting.VerdictComparison.Compare(dir, other);
                stdout.Write(result.Markdown);
                return result.Disagreements == 0 ? ExitOk : ExitFailure;
            }
            stdout.Write(Reporting.ResultsTable.Write(dir));
            return ExitOk;
        });
        root.Subcommands.Add(table);

        var slurmExperiment = new Argument<string>("experiment") { Description = "The experiment to sweep: " + string.Join(", ", ExperimentRegistry.Names) + "." };
        slurmExperiment.AcceptOnlyFromAmong(ExperimentRegistry.Names.ToArray());
        var shards = new Option<int>("--shards") { Description = "Array tasks: task i fits shard i/n of the runs.", DefaultValueFactory = _ => 4 };
        var partition = new Option<string?>("--partition") { Description = "The Slurm partition (default: the cluster's)." };
        var gpus = new Option<int?>("--gpus-per-task") { Description = "GPUs per array task (default: none)." };
        var time = new Option<string?>("--time") { Description = "Time limit per task in Slurm's notation, for example 2:00:00." };
        var submit = new Option<bool>("--submit") { Description = "Submit the array and the report job (sbatch) and print their job ids." };
        var slurm = new Command("slurm", "Write a Slurm job array (task i runs `gpunet run NAME --shard i/n`) and a report job that runs when all tasks succeed; print them, and with --submit submit them.")
        {
            slurmExperiment, device, seed, seeds, epochs, quick, output, dataDir, shards, partition, gpus, time, submit,
        };
        slurm.SetAction(parse =>
        {
            string name = parse.GetValue(slurmExperiment)!;
            var options = Options(parse, name);
            if (options.Shard is not null) throw new UsageException("slurm takes --shards n, not --shard.");
            int n = parse.GetValue(shards);
            if (n is < 1 or > 10_000) throw new UsageException($"--shards must be in 1..10000; got {n}.");
            if (parse.GetValue(gpus) is <= 0) throw new UsageException("--gpus-per-task must be positive.");
            var request = new SlurmRequest(n, parse.GetValue(partition), parse.GetValue(gpus), parse.GetValue(time));
            var (arrayScript, reportScript) = SlurmScripts.Write(name, options, request, SlurmScripts.CurrentCommand());
            stdout.WriteLine($"# {arrayScript}");
            stdout.Write(File.ReadAllText(arrayScript));
            stdout.WriteLine($"# {reportScript}");
            stdout.Write(File.ReadAllText(reportScript));
            if (!parse.GetValue(submit))
            {
                stdout.WriteLine($"submit with: jid=$(sbatch --parsable {arrayScript}) && sbatch --dependency=afterok:$jid {reportScript}");
                return ExitOk;
            }
            var (arrayJob, reportJob) = SlurmScripts.Submit(arrayScript, reportScript);
            stdout.WriteLine($"submitted array job {arrayJob} ({n} tasks) and report job {reportJob} (after all succeed)");
            return ExitOk;
        });
        root.Subcommands.Add(slurm);
        root.Subcommands.Add(EvalCommand.Build(stdout, DataOption));
        root.Subcommands.Add(Commands.CheckCommand.Build(stdout));

        var bench = new Command("bench", "Quick timings (for quoted numbers use bench/ and bench/peers).");
        var sizes = new Option<string>("--sizes")
        {
            Description = "Comma-separated shapes: N (N×N×N), MxKxN, MxKxN:TN (transposes of A and B), mlpB (the MLP's training shapes at batch B).",
            DefaultValueFactory = _ => "256,512,1024,2048,1023,mlp64,mlp256",
        };
        var seconds = new Option<double>("--seconds") { Description = "Measuring time per shape.", DefaultValueFactory = _ => 1.0 };
        var benchDevice = new Option<string>("--device") { Description = "The device (default: $GPUNET_DEVICE, else auto)." };
        var gemm = new Command("gemm", "GEMM GFLOP/s, one line per shape.") { benchDevice, sizes, seconds };
        gemm.SetAction(parse =>
        {
            var shapes = GemmBench.ParseShapes(parse.GetValue(sizes)!);
            double budget = parse.GetValue(seconds);
            if (!(budget > 0)) throw new UsageException("--seconds must be positive.");
            using var dev = Device.Open(parse.GetValue(benchDevice));
            GemmBench.Run(dev, shapes, budget, stdout);
            return ExitOk;
        });
        bench.Subcommands.Add(gemm);

        var batchOption = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 64 };
        var epochsOption = new Option<int>("--epochs") { Description = "Timed epochs (after one warm-up).", DefaultValueFactory = _ => 3 };
        var samplesOption = new Option<int>("--samples") { Description = "Training samples per epoch.", DefaultValueFactory = _ => 60_000 };
        var epochDevice = new Option<string>("--device") { Description = "The device (default: $GPUNET_DEVICE, else auto)." };
        var epoch = new Command("epoch", "Seconds per training epoch of the 784-256-128-10 MLP with SGD on random data.")
        {
            epochDevice, batchOption, epochsOption, samplesOption,
        };
        epoch.SetAction(parse =>
        {
            int batchSize = parse.GetValue(batchOption), count = parse.GetValue(epochsOption), samples = parse.GetValue(samplesOption);
            if (batchSize < 1 || count < 1 || samples < 1) throw new UsageException("--batch, --epochs and --samples must be positive.");
            using var dev = Device.Open(parse.GetValue(epochDevice));
            EpochBench.Run(dev, batchSize, count, samples, stdout);
            return ExitOk;
        });
        bench.Subcommands.Add(epoch);
        root.Subcommands.Add(bench);
        root.Subcommands.Add(DataCommand.Build(stdout));
        root.Subcommands.Add(KernelsCommand.Build(stdout));
        return root;
    }

    private static Option<string?> DataOption() => new("--data")
    {
        Description = "The Fashion-MNIST folder (default: $GPUNET_DATA, else ./data/fashion-mnist; fetched on first use).",
    };

    private static int ListDevices(TextWriter stdout)
    {
        var (list, backends) = Device.Survey();
        stdout.WriteLine($"{"device",-16} {"kind",-9} {"memory",10} {"warp",5} {"max group",10}  name");
        foreach (var d in list)
        {
            string memory = (d.MemoryBytes / (1024.0 * 1024 * 1024)).ToString("0.0", CultureInfo.InvariantCulture) + " GiB";
            stdout.WriteLine($"{d.Spec,-16} {d.Kind,-9} {memory,10} {d.WarpSize,5} {d.MaxGroupSize,10}  {d.Name}");
        }
        foreach (var backend in backends.Where(b => b.Reason is not null))
            stdout.WriteLine($"no {(backend.Kind == DeviceKind.Cuda ? "CUDA" : "OpenCL")} device: {backend.Reason}");
        string auto = list.FirstOrDefault(d => d.Kind is DeviceKind.Cuda or DeviceKind.OpenCL)?.Spec ?? "cpu";
        stdout.WriteLine($"auto -> {auto}; default: {Device.DefaultSpec} (set {Device.EnvironmentVariable} to change it)");
        return ExitOk;
    }
}

/// <summary>A mistake in what the user asked for; reported as one line and exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
