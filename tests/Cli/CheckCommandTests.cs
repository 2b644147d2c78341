using System.Text.Json.Nodes;
using GpuNet.Experiments.Commands;

namespace GpuNet.Tests.Cli;

/// <summary>
/// <c>gpunet check</c>: on <c>ilgpu-cpu</c> with <c>--quick</c> (what CI runs) every comparison passes and both reports
/// are written; a deliberately wrong result makes it fail with exit code 1 and names the op.
/// </summary>
[Collection("devices")]
public class CheckCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = GpuNet.Experiments.Cli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string TempDir() => Path.Combine(Path.GetTempPath(), "gpunet-check-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Quick_check_on_ilgpu_cpu_passes_and_writes_both_reports()
    {
        string dir = TempDir();
        try
        {
            var (code, output, err) = Run("check", "--device", "ilgpu-cpu", "--quick", "--out", dir);
            Assert.True(code == 0, $"exit {code}\n{err}\n{output}");
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "check.json")))!;
            Assert.True(json["pass"]!.GetValue<bool>());
            Assert.True(json["finished"]!.GetValue<bool>());
            Assert.Equal("ilgpu-cpu", json["device"]!["spec"]!.GetValue<string>());
            var rows = json["comparisons"]!.AsArray();
            var ops = rows.Select(r => r!["op"]!.GetValue<string>()).ToHashSet();
            // Every family of ops the issue lists, and the training steps.
            foreach (string op in new[]
            {
                "gemm", "bias.add", "bias.grad", "activation.relu.forward", "activation.tanh.backward", "softmax-ce.forward",
                "softmax-ce.soft-backward", "dropout.mask", "optim.sgd", "optim.sgd-momentum", "optim.adagrad", "optim.rmsprop",
                "optim.adam", "optim.adamw", "proximal.soft-threshold", "reduce.sum", "reduce.argmax", "mse.forward", "gather.rows",
                "augment.rotate", "knn.l2-distances", "knn.l1-distances", "knn.top-k", "knn.vote", "mlp.train",
                "softmax-ce.fused-forward", "softmax-ce.fused-backward", "knn.top-k-warp",
            })
                Assert.Contains(op, ops);
            // GEMM in all four transposes.
            var gemmShapes = rows.Where(r => r!["op"]!.GetValue<string>() == "gemm").Select(r => r!["shape"]!.GetValue<string>()).ToList();
            Assert.Contains(gemmShapes, s => !s.Contains(':'));
            foreach (string t in new[] { ":NT", ":TN", ":TT" }) Assert.Contains(gemmShapes, s => s.EndsWith(t, StringComparison.Ordinal));
            Assert.All(rows, r => Assert.True(r!["pass"]!.GetValue<bool>(), r!.ToJsonString()));
            Assert.True(rows.Single(r => r!["op"]!.GetValue<string>() == "dropout.mask")!["bit_identical"]!.GetValue<bool>());

            var timings = json["timings"]!.AsArray().Select(t => t!["name"]!.GetValue<string>()).ToHashSet();
            Assert.Superset(new HashSet<string> { "gemm", "epoch", "knn-search", "launch" }, timings);

            string md = File.ReadAllText(Path.Combine(dir, "check.md"));
            Assert.Contains("PASS", md);
            Assert.DoesNotContain("FAIL", md);
            Assert.Contains("| `mlp.train` |", md);
            Assert.Contains("Why these tolerances", md);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_perturbed_result_fails_the_check_and_names_the_op()
    {
        string dir = TempDir();
        try
        {
            var (code, output, _) = Run("check", "--device", "ilgpu-cpu", "--quick", "--perturb", "gemm", "--out", dir);
            Assert.Equal(1, code);
            Assert.Contains("FAIL: ", output);
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "check.json")))!;
            Assert.False(json["pass"]!.GetValue<bool>());
            Assert.Equal("gemm", json["perturbed"]!.GetValue<string>());
            // Every GEMM row fails (each had its first element changed), and nothing else.
            foreach (var row in json["comparisons"]!.AsArray())
            {
                bool isGemm = row!["op"]!.GetValue<string>() == "gemm";
                Assert.Equal(!isGemm, row["pass"]!.GetValue<bool>());
                if (isGemm) Assert.Equal(1, row["mismatches"]!.GetValue<long>());
            }
            string md = File.ReadAllText(Path.Combine(dir, "check.md"));
            Assert.Contains("**FAIL: 16 of", md);
            Assert.Contains("(gemm)", md);
            Assert.Contains("- `gemm` ", md);  // the mismatch list names it with its first bad element
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("check", "--device", "cuda:99", "--quick")]
    [InlineData("check", "--device", "nonsense", "--quick")]
    [InlineData("check", "--quick", "--perturb", "no-such-op")]
    public void A_bad_device_or_op_is_one_line_and_exit_code_2(params string[] args)
    {
        string dir = TempDir();
        var (code, _, err) = Run([.. args, "--out", dir]);
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void Perturb_is_hidden_from_the_help()
    {
        var (code, output, _) = Run("check", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--quick", output);
        Assert.DoesNotContain("--perturb", output);
    }

    private static CheckCase Case(Tolerance tolerance) => new("op", "3", tolerance, _ => []);

    [Fact]
    public void Compare_applies_atol_plus_rtol_and_reports_the_largest_errors()
    {
        var tol = new Tolerance(1e-3, 1e-2, "test");
        // |a - r| <= 1e-3 + 1e-2·|r|: 100.9 vs 100 is inside (0.9 <= 1.001), 1.01 vs 1 inside (0.01 <= 0.011), 0.0021 vs 0 outside.
        var row = Comparison.Compare(Case(tol), [100.9f, 1.01f, 0.0021f], [100f, 1f, 0f], 0);
        Assert.False(row.Pass);
        Assert.Equal(1, row.Mismatches);
        Assert.StartsWith("[2] ", row.FirstMismatch);
        Assert.Equal(0.9, row.MaxAbs, 1e-4);
        Assert.Equal(0.01, row.MaxRel, 1e-4);   // 0.0021 vs 0 has |r| <= atol: no relative error
        Assert.True(Comparison.Compare(Case(tol), [100.9f, 1.01f], [100f, 1f], 0).Pass);
        Assert.False(Comparison.Compare(Case(tol), [1.02f], [1f], 0).Pass);
    }

    [Fact]
    public void Compare_treats_nan_and_signed_zero_as_documented()
    {
        var loose = new Tolerance(1e-3, 0, "test");
        Assert.True(Comparison.Compare(Case(loose), [float.NaN, -0f], [float.NaN, 0f], 0).Pass);
        var nanRow = Comparison.Compare(Case(loose), [float.NaN], [1f], 0);
        Assert.False(nanRow.Pass);
        Assert.True(double.IsNaN(nanRow.MaxAbs));
        // Bit-identical: -0 and +0 differ.
        Assert.False(Comparison.Compare(Case(Tolerance.Identical("test")), [-0f], [0f], 0).Pass);
        Assert.True(Comparison.Compare(Case(Tolerance.Identical("test")), [1f, 0f], [1f, 0f], 0).Pass);
        // Different lengths never pass.
        Assert.False(Comparison.Compare(Case(loose), [1f], [1f, 2f], 0).Pass);
    }

    [Fact]
    public void Perturb_moves_a_value_beyond_any_tolerance()
    {
        float[] values = [0f, 5f];
        Comparison.Perturb(values);
        Assert.Equal(1f, values[0]);
        Assert.Equal(5f, values[1]);
        float[] mask = [1f];
        Comparison.Perturb(mask);
        Assert.NotEqual(1f, mask[0]);
    }
}
