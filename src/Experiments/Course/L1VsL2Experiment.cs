using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.Experiments.Reporting;
using GpuNet.Experiments.Training;
using GpuNet.Nn;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet run l1-vs-l2</c>: (a) the course's quiz, a linear model on four (nearly) identical features trained with MSE
/// without a penalty, with L2 and with a proximal L1 penalty (<see cref="L1L2Quiz"/>): L2 spreads the weight evenly, L1
/// puts it on one copy when something breaks the tie; (b) a 784-256-10 MLP swept over L1 (proximal) and L2 strengths, with
/// the L1 and L2 runs of matched validation accuracy compared: exact zeros, near-zero weights, first-layer histograms and
/// weight maps.
/// </summary>
public sealed class L1VsL2Experiment : ISelfRunExperiment
{
    /// <summary>The L1 strengths of the MLP sweep (applied by soft-thresholding by <c>lr·λ</c> after every SGD step).</summary>
    public static readonly double[] L1Strengths = [5e-5, 1e-4, 2e-4, 5e-4, 1e-3];

    /// <summary>The L2 strengths of the MLP sweep (PyTorch's <c>weight_decay</c>).</summary>
    public static readonly double[] L2Strengths = [1e-3, 3e-3, 1e-2, 2e-2, 5e-2];

    /// <summary>The MLP.</summary>
    public static readonly MlpSpec Model = new([256]);

    /// <summary>Training images of a full run (1,000 per class).</summary>
    public const int TrainImages = 20000;

    /// <summary>Validation images of a full run, for choosing the epoch and matching the accuracies.</summary>
    public const int ValidationImages = 2000;

    /// <summary>Plain SGD's learning rate, constant: without momentum, the SGD step followed by the soft-threshold is exactly
    /// proximal gradient descent (ISTA) on the mini-batch loss.</summary>
    public const double LearningRate = 0.1;

    /// <summary>Batch size.</summary>
    public const int BatchSize = 64;

    /// <summary>Epochs of a full run.</summary>
    public const int Epochs = 20;

    /// <summary>Training images of a quick run.</summary>
    public const int QuickTrainImages = 500;

    /// <summary>Validation images of a quick run.</summary>
    public const int QuickValidationImages = 500;

    /// <summary>Epochs of a quick run.</summary>
    public const int QuickEpochs = 2;

    /// <summary>The matched L1 run is the strongest whose validation accuracy is at most this far below the unpenalised run's.</summary>
    public const double AccuracyBudget = 0.01;

    /// <summary>A weight with a smaller magnitude counts as near zero.</summary>
    public const double NearZero = 1e-3;

    /// <summary>Hidden units shown as 28x28 weight maps per penalty.</summary>
    public const int MapUnits = 16;

    /// <inheritdoc />
    public string Name => "l1-vs-l2";

    /// <inheritdoc />
    public string Summary => "L1 vs L2: the four-identical-features quiz (L2 spreads, L1 concentrates) and an MLP's weights at matched accuracy.";

