using System.Diagnostics;
using System.Globalization;
using GpuNet.Training;
using Spectre.Console;

namespace GpuNet.Experiments;

/// <summary>
/// What an experiment shows the person running it: lines of text, and a progress display per training run fed by the
/// trainer's <see cref="IProgress{T}"/> reports. On an interactive terminal it is a set of Spectre.Console progress bars
/// with the live loss and an ETA (<see cref="Run"/>); when the output is redirected, or in tests, plain lines: one per
/// finished epoch.
/// </summary>
public abstract class RunConsole
{
    private int _runs, _started;

    /// <summary>Writes one line of text.</summary>
    public abstract void WriteLine(string text);

    /// <summary>Says how many training runs the experiment will make, for the overall progress.</summary>
    public virtual void PlanRuns(int runs) => _runs = Math.Max(1, runs);

    /// <summary>Starts a new experiment on the same console (for <c>gpunet run all</c>): run counts start again.</summary>
    public virtual void BeginExperiment()
    {
        _runs = 1;
        _started = 0;
    }

    /// <summary>Starts the display of one training run of <paramref name="epochs"/> epochs called <paramref name="label"/>;
    /// hand the result to <see cref="Trainer.Fit"/> and dispose it when the run is over.</summary>
    public TrainingProgress StartTraining(string label, int epochs)
    {
        _started++;
        string prefix = _runs > 1 ? $"[{_started}/{_runs}] " : "";
        return Start(prefix + label, epochs, _started - 1, _runs);
    }

    /// <summary>Creates the display of one run (<paramref name="index"/> of <paramref name="runs"/>, from 0).</summary>
    protected abstract TrainingProgress Start(string label, int epochs, int index, int runs);

    /// <summary>
    /// Runs <paramref name="body"/> with the console that suits <paramref name="stdout"/>: Spectre.Console progress bars when
    /// it is the process's own console on an interactive terminal, else plain lines written to it.
    /// </summary>
    public static int Run(TextWriter stdout, Func<RunConsole, int> body)
    {
        bool interactive = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected
            && AnsiConsole.Profile.Capabilities.Interactive && Environment.GetEnvironmentVariable("GPUNET_PLAIN") is null;
        if (!interactive) return body(new PlainRunConsole(stdout));
        return AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context => body(new SpectreRunConsole(context)));
    }

    /// <summary>Formats a metrics line: <c>loss 0.4321 | train 0.3012 89.1% | val 0.3512 87.0% | test ...</c>.</summary>
    public static string Describe(EpochMetrics m)
    {
        static string Pair(double loss, double accuracy) => double.IsNaN(loss) ? "-" : string.Create(CultureInfo.InvariantCulture, $"{loss:F4} {accuracy * 100:F1}%");
        return string.Create(CultureInfo.InvariantCulture,
            $"loss {m.RunningLoss:F4} | train {Pair(m.TrainLoss, m.TrainAccuracy)} | val {Pair(m.ValidationLoss, m.ValidationAccuracy)} | test {Pair(m.TestLoss, m.TestAccuracy)}");
    }
}

/// <summary>The display of one training run; the trainer reports to it.</summary>
public abstract class TrainingProgress : IProgress<TrainProgress>, IDisposable
{
    /// <inheritdoc />
    public abstract void Report(TrainProgress value);

    /// <summary>Marks the run finished (also when it stopped early).</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>Plain lines, one per finished epoch, with an ETA from the mean epoch time so far.</summary>
public sealed class PlainRunConsole(TextWriter output) : RunConsole
{
    /// <inheritdoc />
    public override void WriteLine(string text) => output.WriteLine(text);

    /// <inheritdoc />
    protected override TrainingProgress Start(string label, int epochs, int index, int runs)
    {
        output.WriteLine($"{label}: {epochs} epochs");
        return new Plain(output, label);
    }

    private sealed class Plain(TextWriter output, string label) : TrainingProgress
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public override void Report(TrainProgress value)
        {
            if (value.Finished is not { } m) return;
            double perEpoch = _clock.Elapsed.TotalSeconds / value.Epoch;
            var eta = TimeSpan.FromSeconds(Math.Round(perEpoch * (value.Epochs - value.Epoch)));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label} epoch {value.Epoch}/{value.Epochs}: {Describe(m)} | {m.Seconds:F1} s, eta {eta:hh\\:mm\\:ss}"));
        }
    }
}

/// <summary>Spectre.Console progress bars: one per run with the live loss, and one over all runs when there are several.</summary>
public sealed class SpectreRunConsole(ProgressContext context) : RunConsole
{
    private ProgressTask? _overall;

    /// <inheritdoc />
    public override void WriteLine(string text) => AnsiConsole.MarkupLine(Markup.Escape(text));

    /// <inheritdoc />
    public override void PlanRuns(int runs)
    {
        base.PlanRuns(runs);
        if (runs > 1) _overall ??= context.AddTask($"all {runs} runs", autoStart: true, maxValue: runs);
    }

    /// <inheritdoc />
    public override void BeginExperiment()
    {
        base.BeginExperiment();
        _overall = null;
    }

    /// <inheritdoc />
    protected override TrainingProgress Start(string label, int epochs, int index, int runs) =>
        new Bar(context.AddTask(Markup.Escape(label), autoStart: true, maxValue: epochs), label, epochs, index, _overall);

    private sealed class Bar(ProgressTask task, string label, int epochs, int index, ProgressTask? overall) : TrainingProgress
    {
        private string _last = "";

        public override void Report(TrainProgress value)
        {
            double done = value.Epoch - 1 + (value.Steps == 0 ? 1 : (double)value.Step / value.Steps);
            task.Value = Math.Min(done, epochs);
            if (overall is not null) overall.Value = index + task.Value / epochs;
            if (value.Finished is { } m)
                _last = string.Create(CultureInfo.InvariantCulture, $" val {m.ValidationAccuracy * 100:F1}%");
            task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"{label} e{value.Epoch}/{value.Epochs} loss {value.Loss:F4}{_last}"));
        }

        public override void Dispose()
        {
            task.Value = task.MaxValue;
            task.StopTask();
            if (overall is not null) overall.Value = index + 1;
            base.Dispose();
        }
    }
}
