using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.IO;
using GpuNet.Nn;
using GpuNet.Training;
using ILGPU;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run distill</c>: knowledge distillation. For each seed a large teacher MLP with dropout is trained and frozen;
/// a much smaller student is then trained three ways with the same seed: alone (cross-entropy), distilled through its hidden
/// features (cross-entropy plus the mean squared error between a learned linear projection of its hidden layer and the
/// teacher's last hidden layer), and with Hinton's soft targets added, each distilled student learning from its seed's
/// teacher (read back from that run's checkpoint). Compares test accuracy over the seeds (the students paired by seed),
/// parameter count and inference time per image.
/// </summary>
public sealed class DistillExperiment : ICourseExperiment
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

    /// <summary>The projection's seed is the student's plus this, so that its weights are not a copy of the student's first
    /// layer's stream.</summary>
    public const int ProjectionSeedOffset = 1000;

    /// <summary>The three ways of training the student (the key is the run's name).</summary>
    public static readonly (string Key, string Label, double Feature, double Soft)[] Variants =
    [
        ("student", "student alone", 0, 0),
        ("feature", "distilled: features", FeatureWeight, 0),
        ("feature+soft", "distilled: features + soft targets", FeatureWeight, SoftWeight),
    ];

    /// <summary>The teacher runs' name.</summary>
    public const string TeacherKey = "teacher";

    // What each run writes besides the engine's files: the inference timing (a wall time, so a file of its own).
    private const string InferenceFile = "inference.json";

    /// <inheritdoc />
    public string Name => "distill";

    /// <inheritdoc />
    public string Summary => "Distil a 784-512-512-10 teacher into a 784-32-10 student through its hidden features (and soft targets): accuracy, size and speed.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary)
    {
        string Acc(string key) => Summaries.MeanWithInterval(summary, $"models.{key}.test_accuracy", RunFiles.Pct);
        string Gain(string key) =>
            $"{RunFiles.Points(Summaries.Number(summary, $"gain_over_student_alone.{key}.test_accuracy.mean") ?? double.NaN)}, " +
            $"{Summaries.Text(summary, $"gain_over_student_alone.{key}.verdict") ?? "-"}";
        return $"test accuracy: teacher {Acc(TeacherKey)}, student alone {Acc("student")}, distilled (features) {Acc("feature")} " +
            $"({Gain("feature")}), features + soft {Acc("feature+soft")} ({Gain("feature+soft")}); " +
            string.Create(CultureInfo.InvariantCulture, $"{Summaries.Number(summary, "teacher_to_student_parameter_ratio") ?? double.NaN:F0}x fewer parameters");
    }

    /// <summary>Three seeds: the report compares the students, paired by seed.</summary>
    public int DefaultSeeds => 3;

    /// <summary>The layer whose output is an MLP's last hidden activation (its ReLU, before any dropout).</summary>
    public static int FeatureLayer(MlpSpec spec) => (spec.Dropout > 0 ? 3 : 2) * (spec.Hidden.Length - 1) + 1;

    /// <inheritdoc />
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context)
    {
        int teacherEpochs = context.Epochs(TeacherEpochs, QuickEpochs), studentEpochs = context.Epochs(StudentEpochs, QuickEpochs);
        var teachers = context.Seeds.Select(seed => TeacherPlan(Config(context, TeacherKey, Teacher, teacherEpochs, seed))).ToList();
        var students = teachers.SelectMany(teacher => Variants.Select(v =>
            StudentPlan(Config(context, v.Key, Student, studentEpochs, teacher.Seed), v.Label, teacher, v.Feature, v.Soft)));
        return [.. teachers, .. students];
    }

    // Every network: plain SGD with a cosine schedule on the seed's training split (a subset of it in a quick run).
    private static TrainingConfig Config(ExperimentContext context, string name, MlpSpec model, int epochs, int seed)
    {
        var data = context.Data(seed);
        int[] train = context.Quick ? data.Subset(data.TrainSplit, QuickTrain, 1) : data.TrainSplit;
        int[] validation = context.Quick ? data.Subset(data.ValidationSplit, QuickValidation, 2) : data.ValidationSplit;
        return new(name, model, LearningRate, 0, BatchSize, epochs, Cosine: true, "none", Regularization.None, train, validation, seed);
    }

    // The teacher also measures, on its live model, its features' mean square (the feature loss's scale) and its inference time.
    private static TrainingPlan TeacherPlan(TrainingConfig config) => new(config)
    {
        AfterFit = (outcome, context, extras) =>
        {
            extras["feature_mean_square"] = MeanSquare(outcome.Model, context.Data, config.Train, outcome.Normalization, FeatureLayer(Teacher));
            WriteInferenceTime(outcome, context);
        },
    };

    private static TrainingPlan StudentPlan(TrainingConfig config, string label, TrainingPlan teacher, double feature, double soft)
    {
        if (feature == 0 && soft == 0)
            return new TrainingPlan(config, label) { AfterFit = (outcome, context, _) => WriteInferenceTime(outcome, context) };
        var distillation = new Distillation(teacher, config, feature, soft);
        return new TrainingPlan(config, label)
        {
            // The teacher decides the student's result: a changed teacher refits its students.
            ExtraIdentity = new JsonObject
            {
                ["teacher_run"] = teacher.Key,
                ["teacher"] = teacher.Identity(),
                ["teacher_feature_layer"] = FeatureLayer(Teacher),
                ["student_feature_layer"] = FeatureLayer(Student),
                ["feature_weight"] = feature,
                ["soft_weight"] = soft,
                ["temperature"] = Temperature,
                ["projection_seed"] = config.Seed + ProjectionSeedOffset,
            },
            Objective = distillation.Create,
            AfterFit = distillation.Record,
        };
    }

    /// <summary>One distilled student's objective: its seed's teacher read back from the teacher run's checkpoint, and the
    /// loss terms of every epoch recorded into the run's extras.</summary>
    private sealed class Distillation(TrainingPlan teacher, TrainingConfig config, double feature, double soft)
    {
        private DistillationObjective? _objective;
        private double _scale;

        public ITrainingObjective Create(Sequential student, RunContext context)
        {
            var teacherRun = (TrainedRun)context.Require(teacher);
            _scale = Summaries.Number(teacherRun.Extras, "feature_mean_square")
                ?? throw new InvalidDataException($"teacher run {teacher.Key} has no feature_mean_square in its summary.");
            var loaded = Checkpoint.Load(teacherRun.CheckpointPath, context.Device);
            try
            {
                var options = new DistillationOptions
                {
                    TeacherFeatures = FeatureLayer(Teacher), StudentFeatures = FeatureLayer(Student),
                    FeatureWeight = feature, FeatureScale = _scale, SoftWeight = soft, Temperature = Temperature,
                };
                _objective = new DistillationObjective(loaded.Model, student, options, p => config.CreateOptimizer(p),
                    (ulong)(config.Seed + ProjectionSeedOffset));
                return new WithTeacher(_objective, loaded.Model);
            }
            catch
            {
                loaded.Model.Dispose();
                throw;
            }
        }

        public void Record(RunOutcome outcome, RunContext context, JsonObject extras)
        {
            extras["feature_scale"] = _scale;
            extras["loss_terms"] = new JsonArray((_objective?.History ?? []).Select(t => (JsonNode)new JsonObject
            {
                ["feature_mse"] = Num(t.FeatureMse),
                ["feature_loss"] = Num(t.FeatureLoss),
                ["soft_loss"] = Num(t.Soft),
            }).ToArray());
            WriteInferenceTime(outcome, context);
        }
    }

    /// <summary>The distillation objective, which also owns (and disposes) the teacher it loaded.</summary>
    private sealed class WithTeacher(DistillationObjective inner, Sequential teacher) : ITrainingObjective, IDisposable
    {
        public void BeginEpoch(int steps) => inner.BeginEpoch(steps);

        public void ZeroGrad() => inner.ZeroGrad();

        public void Backward(Tensor images, ArrayView<int> labels, Tensor logits, ArrayView<float> loss, ArrayView<int> correct, int step) =>
            inner.Backward(images, labels, logits, loss, correct, step);

        public void Step(double learningRate) => inner.Step(learningRate);

        public void EndEpoch() => inner.EndEpoch();

        public void Dispose()
        {
            inner.Dispose();
            teacher.Dispose();
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

    // ----- inference time (a wall time: in its own file, never in a summary) ------------------------------------------

    private static void WriteInferenceTime(RunOutcome outcome, RunContext context)
    {
        using var images = NormalisedTestImages(context.Data, outcome.Normalization);
        context.Folder.WriteJson(InferenceFile, new JsonObject
        {
            ["microseconds_per_image"] = Math.Round(MicrosecondsPerImage(outcome.Model, images), 3),
            ["batch"] = TimingBatch,
            ["repeats"] = TimingRepeats,
            ["device"] = context.Device.Spec,
            ["device_name"] = context.Device.Name,
        });
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

    private static double InferenceTime(TrainedRun run) =>
        File.Exists(run.File(InferenceFile)) ? Summaries.Number(RunStore.ReadObject(run.File(InferenceFile)), "microseconds_per_image") ?? double.NaN : double.NaN;

    private static string InferenceDevice(TrainedRun run) =>
        File.Exists(run.File(InferenceFile)) && RunStore.ReadObject(run.File(InferenceFile)) is var o
            && Summaries.Text(o, "device_name") is { } name && Summaries.Text(o, "device") is { } spec
            ? $" (seed {run.Seed}'s teacher on {name}, {spec})" : "";

    // ----- analysis --------------------------------------------------------------------------------------------------

    /// <summary>One model of the comparison: its runs (one per seed) and their test accuracies over the seeds.</summary>
    private sealed record Row(string Key, string Label, IReadOnlyList<TrainedRun> Runs)
    {
        public Estimate Accuracy { get; } = Estimate.Of(Runs.Select(r => r.Seed).ToList(), Runs.Select(r => r.TestAccuracy));

        public Estimate Of(Func<TrainedRun, double> figure) => Estimate.Of(Runs.Select(r => r.Seed).ToList(), Runs.Select(figure));

        public long Parameters => Runs[0].ParameterCount;

        // The first seed's inference time (a wall time: report text and timing.json only).
        public double MicrosecondsPerImage => InferenceTime(Runs[0]);

        public bool Distilled => Key is not TeacherKey and not "student";
    }

    // The per-epoch loss terms of a distilled run (NaN where a term is absent).
    private static List<DistillationTerms> Terms(TrainedRun run) =>
        (run.Extras["loss_terms"] as JsonArray ?? []).OfType<JsonObject>().Select(t => new DistillationTerms(
            Summaries.Number(t, "feature_mse") ?? double.NaN, Summaries.Number(t, "feature_loss") ?? double.NaN,
            Summaries.Number(t, "soft_loss") ?? double.NaN)).ToList();

    /// <inheritdoc />
    public void Analyse(ExperimentContext context, RunSet runs)
    {
        var rows = new List<Row> { new(TeacherKey, "teacher", runs.Trained(TeacherKey)) };
        rows.AddRange(Variants.Select(v => new Row(v.Key, v.Label, runs.Trained(v.Key))));
        var teacher = rows[0];
        var alone = rows.First(r => r.Key == "student");
        var reported = rows.First(r => r.Key == "feature").Runs[0];
        var folder = context.Folder;
        context.WriteConfig(new JsonObject
        {
            ["teacher"] = teacher.Runs[0].Config.ToJson(),
            ["student"] = alone.Runs[0].Config.ToJson(),
            ["teacher_feature_layer"] = FeatureLayer(Teacher),
            ["student_feature_layer"] = FeatureLayer(Student),
            ["feature_weight"] = FeatureWeight,
            ["soft_weight"] = SoftWeight,
            ["temperature"] = Temperature,
            ["variants"] = new JsonArray(Variants.Select(v => (JsonNode)v.Key).ToArray()),
            ["timing_batch"] = TimingBatch,
            ["timing_repeats"] = TimingRepeats,
        });
        RunFiles.WriteMetrics(folder, [.. rows.SelectMany(r => r.Runs)]);
        var terms = new StringBuilder("run,seed,epoch,feature_mse,feature_loss,soft_loss\n");
        foreach (var run in rows.Where(r => r.Distilled).SelectMany(r => r.Runs))
        {
            var t = Terms(run);
            for (int e = 0; e < t.Count; e++)
                terms.AppendLine(string.Join(",", run.Config.Name, I(run.Seed), I(e + 1), R(t[e].FeatureMse), R(t[e].FeatureLoss), R(t[e].Soft)));
        }
        folder.WriteText("loss_terms.csv", terms.ToString());
        string checkpoint = RunFiles.CopyCheckpoint(folder, reported);
        var gains = rows.Where(r => r.Distilled).ToDictionary(r => r.Key, r => Estimate.Paired(r.Accuracy, alone.Accuracy));
        var teacherGap = Estimate.Paired(teacher.Accuracy, alone.Accuracy);

        // Validation accuracy per epoch, the mean over the seeds of each model.
        var series = new List<Series>();
        int group = 0;
        foreach (var row in rows)
        {
            int epochs = row.Runs.Min(r => r.Result.History.Count);
            series.Add(new Series($"{row.Label} (mean of {row.Runs.Count} seeds)", Enumerable.Range(1, epochs).Select(e => (double)e).ToArray(),
                Enumerable.Range(0, epochs).Select(e => row.Runs.Average(r => r.Result.History[e].ValidationAccuracy) * 100).ToArray(),
                Dashed: row.Key == TeacherKey, Group: row.Key == TeacherKey ? 3 : group++));
        }
        Plots.Lines(folder.File("validation_accuracy.png"), "validation accuracy per epoch", "epoch", "accuracy (%)", series,
            legend: ScottPlot.Alignment.LowerRight);
        var bestStudent = rows.Skip(1).MaxBy(r => r.Accuracy.Mean);
        Plots.Bars(folder.File("test_accuracy.png"), "test accuracy (mean over seeds; red: the best student)", "test accuracy (%)",
            rows.Select(r => ($"{r.Label} ({r.Parameters:N0} params)", r.Accuracy.Mean * 100, r == bestStudent)).ToList());

        var summary = RunFiles.ModelSummary(reported, checkpoint);
        summary["reported"] = reported.Plan.Key;
        summary["feature_scale"] = teacher.Of(r => Summaries.Number(r.Extras, "feature_mean_square") ?? double.NaN).ToJson();
        var models = new JsonObject();
        foreach (var row in rows)
        {
            var o = new JsonObject
            {
                ["label"] = row.Label,
                ["model"] = row.Runs[0].Config.Model.ToString(),
                ["parameters"] = row.Parameters,
                ["runs"] = new JsonArray(row.Runs.Select(r => (JsonNode)r.Plan.Key).ToArray()),
                ["test_accuracy"] = row.Accuracy.ToJson(),
                ["validation_accuracy"] = row.Of(r => r.Best.ValidationAccuracy).ToJson(),
                ["train_accuracy"] = row.Of(r => r.Best.TrainAccuracy).ToJson(),
                ["test_loss"] = row.Of(r => r.TestLoss).ToJson(),
                ["best_epoch"] = new JsonArray(row.Runs.Select(r => (JsonNode)r.Result.BestEpoch).ToArray()),
            };
            if (row.Distilled)
            {
                o["final_feature_loss"] = row.Of(r => Terms(r) is { Count: > 0 } t ? t[^1].FeatureLoss : double.NaN).ToJson();
                if (Variants.First(v => v.Key == row.Key).Soft > 0)
                    o["final_soft_loss"] = row.Of(r => Terms(r) is { Count: > 0 } t ? t[^1].Soft : double.NaN).ToJson();
            }
            models[row.Key] = o;
        }
        summary["models"] = models;
        summary["gain_over_student_alone"] = new JsonObject(gains.Select(g => KeyValuePair.Create(g.Key, (JsonNode?)new JsonObject
        {
            ["test_accuracy"] = g.Value.ToJson(),
            ["verdict"] = g.Value.Word(),
        })));
        summary["teacher_over_student_alone"] = new JsonObject { ["test_accuracy"] = teacherGap.ToJson(), ["verdict"] = teacherGap.Word() };
        summary["teacher_to_student_parameter_ratio"] = (double)teacher.Parameters / alone.Parameters;
        summary["projection_parameters"] = (long)Student.Hidden[^1] * Teacher.Hidden[^1] + Teacher.Hidden[^1];
        folder.WriteJson("summary.json", summary);

        // The inference times: wall times, so beside the summary, never in it.
        folder.WriteJson("timing.json", new JsonObject
        {
            ["microseconds_per_image"] = new JsonObject(rows.SelectMany(r => r.Runs).Select(r => KeyValuePair.Create(r.Plan.Key, (JsonNode?)Num(InferenceTime(r))))),
            ["teacher_to_student_time_ratio"] = Num(teacher.MicrosecondsPerImage / alone.MicrosecondsPerImage),
            ["of_seed"] = teacher.Runs[0].Seed,
            ["batch"] = TimingBatch,
            ["repeats"] = TimingRepeats,
        });

        foreach (var row in rows)
            context.Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{row.Label,-36} {row.Accuracy.Describe(RunFiles.Pct)}, {row.Parameters,9:N0} parameters, {row.MicrosecondsPerImage:F2} us/image (seed {row.Runs[0].Seed})"));
        foreach (var (key, g) in gains)
            context.Console.WriteLine($"{key} - student alone, paired by seed: {g.DescribeDifference(RunFiles.Points)}");
        context.Finish(Report(context, rows, gains, teacherGap));
    }

    private static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static JsonNode? Num(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    private static string Report(ExperimentContext run, List<Row> rows, Dictionary<string, Estimate> gains, Estimate teacherGap)
    {
        var teacher = rows[0];
        var alone = rows.First(r => r.Key == "student");
        var t0 = teacher.Runs[0];
        var c = t0.Config;
        var studentConfig = alone.Runs[0].Config;
        var seeds = teacher.Runs.Select(r => r.Seed).ToList();
        double featureScale = Summaries.Number(t0.Extras, "feature_mean_square") ?? double.NaN;
        int hs = Student.Hidden[^1], ht = Teacher.Hidden[^1];
        var text = new StringBuilder();
        text.AppendLine("# Knowledge distillation: a small MLP taught by a large one");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The **teacher** is a {Teacher} network ({teacher.Parameters:N0} parameters), trained for {c.Epochs} epochs once per seed " +
            $"({string.Join(", ", seeds)}) and then frozen: evaluation mode (dropout off), forward passes only, its parameters never written. The " +
            $"**student** is a {Student} network ({alone.Parameters:N0} parameters, {(double)teacher.Parameters / alone.Parameters:F0}x fewer), " +
            $"trained for {studentConfig.Epochs} epochs three ways with each seed. A seed sets its validation split" +
            $"{(run.Quick ? " and training subset" : "")}, the networks' initial weights and the order of their batches; the three students of a " +
            $"seed share them, and the distilled ones learn from that seed's teacher (read back from its run's checkpoint), so the students " +
            $"are compared paired by seed:"));
        text.AppendLine();
        text.AppendLine("- **student alone**: cross-entropy on the labels only;");
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"- **distilled: features**: cross-entropy + β·MSE(P·h_s + b, h_t)/s with β = {FeatureWeight}: h_s is the student's hidden " +
            $"ReLU output ({hs} values), h_t the teacher's last hidden ReLU output ({ht} values, before its dropout), P·h_s + b a learned " +
            $"linear projection (a {hs}→{ht} layer, {hs * ht + ht:N0} parameters, trained with the student by the same optimizer and " +
            $"thrown away afterwards: it is not counted in the student's parameters and not in its checkpoint), and s the mean square of " +
            $"h_t over the training images ({featureScale:G4} for seed {t0.Seed}'s teacher), so that the feature loss is a relative error " +
            $"(1 for a projection that outputs zeros) whatever the scale of the teacher's features (FitNets' hint loss, Romero et al. 2015);"));
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"- **distilled: features + soft targets**: the same plus α·T²·CE(softmax(t/T), softmax(s/T)) with α = {SoftWeight} and " +
            $"T = {Temperature}: the cross-entropy of the student's softened class distribution against the teacher's (Hinton, Vinyals and Dean 2015)."));
        text.AppendLine();
        text.AppendLine("β, α and T were chosen beforehand, in a one-off tuning sweep by validation accuracy (see the source): the weights are " +
            "small because larger ones did worse there. This run does not repeat that sweep.");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Every network: plain SGD (learning rate {LearningRate}, no momentum, batch {BatchSize}, cosine schedule), {c.Train.Length:N0} " +
            $"training images; the epoch with the best accuracy on {c.Validation.Length:N0} held-out validation images is kept and only it " +
            $"is measured on the {t0.TestCount:N0} test images, as in the other experiments. Inference time: a forward pass over the " +
            $"test images in evaluation mode in batches of {TimingBatch} (already normalised on the device, so only the network is timed), " +
            $"the median of {TimingRepeats} passes, per image, measured when each run was fitted{InferenceDevice(t0)}."));
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        text.Append(RunFiles.Table(["model", "parameters", "test accuracy (95% CI)", "std", "per seed", "train acc.", $"µs / image (seed {t0.Seed})"],
            rows.Select(r => (IReadOnlyList<string>)[r.Label, r.Parameters.ToString("N0", CultureInfo.InvariantCulture), r.Accuracy.Describe(RunFiles.Pct),
                r.Accuracy.N > 1 ? RunFiles.Points(r.Accuracy.Std).TrimStart('+') : "-", RunFiles.PerSeed(r.Accuracy, RunFiles.Pct),
                RunFiles.Pct(r.Runs.Average(o => o.Best.TrainAccuracy)), r.MicrosecondsPerImage.ToString("F2", CultureInfo.InvariantCulture)]),
            "lrllllr"));
        text.AppendLine();
        text.AppendLine("The interval is the 95% confidence interval of the mean over the seeds (Student's t), std the sample standard deviation " +
            "over the seeds. Train acc. is the accuracy on the training images (evaluation mode) at the selected epoch, the mean over the " +
            $"seeds. Inference times are seed {t0.Seed}'s runs (every run's is in `timing.json`); they are wall times, so they are not in `summary.json`.");
        text.AppendLine();
        text.AppendLine("## Reading");
        text.AppendLine();
        foreach (var (key, g) in gains)
        {
            var row = rows.First(r => r.Key == key);
            text.AppendLine($"- **{row.Label}** minus student alone, paired by seed: **{g.DescribeDifference(RunFiles.Points)}** " +
                $"(per seed: {RunFiles.PerSeed(g, RunFiles.Points)}).");
        }
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"A difference is called a gain or a loss only when its paired 95% interval excludes zero; otherwise it is within noise. The " +
            $"yardsticks: the student alone varies by {(alone.Accuracy.N > 1 ? RunFiles.Points(alone.Accuracy.Std).TrimStart('+') : "-")} (std) " +
            $"from seed to seed, and one accuracy on {t0.TestCount:N0} test images has a binomial standard error of about " +
            $"{RunFiles.Points(Math.Sqrt(alone.Accuracy.Mean * (1 - alone.Accuracy.Mean) / Math.Max(1, t0.TestCount))).TrimStart('+')}. ") +
            Gap(rows, gains, teacherGap));
        text.AppendLine();
        bool anyGain = gains.Values.Any(g => g.Verdict == Verdict.Gain);
        text.AppendLine(
            $"Training accuracy at the selected epoch: student alone {RunFiles.Pct(alone.Runs.Average(o => o.Best.TrainAccuracy))}, " +
            string.Join(", ", rows.Where(r => r.Distilled).Select(r => $"{r.Label} {RunFiles.Pct(r.Runs.Average(o => o.Best.TrainAccuracy))}")) +
            $", teacher {RunFiles.Pct(teacher.Runs.Average(o => o.Best.TrainAccuracy))}. Distillation is usually explained as a richer training signal (the " +
            $"teacher's similarities between classes, its intermediate features) that regularises a student which would otherwise " +
            $"overfit the hard labels" +
            (anyGain ? ". " : $"; a student of {hs} hidden units may be limited more by its capacity than by its training signal, and what it " +
                $"takes from the teacher competes for the same {hs} units. ") +
            Outcome(rows, gains));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Size and speed: the teacher has {(double)teacher.Parameters / alone.Parameters:F0}x the student's parameters and, in seed " +
            $"{t0.Seed}'s runs, takes {teacher.MicrosecondsPerImage / alone.MicrosecondsPerImage:F0}x its time per image ({teacher.MicrosecondsPerImage:F2} against " +
            $"{alone.MicrosecondsPerImage:F2} µs). Distillation costs only training time (a teacher forward pass per batch and the projection); " +
            $"the distilled student has the architecture of the student alone, so it is as small and as fast."));
        text.AppendLine();
        var distilled = rows.Where(r => r.Distilled).SelectMany(r => r.Runs).Select(Terms)
            .Where(t => t.Count > 0 && double.IsFinite(t[^1].FeatureLoss)).ToList();
        if (distilled.Count > 0)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"The feature loss (relative MSE) went from {distilled.Average(t => t[0].FeatureLoss):F3} in the first epoch to " +
                $"{distilled.Average(t => t[^1].FeatureLoss):F3} in the last (mean over the distilled runs): a {hs}-unit hidden layer " +
                $"can explain only part of the teacher's {ht} features through a linear map. Per epoch values are in `loss_terms.csv`; " +
                $"`metrics.csv`'s running loss is the cross-entropy term alone, so it compares with the student alone's."));
            text.AppendLine();
        }
        text.AppendLine("![validation accuracy per epoch](validation_accuracy.png)");
        text.AppendLine();
        text.AppendLine("![test accuracy](test_accuracy.png)");
        text.AppendLine();
        var reported = rows.First(r => r.Key == "feature").Runs[0];
        text.AppendLine($"The checkpoint is the features-distilled student of seed {reported.Seed} (without the projection); summary.json's " +
            "top-level `test_accuracy` is that model's.");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(reported));
        text.AppendLine(run.Footer());
        return text.ToString();
    }

    // One sentence on what the distilled variants did, by their paired intervals.
    private static string Outcome(List<Row> rows, Dictionary<string, Estimate> gains)
    {
        if (gains.Values.All(g => g.Verdict == Verdict.NoInterval))
            return "With one seed there is no interval, so this run cannot tell a gain from noise (run with `--seeds 3` or more).";
        if (gains.Values.All(g => g.Verdict == Verdict.WithinNoise))
            return "Here every distilled variant is within noise of the student alone: this run shows neither a benefit nor a harm from " +
                "distillation at this student size and these small weights.";
        return string.Join(" ", gains.Select(g => $"{rows.First(r => r.Key == g.Key).Label}: {g.Value.Word()} against the student alone."));
    }

    // What became of the gap between the student alone and the teacher.
    private static string Gap(List<Row> rows, Dictionary<string, Estimate> gains, Estimate teacherGap)
    {
        if (teacherGap.Verdict != Verdict.Gain)
            return $"The teacher is not better than the student alone beyond noise here ({teacherGap.DescribeDifference(RunFiles.Points)}), so there is no gap to close.";
        var closing = gains.Where(g => g.Value.Verdict == Verdict.Gain).ToList();
        if (closing.Count == 0)
            return string.Create(CultureInfo.InvariantCulture,
                $"No distilled variant closes any of the {teacherGap.Mean * 100:F2}-point gap between the student alone and the teacher beyond noise.");
        var best = closing.MaxBy(g => g.Value.Mean);
        return string.Create(CultureInfo.InvariantCulture,
            $"{rows.First(r => r.Key == best.Key).Label} closes {best.Value.Mean / teacherGap.Mean * 100:F0}% of the {teacherGap.Mean * 100:F2}-point " +
            $"gap between the student alone and the teacher (both paired by seed).");
    }
}
