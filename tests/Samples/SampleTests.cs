using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using GpuNet.Data;
using GpuNet.IO;
using GpuNet.Tests.Experiments;
using Xunit.Abstractions;

namespace GpuNet.Tests.Samples;

/// <summary>
/// The samples, built against the packages that <c>scripts/pack.sh</c> makes (<see cref="PackedSamples"/>), run on a
/// small Fashion-MNIST-shaped folder: their output is checked against this build's library and a float64 reference.
/// </summary>
public sealed class SampleTests(PackedSamples packed, ITestOutputHelper output) : IClassFixture<PackedSamples>, IDisposable
{
    private readonly TinyFashion _tiny = new();

    public void Dispose() => _tiny.Dispose();

    [Fact]
    public void TrainMlp_saves_a_checkpoint_that_Classify_reads_as_the_library_does()
    {
        output.WriteLine($"pack {packed.PackSeconds:F0} s, build the samples {packed.BuildSeconds:F0} s, install the tool {packed.ToolSeconds:F0} s");
        string checkpoint = Path.Combine(_tiny.Root, "model.safetensors");
        var train = packed.Sample("TrainMlp", "--data", _tiny.DataDir, "--epochs", "4", "--device", "cpu", "--out", checkpoint);
        Assert.True(train.Code == 0, train.ToString());
        Assert.Contains("epoch 4: loss", train.Out);
        Assert.Contains($"saved {checkpoint}", train.Out);
        var accuracy = Regex.Match(train.Out, @"test accuracy (\d+\.\d+)%");
        Assert.True(accuracy.Success, train.Out);
        // The tiny classes are bars at ten places: an MLP that learned anything gets most of them.
        Assert.True(double.Parse(accuracy.Groups[1].Value, CultureInfo.InvariantCulture) > 60, train.Out);

        const int count = 20;
        var classify = packed.Sample("Classify", "--checkpoint", checkpoint, "--data", _tiny.DataDir, "--count", $"{count}", "--device", "cpu");
        Assert.True(classify.Code == 0, classify.ToString());

        // This build's library, reading the same file, predicts the same classes.
        using var device = Device.Open("cpu");
        var loaded = Checkpoint.Load(checkpoint, device);
        using var model = loaded.Model;
        var test = FashionMnist.Load(_tiny.DataDir).Test;
        var input = new float[count * FashionMnist.Pixels];
        for (int i = 0; i < input.Length; i++)
            input[i] = (float)((test.Pixels[i] / 255.0 - loaded.Normalization.Mean) / loaded.Normalization.Std);
        using var batch = Tensor.FromArray(device, input, count, FashionMnist.Pixels);
        model.Eval();
        float[] logits = model.Forward(batch).ToArray();
        var lines = classify.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        int right = 0;
        for (int i = 0; i < count; i++)
        {
            var row = logits.AsSpan(i * 10, 10).ToArray();
            int predicted = Array.IndexOf(row, row.Max());
            right += predicted == test.Labels[i] ? 1 : 0;
            Assert.Equal($"test image {i}: {FashionMnist.ClassNames[predicted]} (true: {FashionMnist.ClassNames[test.Labels[i]]})", lines[i].TrimEnd());
        }
        Assert.StartsWith($"{right} of {count} right with Linear(784, 256) -> ReLU()", lines[count]);
    }

