using System.Globalization;
using System.Text;
using GpuNet.Data;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;
using static GpuNet.Experiments.L1VsL2Experiment;

namespace GpuNet.Experiments;

/// <summary>The words of <c>l1-vs-l2</c>'s report: the quiz's tables and their reading, and the MLP sweep's comparison at
/// matched accuracy, every sentence conditioned on the numbers it states.</summary>
internal static class L1VsL2Report
{
    /// <summary>The whole report.</summary>
    public static string Write(ExperimentContext context, IReadOnlyList<(L1L2Quiz.Problem Problem, L1L2Quiz.Fit[] Fits)> quiz, int quizSeed,
        IReadOnlyList<Setting> settings, Setting l1, Setting l2, Comparison comparison, float[][] firstLayers, int[] units, double range)
    {
        var text = new StringBuilder();
        text.AppendLine("# L1 vs L2: where each penalty puts the weight");
        text.AppendLine();
        text.AppendLine(QuizSection(quiz, quizSeed));
        text.AppendLine(MlpSection(settings, l1, l2, comparison, firstLayers, units, range));
        text.AppendLine($"The checkpoint is the matched L1 setting's ({l1.Name}) selected model of seed {l1.First.Seed}" +
            (comparison.ExactZero.Verdict == Verdict.Gain ? ": the sparse one." : "."));
        text.AppendLine();
        text.AppendLine(RunFiles.CheckpointSection(l1.First));
        text.AppendLine(context.Footer());
        return text.ToString();
    }

    /// <summary>What a paired difference in a share of weights (L1 minus L2) says: which has more, or within noise.</summary>
    public static string More(Estimate difference) => difference.Verdict switch
    {
        Verdict.Gain => "L1 has more",
        Verdict.Loss => "L2 has more",
        Verdict.WithinNoise => "within noise",
        _ => "one seed, no verdict",
    };

    /// <summary>A quiz penalty's label.</summary>
    public static string PenaltyLabel(string penalty) => penalty switch
    {
        "l2" => string.Create(CultureInfo.InvariantCulture, $"L2 {L1L2Quiz.L2}"),
        "l1" => string.Create(CultureInfo.InvariantCulture, $"L1 {L1L2Quiz.L1} (proximal)"),
        _ => "none",
    };

    private static string Vector(IEnumerable<float> w) =>
        "[" + string.Join(", ", w.Select(v => v.ToString("F4", CultureInfo.InvariantCulture))) + "]";

    private static string Vector(IEnumerable<double> w) =>
        "[" + string.Join(", ", w.Select(v => v.ToString("F4", CultureInfo.InvariantCulture))) + "]";