    /// <inheritdoc />
    public string KeyNumbers(JsonObject summary)
    {
        static string Weights(JsonNode? node) => node is JsonArray a
            ? "[" + string.Join(", ", a.Select(v => v is JsonValue j && j.TryGetValue(out double d) ? d.ToString("F2", CultureInfo.InvariantCulture) : "?")) + "]"
            : "-";
        var runs = (summary["mlp"]?["runs"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        string Run(string? name)
        {
            var r = runs.FirstOrDefault(r => Summaries.Text(r, "name") == name);
            return r is null ? "-" : $"{name} validation {RunFiles.Pct(Summaries.Number(r, "validation_accuracy") ?? double.NaN)}, " +
                $"{RunFiles.Pct(Summaries.Number(r, "exact_zero_fraction") ?? double.NaN)} weights exactly 0";
        }
        return $"quiz L2 {Weights(summary["quiz"]?["l2"])}, L1 {Weights(summary["quiz"]?["l1"])}; MLP at matched accuracy: " +
            $"{Run(Summaries.Text(summary, "mlp.matched.l1"))}; {Run(Summaries.Text(summary, "mlp.matched.l2"))}";
    }

    /// <summary>Sparsity of a model's weights.</summary>
    /// <param name="ExactZero">Share of all weights that are exactly 0.</param>
    /// <param name="NearZero">Share of all weights with |w| below <see cref="L1VsL2Experiment.NearZero"/>.</param>
    /// <param name="FirstExactZero">The same for the first layer only.</param>
    /// <param name="FirstNearZero">The same for the first layer only.</param>
    /// <param name="DeadUnits">Hidden units whose incoming weights are all exactly 0.</param>
    /// <param name="IgnoredPixels">Input pixels whose outgoing weights are all exactly 0 (the model does not look at them).</param>
    /// <param name="FrameExactZero">Share of the first layer's weights from the image's outer <see cref="Frame"/> pixels that are exactly 0.</param>
    /// <param name="CentreExactZero">The same for the pixels inside the frame.</param>
    /// <param name="FrameNearZero">Share of the frame's first-layer weights below <see cref="L1VsL2Experiment.NearZero"/> in magnitude.</param>
    /// <param name="CentreNearZero">The same for the pixels inside the frame.</param>
    /// <param name="FirstStd">Standard deviation of the first layer's weights.</param>
    /// <param name="Roughness">How rough the first layer's 28x28 maps are: the mean squared difference of neighbouring weights
    /// over twice the mean squared weight (about 1 for independent noise, lower for smooth maps).</param>
    private sealed record Sparsity(double ExactZero, double NearZero, double FirstExactZero, double FirstNearZero, int DeadUnits, int IgnoredPixels,
        double FrameExactZero, double CentreExactZero, double FrameNearZero, double CentreNearZero, double FirstStd, double Roughness);

    /// <summary>The frame's width in pixels: Fashion-MNIST's garments rarely reach the outer 3 pixels of the image.</summary>
    public const int Frame = 3;

    /// <summary>One MLP run: its penalty, outcome, the selected model's first layer and sparsity, and the last epoch's exact zeros.</summary>
    private sealed record Entry(string Kind, double Strength, RunOutcome Run, float[] FirstLayer, Sparsity Sparsity, double LastEpochExactZero)
    {
        public double Validation => Run.Best.ValidationAccuracy;
        public string Name => Run.Config.Name;
    }

    /// <inheritdoc />
    public int Run(RunOptions options, RunConsole console)
    {
        using var run = CourseRun.Open(Name, options, console);
        var data = run.Data;
        bool quick = options.Quick;
        int epochs = run.Epochs(Epochs, QuickEpochs);
        int[] train = data.Subset(data.TrainSplit, quick ? QuickTrainImages : TrainImages, 6);
        int[] validation = data.Subset(data.ValidationSplit, quick ? QuickValidationImages : ValidationImages, 7);
        var plan = new List<(string Kind, double Strength)> { ("none", 0) };
        plan.AddRange(L1Strengths.Select(s => ("L1", s)));
        plan.AddRange(L2Strengths.Select(s => ("L2", s)));
        TrainingConfig Config(string kind, double strength) => new(
            kind == "none" ? "none" : $"{kind}={Strength(strength)}", Model, LearningRate, 0, BatchSize, epochs, Cosine: true, "none",
            kind switch { "L1" => new Regularization(L1: strength, ProximalL1: true), "L2" => new Regularization(L2: strength), _ => Regularization.None },
            train, validation, options.Seed);
        run.WriteConfig(Name, new JsonObject
        {
            ["quiz"] = new JsonObject
            {
                ["samples"] = L1L2Quiz.Samples,
                ["variants"] = new JsonArray(L1L2Quiz.Variants.Select(v => (JsonNode)v).ToArray()),
                ["gains"] = Floats(L1L2Quiz.Gains),
                ["feature_noise"] = L1L2Quiz.FeatureNoise,
                ["target_noise"] = L1L2Quiz.TargetNoise,
                ["model"] = "Linear(4, 1, bias=False), MSE, full-batch SGD",
                ["learning_rate"] = L1L2Quiz.LearningRate,
                ["steps"] = L1L2Quiz.Steps,
                ["l2"] = L1L2Quiz.L2,
                ["l1"] = L1L2Quiz.L1,
                ["l1_method"] = "proximal",
            },
            ["mlp"] = new JsonObject
            {
                ["model"] = Model.ToString(),
                ["optimizer"] = Config("none", 0).Optimizer,
                ["batch_size"] = BatchSize,
                ["epochs"] = epochs,
                ["train_images"] = train.Length,
                ["validation_images"] = validation.Length,
                ["l1_strengths"] = new JsonArray(L1Strengths.Select(s => (JsonNode)s).ToArray()),
                ["l1_method"] = "proximal",
                ["l2_strengths"] = new JsonArray(L2Strengths.Select(s => (JsonNode)s).ToArray()),
                ["accuracy_budget"] = AccuracyBudget,
                ["near_zero_threshold"] = NearZero,
            },
        });

        // (a) the quiz: three variants x three penalties, every run from the same initial weights.
        var quiz = new List<(L1L2Quiz.Problem Problem, L1L2Quiz.Fit[] Fits)>();
        foreach (string variant in L1L2Quiz.Variants)
        {
            var problem = L1L2Quiz.Make(variant, options.Seed);
            var fits = L1L2Quiz.Penalties.Select(p => L1L2Quiz.Train(run.Device, problem, p, options.Seed)).ToArray();
            foreach (var f in fits)
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"quiz {variant,-9} {f.Penalty,-4} w = {Vector(f.Weights)}, sum {f.Sum:F4}, zeros {f.Zeros}"));
            quiz.Add((problem, fits));
        }

        // (b) the MLP sweep.
        console.PlanRuns(plan.Count);
        var entries = new List<Entry>();
        try
        {
            foreach (var (kind, strength) in plan)
            {
                double lastZero = 0;
                var outcome = TrainingRun.Fit(data, Config(kind, strength), console, afterEpoch: (_, model) =>
                {
                    var w = model.Parameters.Values.Rows(0, (int)model.Parameters.WeightCount).ToArray();
                    lastZero = w.Count(v => v == 0f) / (double)w.Length;
                });
                var first = ((Linear)outcome.Model.Modules[0]).Weight.Value.ToArray();
                entries.Add(new Entry(kind, strength, outcome, first, Measure(outcome.Weights(), first), lastZero));
            }
            return Write(run, quiz, entries);
        }
        finally
        {
            foreach (var e in entries) e.Run.Dispose();
        }
    }

