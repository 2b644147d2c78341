using System.Text.Json.Nodes;
using GpuNet.Experiments;

namespace GpuNet.Tests.Cli;

[Collection("devices")]
public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = GpuNet.Experiments.Cli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Devices_lists_both_cpu_backends()
    {
        var (code, output, _) = Run("devices");
        Assert.Equal(0, code);
        Assert.Contains("cpu", output);
        Assert.Contains("ilgpu-cpu", output);
        Assert.Contains("max group", output);
    }

    [Fact]
    public void Unavailable_device_is_a_one_line_error_with_exit_code_2()
    {
        // CI machines have no GPU; on a machine with one, ask for an index that cannot exist.
        var (code, _, err) = Run("run", "dropout-table", "--device", "cuda:99", "--out", Path.Combine(Path.GetTempPath(), "gpunet-nodev"));
        Assert.Equal(2, code);
        Assert.Contains("not available", err);
        Assert.Contains("ilgpu-cpu", err);
        Assert.DoesNotContain(" at ", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void Run_on_cuda_without_a_cuda_device_exits_2_with_the_reason_in_one_line()
    {
        var cuda = Device.Backends().Single(b => b.Kind == DeviceKind.Cuda);
        if (cuda.Devices > 0) return; // a CUDA machine runs it for real
        var (code, _, err) = Run("run", "mlp", "--device", "cuda", "--out", Path.Combine(Path.GetTempPath(), "gpunet-nocuda"));
        Assert.Equal(2, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("device 'cuda' is not available: " + cuda.Reason, err);
    }

    [Fact]
    public void Devices_says_why_a_gpu_backend_has_no_device()
    {
        var (code, output, _) = Run("devices");
        Assert.Equal(0, code);
        Assert.Contains("ilgpu-cpu:nvidia", output);
        foreach (var b in Device.Backends().Where(b => b.Reason is not null))
            Assert.Contains($"no {(b.Kind == DeviceKind.Cuda ? "CUDA" : "OpenCL")} device: {b.Reason}", output);
    }

    [Fact]
    public void Kernels_writes_the_ptx_and_opencl_c_of_every_registered_kernel()
    {
        string dir = Path.Combine(Path.GetTempPath(), "gpunet-test-kernels-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, output, err) = Run("kernels", "--ptx", dir);
            Assert.True(code == 0, err);
            Assert.Contains($"{GpuNet.Kernels.KernelCatalog.All.Count} kernels written", output);
            foreach (var kernel in GpuNet.Kernels.KernelCatalog.All)
            {
                Assert.Contains(kernel.Name, output);
                Assert.Contains(".entry", File.ReadAllText(Path.Combine(dir, kernel.FileName + ".sm_75.ptx")));
                Assert.Contains(".entry", File.ReadAllText(Path.Combine(dir, kernel.FileName + ".sm_90.ptx")));
                Assert.Contains("kernel", File.ReadAllText(Path.Combine(dir, kernel.FileName + ".cl")));
            }
            Assert.Equal(3 * GpuNet.Kernels.KernelCatalog.All.Count, Directory.GetFiles(dir).Length);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("run", "no-such-experiment")]
    [InlineData("run", "dropout-table", "--no-such-option")]
    [InlineData("frobnicate")]
    [InlineData("run", "dropout-table", "--seed", "abc")]
    public void Bad_command_lines_print_usage_and_exit_2(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains("error:", err);
        Assert.Contains("Usage:", err);
    }

    [Fact]
    public void Dropout_table_writes_the_hand_derived_values()
    {
        string dir = Path.Combine(Path.GetTempPath(), "gpunet-test-dropout-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, output, err) = Run("run", "dropout-table", "--device", "ilgpu-cpu", "--out", dir);
            Assert.True(code == 0, err);
            Assert.Contains("inverted dropout, train", output);
            var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!;
            Assert.Equal(0.5, summary["p_keep"]!.GetValue<double>());

            // Derived by hand from the definitions, p_keep = 8/16.
            double[,] standardTrain = { { 1.6, 0, 0, 1.9 }, { 0, 2.5, 2.5, 0 }, { 0, 3.2, 3.7, 0 }, { 1.3, 0, 0, 1.2 } };
            double[,] standardTest = { { 0.8, -0.35, -0.1, 0.95 }, { -1.15, 1.25, 1.25, -0.45 }, { -0.25, 1.6, 1.85, -0.2 }, { 0.65, -0.2, -1.3, 0.6 } };
            double[,] invertedTrain = { { 3.2, 0, 0, 3.8 }, { 0, 5.0, 5.0, 0 }, { 0, 6.4, 7.4, 0 }, { 2.6, 0, 0, 2.4 } };
            double[,] invertedTest = { { 1.6, -0.7, -0.2, 1.9 }, { -2.3, 2.5, 2.5, -0.9 }, { -0.5, 3.2, 3.7, -0.4 }, { 1.3, -0.4, -2.6, 1.2 } };
            AssertMatrix(standardTrain, summary["standard"]!["train"]!, "standard train");
            AssertMatrix(standardTest, summary["standard"]!["test"]!, "standard test");
            AssertMatrix(invertedTrain, summary["inverted"]!["train"]!, "inverted train");
            AssertMatrix(invertedTest, summary["inverted"]!["test"]!, "inverted test");
            Assert.True(File.Exists(Path.Combine(dir, "config.json")));
            Assert.Contains("Inverted dropout", File.ReadAllText(Path.Combine(dir, "report.md")));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Dropout_table_is_the_same_on_both_cpu_backends()
    {
        using var ilgpu = Device.Open("ilgpu-cpu");
        using var host = Device.Open("cpu");
        var a = DropoutTable.Compute(ilgpu);
        var b = DropoutTable.Compute(host);
        Assert.Equal(a.InvertedTrain, b.InvertedTrain);
        Assert.Equal(a.StandardTest, b.StandardTest);
    }

    private static void AssertMatrix(double[,] expected, JsonNode actual, string what)
    {
        var rows = actual.AsArray();
        Assert.Equal(expected.GetLength(0), rows.Count);
        for (int r = 0; r < expected.GetLength(0); r++)
        {
            var row = rows[r]!.AsArray();
            Assert.Equal(expected.GetLength(1), row.Count);
            for (int c = 0; c < expected.GetLength(1); c++)
                Close.Scalar(row[c]!.GetValue<double>(), expected[r, c], 1e-6, 0, $"{what}[{r},{c}]");
        }
    }
}