    [Fact]
    public void CustomOps_gives_the_float64_loss_and_the_same_gradient_on_the_host_engine_and_the_ilgpu_kernels()
    {
        const int batch = 17, features = 33, classes = 10;
        var run = packed.Sample("CustomOps", "--batch", $"{batch}", "--features", $"{features}", "--classes", $"{classes}");
        Assert.True(run.Code == 0, run.ToString());

        // The sample's inputs (Random(42): X then W, labels i mod classes), its GEMM and its mean loss in float64.
        var random = new Random(42);
        double[] x = Enumerable.Range(0, batch * features).Select(_ => (double)random.NextSingle()).ToArray();
        double[] w = Enumerable.Range(0, classes * features).Select(_ => (double)((random.NextSingle() - 0.5f) * 0.1f)).ToArray();
        double loss = 0;
        for (int r = 0; r < batch; r++)
        {
            var z = Enumerable.Range(0, classes).Select(c => Enumerable.Range(0, features).Sum(f => x[r * features + f] * w[c * features + f])).ToArray();
            double max = z.Max();
            loss += max + Math.Log(z.Sum(v => Math.Exp(v - max))) - z[r % classes];
        }
        loss /= batch;

        foreach (string device in new[] { "cpu", "ilgpu-cpu" })
        {
            var line = Regex.Match(run.Out, $@"^{Regex.Escape(device)} \(.*\): loss (\d+\.\d+),", RegexOptions.Multiline);
            Assert.True(line.Success, $"no loss line for {device}:\n{run.Out}");
            double printed = double.Parse(line.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.True(Math.Abs(printed - loss) <= 2e-6 + 1e-5 * loss, $"{device}: {printed} vs float64 {loss:F8}");
        }
        var difference = Regex.Match(run.Out, @"loss ([-+0-9.E]+), dlogits ([-+0-9.E]+)$", RegexOptions.Multiline);
        Assert.True(difference.Success, run.Out);
        Assert.True(double.Parse(difference.Groups[2].Value, CultureInfo.InvariantCulture) < 1e-6, run.Out);
    }

    [Fact]
    public void The_tool_installs_from_the_feed_and_runs_as_gpunet()
    {
        var devices = packed.Tool("devices");
        Assert.True(devices.Code == 0, devices.ToString());
        Assert.Contains("cpu", devices.Out);
        var bad = packed.Tool("run", "no-such-experiment");
        Assert.Equal(2, bad.Code);
        Assert.DoesNotContain("   at ", bad.Err);
    }

    [Fact]
    public void The_packages_carry_a_readme_the_license_xml_docs_and_the_commit()
    {
        foreach (var (id, documentedType) in new[] { ("GpuNet.Kernels", "GpuNet.Device"), ("GpuNet", "GpuNet.Tensor") })
        {
            using var zip = ZipFile.OpenRead(Path.Combine(packed.Feed, $"{id}.{packed.Version}.nupkg"));
            string nuspec = Read(zip, $"{id}.nuspec");
            Assert.Contains($"<version>{packed.Version}</version>", nuspec);
            Assert.Contains("<license type=\"expression\">MIT</license>", nuspec);
            Assert.Contains("<readme>README.md</readme>", nuspec);
            Assert.Matches("<repository type=\"git\"[^>]* commit=\"[0-9a-f]{40}\"", nuspec);
            Assert.StartsWith($"# {id}", Read(zip, "README.md"));
            Assert.Contains($"<member name=\"T:{documentedType}\">", Read(zip, $"lib/net10.0/{id}.xml"));
            if (id == "GpuNet") Assert.Contains($"<dependency id=\"GpuNet.Kernels\" version=\"{packed.Version}\"", nuspec);
        }
        using var tool = ZipFile.OpenRead(Path.Combine(packed.Feed, $"GpuNet.Tool.{packed.Version}.nupkg"));
        Assert.Contains("Command Name=\"gpunet\"", Read(tool, "tools/net10.0/any/DotnetToolSettings.xml"));
    }

    private static string Read(ZipArchive zip, string name)
    {
        var entry = zip.GetEntry(name) ?? throw new Xunit.Sdk.XunitException($"no {name} in the package: {string.Join(", ", zip.Entries.Select(e => e.FullName))}");
        using var reader = new StreamReader(entry.Open());
        return reader.ReadToEnd();
    }
}

/// <summary>The README's "Use it from C#" section shows the training sample that <see cref="SampleTests"/> builds and runs.</summary>
public sealed class ReadmeSampleTests
{
    [Fact]
    public void The_readme_shows_the_TrainMlp_sample_as_it_is()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "GpuNet.sln"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("no GpuNet.sln above the tests");
        string readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");
        int section = readme.IndexOf("\n## Use it from C#\n", StringComparison.Ordinal);
        Assert.True(section >= 0, "the README has no '## Use it from C#' section");
        var block = Regex.Match(readme[section..], "```csharp\n(.*?)```", RegexOptions.Singleline);
        Assert.True(block.Success, "the section has no csharp block");
        string sample = File.ReadAllText(Path.Combine(root, "samples", "TrainMlp", "Program.cs")).ReplaceLineEndings("\n");
        Assert.Equal(sample, block.Groups[1].Value);
    }
}