    private static Sparsity Measure(float[] all, float[] first)
    {
        int hidden = Model.Hidden[0], pixels = FashionMnist.Pixels;
        int dead = 0, ignored = 0;
        for (int u = 0; u < hidden; u++)
        {
            bool zero = true;
            for (int p = 0; p < pixels && zero; p++) zero = first[u * pixels + p] == 0f;
            if (zero) dead++;
        }
        for (int p = 0; p < pixels; p++)
        {
            bool zero = true;
            for (int u = 0; u < hidden && zero; u++) zero = first[u * pixels + p] == 0f;
            if (zero) ignored++;
        }
        static double Share(float[] w, Func<float, bool> f) => w.Length == 0 ? 0 : w.Count(f) / (double)w.Length;
        int side = FashionMnist.Side;
        long frame = 0, frameZero = 0, frameNear = 0, centre = 0, centreZero = 0, centreNear = 0;
        double squares = 0, differences = 0, sum = 0;
        long pairs = 0;
        for (int u = 0; u < hidden; u++)
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                {
                    float v = first[u * pixels + y * side + x];
                    bool zero = v == 0f, near = Math.Abs(v) < NearZero;
                    if (Math.Min(Math.Min(x, y), Math.Min(side - 1 - x, side - 1 - y)) < Frame)
                    {
                        frame++;
                        if (zero) frameZero++;
                        if (near) frameNear++;
                    }
                    else
                    {
                        centre++;
                        if (zero) centreZero++;
                        if (near) centreNear++;
                    }
                    sum += v;
                    squares += (double)v * v;
                    if (x + 1 < side) { differences += Math.Pow((double)v - first[u * pixels + y * side + x + 1], 2); pairs++; }
                    if (y + 1 < side) { differences += Math.Pow((double)v - first[u * pixels + (y + 1) * side + x], 2); pairs++; }
                }
        double n = hidden * (double)pixels, mean = sum / n;
        return new Sparsity(Share(all, v => v == 0f), Share(all, v => Math.Abs(v) < NearZero), Share(first, v => v == 0f),
            Share(first, v => Math.Abs(v) < NearZero), dead, ignored, frameZero / (double)frame, centreZero / (double)centre,
            frameNear / (double)frame, centreNear / (double)centre,
            Math.Sqrt(Math.Max(squares / n - mean * mean, 0)), squares == 0 ? 0 : differences / pairs / (2 * squares / n));
    }

    /// <summary>The matched pair: the strongest L1 run within <see cref="AccuracyBudget"/> of the unpenalised validation accuracy
    /// (the weakest L1 run if none is), and the L2 run whose validation accuracy is closest to it.</summary>
    private static (Entry L1, Entry L2) Match(List<Entry> entries)
    {
        var none = entries[0];
        var l1 = entries.Where(e => e.Kind == "L1" && e.Validation >= none.Validation - AccuracyBudget).MaxBy(e => e.Strength)
            ?? entries.Where(e => e.Kind == "L1").MinBy(e => e.Strength)!;
        var l2 = entries.Where(e => e.Kind == "L2").MinBy(e => Math.Abs(e.Validation - l1.Validation))!;
        return (l1, l2);
    }

