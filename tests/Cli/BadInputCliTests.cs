using GpuNet.Data;
using GpuNet.Experiments;
using GpuNet.Kernels;

namespace GpuNet.Tests.Cli;

/// <summary>
/// Every command with bad arguments and bad files: an <c>error:</c> line (then, for a usage mistake, the command's usage),
/// exit code 2 for a usage mistake and 1 for a bad file, and never a stack trace. The bench's result check is here too.
/// </summary>
[Collection("devices")]
public sealed class BadInputCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpunet-badcli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = GpuNet.Experiments.Cli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static void NoStackTrace(string err)
    {
        Assert.DoesNotContain("   at ", err);
        Assert.DoesNotContain("Exception", err);
    }

    /// <summary>A usage mistake: exit 2, an error line first, then the usage of the command.</summary>
    private static string Usage(params string[] args)
    {
        var (code, output, err) = Run(args);
        string what = string.Join(' ', args);
        Assert.True(code == 2, $"{what}: exit {code}\n{err}{output}");
        NoStackTrace(err);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("error: ", lines[0]);
        return err;
    }

    /// <summary>A bad file: exit 1, exactly one error line naming it, nothing else on stderr but the debug hint.</summary>
    private static string BadFile(string file, params string[] args)
    {
        var (code, output, err) = Run(args);
        string what = string.Join(' ', args);
        Assert.True(code == 1, $"{what}: exit {code}\n{err}{output}");
        NoStackTrace(err);
        var lines = err.Trim().Split('\n').Where(l => !l.StartsWith("(set GPUNET_DEBUG", StringComparison.Ordinal)).ToArray();
        var line = Assert.Single(lines);
        Assert.StartsWith("error: ", line);
        Assert.Contains(file, line);
        return line;
    }

    public static TheoryData<string[], string> UsageMistakes() => new()
    {
        { ["frobnicate"], "" },
        { ["run"], "" },
        { ["run", "no-such-experiment"], "no-such-experiment" },
        { ["run", "mlp", "--epochs", "0"], "--epochs" },
        { ["run", "mlp", "--epochs", "-3"], "--epochs" },
        { ["run", "mlp", "--epochs", "ten"], "ten" },
        { ["run", "mlp", "--seeds", "0"], "--seeds" },
        { ["run", "mlp", "--seed", "1.5"], "1.5" },
        { ["run", "mlp", "--shard", "3/2"], "" },
        { ["run", "mlp", "--shard", "x"], "" },
        { ["run", "mlp", "--no-such-option"], "--no-such-option" },
        { ["report", "mlp", "--epochs", "0"], "--epochs" },
        { ["slurm", "mlp", "--shards", "0"], "--shards" },
        { ["slurm", "mlp", "--gpus-per-task", "0"], "--gpus-per-task" },
        { ["eval"], "--checkpoint" },
        { ["eval", "--checkpoint", "x.safetensors", "--split", "nonsense"], "" },
        { ["bench"], "" },
        { ["bench", "gemm", "--sizes", "abc"], "abc" },
        { ["bench", "gemm", "--sizes", "0"], "'0'" },
        { ["bench", "gemm", "--sizes", "-5"], "" },
        { ["bench", "gemm", "--sizes", "3x4"], "3x4" },
        { ["bench", "gemm", "--sizes", "3x4x5:TX"], "3x4x5:TX" },
        { ["bench", "gemm", "--sizes", "99999999999"], "99999999999" },
        { ["bench", "gemm", "--sizes", ","], "no shape" },
        { ["bench", "gemm", "--sizes", "mlp0"], "" },
        { ["bench", "gemm", "--seconds", "0"], "--seconds" },
        { ["bench", "gemm", "--seconds", "-1"], "--seconds" },
        { ["bench", "gemm", "--seconds", "NaN"], "--seconds" },
        { ["bench", "gemm", "--seconds", "soon"], "soon" },
        { ["bench", "gemm", "--sizes", "8", "--device", "tpu"], "tpu" },
        { ["bench", "epoch", "--batch", "0"], "--batch" },
        { ["bench", "epoch", "--samples", "-1"], "--samples" },
        { ["data", "show"], "--out" },
        { ["check", "--device", "tpu"], "tpu" },
        { ["devices", "--bogus"], "--bogus" },
    };

    [Theory]
    [MemberData(nameof(UsageMistakes))]
    public void Usage_mistakes_are_an_error_line_and_the_usage_with_exit_2(string[] args, string mentioned)
    {
        string err = Usage(args);
        Assert.Contains(mentioned, err);
    }

    [Fact]
    public void A_bad_GPUNET_DEVICE_is_a_usage_error()
    {
        string? before = Environment.GetEnvironmentVariable(Device.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(Device.EnvironmentVariable, "tpu:3");
            string err = Usage("bench", "gemm", "--sizes", "8", "--seconds", "0.01");
            Assert.Contains("tpu:3", err);
            Assert.Single(err.Trim().Split('\n'));
        }
        finally
        {
            Environment.SetEnvironmentVariable(Device.EnvironmentVariable, before);
        }
    }

    [Fact]
    public void A_corrupt_checkpoint_on_the_command_line_is_one_line_naming_it_with_exit_1()
    {
        string file = Path.Combine(_dir, "corrupt.safetensors");
        File.WriteAllBytes(file, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        string line = BadFile(file, "eval", "--checkpoint", file, "--device", "cpu", "--data", _dir);
        Assert.Contains("safetensors", line);
        // A path to nothing is a usage mistake (exit 2), in one line that names it.
        string missing = Path.Combine(_dir, "missing.safetensors");
        string err = Usage("eval", "--checkpoint", missing, "--device", "cpu", "--data", _dir);
        Assert.Contains(missing, Assert.Single(err.Trim().Split('\n')));
    }

    [Fact]
    public void A_corrupt_data_folder_is_one_line_naming_the_file_with_exit_1()
    {
        // A folder with Fashion-MNIST's file names whose training images are truncated: nothing is fetched over it.
        string data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        var pixels = new byte[20 * 784];
        var labels = new byte[20];
        foreach (string prefix in new[] { "train", "t10k" })
        {
            Idx.Write(Path.Combine(data, $"{prefix}-images-idx3-ubyte"), pixels, 20, 28, 28);
            Idx.Write(Path.Combine(data, $"{prefix}-labels-idx1-ubyte"), labels, 20);
        }
        File.WriteAllText(Path.Combine(data, FashionMnist.ProvenanceFile), "# test\n");
        string images = Path.Combine(data, "train-images-idx3-ubyte");
        var bytes = File.ReadAllBytes(images);
        File.WriteAllBytes(images, bytes[..(bytes.Length / 2)]);
        BadFile("train-images-idx3-ubyte", "run", "mlp", "--quick", "--device", "cpu", "--data", data, "--out", Path.Combine(_dir, "out"));
    }

    [Fact]
    public void Bench_gemm_checks_its_result_before_timing_it()
    {
        var shape = new GemmBench.Shape(5, 7, 3, Transpose.Yes, Transpose.No);
        var rng = new Random(3);
        var a = Enumerable.Range(0, 35).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var b = Enumerable.Range(0, 21).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var c = new float[15];
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 3; j++)
            {
                double s = 0;
                for (int p = 0; p < 7; p++) s += (double)a[p * 5 + i] * b[p * 3 + j];
                c[i * 3 + j] = (float)s;
            }
        GemmBench.Verify(shape, a, b, c, "test");
        // Every entry is checked (15 < the 64 sampled), so one wrong entry anywhere is found.
        for (int e = 0; e < 15; e++)
        {
            var wrong = (float[])c.Clone();
            wrong[e] += 1e-3f;
            var error = Assert.Throws<InvalidOperationException>(() => GemmBench.Verify(shape, a, b, wrong, "test"));
            Assert.Contains($"C[{e / 3},{e % 3}]", error.Message);
        }
        // The transposes matter: the same C read as NN is wrong.
        Assert.Throws<InvalidOperationException>(() => GemmBench.Verify(shape with { TransA = Transpose.No }, a, b, c, "test"));
        // And the command runs it on a real device.
        var (code, output, err) = Run("bench", "gemm", "--device", "cpu", "--sizes", "33x17x9:TN,mlp2", "--seconds", "0.01");
        Assert.True(code == 0, err);
        Assert.Contains("33x17x9:TN", output);
    }
}
