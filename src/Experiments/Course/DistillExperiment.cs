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
/// <c>gpunet run distill</c>: when knowledge distillation helps. For each seed a teacher MLP is trained once on the whole
/// training split and frozen; a much smaller student is then trained on labelled sets of several sizes (a stratified share
/// of the training split), four ways with the same seed and images: alone (cross-entropy on the labels), distilled through
/// its hidden features (plus the relative mean squared error between a learned projection of its hidden layer and the
/// teacher's last hidden layer, FitNets' hint), with Hinton's soft targets, and with both. The teacher sees the student's
/// labelled images only: it is a richer training signal on the same images, not extra data. Every student gets at least
/// <see cref="MinSteps"/> steps, so a small labelled set is trained for more epochs. Compares, per size and paired by seed,
/// each distilled student with the student alone; and the teacher's and student's size and inference time.
/// </summary>
public sealed class DistillExperiment : ICourseExperiment
{
    /// <summary>The teacher: 784-256-128-10 ReLU (the <c>mlp</c> network).</summary>
    public static readonly MlpSpec Teacher = new([256, 128]);

    /// <summary>The student: 784-32-10 ReLU.</summary>
    public static readonly MlpSpec Student = new([32]);

    /// <summary>Plain SGD's learning rate, annealed to 0 by a cosine, for every network (as <c>mlp</c>).</summary>
    public const double LearningRate = 0.1;

    /// <summary>Batch size.</summary>
    public const int BatchSize = 64;

    /// <summary>Epochs of the teacher in a full run.</summary>
    public const int TeacherEpochs = 8;

    /// <summary>The students' labelled sets, as shares of the training split.</summary>
    public static readonly double[] Fractions = [0.01, 0.05, 0.2, 1.0];

    /// <summary>Every student trains for at least this many steps (batches): <c>max(MinEpochs, ceil(MinSteps / batches per
    /// epoch))</c> epochs, so 1% of the split (9 batches) gets 134 epochs and the whole split (844 batches) 2.</summary>
    public const int MinSteps = 1200;

    /// <summary>The fewest epochs of a student.</summary>
    public const int MinEpochs = 2;

    // β, α and T are fixed before the run, from the literature rather than from a sweep: T = 4 and equal weight for the
    // soft term (after its T² scaling) are common choices since Hinton et al. (2015); the hint's weight is small so that
    // matching the teacher's 128 features does not crowd the classification out of the student's 32 hidden units.

    /// <summary><c>β</c>: the weight of the feature loss, which is the MSE divided by the teacher features' mean square.</summary>
    public const double FeatureWeight = 0.1;

    /// <summary><c>α</c>: the weight of the soft-target loss (which includes its <c>T²</c>).</summary>
    public const double SoftWeight = 1;

    /// <summary>The soft targets' temperature.</summary>
    public const float Temperature = 4;

    /// <summary>Training images of a quick run (the split the shares are taken of).</summary>
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

    /// <summary>The four ways of training the student (the key starts the run's name).</summary>
    public static readonly (string Key, string Label, double Feature, double Soft)[] Methods =
    [
        ("student", "student alone", 0, 0),
        ("feature", "features", FeatureWeight, 0),
        ("soft", "soft targets", 0, SoftWeight),
        ("feature+soft", "features + soft targets", FeatureWeight, SoftWeight),
    ];

    /// <summary>The teacher runs' name.</summary>
    public const string TeacherKey = "teacher";

    // What a run writes besides the engine's files: the inference timing (a wall time, so a file of its own).
    private const string InferenceFile = "inference.json";

    /// <inheritdoc />
    public string Name => "distill";

    /// <inheritdoc />
    public string Summary => "Distil a 784-256-128-10 teacher into a 784-32-10 student (hint features, soft targets, both) at four labelled-set sizes: where it helps, paired by seed; size and speed.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary) =>
        (Summaries.Text(summary, "helps") is { Length: > 0 } helps ? $"distillation helps at: {helps}" : "distillation helps at no size") +
        $"; teacher {Summaries.MeanWithInterval(summary, "teacher.test_accuracy", RunFiles.Pct)}, student alone on the whole split " +
        $"{Summaries.MeanWithInterval(summary, "student_alone_full.test_accuracy", RunFiles.Pct)}; " +
        string.Create(CultureInfo.InvariantCulture, $"{Summaries.Number(summary, "teacher_to_student_parameter_ratio") ?? double.NaN:F0}x fewer parameters");