    private int Write(CourseRun run, List<(L1L2Quiz.Problem Problem, L1L2Quiz.Fit[] Fits)> quiz, List<Entry> entries)
    {
        var folder = run.Folder;
        RunFiles.WriteMetrics(folder, entries.Select(e => e.Run));
        WriteQuizCsv(folder, quiz);
        var none = entries[0];
        var (l1, l2) = Match(entries);
        string checkpoint = RunFiles.SaveCheckpoint(folder, l1.Run, Name, run.Data);

        // Plots.
        Plots.Panels(folder.File("quiz_paths.png"), "quiz: the four weights during training (every run from the same start)", "step", "weight",
            quiz.SelectMany(q => q.Fits.Select(f => ($"{q.Problem.Variant}, {PenaltyLabel(f.Penalty)}", (IReadOnlyList<Series>)Enumerable.Range(0, 4)
                .Select(i => new Series($"w{i + 1}", f.Steps.Select(s => (double)s).ToArray(), f.Path.Select(w => (double)w[i]).ToArray(), Group: i))
                .ToList()))).ToList(), columns: 3);
        double lo = Math.Log10(L1Strengths.Concat(L2Strengths).Min()), hi = Math.Log10(L1Strengths.Concat(L2Strengths).Max());
        var accuracy = new List<Series>();
        var sparsity = new List<Series>();
        foreach (var (kind, group) in new[] { ("L1", 0), ("L2", 1) })
        {
            var list = entries.Where(e => e.Kind == kind).OrderBy(e => e.Strength).ToList();
            double[] x = list.Select(e => Math.Log10(e.Strength)).ToArray();
            accuracy.Add(new Series($"{kind}: validation", x, list.Select(e => e.Validation * 100).ToArray(), Group: group));
            accuracy.Add(new Series($"{kind}: test", x, list.Select(e => e.Run.TestAccuracy * 100).ToArray(), Dashed: true, Group: group));
            sparsity.Add(new Series($"{kind}: exactly 0", x, list.Select(e => e.Sparsity.ExactZero * 100).ToArray(), Group: group));
            sparsity.Add(new Series($"{kind}: |w| < {NearZero:G}", x, list.Select(e => e.Sparsity.NearZero * 100).ToArray(), Dashed: true, Group: group));
        }
        accuracy.Add(new Series("no penalty: validation", [lo, hi], [none.Validation * 100, none.Validation * 100], Group: 2));
        accuracy.Add(new Series("no penalty: test", [lo, hi], [none.Run.TestAccuracy * 100, none.Run.TestAccuracy * 100], Dashed: true, Group: 2));
        sparsity.Add(new Series($"no penalty: |w| < {NearZero:G}", [lo, hi], [none.Sparsity.NearZero * 100, none.Sparsity.NearZero * 100], Dashed: true, Group: 2));
        Plots.Lines(folder.File("mlp_accuracy.png"), "MLP: accuracy by penalty strength (selected epoch)", "log10(strength)", "accuracy (%)", accuracy,
            legend: ScottPlot.Alignment.LowerLeft);
        Plots.Lines(folder.File("mlp_sparsity.png"), "MLP: share of weights at zero by penalty strength (selected epoch)", "log10(strength)",
            "weights (%)", sparsity, legend: ScottPlot.Alignment.UpperLeft);
        var shown = new[] { none, l1, l2 };
        double range = HistogramRange(none.FirstLayer);
        Plots.Histograms(folder.File("mlp_histograms.png"),
            string.Create(CultureInfo.InvariantCulture, $"first-layer weights, |w| <= {range:G2} (larger ones in the end bins)"), "weight value",
            shown.Select(e => (e.Name, e.FirstLayer.Select(v => (double)v).ToArray())).ToList(), bins: 101, range: (-range, range));
        int[] units = MapUnitsOf(l1.FirstLayer);
        var cells = shown.SelectMany(e => units.Select(u => new ImageGrid.Cell(Map(e.FirstLayer, u), $"{e.Name} #{u}"))).ToList();
        Png.Write(folder.File("weight_maps.png"), ImageGrid.Render(cells, FashionMnist.Side, FashionMnist.Side, columns: MapUnits, scale: 3,
            title: "first-layer weights of 16 hidden units as 28x28 maps: rows none, matched L1, matched L2 (grey 0, white +, black -)"));

        // summary.json
        var summary = RunFiles.ModelSummary(l1.Run, checkpoint);
        summary["checkpoint_run"] = l1.Name;
        var gains = quiz.Single(q => q.Problem.Variant == "gains");
        var quizJson = QuizJson(gains.Problem, gains.Fits);
        quizJson["variants"] = new JsonObject(quiz.Select(q => KeyValuePair.Create(q.Problem.Variant, (JsonNode?)QuizJson(q.Problem, q.Fits))));
        summary["quiz"] = quizJson;
        summary["mlp"] = new JsonObject
        {
            ["near_zero_threshold"] = NearZero,
            ["accuracy_budget"] = AccuracyBudget,
            ["matched"] = new JsonObject
            {
                ["l1"] = l1.Name,
                ["l2"] = l2.Name,
                ["validation_gap"] = l1.Validation - l2.Validation,
                ["test_gap"] = l1.Run.TestAccuracy - l2.Run.TestAccuracy,
            },
            ["runs"] = new JsonArray(entries.Select(e => (JsonNode)new JsonObject
            {
                ["name"] = e.Name,
                ["penalty"] = e.Kind,
                ["strength"] = e.Strength,
                ["best_epoch"] = e.Run.Result.BestEpoch,
                ["validation_accuracy"] = e.Validation,
                ["test_accuracy"] = e.Run.TestAccuracy,
                ["test_loss"] = e.Run.TestLoss,
                ["exact_zero_fraction"] = e.Sparsity.ExactZero,
                ["near_zero_fraction"] = e.Sparsity.NearZero,
                ["first_layer_exact_zero_fraction"] = e.Sparsity.FirstExactZero,
                ["first_layer_near_zero_fraction"] = e.Sparsity.FirstNearZero,
                ["dead_hidden_units"] = e.Sparsity.DeadUnits,
                ["ignored_pixels"] = e.Sparsity.IgnoredPixels,
                ["first_layer_frame_exact_zero_fraction"] = e.Sparsity.FrameExactZero,
                ["first_layer_centre_exact_zero_fraction"] = e.Sparsity.CentreExactZero,
                ["first_layer_frame_near_zero_fraction"] = e.Sparsity.FrameNearZero,
                ["first_layer_centre_near_zero_fraction"] = e.Sparsity.CentreNearZero,
                ["first_layer_std"] = e.Sparsity.FirstStd,
                ["first_layer_roughness"] = e.Sparsity.Roughness,
                ["exact_zero_fraction_last_epoch"] = e.LastEpochExactZero,
                ["diverged"] = e.Run.Result.Diverged,
            }).ToArray()),
        };
        folder.WriteJson("summary.json", summary);

        foreach (var e in entries)
            run.Console.WriteLine($"{e.Name,-9} validation {RunFiles.Pct(e.Validation)}, test {RunFiles.Pct(e.Run.TestAccuracy)}, " +
                $"exactly zero {RunFiles.Pct(e.Sparsity.ExactZero)}, |w| < {NearZero:G} {RunFiles.Pct(e.Sparsity.NearZero)}");
        run.Console.WriteLine($"matched: {l1.Name} ({RunFiles.Pct(l1.Validation)}) and {l2.Name} ({RunFiles.Pct(l2.Validation)}), " +
            $"validation gap {RunFiles.Points(l1.Validation - l2.Validation)}");
        run.Finish(Report(run, quiz, entries, l1, l2, units, range));
        return Cli.ExitOk;
    }

    private static JsonObject QuizJson(L1L2Quiz.Problem problem, L1L2Quiz.Fit[] fits)
    {
        var o = new JsonObject();
        foreach (var f in fits) o[f.Penalty] = Floats(f.Weights);
        o["variant"] = problem.Variant;
        o["gains"] = Floats(problem.FeatureGains);
        o["initial"] = Floats(fits[0].Initial);
        o["sum"] = new JsonObject(fits.Select(f => KeyValuePair.Create(f.Penalty, (JsonNode?)f.Sum)));
        o["l1_norm"] = new JsonObject(fits.Select(f => KeyValuePair.Create(f.Penalty, (JsonNode?)f.L1Norm)));
        o["l2_norm"] = new JsonObject(fits.Select(f => KeyValuePair.Create(f.Penalty, (JsonNode?)f.L2Norm)));
        o["mse"] = new JsonObject(fits.Select(f => KeyValuePair.Create(f.Penalty, (JsonNode?)f.Loss)));
        o["l2_optimum"] = new JsonArray(L1L2Quiz.RidgeOptimum(problem).Select(v => (JsonNode)v).ToArray());
        o["l1_optimum_one_sparse"] = L1L2Quiz.OneSparseLassoOptimum(problem) is { } w ? new JsonArray(w.Select(v => (JsonNode)v).ToArray()) : null;
        return o;
    }

