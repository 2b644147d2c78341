using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GpuNet.Experiments.Engine;

namespace GpuNet.Experiments;

/// <summary>
/// The <see cref="L1L2Quiz"/> as a run of the engine: every variant trained without a penalty, with L2 and with L1 on the
/// run's device, from the seed alone (it reads no images). Its folder holds <c>quiz.csv</c> (the weights every
/// <see cref="L1L2Quiz.RecordEvery"/> steps) and summary.json (each fit's final weights, initial weights and loss), from
/// which <see cref="Read"/> gives the fits back.
/// </summary>
public sealed class L1L2QuizRun(int seed) : PlannedRun("l1-vs-l2-quiz", seed)
{
    /// <summary>The weight paths' file.</summary>
    public const string PathsFile = "quiz.csv";

    /// <inheritdoc />
    public override bool UsesData => false;

    /// <inheritdoc />
    public override JsonObject Identity() => new()
    {
        ["kind"] = "l1-l2-quiz",
        ["samples"] = L1L2Quiz.Samples,
        ["variants"] = new JsonArray(L1L2Quiz.Variants.Select(v => (JsonNode)v).ToArray()),
        ["penalties"] = new JsonArray(L1L2Quiz.Penalties.Select(v => (JsonNode)v).ToArray()),
        ["gains"] = Floats(L1L2Quiz.Gains),
        ["feature_noise"] = L1L2Quiz.FeatureNoise,
        ["target_noise"] = L1L2Quiz.TargetNoise,
        ["model"] = "Linear(4, 1, bias=False), MSE, full-batch SGD",
        ["learning_rate"] = L1L2Quiz.LearningRate,
        ["steps"] = L1L2Quiz.Steps,
        ["record_every"] = L1L2Quiz.RecordEvery,
        ["l2"] = L1L2Quiz.L2,
        ["l1"] = L1L2Quiz.L1,
        ["l1_method"] = "proximal",
    };

    /// <summary>The settings for the experiment's config.json (the identity without the internal kind).</summary>
    public JsonObject Settings()
    {
        var settings = Identity();
        settings.Remove("kind");
        return settings;
    }

    /// <inheritdoc />
    public override void Fit(RunContext context)
    {
        var csv = new StringBuilder("variant,penalty,step,w1,w2,w3,w4\n");
        var variants = new JsonObject();
        foreach (string variant in L1L2Quiz.Variants)
        {
            var problem = L1L2Quiz.Make(variant, Seed);
            var fits = new JsonObject();
            foreach (string penalty in L1L2Quiz.Penalties)
            {
                var f = L1L2Quiz.Train(context.Device, problem, penalty, Seed);
                context.Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"quiz {variant,-9} {penalty,-4} w = [{string.Join(", ", f.Weights.Select(v => v.ToString("F4", CultureInfo.InvariantCulture)))}], sum {f.Sum:F4}, zeros {f.Zeros}"));
                for (int k = 0; k < f.Steps.Length; k++)
                    csv.AppendLine(string.Join(",", [variant, penalty, f.Steps[k].ToString(CultureInfo.InvariantCulture),
                        .. f.Path[k].Select(v => v.ToString("R", CultureInfo.InvariantCulture))]));
                fits[penalty] = new JsonObject { ["weights"] = Floats(f.Weights), ["initial"] = Floats(f.Initial), ["mse"] = f.Loss };
            }
            variants[variant] = fits;
        }
        context.Folder.WriteText(PathsFile, csv.ToString());
        context.Folder.WriteJson(RunStore.SummaryFile, new JsonObject { ["run"] = Key, ["variants"] = variants });
    }

    /// <inheritdoc />
    public override FinishedRun Read(string directory) => new FinishedQuiz(this, directory);

    /// <summary>A value's float32 as JSON (a double that converts back to the same float).</summary>
    public static JsonArray Floats(float[] values) => new(values.Select(v => (JsonNode)(double)v).ToArray());

    private static float[] FloatsOf(JsonNode? node) => node!.AsArray().Select(v => (float)v!.GetValue<double>()).ToArray();

    /// <summary>The finished quiz: each variant's data (made again from the seed) and its three fits, in report order.</summary>
    public sealed class FinishedQuiz : FinishedRun
    {
        /// <summary>Reads the quiz in <paramref name="directory"/>.</summary>
        public FinishedQuiz(L1L2QuizRun plan, string directory) : base(plan, directory)
        {
            var paths = new Dictionary<(string, string), List<(int Step, float[] W)>>();
            foreach (string line in System.IO.File.ReadLines(File(PathsFile)).Skip(1))
            {
                var f = line.Split(',');
                var key = (f[0], f[1]);
                if (!paths.TryGetValue(key, out var list)) paths[key] = list = [];
                list.Add((int.Parse(f[2], CultureInfo.InvariantCulture), f[3..].Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()));
            }
            Variants = L1L2Quiz.Variants.Select(variant =>
            {
                var node = Summary["variants"]![variant]!;
                var fits = L1L2Quiz.Penalties.Select(p =>
                {
                    var path = paths[(variant, p)];
                    return new L1L2Quiz.Fit(p, FloatsOf(node[p]!["initial"]), FloatsOf(node[p]!["weights"]), node[p]!["mse"]!.GetValue<double>(),
                        [.. path.Select(s => s.Step)], [.. path.Select(s => s.W)]);
                }).ToArray();
                return (L1L2Quiz.Make(variant, plan.Seed), fits);
            }).ToList();
        }

        /// <summary>Each variant's problem and its fits (none, l2, l1).</summary>
        public IReadOnlyList<(L1L2Quiz.Problem Problem, L1L2Quiz.Fit[] Fits)> Variants { get; }

        /// <summary>One variant's results for summary.json: the weights per penalty, norms, losses and the optima in closed form.</summary>
        public static JsonObject Json(L1L2Quiz.Problem problem, L1L2Quiz.Fit[] fits)
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
    }
}
