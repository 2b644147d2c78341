using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;

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
        var seed = new Option<int>("--seed") { Description = "Seed for every random choice of the run.", DefaultValueFactory = _ => 42 };
        var epochs = new Option<int?>("--epochs") { Description = "Override the experiment's number of epochs." };
        var quick = new Option<bool>("--quick") { Description = "Run the same code on a small subset (smoke test)." };
        var output = new Option<string?>("--out") { Description = "Output folder (default: runs/<experiment>)." };
        var dataDir = DataOption();
        var run = new Command("run", "Run one experiment and write its report folder.") { experiment, device, seed, epochs, quick, output, dataDir };
        run.SetAction(parse =>
        {
            string name = parse.GetValue(experiment)!;
            int? epochCount = parse.GetValue(epochs);
            if (epochCount is <= 0) throw new UsageException($"--epochs must be positive; got {epochCount}.");
            var options = new RunOptions(
                Device: parse.GetValue(device),
                Seed: parse.GetValue(seed),
                Epochs: epochCount,
                Quick: parse.GetValue(quick),
                OutDir: parse.GetValue(output) ?? Path.Combine("runs", name),
                DataDir: parse.GetValue(dataDir));
            var chosen = ExperimentRegistry.Get(name);
            return RunConsole.Run(stdout, console => chosen.Run(options, console));
        });
        root.Subcommands.Add(run);
        root.Subcommands.Add(EvalCommand.Build(stdout, DataOption));

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