    private static void WriteQuizCsv(RunFolder folder, List<(L1L2Quiz.Problem Problem, L1L2Quiz.Fit[] Fits)> quiz)
    {
        var csv = new StringBuilder("variant,penalty,step,w1,w2,w3,w4\n");
        foreach (var (problem, fits) in quiz)
            foreach (var f in fits)
                for (int k = 0; k < f.Steps.Length; k++)
                    csv.AppendLine(string.Join(",", [problem.Variant, f.Penalty, f.Steps[k].ToString(CultureInfo.InvariantCulture),
                        .. f.Path[k].Select(v => v.ToString("R", CultureInfo.InvariantCulture))]));
        folder.WriteText("quiz.csv", csv.ToString());
    }

    private static JsonArray Floats(float[] values) => new(values.Select(v => (JsonNode)(double)v).ToArray());

    private static string PenaltyLabel(string penalty) => penalty switch
    {
        "l2" => string.Create(CultureInfo.InvariantCulture, $"L2 {L1L2Quiz.L2}"),
        "l1" => string.Create(CultureInfo.InvariantCulture, $"L1 {L1L2Quiz.L1} (proximal)"),
        _ => "none",
    };

    private static string Strength(double s) =>
        s.ToString("0.#####E+0", CultureInfo.InvariantCulture).Replace("E-", "e-", StringComparison.Ordinal).Replace("E+0", "", StringComparison.Ordinal);

    private static string Vector(IEnumerable<float> w) =>
        "[" + string.Join(", ", w.Select(v => v.ToString("F4", CultureInfo.InvariantCulture))) + "]";

    private static string Vector(IEnumerable<double> w) =>
        "[" + string.Join(", ", w.Select(v => v.ToString("F4", CultureInfo.InvariantCulture))) + "]";

    /// <summary>The 99.5th percentile of |w|: the histograms' range, so that the bulk and the spike at zero are both visible.</summary>
    private static double HistogramRange(float[] w)
    {
        var a = w.Select(v => Math.Abs((double)v)).Order().ToArray();
        return a.Length == 0 ? 1 : Math.Max(a[(int)(0.995 * (a.Length - 1))], 1e-6);
    }

    /// <summary>The <see cref="MapUnits"/> hidden units with the largest incoming-weight norm under L1, in index order.</summary>
    private static int[] MapUnitsOf(float[] first)
    {
        int pixels = FashionMnist.Pixels, hidden = first.Length / pixels;
        return Enumerable.Range(0, hidden)
            .OrderByDescending(u => Enumerable.Range(0, pixels).Sum(p => (double)first[u * pixels + p] * first[u * pixels + p])).ThenBy(u => u)
            .Take(MapUnits).Order().ToArray();
    }

    /// <summary>Unit <paramref name="unit"/>'s incoming weights as an image: 0.5 + 0.5·w/max|w| (each map its own scale; 0 is mid-grey).</summary>
    private static float[] Map(float[] first, int unit)
    {
        var w = first.AsSpan(unit * FashionMnist.Pixels, FashionMnist.Pixels).ToArray();
        float max = w.Max(MathF.Abs);
        return w.Select(v => max == 0f ? 0.5f : 0.5f + 0.5f * v / max).ToArray();
    }