    /// <summary>Three seeds: the report compares the students, paired by seed.</summary>
    public int DefaultSeeds => 3;

    /// <summary>The layer whose output is an MLP's last hidden activation (its ReLU, before any dropout).</summary>
    public static int FeatureLayer(MlpSpec spec) => (spec.Dropout > 0 ? 3 : 2) * (spec.Hidden.Length - 1) + 1;

    /// <summary>The run name of <paramref name="method"/> at share <paramref name="fraction"/>: <c>soft-5pct</c>.</summary>
    public static string RunName(string method, double fraction) =>
        string.Create(CultureInfo.InvariantCulture, $"{method}-{fraction * 100:0.##}pct");

    /// <summary>A student's epochs on <paramref name="images"/> labelled images: at least <see cref="MinSteps"/> steps.</summary>
    public static int StudentEpochs(int images) =>
        Math.Max(MinEpochs, (MinSteps + Batches(images) - 1) / Batches(images));

    private static int Batches(int images) => Math.Max(1, (images + BatchSize - 1) / BatchSize);

    /// <inheritdoc />
    public IReadOnlyList<PlannedRun> Plan(ExperimentContext context)
    {
        var teachers = context.Seeds.Select(seed => TeacherPlan(TeacherConfig(context, seed))).ToList();
        var students = teachers.SelectMany(teacher => Fractions.SelectMany(f => Methods.Select(m =>
            StudentPlan(StudentConfig(context, teacher.Seed, m.Key, f), $"{m.Label}, {f * 100:0.##}%", teacher, m.Feature, m.Soft))));
        return [.. teachers, .. students];
    }

    // The split a seed's networks learn from: the training split (a subset of it in a quick run).
    private static (int[] Train, int[] Validation) Split(ExperimentContext context, int seed)
    {
        var data = context.Data(seed);
        return context.Quick
            ? (data.Subset(data.TrainSplit, QuickTrain, 1), data.Subset(data.ValidationSplit, QuickValidation, 2))
            : (data.TrainSplit, data.ValidationSplit);
    }

    // Every network: plain SGD with a cosine schedule; the test set is measured for the selected epoch only.
    private static TrainingConfig TeacherConfig(ExperimentContext context, int seed)
    {
        var (train, validation) = Split(context, seed);
        return new(TeacherKey, Teacher, LearningRate, 0, BatchSize, context.Epochs(TeacherEpochs, QuickEpochs), Cosine: true, "none",
            Regularization.None, train, validation, seed) { TestEveryEpoch = false, Test = context.QuickTest(context.Data(seed)) };
    }

