using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;
using GpuNet.Training;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run distill</c>: knowledge distillation. A large teacher MLP with dropout is trained on three seeds (for its
/// spread) and the one of the run's seed frozen; a much smaller student is then trained three ways, each over three
/// seeds: alone (cross-entropy), distilled through its hidden features (cross-entropy plus the mean squared error between
/// a learned linear projection of its hidden layer and the teacher's last hidden layer), and with Hinton's soft targets
/// added. Compares test accuracy (mean and spread over the seeds), parameter count and inference time per image.
/// </summary>
public sealed class DistillExperiment : ISelfRunExperiment
{
    /// <summary>The teacher: 784-512-512-10 ReLU with dropout 0.3 after each hidden layer.</summary>
    public static readonly MlpSpec Teacher = new([512, 512], Dropout: 0.3f);

    /// <summary>The student: 784-32-10 ReLU.</summary>
    public static readonly MlpSpec Student = new([32]);

    /// <summary>Plain SGD's learning rate, annealed to 0 by a cosine, for every network (as <c>mlp</c>).</summary>
    public const double LearningRate = 0.1;

    /// <summary>Batch size.</summary>
    public const int BatchSize = 64;

    /// <summary>Epochs of the teacher in a full run.</summary>
    public const int TeacherEpochs = 15;

    /// <summary>Epochs of every student in a full run.</summary>
    public const int StudentEpochs = 15;

    /// <summary>Seeds per student variant: the run's seed and the next ones.</summary>
    public const int Seeds = 3;

    // β, α and T were chosen by validation accuracy (seed 42, full data, 15 epochs) in a one-off sweep over β in {0.1, 0.3, 1}
    // alone and (α, T) in {(1, 4), (0.5, 2), (1, 2)} alone and with β = 0.1: every feature-only setting and every soft-only
    // setting was at or below the student alone there (β = 1: -0.7 points, α = 1 at T = 4: -0.6), the smallest weights the least.

    /// <summary><c>β</c>: the weight of the feature loss, which is the MSE divided by the teacher features' mean square.</summary>
    public const double FeatureWeight = 0.1;

    /// <summary><c>α</c>: the weight of the soft-target loss (which includes its <c>T²</c>).</summary>
    public const double SoftWeight = 0.5;

    /// <summary>The soft targets' temperature.</summary>
    public const float Temperature = 2;

    /// <summary>Training images of a quick run.</summary>
    public const int QuickTrain = 2000;

    /// <summary>Validation images of a quick run.</summary>
    public const int QuickValidation = 500;

    /// <summary>Epochs of every network in a quick run.</summary>
    public const int QuickEpochs = 2;

    /// <summary>The batch of the inference timing.</summary>
    public const int TimingBatch = 1000;

    /// <summary>Timed passes over the test set per model (the median is reported).</summary>
    public const int TimingRepeats = 5;

    /// <summary>The three ways of training the student.</summary>
    public static readonly (string Key, string Label, double Feature, double Soft)[] Variants =
    [
        ("student", "student alone", 0, 0),
        ("feature", "distilled: features", FeatureWeight, 0),
        ("feature+soft", "distilled: features + soft targets", FeatureWeight, SoftWeight),
    ];

    /// <inheritdoc />
    public string Name => "distill";

    /// <inheritdoc />
    public string Summary => "Distil a 784-512-512-10 teacher into a 784-32-10 student through its hidden features (and soft targets): accuracy, size and speed.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary)
    {
        string Acc(string key)
        {
            double mean = Summaries.Number(summary, $"models.{key}.test_accuracy_mean") ?? double.NaN;
            double? std = Summaries.Number(summary, $"models.{key}.test_accuracy_std");
            return std is { } sd ? string.Create(CultureInfo.InvariantCulture, $"{mean * 100:F2} ± {sd * 100:F2}%") : RunFiles.Pct(mean);
        }
        return $"test accuracy: teacher {Acc("teacher")}, student alone {Acc("student")}, distilled (features) {Acc("feature")} " +
            $"({RunFiles.Points(Summaries.Number(summary, "gain_over_student_alone.feature.mean_difference") ?? double.NaN)}), " +
            $"features + soft {Acc("feature+soft")} " +
            $"({RunFiles.Points(Summaries.Number(summary, "gain_over_student_alone.feature+soft.mean_difference") ?? double.NaN)}); " +
            string.Create(CultureInfo.InvariantCulture,
                $"{Summaries.Number(summary, "teacher_to_student_parameter_ratio") ?? double.NaN:F0}x fewer parameters, " +
                $"{Summaries.Number(summary, "teacher_to_student_time_ratio") ?? double.NaN:F0}x faster");
    }

    /// <summary>The layer whose output is an MLP's last hidden activation (its ReLU, before any dropout).</summary>
    public static int FeatureLayer(MlpSpec spec) => (spec.Dropout > 0 ? 3 : 2) * (spec.Hidden.Length - 1) + 1;

    private sealed class StudentRun(string key, string label, int seed, RunOutcome run, IReadOnlyList<DistillationTerms> terms)
    {
        public string Key { get; } = key;
        public string Label { get; } = label;
        public int Seed { get; } = seed;
        public RunOutcome Run { get; } = run;
        public IReadOnlyList<DistillationTerms> Terms { get; } = terms;
    }

    /// <inheritdoc />
    public int Run(RunOptions options, RunConsole console)
    {
        using var run = CourseRun.Open(Name, options, console);
        var data = run.Data;
        bool quick = options.Quick;
        int[] train = quick ? data.Subset(data.TrainSplit, QuickTrain, 1) : data.TrainSplit;
        int[] validation = quick ? data.Subset(data.ValidationSplit, QuickValidation, 2) : data.ValidationSplit;
        int teacherEpochs = run.Epochs(TeacherEpochs, QuickEpochs), studentEpochs = run.Epochs(StudentEpochs, QuickEpochs);
        TrainingConfig Config(string name, MlpSpec model, int epochs, int seed) =>
            new(name, model, LearningRate, 0, BatchSize, epochs, Cosine: true, "none", Regularization.None, train, validation, seed);
        var teacherConfig = Config("teacher", Teacher, teacherEpochs, options.Seed);
        // The run's seed gives the teacher every student learns from; the next seeds train the same teacher again, only to
        // measure the teacher's own spread.
        var spreadConfigs = Enumerable.Range(1, Seeds - 1)
            .Select(s => Config($"teacher seed={options.Seed + s}", Teacher, teacherEpochs, options.Seed + s)).ToList();
        run.WriteConfig(Name, new JsonObject
        {
            ["teacher"] = teacherConfig.ToJson(),
            ["student"] = Config("student", Student, studentEpochs, options.Seed).ToJson(),
            ["seeds"] = new JsonArray(Enumerable.Range(options.Seed, Seeds).Select(s => (JsonNode)s).ToArray()),
            ["teacher_feature_layer"] = FeatureLayer(Teacher),
            ["student_feature_layer"] = FeatureLayer(Student),
            ["feature_weight"] = FeatureWeight,
            ["soft_weight"] = SoftWeight,
            ["temperature"] = Temperature,
            ["variants"] = new JsonArray(Variants.Select(v => (JsonNode)v.Key).ToArray()),
            ["timing_batch"] = TimingBatch,
            ["timing_repeats"] = TimingRepeats,
        });
        console.PlanRuns(Seeds + Seeds * Variants.Length);

        using var teacher = TrainingRun.Fit(data, teacherConfig, console);
        var teacherModel = teacher.Model;
        double featureScale = MeanSquare(teacherModel, data, train, teacher.Normalization, FeatureLayer(Teacher));
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"teacher: test {RunFiles.Pct(teacher.TestAccuracy)}; its last hidden layer's mean square on the training images is {featureScale:G4}"));

        var students = new List<StudentRun>();
        var otherTeachers = new List<RunOutcome>();
        try
        {
            foreach (var config in spreadConfigs) otherTeachers.Add(TrainingRun.Fit(data, config, console));
            for (int s = 0; s < Seeds; s++)
                foreach (var (key, label, feature, soft) in Variants)
                {
                    int seed = options.Seed + s;
                    var config = Config($"{key} seed={seed}", Student, studentEpochs, seed);
                    if (feature == 0 && soft == 0)
                    {
                        students.Add(new StudentRun(key, label, seed, TrainingRun.Fit(data, config, console), []));
                        continue;
                    }
                    var distill = new DistillationOptions
                    {
                        TeacherFeatures = FeatureLayer(Teacher), StudentFeatures = FeatureLayer(Student),
                        FeatureWeight = feature, FeatureScale = featureScale, SoftWeight = soft, Temperature = Temperature,
                    };
                    DistillationObjective? objective = null;
                    try
                    {
                        // The projection's seed differs from the student's so that its weights are not a copy of the student's first layer's stream.
                        var outcome = TrainingRun.Fit(data, config, console, objective: m => objective =
                            new DistillationObjective(teacherModel, m, distill, p => config.CreateOptimizer(p), (ulong)seed + 1000));
                        students.Add(new StudentRun(key, label, seed, outcome, objective!.History.ToList()));
                    }
                    finally
                    {
                        objective?.Dispose();
                    }
                }
            return Write(run, teacher, otherTeachers, students, featureScale);
        }
        finally
        {
            foreach (var s in students) s.Run.Dispose();
            foreach (var t in otherTeachers) t.Dispose();
        }
    }

    /// <summary>The mean square of layer <paramref name="layer"/>'s output over <paramref name="indices"/> (evaluation mode).</summary>
    private static double MeanSquare(Sequential model, CourseData data, int[] indices, Normalization normalization, int layer)
    {
        using var loader = CourseData.EvalLoader(data.Train, indices, normalization);
        model.Eval();
        double sum = 0;
        long count = 0;
        foreach (var batch in loader.Epoch(0))
        {
            model.Forward(batch.Images);
            foreach (float v in model.OutputOf(layer).ToArray())
            {
                sum += (double)v * v;
                count++;
            }
        }
        return count == 0 ? 1 : sum / count;
    }

    /// <summary>
    /// The median over <see cref="TimingRepeats"/> passes of the forward time per test image in evaluation mode, batches of
    /// <see cref="TimingBatch"/> already normalised on the device (so only the network is timed), after one untimed pass.
    /// </summary>
    private static double MicrosecondsPerImage(Sequential model, Tensor images)
    {
        model.Eval();
        int n = images.Dim(0);
        var device = model.Device;
        var times = new List<double>();
        for (int r = 0; r <= TimingRepeats; r++)
        {
            device.Synchronize();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < n; i += TimingBatch) model.Forward(images.Rows(i, Math.Min(TimingBatch, n - i)));
            device.Synchronize();
            if (r > 0) times.Add(clock.Elapsed.TotalMicroseconds / n);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    private static Tensor NormalisedTestImages(CourseData data, Normalization normalization)
    {
        using var loader = CourseData.EvalLoader(data.Test, null, normalization);
        var all = new float[loader.Count * FashionMnist.Pixels];
        int at = 0;
        foreach (var batch in loader.Epoch(0))
        {
            var images = batch.Images.ToArray();
            images.CopyTo(all, at);
            at += images.Length;
        }
        return Tensor.FromArray(data.Device, all, loader.Count, FashionMnist.Pixels);
    }

    /// <summary>Mean, sample standard deviation (n - 1; NaN for one value), minimum and maximum.</summary>
    public static (double Mean, double Std, double Min, double Max) Stats(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return (double.NaN, double.NaN, double.NaN, double.NaN);
        double mean = values.Average();
        double std = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : double.NaN;
        return (mean, std, values.Min(), values.Max());
    }

    private static JsonNode? Num(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    private sealed record Row(string Key, string Label, long Parameters, double MicrosecondsPerImage, IReadOnlyList<RunOutcome> Runs)
    {
        public double[] Accuracies => Runs.Select(r => r.TestAccuracy).ToArray();
        public (double Mean, double Std, double Min, double Max) Accuracy => Stats(Accuracies);
    }

    private int Write(CourseRun run, RunOutcome teacher, List<RunOutcome> otherTeachers, List<StudentRun> students, double featureScale)
    {
        var folder = run.Folder;
        var data = run.Data;
        RunFiles.WriteMetrics(folder, otherTeachers.Prepend(teacher).Concat(students.Select(s => s.Run)));
        var terms = new StringBuilder("run,epoch,feature_mse,feature_loss,soft_loss\n");
        foreach (var s in students.Where(s => s.Terms.Count > 0))
            for (int e = 0; e < s.Terms.Count; e++)
                terms.AppendLine(string.Join(",", s.Run.Config.Name, (e + 1).ToString(CultureInfo.InvariantCulture), R(s.Terms[e].FeatureMse),
                    R(s.Terms[e].FeatureLoss), R(s.Terms[e].Soft)));
        folder.WriteText("loss_terms.csv", terms.ToString());

        var reported = students.First(s => s.Key == "feature");
        string checkpoint = RunFiles.SaveCheckpoint(folder, reported.Run, Name, data);

        // Inference time: the three student variants share one architecture, so one of them is timed for all.
        double teacherUs, studentUs;
        using (var images = NormalisedTestImages(data, teacher.Normalization))
        {
            teacherUs = MicrosecondsPerImage(teacher.Model, images);
            studentUs = MicrosecondsPerImage(reported.Run.Model, images);
        }
        var rows = new List<Row> { new("teacher", "teacher", teacher.Model.ParameterCount, teacherUs, [teacher, .. otherTeachers]) };
        foreach (var (key, label, _, _) in Variants)
        {
            var runs = students.Where(s => s.Key == key).Select(s => s.Run).ToList();
            rows.Add(new Row(key, label, runs[0].Model.ParameterCount, studentUs, runs));
        }
        var alone = rows.First(r => r.Key == "student");
        var gains = rows.Where(r => r.Key is not "teacher" and not "student").ToDictionary(r => r.Key, r =>
        {
            var paired = r.Runs.Zip(alone.Runs, (d, a) => d.TestAccuracy - a.TestAccuracy).ToArray();
            return (Mean: r.Accuracy.Mean - alone.Accuracy.Mean, Paired: paired, PairedStats: Stats(paired));
        });

        // Validation accuracy per epoch, the mean over the seeds for each student variant, with the teacher's for scale.
        var series = new List<Series>
        {
            new("teacher", teacher.Result.History.Select(m => (double)m.Epoch).ToArray(),
                teacher.Result.History.Select(m => m.ValidationAccuracy * 100).ToArray(), Dashed: true, Group: 3),
        };
        int group = 0;
        foreach (var row in rows.Skip(1))
        {
            int epochs = row.Runs.Min(r => r.Result.History.Count);
            series.Add(new Series($"{row.Label} (mean of {row.Runs.Count} seeds)", Enumerable.Range(1, epochs).Select(e => (double)e).ToArray(),
                Enumerable.Range(0, epochs).Select(e => row.Runs.Average(r => r.Result.History[e].ValidationAccuracy) * 100).ToArray(), Group: group++));
        }
        Plots.Lines(folder.File("validation_accuracy.png"), "validation accuracy per epoch", "epoch", "accuracy (%)", series,
            legend: ScottPlot.Alignment.LowerRight);
        var bestStudent = rows.Skip(1).MaxBy(r => r.Accuracy.Mean);
        Plots.Bars(folder.File("test_accuracy.png"), "test accuracy (mean over seeds; red: the best student)", "test accuracy (%)",
            rows.Select(r => ($"{r.Label} ({r.Parameters:N0} params)", r.Accuracy.Mean * 100, r == bestStudent)).ToList());

        var summary = RunFiles.ModelSummary(reported.Run, checkpoint);
        summary["reported"] = reported.Run.Config.Name;
        summary["feature_scale"] = featureScale;
        var models = new JsonObject();
        foreach (var row in rows)
        {
            var (mean, std, min, max) = row.Accuracy;
            var o = new JsonObject
            {
                ["label"] = row.Label,
                ["model"] = row.Runs[0].Config.Model.ToString(),
                ["parameters"] = row.Parameters,
                ["test_accuracy_mean"] = mean,
                ["test_accuracy_std"] = Num(std),
                ["test_accuracy_min"] = min,
                ["test_accuracy_max"] = max,
                ["seeds"] = new JsonArray(row.Runs.Select(r => (JsonNode)r.Config.Seed).ToArray()),
                ["test_accuracy"] = new JsonArray(row.Runs.Select(r => (JsonNode)r.TestAccuracy).ToArray()),
                ["validation_accuracy"] = new JsonArray(row.Runs.Select(r => Num(r.Best.ValidationAccuracy)).ToArray()),
                ["train_accuracy"] = new JsonArray(row.Runs.Select(r => Num(r.Best.TrainAccuracy)).ToArray()),
                ["test_loss"] = new JsonArray(row.Runs.Select(r => Num(r.TestLoss)).ToArray()),
                ["best_epoch"] = new JsonArray(row.Runs.Select(r => (JsonNode)r.Result.BestEpoch).ToArray()),
                ["microseconds_per_image"] = Math.Round(row.MicrosecondsPerImage, 3),
            };
            if (row.Key != "teacher" && row.Key != "student")
            {
                var runs = students.Where(s => s.Key == row.Key).ToList();
                o["final_feature_loss"] = new JsonArray(runs.Select(s => Num(s.Terms.Count > 0 ? s.Terms[^1].FeatureLoss : double.NaN)).ToArray());
                o["final_soft_loss"] = new JsonArray(runs.Select(s => Num(s.Terms.Count > 0 ? s.Terms[^1].Soft : double.NaN)).ToArray());
            }
            models[row.Key] = o;
        }
        summary["models"] = models;
        var gainJson = new JsonObject();
        foreach (var (key, g) in gains)
            gainJson[key] = new JsonObject
            {
                ["mean_difference"] = g.Mean,
                ["paired_differences"] = new JsonArray(g.Paired.Select(v => (JsonNode)v).ToArray()),
                ["paired_std"] = Num(g.PairedStats.Std),
            };
        summary["gain_over_student_alone"] = gainJson;
        summary["teacher_to_student_parameter_ratio"] = (double)teacher.Model.ParameterCount / alone.Parameters;
        summary["teacher_to_student_time_ratio"] = teacherUs / studentUs;
        summary["projection_parameters"] = (long)Student.Hidden[^1] * Teacher.Hidden[^1] + Teacher.Hidden[^1];
        folder.WriteJson("summary.json", summary);

        foreach (var row in rows)
            run.Console.WriteLine($"{row.Label,-36} {AccuracyText(row)}, {row.Parameters,9:N0} parameters, {row.MicrosecondsPerImage:F2} us/image");
        foreach (var (key, g) in gains)
            run.Console.WriteLine($"{key} - student alone: {RunFiles.Points(g.Mean)} (paired by seed: {string.Join(", ", g.Paired.Select(RunFiles.Points))})");
        run.Finish(Report(run, teacher, rows, gains, students, featureScale));
        return Cli.ExitOk;
    }

    private static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string AccuracyText(Row row)
    {
        var (mean, std, min, max) = row.Accuracy;
        return row.Runs.Count == 1
            ? RunFiles.Pct(mean)
            : string.Create(CultureInfo.InvariantCulture, $"{mean * 100:F2} ± {std * 100:F2}% (min {min * 100:F2}, max {max * 100:F2})");
    }

    private static string Report(CourseRun run, RunOutcome teacher, List<Row> rows,
        Dictionary<string, (double Mean, double[] Paired, (double Mean, double Std, double Min, double Max) PairedStats)> gains,
        List<StudentRun> students, double featureScale)
    {
        var c = teacher.Config;
        var alone = rows.First(r => r.Key == "student");
        var studentConfig = alone.Runs[0].Config;
        int hs = Student.Hidden[^1], ht = Teacher.Hidden[^1];
        var text = new StringBuilder();
        text.AppendLine("# Knowledge distillation: a small MLP taught by a large one");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The **teacher** is a {Teacher} network ({teacher.Model.ParameterCount:N0} parameters), trained for " +
            $"{c.Epochs} epochs with seed {c.Seed} and then frozen (it is trained again with the students' other seeds only to measure its own spread): evaluation mode (dropout off), forward passes only, its parameters never written. The " +
            $"**student** is a {Student} network ({alone.Parameters:N0} parameters, {(double)teacher.Model.ParameterCount / alone.Parameters:F0}x fewer), " +
            $"trained for {studentConfig.Epochs} epochs three ways, each with seeds {string.Join(", ", alone.Runs.Select(r => r.Config.Seed))} " +
            $"(the seed sets the student's initial weights and the order of its batches; the same seed gives the three variants the same start and the same batches):"));
        text.AppendLine();
        text.AppendLine("- **student alone**: cross-entropy on the labels only;");
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"- **distilled: features**: cross-entropy + β·MSE(P·h_s + b, h_t)/s with β = {FeatureWeight}: h_s is the student's hidden " +
            $"ReLU output ({hs} values), h_t the teacher's last hidden ReLU output ({ht} values, before its dropout), P·h_s + b a learned " +
            $"linear projection (a {hs}→{ht} layer, {hs * ht + ht:N0} parameters, trained with the student by the same optimizer and " +
            $"thrown away afterwards: it is not counted in the student's parameters and not in its checkpoint), and s = {featureScale:G4} the " +
            $"mean square of h_t over the training images, so that the feature loss is a relative error (1 for a projection that outputs zeros) " +
            $"whatever the scale of the teacher's features (FitNets' hint loss, Romero et al. 2015);"));
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"- **distilled: features + soft targets**: the same plus α·T²·CE(softmax(t/T), softmax(s/T)) with α = {SoftWeight} and " +
            $"T = {Temperature}: the cross-entropy of the student's softened class distribution against the teacher's (Hinton, Vinyals and Dean 2015)."));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"β, α and T were chosen beforehand by validation accuracy (seed 42, full data): larger feature weights (β = 0.3, 1) and " +
            $"stronger soft targets (α = 1 at T = 4) gave lower validation accuracy than the student alone."));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Every network: plain SGD (learning rate {LearningRate}, no momentum, batch {BatchSize}, cosine schedule), {c.Train.Length:N0} " +
            $"training images; the epoch with the best accuracy on {c.Validation.Length:N0} held-out validation images is kept and only it " +
            $"is measured on the {teacher.TestCount:N0} test images, as in the other experiments. Inference time: a forward pass over the " +
            $"test images in evaluation mode in batches of {TimingBatch} (already normalised on the device, so only the network is timed), " +
            $"the median of {TimingRepeats} passes, per image, on {run.Device.Name} ({run.Device.Spec})."));
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        text.Append(RunFiles.Table(["model", "parameters", "test accuracy: mean", "std", "min – max", "per seed", "train acc.", "µs / image"],
            rows.Select(r =>
            {
                var (mean, std, min, max) = r.Accuracy;
                return (IReadOnlyList<string>)[r.Label, r.Parameters.ToString("N0", CultureInfo.InvariantCulture), RunFiles.Pct(mean),
                    r.Runs.Count > 1 ? RunFiles.Points(std).TrimStart('+') : "-", r.Runs.Count > 1 ? $"{RunFiles.Pct(min)} – {RunFiles.Pct(max)}" : "-",
                    string.Join(", ", r.Accuracies.Select(RunFiles.Pct)), RunFiles.Pct(r.Runs.Average(o => o.Best.TrainAccuracy)),
                    r.MicrosecondsPerImage.ToString("F2", CultureInfo.InvariantCulture)];
            }), "lrrrrlrr"));
        text.AppendLine();
        text.AppendLine("std is the sample standard deviation over the seeds (n − 1 in the denominator); every student learned from the teacher of the run's seed. " +
            "Train acc. is the accuracy on the training images (evaluation mode) at the selected epoch, the mean over the seeds. The " +
            "three students share one architecture, so one of them was timed for all three.");
        text.AppendLine();
        text.AppendLine("## Reading");
        text.AppendLine();
        double noise = alone.Accuracy.Std;
        foreach (var (key, g) in gains)
        {
            var row = rows.First(r => r.Key == key);
            var (pm, ps, pmin, pmax) = g.PairedStats;
            double se = ps / Math.Sqrt(g.Paired.Length);
            string verdict = Clear(g.Paired) != 0
                ? (pm > 0 ? "a gain larger than twice its standard error over the seeds, and the same sign for every seed" : "a loss larger than twice its standard error, on every seed")
                : "within the noise: the seeds disagree or the difference is less than twice its standard error";
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"- **{row.Label}** vs student alone: {RunFiles.Points(g.Mean)} in mean test accuracy; paired by seed " +
                $"{string.Join(", ", g.Paired.Select(RunFiles.Points))} (mean {RunFiles.Points(pm)}, standard error {RunFiles.Points(se).TrimStart('+')}): {verdict}."));
        }
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The yardsticks: the student alone varies by {RunFiles.Points(noise).TrimStart('+')} (std) from seed to seed, and one accuracy on " +
            $"{teacher.TestCount:N0} test images has a binomial standard error of about " +
            $"{RunFiles.Points(Math.Sqrt(alone.Accuracy.Mean * (1 - alone.Accuracy.Mean) / Math.Max(1, teacher.TestCount))).TrimStart('+')}. " +
            $"Three seeds are few: a difference that is not the same on every seed, or smaller than twice its standard error, is not evidence " +
            $"that distillation helps or hurts here. {Gap(rows, teacher)}"));
        text.AppendLine();
        text.AppendLine(
            $"Training accuracy at the selected epoch: student alone {RunFiles.Pct(alone.Runs.Average(o => o.Best.TrainAccuracy))}, " +
            string.Join(", ", rows.Where(r => r.Key is not "teacher" and not "student").Select(r => $"{r.Label} {RunFiles.Pct(r.Runs.Average(o => o.Best.TrainAccuracy))}")) +
            $", teacher {RunFiles.Pct(teacher.Best.TrainAccuracy)}. Distillation is usually explained as a richer training signal (the " +
            $"teacher's similarities between classes, its intermediate features) that regularises a student which would otherwise " +
            $"overfit the hard labels; a student of {hs} hidden units may be limited more by its capacity than by its training signal, and what it takes from the " +
            $"teacher competes for the same {hs} units. " + Outcome(rows));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Size and speed: the teacher has {(double)teacher.Model.ParameterCount / alone.Parameters:F0}x the student's parameters and takes " +
            $"{rows[0].MicrosecondsPerImage / alone.MicrosecondsPerImage:F0}x its time per image ({rows[0].MicrosecondsPerImage:F2} against " +
            $"{alone.MicrosecondsPerImage:F2} µs). Distillation costs only training time (a teacher forward pass per batch and the projection); " +
            $"the distilled student is as small and as fast as the student alone."));
        text.AppendLine();
        var feature = students.Where(s => s.Terms.Count > 0 && double.IsFinite(s.Terms[^1].FeatureLoss)).ToList();
        if (feature.Count > 0)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"The feature loss (relative MSE) fell from {feature.Average(s => s.Terms[0].FeatureLoss):F3} in the first epoch to " +
                $"{feature.Average(s => s.Terms[^1].FeatureLoss):F3} in the last (mean over the distilled runs): a {hs}-unit hidden layer " +
                $"can explain only part of the teacher's {ht} features through a linear map. Per epoch values are in `loss_terms.csv`; " +
                $"`metrics.csv`'s running loss is the cross-entropy term alone, so it compares with the student alone's."));
            text.AppendLine();
        }
        text.AppendLine("![validation accuracy per epoch](validation_accuracy.png)");
        text.AppendLine();
        text.AppendLine("![test accuracy](test_accuracy.png)");
        text.AppendLine();
        text.AppendLine($"The checkpoint is the features-distilled student of seed {rows.First(r => r.Key == "feature").Runs[0].Config.Seed} " +
            "(without the projection); summary.json's top-level `test_accuracy` is that model's.");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(rows.First(r => r.Key == "feature").Runs[0]));
        text.AppendLine(run.Footer());
        return text.ToString();
    }

    /// <summary>
    /// +1 (or -1) when paired differences are a clear gain (loss): the same sign on every seed and a mean more than twice its
    /// standard error; else 0.
    /// </summary>
    public static int Clear(IReadOnlyList<double> paired)
    {
        var (mean, std, _, _) = Stats(paired);
        double se = std / Math.Sqrt(paired.Count);
        bool same = paired.All(v => v > 0) || paired.All(v => v < 0);
        return double.IsFinite(se) && same && Math.Abs(mean) > 2 * se ? Math.Sign(mean) : 0;
    }

    // One sentence on what the distilled variants did, by the paired-difference rule.
    private static string Outcome(List<Row> rows)
    {
        var alone = rows.First(r => r.Key == "student");
        var verdicts = rows.Where(r => r.Key is not "teacher" and not "student")
            .Select(r => (r.Label, Clear: Clear(r.Runs.Zip(alone.Runs, (d, a) => d.TestAccuracy - a.TestAccuracy).ToArray()))).ToList();
        if (verdicts.All(v => v.Clear == 0))
            return "Here every distilled variant is within the noise of the student alone: this run shows no benefit from distillation at " +
                "this student size, and no harm at these small weights (larger weights lowered validation accuracy, see above).";
        return string.Join(" ", verdicts.Select(v => v.Clear switch
        {
            > 0 => $"{v.Label}: a clear gain over the student alone.",
            < 0 => $"{v.Label}: a clear loss against the student alone.",
            _ => $"{v.Label}: within the noise of the student alone.",
        }));
    }

    // What became of the gap between the student alone and the teacher.
    private static string Gap(List<Row> rows, RunOutcome teacher)
    {
        var alone = rows.First(r => r.Key == "student");
        double gap = teacher.TestAccuracy - alone.Accuracy.Mean;
        if (!(gap > 0)) return "The teacher is not better than the student alone here, so there is no gap to close.";
        var clear = rows.Where(r => r.Key is not "teacher" and not "student")
            .Where(r => Clear(r.Runs.Zip(alone.Runs, (d, a) => d.TestAccuracy - a.TestAccuracy).ToArray()) > 0).ToList();
        if (clear.Count == 0)
            return string.Create(CultureInfo.InvariantCulture,
                $"No distilled variant clearly closes any of the {gap * 100:F2}-point gap between the student alone and the teacher.");
        var best = clear.MaxBy(r => r.Accuracy.Mean)!;
        return string.Create(CultureInfo.InvariantCulture,
            $"{best.Label} closes {(best.Accuracy.Mean - alone.Accuracy.Mean) / gap * 100:F0}% of the {gap * 100:F2}-point gap between the student alone and the teacher.");
    }
}
