using System.Globalization;
using System.Text;
using GpuNet.Experiments.Engine;
using GpuNet.Experiments.Reporting;

namespace GpuNet.Experiments;

/// <summary>One labelled-set size of <c>distill</c>: each method's test accuracy over the seeds (method 0 is the student alone).</summary>
/// <param name="Fraction">The share of the training split.</param>
/// <param name="Images">Labelled images.</param>
/// <param name="Epochs">Epochs of each student.</param>
/// <param name="Steps">Training steps (batches) of each student.</param>
/// <param name="Accuracy">Test accuracy of the selected epoch, per method.</param>
/// <param name="TrainAccuracy">Accuracy on the labelled images (evaluation mode) at the selected epoch, per method.</param>
public sealed record SizeResult(double Fraction, int Images, int Epochs, int Steps, IReadOnlyList<Estimate> Accuracy, IReadOnlyList<Estimate> TrainAccuracy)
{
    /// <summary>Method <paramref name="method"/> minus the student alone, paired by seed.</summary>
    public Estimate Gain(int method) => Estimate.Paired(Accuracy[method], Accuracy[0]);

    /// <summary>The size in words: <c>540 images (1%)</c>.</summary>
    public string Words => string.Create(CultureInfo.InvariantCulture, $"{Images:N0} images ({Fraction * 100:0.##}%)");
}

/// <summary>
/// What <c>distill</c>'s report says, as numbers: built by <see cref="DistillExperiment.Analyse"/> from the finished runs, or
/// by a test from made-up numbers. Accuracies are fractions.
/// </summary>
public sealed record DistillResults(
    IReadOnlyList<int> Seeds,
    IReadOnlyList<string> Methods,
    IReadOnlyList<SizeResult> Sizes,
    Estimate Teacher,
    int TeacherEpochs,
    long TeacherParameters,
    long StudentParameters,
    long ProjectionParameters,
    double TeacherMicroseconds,
    double StudentMicroseconds,
    string TimingNote,
    int SplitImages,
    int ValidationImages,
    int TestImages,
    double FeatureScale,
    bool Quick)
{
    /// <summary>The teacher minus the student alone on the largest labelled set, paired by seed.</summary>
    public Estimate TeacherGap => Estimate.Paired(Teacher, Sizes[^1].Accuracy[0]);

    /// <summary>The sizes (in words) at which method <paramref name="method"/>'s paired difference has verdict <paramref name="verdict"/>.</summary>
    public IReadOnlyList<string> Where(int method, Verdict verdict) => Sizes.Where(s => s.Gain(method).Verdict == verdict).Select(s => s.Words).ToList();

    /// <summary>Where distillation helps, for the index: <c>soft targets at 540 images (1%), 2,700 images (5%)</c>, or empty.</summary>
    public string HelpsText() => string.Join("; ", Enumerable.Range(1, Methods.Count - 1)
        .Where(k => Where(k, Verdict.Gain).Count > 0).Select(k => $"{Methods[k]} at {string.Join(", ", Where(k, Verdict.Gain))}"));
}