    // A student's labelled set: a stratified share of the split, the same for the four methods of a seed and size.
    private static TrainingConfig StudentConfig(ExperimentContext context, int seed, string method, double fraction)
    {
        var (split, validation) = Split(context, seed);
        int count = Math.Max(10, (int)Math.Round(split.Length * fraction));
        int[] train = context.Data(seed).Subset(split, count, 3);
        return new(RunName(method, fraction), Student, LearningRate, 0, BatchSize, context.Epochs(StudentEpochs(train.Length), QuickEpochs),
            Cosine: true, "none", Regularization.None, train, validation, seed) { TestEveryEpoch = false, Test = context.QuickTest(context.Data(seed)) };
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

        // The last epoch's terms (every epoch's would make a small set's 134-epoch run's summary long for little use).
        public void Record(RunOutcome outcome, RunContext context, JsonObject extras)
        {
            extras["feature_scale"] = _scale;
            if (_objective?.History is { Count: > 0 } history)
                extras["final_loss_terms"] = new JsonObject
                {
                    ["feature_loss"] = Num(history[^1].FeatureLoss),
                    ["soft_loss"] = Num(history[^1].Soft),
                    ["first_feature_loss"] = Num(history[0].FeatureLoss),
                };
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
        model.KeepOutput(layer);
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

    private static JsonNode? Num(double v) => double.IsFinite(v) ? JsonValue.Create(v) : null;

    private static Estimate Over(IReadOnlyList<TrainedRun> runs, Func<TrainedRun, double> figure) => new(runs.Select(r => (r.Seed, figure(r))));

    /// <inheritdoc />
    public void Analyse(ExperimentContext context, RunSet runs)
    {
        var teachers = runs.Trained(TeacherKey);
        var t0 = teachers[0];
        var sizes = new List<SizeResult>();
        foreach (double f in Fractions)
        {
            var byMethod = Methods.ToDictionary(m => m.Key, m => runs.Trained(RunName(m.Key, f)));
            var first = byMethod["student"][0].Config;
            sizes.Add(new SizeResult(f, first.Train.Length, first.Epochs, first.Epochs * Batches(first.Train.Length),
                Methods.Select(m => Over(byMethod[m.Key], r => r.TestAccuracy)).ToList(),
                Methods.Select(m => Over(byMethod[m.Key], r => r.Best.TrainAccuracy)).ToList()));
        }
        var aloneFull = runs.Trained(RunName("student", Fractions[^1]));
        var reported = runs.Trained(RunName("feature+soft", Fractions[0]))[0];
        var teacherAccuracy = Over(teachers, r => r.TestAccuracy);
        var results = new DistillResults(
            Seeds: teachers.Select(r => r.Seed).ToList(),
            Methods: Methods.Select(m => m.Label).ToList(),
            Sizes: sizes,
            Teacher: teacherAccuracy,
            TeacherEpochs: t0.Config.Epochs,
            TeacherParameters: t0.ParameterCount,
            StudentParameters: aloneFull[0].ParameterCount,
            ProjectionParameters: (long)Student.Hidden[^1] * Teacher.Hidden[^1] + Teacher.Hidden[^1],
            TeacherMicroseconds: InferenceTime(t0),
            StudentMicroseconds: InferenceTime(aloneFull[0]),
            TimingNote: InferenceDevice(t0),
            SplitImages: t0.Config.Train.Length,
            ValidationImages: t0.Config.Validation.Length,
            TestImages: t0.TestCount,
            FeatureScale: Summaries.Number(t0.Extras, "feature_mean_square") ?? double.NaN,
            Quick: context.Quick);

        var folder = context.Folder;
        context.WriteConfig(new JsonObject
        {
            ["teacher"] = t0.Config.ToJson(),
            ["student"] = aloneFull[0].Config.ToJson(),
            ["fractions"] = new JsonArray(Fractions.Select(f => (JsonNode)f).ToArray()),
            ["min_steps"] = MinSteps,
            ["teacher_feature_layer"] = FeatureLayer(Teacher),
            ["student_feature_layer"] = FeatureLayer(Student),
            ["feature_weight"] = FeatureWeight,
            ["soft_weight"] = SoftWeight,
            ["temperature"] = Temperature,
            ["methods"] = new JsonArray(Methods.Select(m => (JsonNode)m.Key).ToArray()),
            ["distilled_on"] = "the student's labelled images only",
            ["timing_batch"] = TimingBatch,
            ["timing_repeats"] = TimingRepeats,
        });
        var students = Fractions.SelectMany(f => Methods.SelectMany(m => runs.Trained(RunName(m.Key, f)))).ToList();
        RunFiles.WriteMetrics(folder, [.. teachers, .. students]);
        string checkpoint = RunFiles.CopyCheckpoint(folder, reported);

        // Test accuracy against the labelled set's size, the mean over the seeds of each method.
        var xs = sizes.Select(s => (double)s.Images).ToArray();
        var series = Methods.Select((m, k) => new Series(m.Label, xs, sizes.Select(s => s.Accuracy[k].Mean * 100).ToArray(), Group: k)).ToList();
        series.Add(new Series($"teacher ({t0.Config.Train.Length:N0} images)", [xs[0], xs[^1]], [teacherAccuracy.Mean * 100, teacherAccuracy.Mean * 100],
            Dashed: true, Group: Methods.Length));
        Plots.LinesLogX(folder.File("accuracy_vs_labels.png"), $"test accuracy against the labelled images (mean of {results.Seeds.Count} seeds)",
            "labelled training images", "test accuracy (%)", series, xs, legend: ScottPlot.Alignment.LowerRight);
        // The paired gains with their intervals, per distilled method.
        var gains = new List<Series>();
        for (int k = 1; k < Methods.Length; k++)
        {
            var d = sizes.Select(s => s.Gain(k)).ToList();
            gains.Add(new Series($"{Methods[k].Label}: gain", xs, d.Select(e => e.Mean * 100).ToArray(), Group: k));
            if (d.All(e => e.N > 1))
            {
                gains.Add(new Series($"{Methods[k].Label}: 95% CI", xs, d.Select(e => e.Low * 100).ToArray(), Dashed: true, Group: k));
                gains.Add(new Series($"{Methods[k].Label}: 95% CI ", xs, d.Select(e => e.High * 100).ToArray(), Dashed: true, Group: k));
            }
        }
        gains.Add(new Series("no difference", [xs[0], xs[^1]], [0, 0], Group: 7));
        Plots.LinesLogX(folder.File("gain_vs_labels.png"), "distilled minus student alone, paired by seed (dashed: 95% interval)",
            "labelled training images", "test accuracy difference (pp)", gains, xs, legend: ScottPlot.Alignment.UpperRight);

        var summary = RunFiles.ModelSummary(reported, checkpoint);
        summary["reported"] = reported.Plan.Key;
        summary["teacher"] = new JsonObject
        {
            ["model"] = Teacher.ToString(),
            ["parameters"] = results.TeacherParameters,
            ["test_accuracy"] = teacherAccuracy.ToJson(),
            ["feature_scale"] = Over(teachers, r => Summaries.Number(r.Extras, "feature_mean_square") ?? double.NaN).ToJson(),
        };
        summary["student_alone_full"] = new JsonObject { ["test_accuracy"] = Over(aloneFull, r => r.TestAccuracy).ToJson() };
        summary["teacher_over_student_alone_full"] = results.TeacherGap.ToJson();
        summary["teacher_over_student_alone_full_verdict"] = results.TeacherGap.Word();
        summary["sizes"] = new JsonArray(sizes.Select(s =>
        {
            var o = new JsonObject
            {
                ["fraction"] = s.Fraction,
                ["labelled_images"] = s.Images,
                ["epochs"] = s.Epochs,
                ["steps"] = s.Steps,
            };
            for (int k = 0; k < Methods.Length; k++)
            {
                var m = new JsonObject { ["test_accuracy"] = s.Accuracy[k].ToJson(), ["train_accuracy"] = s.TrainAccuracy[k].ToJson() };
                if (k > 0)
                {
                    m["gain_over_student_alone"] = s.Gain(k).ToJson();
                    m["verdict"] = s.Gain(k).Word();
                }
                o[Methods[k].Key] = m;
            }
            return (JsonNode)o;
        }).ToArray());
        summary["helps"] = results.HelpsText();
        summary["student_parameters"] = results.StudentParameters;
        summary["teacher_to_student_parameter_ratio"] = (double)results.TeacherParameters / results.StudentParameters;
        summary["projection_parameters"] = results.ProjectionParameters;
        folder.WriteJson("summary.json", summary);

        // The inference times: wall times, so beside the summary, never in it.
        var timed = teachers.Concat(Fractions.SelectMany(f => runs.Trained(RunName("student", f)))).ToList();
        folder.WriteJson("timing.json", new JsonObject
        {
            ["microseconds_per_image"] = new JsonObject(timed.Select(r => KeyValuePair.Create(r.Plan.Key, Num(InferenceTime(r))))),
            ["teacher_to_student_time_ratio"] = Num(results.TeacherMicroseconds / results.StudentMicroseconds),
            ["of_seed"] = t0.Seed,
            ["batch"] = TimingBatch,
            ["repeats"] = TimingRepeats,
        });

        foreach (var s in sizes)
            context.Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{s.Images,6} labelled images: ") + string.Join("; ",
                Methods.Select((m, k) => k == 0 ? $"{m.Label} {RunFiles.Pct(s.Accuracy[0].Mean)}" : $"{m.Label} {s.Gain(k).DescribeDifference(RunFiles.Points)}")));
        context.Finish(DistillReport.Write(results) + "\n" + RunFiles.CheckpointSection(reported) + "\n" + context.Footer());
    }
}