    private static string Report(CourseRun run, List<(L1L2Quiz.Problem Problem, L1L2Quiz.Fit[] Fits)> quiz, List<Entry> entries, Entry l1,
        Entry l2, int[] units, double range)
    {
        var text = new StringBuilder();
        var c = entries[0].Run.Config;
        text.AppendLine("# L1 vs L2: where each penalty puts the weight");
        text.AppendLine();
        text.AppendLine(QuizSection(quiz));
        text.AppendLine(MlpSection(entries, l1, l2, units, range, c));
        text.AppendLine($"The checkpoint is the matched L1 run's ({l1.Name}) selected model: the sparse one.");
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(l1.Run));
        text.AppendLine(run.Footer());
        return text.ToString();
    }

    private static string QuizSection(List<(L1L2Quiz.Problem Problem, L1L2Quiz.Fit[] Fits)> quiz)
    {
        var text = new StringBuilder();
        var w0 = quiz[0].Fits[0].Initial;
        text.AppendLine("## (a) The quiz: four copies of one feature");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"A linear model `y = w·f` without bias, on {L1L2Quiz.Samples:N0} samples of `x ~ N(0, 1)` with target `y = x + {L1L2Quiz.TargetNoise}·ε`, " +
            $"trained with mean squared error by full-batch SGD (learning rate {L1L2Quiz.LearningRate}, {L1L2Quiz.Steps:N0} steps) through the " +
            $"library (`Linear(4, 1, bias=False)`, `MseLoss`, `Sgd`). Three runs per data set, all from the same initial weights " +
            $"w0 = {Vector(w0)} (PyTorch's `U(-1/2, 1/2)` for four inputs, from the seed): **none**; **L2** with λ = {L1L2Quiz.L2} " +
            $"(penalty `(λ/2)·Σw²`, gradient `λ·w`); **L1** with λ = {L1L2Quiz.L1} (penalty `λ·Σ|w|`), applied by the proximal step: after " +
            $"each SGD step on the MSE alone the weights are soft-thresholded, `w ← sign(w)·max(|w| − lr·λ, 0)`, so zeros are exact. " +
            $"Three data sets: **identical** `f = [x, x, x, x]`; **noisy** `f_i = x + {L1L2Quiz.FeatureNoise}·ε_i` (independent noise per copy); " +
            $"**gains** `f_i = g_i·x` with g = {Vector(L1L2Quiz.Gains)} (one sensor, four calibrations within 2%)."));
        text.AppendLine();
        foreach (var (problem, fits) in quiz)
        {
            text.AppendLine($"### {problem.Variant}");
            text.AppendLine();
            var ridge = L1L2Quiz.RidgeOptimum(problem);
            var lasso = L1L2Quiz.OneSparseLassoOptimum(problem);
            var rows = fits.Select(f => (IReadOnlyList<string>)[PenaltyLabel(f.Penalty), .. f.Weights.Select(v => v.ToString("F4", CultureInfo.InvariantCulture)),
                F(f.Sum), F(f.L1Norm), F(f.L2Norm), $"{f.Zeros}", f.Loss.ToString("G3", CultureInfo.InvariantCulture)]).ToList();
            rows.Add(["L2 optimum (closed form)", .. ridge.Select(F), F(ridge.Sum()), F(ridge.Sum(Math.Abs)), F(Math.Sqrt(ridge.Sum(v => v * v))), "", ""]);
            if (lasso is not null)
                rows.Add(["L1 optimum (one-sparse, checked)", .. lasso.Select(F), F(lasso.Sum()), F(lasso.Sum(Math.Abs)), F(Math.Sqrt(lasso.Sum(v => v * v))), "", ""]);
            text.Append(RunFiles.Table(["run", "w1", "w2", "w3", "w4", "Σw", "‖w‖₁", "‖w‖₂", "exact zeros", "MSE"], rows, "lrrrrrrrrr"));
            text.AppendLine();
            text.AppendLine(QuizReading(problem, fits, ridge, lasso));
            text.AppendLine();
        }
        text.AppendLine("![the four weights during training](quiz_paths.png)");
        text.AppendLine();
        var gains = quiz.Single(q => q.Problem.Variant == "gains").Fits;
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"**The quiz's answer, and what it assumes.** `summary.json`'s `quiz` holds the gains data set: none {Vector(gains[0].Weights)}, " +
            $"L2 {Vector(gains[1].Weights)}, L1 {Vector(gains[2].Weights)}; the other two are under `quiz.variants`. " +
            $"L2 spreads the weight evenly because spreading minimises Σw² for a given Σw (four weights of s/4 cost s²/4, one weight of s costs s²). " +
            $"L1 costs the same Σ|w| however a positive sum is split, so with exactly identical copies it has no preference at all: " +
            $"every split with the right sum is optimal, and gradient steps (which move all four weights alike) end wherever they reach that set — " +
            $"the start decides. What makes L1 pick one copy is a difference between the copies that L1 can exploit: with gains, a unit of " +
            $"weight on the most sensitive copy buys {L1L2Quiz.Gains.Max() / L1L2Quiz.Gains.OrderDescending().ElementAt(1):F2}x the fit of the next one at the same L1 cost, so the optimum is a vertex " +
            $"— all weight on that copy and exact zeros elsewhere — and the soft-threshold gets there, because the other copies' gradients " +
            $"stay below the threshold once the best one carries the fit. Independent noise is not such a difference: it penalises " +
            $"every weight by `σ²·w²` (an L2 term), so it pulls towards even weights, for L1 as well. " +
            $"The unpenalised runs keep their start: each step changes all four weights by the same amount (identical copies) or in " +
            $"proportion to the gains, so the differences in w0 survive — the answer `[1, 0, 0, 0]` or `[0.25, ...]` for 'none' would be a guess about the start."));
        text.AppendLine();
        return text.ToString();
    }

    private static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);

    // What the weight-map numbers say, in words, only as far as they say it.
    private static string Maps(Sparsity l1, Sparsity l2, Sparsity none)
    {
        var parts = new List<string>();
        if (l1.FrameNearZero > 0.5 && l1.FrameNearZero > l1.CentreNearZero + 0.05)
            parts.Add("L1's maps are sparse and localised: the background around the garment is flat grey (near zero, and exactly 0 in places) " +
                "and what remains are a few strokes on the garment's area");
        else if (l1.FirstNearZero > 0.5)
            parts.Add("L1's maps are sparse, with near-zero weights spread over the whole image rather than concentrated in the background");
        else
            parts.Add("L1's maps are not yet visibly sparse at this strength");
        parts.Add(l2.Roughness < none.Roughness - 0.05
            ? "L2's maps are smoother than the unpenalised ones: the decay erodes the initial noise, which nothing in the data keeps, and leaves the learned blobs, dense over the whole image"
            : "L2's maps look like the unpenalised ones, dense and about as rough: at this strength its decay has not removed the initial noise");
        return string.Join("; ", parts) + ".";
    }

    private static string QuizReading(L1L2Quiz.Problem problem, L1L2Quiz.Fit[] fits, double[] ridge, double[]? lasso)
    {
        var (none, l2, l1) = (fits[0], fits[1], fits[2]);
        static double Spread(IEnumerable<double> v) => v.Max() - v.Min();
        var shift = none.Weights.Select((v, i) => (double)v - none.Initial[i]).ToArray();
        var ratio = shift.Select((v, i) => v / problem.FeatureGains[i]).ToArray();
        double l2Spread = Spread(l2.Weights.Select(v => (double)v)), l2Gap = l2.Weights.Select((v, i) => Math.Abs(v - ridge[i])).Max();
        var s = new StringBuilder();
        s.Append(string.Create(CultureInfo.InvariantCulture, $"**none**: Σw = {none.Sum:F4}; the weights moved by {Vector(shift)} from w0, which is "));
        s.Append(problem.Variant == "gains"
            ? string.Create(CultureInfo.InvariantCulture, $"the same multiple of each gain to within {Spread(ratio):G2} (shift/gain = {ratio.Average():F4})")
            : string.Create(CultureInfo.InvariantCulture, $"the same for all four to within {Spread(shift):G2}"));
        if (problem.Variant == "noisy")
            s.Append(string.Create(CultureInfo.InvariantCulture,
                $" (the noise gives the differences a curvature of about 2σ², so they relax by a factor of about exp(−lr·2σ²·steps) = " +
                $"{Math.Exp(-L1L2Quiz.LearningRate * 2 * L1L2Quiz.FeatureNoise * L1L2Quiz.FeatureNoise * L1L2Quiz.Steps):F2} over the run)"));
        s.Append(string.Create(CultureInfo.InvariantCulture, $": the start's differences are still there. **L2**: the four weights are within {l2Spread:G2} of each other, mean " +
            $"{l2.Weights.Average(v => (double)v):F4}, {l2Gap:G2} from the closed-form optimum; Σw = {l2.Sum:F4}, ‖w‖₂ = {l2.L2Norm:F4}"));
        s.Append(l2.L2Norm <= Math.Min(none.L2Norm, l1.L2Norm) ? ", the smallest ‖w‖₂ of the three runs. " : ". ");
        if (l1.Zeros >= 3)
        {
            s.Append(string.Create(CultureInfo.InvariantCulture, $"**L1**: {l1.Zeros} weights exactly 0 and w{l1.Dominant + 1} = {l1.Weights[l1.Dominant]:F4} carrying all of Σ|w| = {l1.L1Norm:F4}"));
            if (lasso is not null) s.Append(string.Create(CultureInfo.InvariantCulture, $", {Math.Abs(l1.Weights[l1.Dominant] - lasso[l1.Dominant]):G2} from the one-sparse optimum"));
            s.Append(string.Create(CultureInfo.InvariantCulture, $"; copy {l1.Dominant + 1} has the largest gain ({problem.FeatureGains[l1.Dominant]:G4}). Σw is {l1.Sum:F4}, below 1 by about " +
                $"λ/2 = {L1L2Quiz.L1 / 2:G2}: the price of the penalty."));
        }
        else
        {
            s.Append(string.Create(CultureInfo.InvariantCulture, $"**L1**: {l1.Zeros} of the four weights are exactly 0 and the largest carries {l1.DominantShare * 100:F0}% of Σ|w| = {l1.L1Norm:F4}: " +
                $"L1 shrank the weights (Σw = {l1.Sum:F4}, against {none.Sum:F4} without it) but did not concentrate them"));
            s.Append(problem.Variant == "identical"
                ? ", because nothing in the data tells the copies apart."
                : ", because independent noise favours even weights, like L2, and the threshold has nothing to choose by.");
        }
        return s.ToString();
    }

    private static string MlpSection(List<Entry> entries, Entry l1, Entry l2, int[] units, double range, TrainingConfig c)
    {
        var none = entries[0];
        var text = new StringBuilder();
        text.AppendLine("## (b) An MLP: sparsity at matched accuracy");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"A {c.Model.Widths} ReLU MLP trained with plain SGD (learning rate {c.LearningRate}{(c.Cosine ? " with a cosine schedule" : ", constant")}, batch {c.BatchSize}) for {c.Epochs} epochs on " +
            $"{c.Train.Length:N0} training images, with {c.Validation.Length:N0} validation images to choose each run's epoch, at L1 λ ∈ " +
            $"{{{string.Join(", ", L1Strengths.Select(Strength))}}} (proximal: soft-threshold by lr·λ after every step, so without momentum " +
            $"each step is exactly proximal gradient descent on the batch loss), L2 λ ∈ {{{string.Join(", ", L2Strengths.Select(Strength))}}} and without " +
            $"a penalty; every run from the same initial weights and batch order. Penalties act on the weights, not the biases. " +
            $"**Matching**: the L1 run is the strongest whose validation accuracy is at most {AccuracyBudget * 100:G} point below the unpenalised run's " +
            $"(the sparsest model that costs at most that), and the L2 run is the one whose validation accuracy is closest to it. " +
            $"A weight is near zero when |w| < {NearZero:G}."));
        text.AppendLine();
        text.Append(RunFiles.Table(["run", "epoch", "validation acc.", "test acc.", "exactly 0 (all)", $"|w| < {NearZero:G} (all)", "exactly 0 (layer 1)",
                "dead hidden units", "ignored pixels", "exactly 0, last epoch"],
            entries.Select(e => (IReadOnlyList<string>)[e == l1 || e == l2 ? $"**{e.Name}**" : e.Name, $"{e.Run.Result.BestEpoch}", RunFiles.Pct(e.Validation),
                RunFiles.Pct(e.Run.TestAccuracy), RunFiles.Pct(e.Sparsity.ExactZero), RunFiles.Pct(e.Sparsity.NearZero), RunFiles.Pct(e.Sparsity.FirstExactZero),
                $"{e.Sparsity.DeadUnits} / {Model.Hidden[0]}", $"{e.Sparsity.IgnoredPixels} / {FashionMnist.Pixels}", RunFiles.Pct(e.LastEpochExactZero)]),
            "lrrrrrrrrr"));
        text.AppendLine();
        double gap = l1.Validation - l2.Validation;
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"**Matched pair: {l1.Name} and {l2.Name}**, validation accuracy {RunFiles.Pct(l1.Validation)} and {RunFiles.Pct(l2.Validation)} " +
            $"({RunFiles.Points(gap)}{(Math.Abs(gap) <= 0.005 ? ", within half a point" : ", more than half a point apart: no L2 strength of the sweep lands closer")}), " +
            $"test accuracy {RunFiles.Pct(l1.Run.TestAccuracy)} and {RunFiles.Pct(l2.Run.TestAccuracy)} (without a penalty {RunFiles.Pct(none.Validation)} " +
            $"validation, {RunFiles.Pct(none.Run.TestAccuracy)} test). At that accuracy L1 has set {RunFiles.Pct(l1.Sparsity.ExactZero)} of the weights to exactly " +
            $"0 ({RunFiles.Pct(l1.Sparsity.FirstExactZero)} of the first layer; {l1.Sparsity.IgnoredPixels} of the {FashionMnist.Pixels} pixels feed no hidden unit at all, " +
            $"and {l1.Sparsity.DeadUnits} hidden units receive nothing), while L2 has {RunFiles.Pct(l2.Sparsity.ExactZero)} exactly 0 and " +
            $"{RunFiles.Pct(l2.Sparsity.NearZero)} below {NearZero:G} (no penalty: {RunFiles.Pct(none.Sparsity.NearZero)}). " +
            $"L2 shrinks every weight in proportion to its size, so weights get smaller but do not reach zero; the proximal L1 step " +
            $"subtracts lr·λ from every magnitude and stops at zero. With mini-batches a weight at zero is pushed off it again in every step " +
            $"where its batch gradient exceeds λ, so many weights hover within a step or two of zero instead of sitting on it: " +
            $"{RunFiles.Pct(l1.Sparsity.ExactZero)} are exactly 0 in the selected model but {RunFiles.Pct(l1.Sparsity.NearZero)} are below {NearZero:G} " +
            $"({RunFiles.Pct(l1.LastEpochExactZero)} exactly 0 after the last epoch)."));
        text.AppendLine();
        text.AppendLine(RunFiles.NoiseNote(none.Validation, c.Validation.Length, none.Run.TestCount));
        text.AppendLine();
        text.AppendLine("![accuracy by strength](mlp_accuracy.png)");
        text.AppendLine();
        text.AppendLine("![weights at zero by strength](mlp_sparsity.png)");
        text.AppendLine();
        var (a, b, n0) = (l1.Sparsity, l2.Sparsity, none.Sparsity);
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The first layer's weights of the unpenalised run and of the matched pair (range ±{range:G2}, the 99.5th percentile of |w| without a " +
            $"penalty; larger ones in the end bins; log count). L1: {RunFiles.Pct(a.FirstExactZero)} of the layer exactly 0 and " +
            $"{RunFiles.Pct(a.FirstNearZero)} below {NearZero:G}, standard deviation {a.FirstStd:G3}; L2: {RunFiles.Pct(b.FirstExactZero)} exactly 0, " +
            $"{RunFiles.Pct(b.FirstNearZero)} below {NearZero:G}, standard deviation {b.FirstStd:G3}; no penalty: {RunFiles.Pct(n0.FirstNearZero)} below " +
            $"{NearZero:G}, standard deviation {n0.FirstStd:G3}. "));
        double Beyond(Entry e) => e.FirstLayer.Count(v => Math.Abs(v) > range) / (double)Math.Max(1, e.FirstLayer.Length);
        text.AppendLine(string.Join(" ", new[]
        {
            a.FirstExactZero > 0.01 && a.FirstNearZero > 2 * b.FirstNearZero
                ? "L1's histogram has a spike at zero that L2's lacks: it moves the weights it does not need onto zero."
                : string.Create(CultureInfo.InvariantCulture, $"At this strength L1 has put few weights at zero ({RunFiles.Pct(a.FirstExactZero)} exactly)."),
            b.FirstStd < 0.9 * n0.FirstStd
                ? "L2 narrows the whole distribution instead."
                : "L2 has barely changed the distribution.",
            Beyond(l1) > 1.5 * Beyond(l2)
                ? string.Create(CultureInfo.InvariantCulture,
                    $"L1 also keeps more large weights: {RunFiles.Pct(Beyond(l1))} of its layer lies beyond ±{range:G2} against {RunFiles.Pct(Beyond(l2))} for L2 (L1 charges a large weight no more per unit than a small one; L2 charges it in proportion).")
                : "",
        }.Where(t => t.Length > 0)));
        text.AppendLine();
        text.AppendLine("![first-layer weight histograms](mlp_histograms.png)");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Weight maps: the incoming weights of hidden units {string.Join(", ", units)} (the {MapUnits} with the largest weight norm under L1; the " +
            $"same units, from the same initial weights, in every row), each scaled to its own largest |w| with 0 mid-grey. Where the weights are: " +
            $"in the outer {Frame} pixels of the image, which the garments rarely reach, L1 leaves {RunFiles.Pct(a.FrameNearZero)} of the first layer's " +
            $"weights near zero against {RunFiles.Pct(a.CentreNearZero)} inside (exactly 0: {RunFiles.Pct(a.FrameExactZero)} and {RunFiles.Pct(a.CentreExactZero)}; " +
            $"L2 near zero: {RunFiles.Pct(b.FrameNearZero)} and {RunFiles.Pct(b.CentreNearZero)}; no penalty: {RunFiles.Pct(n0.FrameNearZero)} and " +
            $"{RunFiles.Pct(n0.CentreNearZero)}), and {a.IgnoredPixels} pixels feed no unit at all. How smooth they are: the roughness of the maps (mean squared difference of " +
            $"neighbouring weights over twice the mean square; 1 for independent noise such as the initial weights) is {n0.Roughness:F2} without a " +
            $"penalty, {a.Roughness:F2} with L1 and {b.Roughness:F2} with L2. "));
        text.AppendLine(Maps(a, b, n0));
        text.AppendLine();
        text.AppendLine("![first-layer weight maps](weight_maps.png)");
        text.AppendLine();
        return text.ToString();
    }
}