/// <summary><c>distill</c>'s report.md from its <see cref="DistillResults"/> alone (no run folders), so a test can feed it any numbers.</summary>
public static class DistillReport
{
    /// <summary>The report, without the checkpoint section and the footer.</summary>
    public static string Write(DistillResults r)
    {
        var text = new StringBuilder();
        int hs = DistillExperiment.Student.Hidden[^1], ht = DistillExperiment.Teacher.Hidden[^1];
        var smallest = r.Sizes[0];
        var largest = r.Sizes[^1];
        text.AppendLine("# Knowledge distillation: when does a small student gain from a large teacher?");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The **teacher** is a {DistillExperiment.Teacher} network ({r.TeacherParameters:N0} parameters), trained for {r.TeacherEpochs} epochs " +
            $"once per seed ({string.Join(", ", r.Seeds)}) on the whole training split ({r.SplitImages:N0} labelled images) and then frozen: " +
            $"evaluation mode, forward passes only. The **student** is a {DistillExperiment.Student} network ({r.StudentParameters:N0} parameters, " +
            $"{(double)r.TeacherParameters / r.StudentParameters:F0}x fewer). It is trained on labelled sets of {string.Join(", ", r.Sizes.Select(s => s.Words))} " +
            $"of the training split (stratified, drawn from the seed), four ways; the four students of a seed and size share their images, " +
            $"initial weights and batch order, and the distilled ones learn from that seed's teacher, so they are compared with the student " +
            $"alone paired by seed:"));
        text.AppendLine();
        text.AppendLine("- **student alone**: cross-entropy on the labels;");
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"- **features** (the hint of FitNets, Romero et al. 2015): cross-entropy + β·MSE(P·h_s + b, h_t)/s with β = {DistillExperiment.FeatureWeight}: " +
            $"h_s is the student's hidden ReLU output ({hs} values), h_t the teacher's last hidden ReLU output ({ht} values), P·h_s + b a learned " +
            $"{hs}→{ht} projection ({r.ProjectionParameters:N0} parameters, trained with the student and thrown away: not in its parameters or " +
            $"its checkpoint), s the mean square of h_t over the training split ({r.FeatureScale:G4} for seed {r.Seeds[0]}'s teacher), so the " +
            $"term is a relative error;"));
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"- **soft targets** (Hinton, Vinyals and Dean 2015): cross-entropy + α·T²·CE(softmax(t/T), softmax(s/T)) with α = {DistillExperiment.SoftWeight} " +
            $"and T = {DistillExperiment.Temperature}, the student's softened class distribution against the teacher's;"));
        text.AppendLine("- **features + soft targets**: both terms.");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The teacher sees only the student's labelled images: distillation here is a richer training signal on the same images " +
            $"(as in Hinton et al.'s experiment with 3% of the data), not extra data. Letting the teacher label the rest of the training split " +
            $"would be semi-supervised learning, whose gain would mix the two effects, and would cost a teacher pass over {r.SplitImages:N0} images " +
            $"per epoch. Every student trains for at least {DistillExperiment.MinSteps:N0} steps of {DistillExperiment.BatchSize} images (more epochs " +
            $"on a smaller set) with plain SGD (learning rate {DistillExperiment.LearningRate}, cosine schedule); the epoch with the best accuracy " +
            $"on the same {r.ValidationImages:N0} validation images is kept at every size (more than a small labelled set would really have; " +
            $"they only pick the epoch, for all four methods alike), and only that model is measured on the {r.TestImages:N0} test images. " +
            $"β, α and T are fixed in the source before the run, not tuned on these data."));
        text.AppendLine();
        text.AppendLine("## Result");
        text.AppendLine();
        string Cell(SizeResult s, int k) => k == 0 ? s.Accuracy[0].Describe(RunFiles.Pct)
            : $"{RunFiles.Pct(s.Accuracy[k].Mean)}; {s.Gain(k).DescribeDifference(RunFiles.Points)}";
        text.Append(RunFiles.Table(["labelled images", "epochs (steps)", .. r.Methods.Select((m, k) => k == 0 ? $"{m}: test acc." : $"{m}: test acc.; minus alone, paired")],
            r.Sizes.Select(s => (IReadOnlyList<string>)[s.Words, $"{s.Epochs} ({s.Steps:N0})", .. Enumerable.Range(0, r.Methods.Count).Select(k => Cell(s, k))]),
            "lr" + new string('l', r.Methods.Count)));
        text.AppendLine();
        text.AppendLine($"The teacher: {r.Teacher.Describe(RunFiles.Pct)}. A difference is called a gain or a loss only when its paired 95% interval " +
            "(Student's t over the per-seed differences) excludes zero; otherwise it is within noise." +
            (r.Quick ? " This is a `--quick` run: a small subset and a few epochs, a smoke test, not a result." : ""));
        text.AppendLine();
        text.AppendLine("![test accuracy against the labelled-set size](accuracy_vs_labels.png)");
        text.AppendLine();
        text.AppendLine("![paired gain against the labelled-set size](gain_vs_labels.png)");
        text.AppendLine();
        text.AppendLine("## Reading");
        text.AppendLine();
        for (int k = 1; k < r.Methods.Count; k++) text.AppendLine($"- **{r.Methods[k]}**: {ByVerdict(r, k)}");
        text.AppendLine();
        text.AppendLine(Overall(r));
        text.AppendLine();
        text.AppendLine(Trend(r));
        text.AppendLine();
        text.AppendLine(Gap(r));
        text.AppendLine();
        var trainAlone = smallest.TrainAccuracy[0].Mean;
        text.AppendLine($"On the smallest set, {smallest.Words}, the student alone fits {RunFiles.Pct(trainAlone)} of its labelled images at the " +
            $"selected epoch (evaluation mode) and reaches {RunFiles.Pct(smallest.Accuracy[0].Mean)} on the test set; with soft targets " +
            $"{RunFiles.Pct(smallest.TrainAccuracy[2].Mean)} and {RunFiles.Pct(smallest.Accuracy[2].Mean)}; on the whole split the student alone " +
            $"fits {RunFiles.Pct(largest.TrainAccuracy[0].Mean)} and reaches {RunFiles.Pct(largest.Accuracy[0].Mean)}.");
        text.AppendLine();
        text.AppendLine("## Size and speed");
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The teacher has {(double)r.TeacherParameters / r.StudentParameters:F0}x the student's parameters and, timed when seed {r.Seeds[0]}'s " +
            $"runs were fitted{r.TimingNote}, takes {r.TeacherMicroseconds / r.StudentMicroseconds:F1}x its time per image " +
            $"({r.TeacherMicroseconds:F2} against {r.StudentMicroseconds:F2} µs; a forward pass over the test images in batches of " +
            $"{DistillExperiment.TimingBatch}, the median of {DistillExperiment.TimingRepeats}). Distillation costs only training time (a teacher " +
            $"forward pass per batch, and the projection); a distilled student has the student alone's architecture, so it is as small and " +
            $"as fast. Inference times are wall times: they are in `timing.json`, not in `summary.json`."));
        return text.ToString();
    }

    // One method's verdicts by size: "a gain at ...; within noise at ...; a loss at ...".
    private static string ByVerdict(DistillResults r, int k)
    {
        var parts = new List<string>();
        foreach (var (verdict, word) in new[] { (Verdict.Gain, "a gain"), (Verdict.WithinNoise, "within noise"), (Verdict.Loss, "a loss"), (Verdict.NoInterval, "one seed, no verdict") })
        {
            var at = r.Where(k, verdict);
            if (at.Count > 0) parts.Add($"{word} at {string.Join(", ", at)}");
        }
        var best = r.Sizes.MaxBy(s => s.Gain(k).Mean)!;
        return string.Join("; ", parts) + $" (largest mean difference {RunFiles.Points(best.Gain(k).Mean)}, at {best.Words}).";
    }

    private static string Overall(DistillResults r)
    {
        if (r.Seeds.Count < 2)
            return "With one seed there is no interval, so this run cannot tell a gain from noise (run with `--seeds 3` or more).";
        string helps = r.HelpsText();
        var losses = Enumerable.Range(1, r.Methods.Count - 1).Where(k => r.Where(k, Verdict.Loss).Count > 0)
            .Select(k => $"{r.Methods[k]} at {string.Join(", ", r.Where(k, Verdict.Loss))}").ToList();
        string lossText = losses.Count == 0 ? "" : $" It hurts, beyond the noise of the seeds, for {string.Join("; ", losses)}.";
        return helps.Length > 0
            ? $"**Distillation helps, beyond the noise of the seeds, for {helps}.**{lossText}"
            : $"**At no size does a distilled student's paired 95% interval lie above zero: this run shows no gain from distillation.**{lossText}";
    }

    // Whether the gains fall as the labelled set grows: the sizes of the gains against the sizes without.
    private static string Trend(DistillResults r)
    {
        if (r.Seeds.Count < 2) return "";
        var gainSizes = r.Sizes.Where(s => Enumerable.Range(1, r.Methods.Count - 1).Any(k => s.Gain(k).Verdict == Verdict.Gain)).ToList();
        bool smallest = gainSizes.Contains(r.Sizes[0]), largest = gainSizes.Contains(r.Sizes[^1]);
        return (smallest, largest) switch
        {
            (true, false) => $"The gains are where labels are scarce: at {r.Sizes[0].Words} some distilled student beats the student alone, " +
                $"at the whole split none does, as Hinton et al. found when the student's own labels were few.",
            (true, true) => "Some distilled student beats the student alone at the smallest and at the largest labelled set alike: here the " +
                "gain does not depend on how scarce the labels are.",
            (false, true) => $"Unexpectedly, a gain shows at the whole split but not at {r.Sizes[0].Words}: the teacher's signal helps more " +
                "when there are many labels.",
            _ => gainSizes.Count > 0
                ? $"A gain shows only at {string.Join(", ", gainSizes.Select(s => s.Words))}, neither at the smallest nor at the largest set."
                : $"So the expectation from the literature, a gain where the student's labels are scarce, does not show at {r.Sizes[0].Words} " +
                  "with these settings.",
        };
    }

    // The room distillation has: the teacher against the student alone, on the largest and the smallest set.
    private static string Gap(DistillResults r)
    {
        var gap = r.TeacherGap;
        var small = Estimate.Paired(r.Teacher, r.Sizes[0].Accuracy[0]);
        string full = gap.Verdict switch
        {
            Verdict.Gain => $"The teacher beats the student alone trained on {r.Sizes[^1].Words} by {gap.DescribeDifference(RunFiles.Points)}",
            Verdict.Loss => $"The student alone trained on {r.Sizes[^1].Words} beats the teacher ({gap.DescribeDifference(RunFiles.Points)}, teacher minus student)",
            _ => $"The teacher and the student alone trained on {r.Sizes[^1].Words} differ by {gap.DescribeDifference(RunFiles.Points)}",
        };
        return $"{full}; trained on {r.Sizes[0].Words} the student alone is {RunFiles.Points(Math.Abs(small.Mean)).TrimStart('+')} " +
            (small.Mean > 0 ? "below the teacher (mean, paired by seed): that gap is the most a distilled student could close there."
                : "at or above the teacher (mean, paired by seed), so there is no gap to close there.");
    }
}