    private static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);

    private static string QuizSection(IReadOnlyList<(L1L2Quiz.Problem Problem, L1L2Quiz.Fit[] Fits)> quiz, int seed)
    {
        var text = new StringBuilder();
        var w0 = quiz[0].Fits[0].Initial;
        text.AppendLine("## (a) The quiz: four copies of one feature");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"A linear model `y = w·f` without bias, on {L1L2Quiz.Samples:N0} samples of `x ~ N(0, 1)` with target `y = x + {L1L2Quiz.TargetNoise}·ε`, " +
            $"trained with mean squared error by full-batch SGD (learning rate {L1L2Quiz.LearningRate}, {L1L2Quiz.Steps:N0} steps) through the " +
            $"library (`Linear(4, 1, bias=False)`, `MseLoss`, `Sgd`). Three runs per data set, all from the same initial weights " +
            $"w0 = {Vector(w0)} (PyTorch's `U(-1/2, 1/2)` for four inputs, from seed {seed}, which also draws the data; the quiz is one run, " +
            $"made once with the first seed): **none**; **L2** with λ = {L1L2Quiz.L2} " +
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
            $"— all weight on that copy and exact zeros elsewhere — {(gains[2].Zeros >= 3 ? "and the soft-threshold gets there here" : $"which the soft-threshold has not reached in these {L1L2Quiz.Steps:N0} steps ({gains[2].Zeros} zeros)")}, because the other copies' gradients " +
            $"stay below the threshold once the best one carries the fit. Independent noise is not such a difference: it penalises " +
            $"every weight by `σ²·w²` (an L2 term), so it pulls towards even weights, for L1 as well. " +
            $"The unpenalised runs keep their start: each step changes all four weights by the same amount (identical copies) or in " +
            $"proportion to the gains, so the differences in w0 survive — the answer `[1, 0, 0, 0]` or `[0.25, ...]` for 'none' would be a guess about the start."));
        text.AppendLine();
        return text.ToString();
    }

    /// <summary>What the weight-map numbers say, in words, only as far as they say it (first-layer sparsity of the matched
    /// L1 and L2 runs and the unpenalised one).</summary>
    internal static string Maps(WeightSparsity l1, WeightSparsity l2, WeightSparsity none)
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

    /// <summary>The reading of one quiz data set's three runs (none, L2, L1), from their weights and the closed-form optima.</summary>
    internal static string QuizReading(L1L2Quiz.Problem problem, L1L2Quiz.Fit[] fits, double[] ridge, double[]? lasso)
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
        double moved = problem.Variant == "gains" ? Spread(ratio) : Spread(shift), start = Spread(none.Initial.Select(v => (double)v));
        s.Append(moved <= 0.1 * start
            ? ": the start's differences are still there"
            : string.Create(CultureInfo.InvariantCulture, $": the copies moved by different amounts ({moved:G2} apart, against a spread of {start:G2} at the start), so the start's differences have partly gone"));
        s.Append(string.Create(CultureInfo.InvariantCulture, $". **L2**: the four weights are within {l2Spread:G2} of each other, mean " +
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
            s.Append(problem.Variant switch
            {
                "identical" => ", because nothing in the data tells the copies apart.",
                "noisy" => ", because independent noise favours even weights, like L2, and the threshold has nothing to choose by.",
                _ => string.Create(CultureInfo.InvariantCulture,
                    $", although the copies' gains differ and make the optimum one-sparse: the soft-threshold has not reached it in {L1L2Quiz.Steps:N0} steps."),
            });
        }
        return s.ToString();
    }

    private static string MlpSection(IReadOnlyList<Setting> settings, Setting l1, Setting l2, Comparison cmp, float[][] firstLayers, int[] units, double range)
    {
        var none = settings[0];
        var c = none.First.Config;
        int n = none.Runs.Count;
        var text = new StringBuilder();
        text.AppendLine("## (b) An MLP: sparsity at matched accuracy");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"A {c.Model.Widths} ReLU MLP trained with plain SGD (learning rate {c.LearningRate}{(c.Cosine ? " with a cosine schedule" : ", constant")}, batch {c.BatchSize}) for {c.Epochs} epochs on " +
            $"{c.Train.Length:N0} training images, with {c.Validation.Length:N0} validation images to choose each run's epoch, at L1 λ ∈ " +
            $"{{{string.Join(", ", L1Strengths.Select(RunFiles.Strength))}}} (proximal: soft-threshold by lr·λ after every step, so without momentum " +
            $"each step is exactly proximal gradient descent on the batch loss), L2 λ ∈ {{{string.Join(", ", L2Strengths.Select(RunFiles.Strength))}}} and without " +
            $"a penalty, each with {n} {(n == 1 ? "seed" : "seeds")} ({string.Join(", ", none.Seeds)}): each seed draws its own subset, initial weights " +
            $"and batch order, and every setting of a seed shares them. Penalties act on the weights, not the biases. The weights are measured from " +
            $"each run's checkpoint (its selected epoch). " +
            $"**Matching**: the L1 setting is the strongest whose mean validation accuracy is at most {AccuracyBudget * 100:G} point below the unpenalised one's " +
            $"(the sparsest model that costs at most that), and the L2 setting is the one whose mean validation accuracy is closest to it. " +
            $"A weight is near zero when |w| < {NearZero:G}. Figures are means over the seeds; the comparisons below pair the seeds."));
        text.AppendLine();
        string M(Setting e, Func<WeightSparsity, double> f) => RunFiles.Pct(e.Of(f).Mean);
        string Count(Setting e, Func<WeightSparsity, double> f, int of) => string.Create(CultureInfo.InvariantCulture, $"{e.Of(f).Mean:0.#} / {of}");
        text.Append(RunFiles.Table(["setting", "validation acc.", "test acc.", "exactly 0 (all)", $"|w| < {NearZero:G} (all)", "exactly 0 (layer 1)",
                "dead hidden units", "ignored pixels", "exactly 0, last epoch"],
            settings.Select(e => (IReadOnlyList<string>)[e == l1 || e == l2 ? $"**{e.Name}**" : e.Name, e.Validation.Describe(RunFiles.Pct),
                RunFiles.Pct(e.Test.Mean), M(e, s => s.ExactZero), M(e, s => s.NearZero), M(e, s => s.FirstExactZero),
                Count(e, s => s.DeadUnits, Model.Hidden[0]), Count(e, s => s.IgnoredPixels, FashionMnist.Pixels), RunFiles.Pct(e.LastEpochExactZero.Mean)]),
            "lrrrrrrrr"));
        text.AppendLine();
        var pair = new MatchedFigures(l1.Name, l2.Name, l1.Validation.Mean, l2.Validation.Mean, l1.Of(s => s.ExactZero).Mean, l1.Of(s => s.NearZero).Mean,
            l1.Of(s => s.FirstExactZero).Mean, l1.Of(s => s.IgnoredPixels).Mean, l1.Of(s => s.DeadUnits).Mean, l2.Of(s => s.ExactZero).Mean,
            l2.Of(s => s.NearZero).Mean, none.Of(s => s.NearZero).Mean, l1.LastEpochExactZero.Mean);
        text.Append(MatchedPair(pair, cmp));
        text.AppendLine();
        text.AppendLine(RunFiles.NoiseNote(none.Validation.Mean, c.Validation.Length, none.First.TestCount));
        text.AppendLine();
        text.AppendLine("![accuracy by strength](mlp_accuracy.png)");
        text.AppendLine();
        text.AppendLine("![weights at zero by strength](mlp_sparsity.png)");
        text.AppendLine();
        var (s1, s2, s0) = (l1.Sparsity[0], l2.Sparsity[0], none.Sparsity[0]);
        int seed = none.First.Seed;
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The first layer's weights of seed {seed}'s unpenalised run and matched pair (range ±{range:G2}, the 99.5th percentile of |w| without a " +
            $"penalty; larger ones in the end bins; log count). L1: {RunFiles.Pct(s1.FirstExactZero)} of the layer exactly 0 and " +
            $"{RunFiles.Pct(s1.FirstNearZero)} below {NearZero:G}, standard deviation {s1.FirstStd:G3}; L2: {RunFiles.Pct(s2.FirstExactZero)} exactly 0, " +
            $"{RunFiles.Pct(s2.FirstNearZero)} below {NearZero:G}, standard deviation {s2.FirstStd:G3}; no penalty: {RunFiles.Pct(s0.FirstNearZero)} below " +
            $"{NearZero:G}, standard deviation {s0.FirstStd:G3}. "));
        double Beyond(float[] w) => w.Count(v => Math.Abs(v) > range) / (double)Math.Max(1, w.Length);
        text.AppendLine(Histograms(s1, s2, s0, Beyond(firstLayers[1]), Beyond(firstLayers[2]), range));
        text.AppendLine();
        text.AppendLine("![first-layer weight histograms](mlp_histograms.png)");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Weight maps (seed {seed}): the incoming weights of hidden units {string.Join(", ", units)} (the {MapUnits} with the largest weight norm under L1; the " +
            $"same units, from the same initial weights, in every row), each scaled to its own largest |w| with 0 mid-grey. Where the weights are: " +
            $"in the outer {WeightSparsity.Frame} pixels of the image, which the garments rarely reach, L1 leaves {RunFiles.Pct(s1.FrameNearZero)} of the first layer's " +
            $"weights near zero against {RunFiles.Pct(s1.CentreNearZero)} inside (exactly 0: {RunFiles.Pct(s1.FrameExactZero)} and {RunFiles.Pct(s1.CentreExactZero)}; " +
            $"L2 near zero: {RunFiles.Pct(s2.FrameNearZero)} and {RunFiles.Pct(s2.CentreNearZero)}; no penalty: {RunFiles.Pct(s0.FrameNearZero)} and " +
            $"{RunFiles.Pct(s0.CentreNearZero)}), and {s1.IgnoredPixels} pixels feed no unit at all. How smooth they are: the roughness of the maps (mean squared difference of " +
            $"neighbouring weights over twice the mean square; 1 for independent noise such as the initial weights) is {s0.Roughness:F2} without a " +
            $"penalty, {s1.Roughness:F2} with L1 and {s2.Roughness:F2} with L2. "));
        text.AppendLine(Maps(s1, s2, s0));
        text.AppendLine();
        text.AppendLine("![first-layer weight maps](weight_maps.png)");
        text.AppendLine();
        return text.ToString();
    }

    /// <summary>What the first-layer histograms show (matched L1 <paramref name="s1"/>, matched L2 <paramref name="s2"/>, no penalty
    /// <paramref name="s0"/>; the shares of the L1 and L2 layers beyond ±<paramref name="range"/>), each claim only when the numbers make it.</summary>
    internal static string Histograms(WeightSparsity s1, WeightSparsity s2, WeightSparsity s0, double beyond1, double beyond2, double range) =>
        string.Join(" ", new[]
        {
            s1.FirstExactZero > 0.01 && s1.FirstNearZero > 2 * s2.FirstNearZero
                ? "L1's histogram has a spike at zero that L2's lacks: it moves the weights it does not need onto zero."
                : string.Create(CultureInfo.InvariantCulture, $"At this strength L1 has put few weights at zero ({RunFiles.Pct(s1.FirstExactZero)} exactly)."),
            s2.FirstStd < 0.9 * s0.FirstStd
                ? "L2 narrows the whole distribution instead."
                : "L2 has barely changed the distribution.",
            beyond1 > 1.5 * beyond2
                ? string.Create(CultureInfo.InvariantCulture,
                    $"L1 also keeps more large weights: {RunFiles.Pct(beyond1)} of its layer lies beyond ±{range:G2} against {RunFiles.Pct(beyond2)} for L2 (L1 charges a large weight no more per unit than a small one; L2 charges it in proportion).")
                : "",
        }.Where(t => t.Length > 0));

    /// <summary>The matched pair's figures (means over the seeds) that <see cref="MatchedPair"/> states.</summary>
    internal sealed record MatchedFigures(string L1, string L2, double L1Validation, double L2Validation, double L1ExactZero, double L1NearZero,
        double L1FirstExactZero, double L1IgnoredPixels, double L1DeadUnits, double L2ExactZero, double L2NearZero, double NoneNearZero,
        double L1LastEpochExactZero);

    /// <summary>The matched pair in words: the accuracy and sparsity differences paired by seed, each with the verdict its
    /// interval allows, and the hovering of L1's weights near zero only when the selected models show it.</summary>
    internal static string MatchedPair(MatchedFigures f, Comparison cmp)
    {
        string nearVerdict = cmp.NearZero.Verdict switch
        {
            Verdict.Gain => "L1 leaves more weights near zero than L2 at the same accuracy, beyond the noise of the seeds",
            Verdict.Loss => "L2 leaves more weights near zero than L1 here, beyond the noise of the seeds",
            Verdict.WithinNoise => "the seeds do not tell the two apart",
            _ => "with one seed there is no interval",
        };
        string accuracy = cmp.Test.Verdict switch
        {
            Verdict.Gain => "On test, L1 is more accurate than L2 beyond the noise of the seeds, so the two are matched on validation only.",
            Verdict.Loss => "On test, L2 is more accurate than L1 beyond the noise of the seeds: here L1's sparsity comes with a cost in accuracy.",
            Verdict.WithinNoise => "On test the two are within noise of each other: the match holds on images neither was selected on.",
            _ => "With one seed there is no interval on the test difference.",
        };
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"**Matched pair: {f.L1} and {f.L2}**, mean validation accuracy {RunFiles.Pct(f.L1Validation)} and {RunFiles.Pct(f.L2Validation)}; " +
            $"paired by seed, L1 − L2 is {cmp.Validation.DescribeDifference(RunFiles.Points)} on validation and {cmp.Test.DescribeDifference(RunFiles.Points)} on test " +
            $"(the matched L1 setting against no penalty on test: {cmp.L1VsNoneTest.DescribeDifference(RunFiles.Points)}). {accuracy} " +
            $"At that accuracy L1 has set {RunFiles.Pct(f.L1ExactZero)} of the weights to exactly 0 ({RunFiles.Pct(f.L1FirstExactZero)} of the first layer; " +
            $"{f.L1IgnoredPixels:0.#} of the {FashionMnist.Pixels} pixels feed no hidden unit at all, and {f.L1DeadUnits:0.#} hidden units receive nothing), " +
            $"while L2 has {RunFiles.Pct(f.L2ExactZero)} exactly 0 and {RunFiles.Pct(f.L2NearZero)} below {NearZero:G} (L1: {RunFiles.Pct(f.L1NearZero)}; no penalty: {RunFiles.Pct(f.NoneNearZero)}). " +
            $"The near-zero share, L1 − L2 paired by seed, is {cmp.NearZero.Describe(RunFiles.Points)}: {nearVerdict}. " +
            $"Why they differ: L2 shrinks every weight in proportion to its size, so weights get smaller but do not reach zero; the proximal L1 step " +
            $"subtracts lr·λ from every magnitude and stops at zero."));
        if (f.L1NearZero > f.L1ExactZero + 0.01)
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"With mini-batches a weight at zero is pushed off it again in every step where its batch gradient exceeds λ, so weights hover " +
                $"near zero instead of sitting on it: under L1 {RunFiles.Pct(f.L1ExactZero)} are exactly 0 in the selected models but {RunFiles.Pct(f.L1NearZero)} are below {NearZero:G} " +
                $"({RunFiles.Pct(f.L1LastEpochExactZero)} exactly 0 after the last epoch)."));
        return text.ToString();
    }
}
