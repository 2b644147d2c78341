using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using GpuNet.Data;
using GpuNet.Experiments;
using GpuNet.Tests.Datasets;

namespace GpuNet.Tests.Cli;

/// <summary>
/// <c>gpunet data fetch</c> and <c>gpunet data show</c> on a data folder built from a test package (no network, no npm),
/// and the PNG encoder they use, checked by decoding its output.
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
        var (w, h, _) = PngDecoder.Decode(File.ReadAllBytes(cpuPng));
        Assert.True(w > 8 * 84 && h > 2 * 84, $"{w}x{h}");

        // Without augmentation the first test image (class 0's image 3 of the test package) is drawn as is.
        string plain = Path.Combine(_root, "plain.png");
        Assert.Equal(0, Run("data", "show", "--dir", dir, "--split", "test", "--n", "1", "--out", plain).Code);
        var (pw, ph, rgb) = PngDecoder.Decode(File.ReadAllBytes(plain));
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

    [Fact]
    public void Png_encoder_output_decodes_to_the_same_pixels_with_valid_crcs()
    {
        Assert.Equal(0xCBF43926u, Png.Crc32("123456789"u8)); // the standard check value of CRC-32
        var image = new RgbImage(7, 3, (1, 2, 3));
        image.Set(0, 0, (255, 0, 0));
        image.Set(6, 2, (0, 0, 255));
        image.DrawText(1, 0, "A", (9, 9, 9));
        var (w, h, rgb) = PngDecoder.Decode(Png.Encode(image));
        Assert.Equal((7, 3), (w, h));
        Assert.Equal(image.Pixels, rgb);
    }

    [Fact]
    public void Every_caption_character_of_the_class_names_has_a_glyph()
    {
        foreach (string name in FashionMnist.ClassNames)
            foreach (char ch in name)
                Assert.True(ch == '?' || BitmapFont.Glyph(ch) != BitmapFont.Glyph('?'), $"no glyph for '{ch}' in {name}");
        foreach (char ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -/().:,%'_=+!#<>")
            Assert.All(BitmapFont.Glyph(ch), row => Assert.Equal(BitmapFont.GlyphWidth, row.Length));
    }

    /// <summary>A minimal PNG reader for what <see cref="Png"/> writes (8-bit RGB, filter 0), with CRCs checked bit by bit.</summary>
    private static class PngDecoder
    {
        public static (int Width, int Height, byte[] Rgb) Decode(byte[] png)
        {
            Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
            int pos = 8, width = 0, height = 0;
            var idat = new MemoryStream();
            while (pos < png.Length)
            {
                int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
                string type = Encoding.ASCII.GetString(png, pos + 4, 4);
                var body = png.AsSpan(pos + 8, length);
                uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(pos + 8 + length));
                Assert.Equal(BitwiseCrc(png.AsSpan(pos + 4, 4 + length)), crc);
                if (type == "IHDR")
                {
                    width = BinaryPrimitives.ReadInt32BigEndian(body);
                    height = BinaryPrimitives.ReadInt32BigEndian(body[4..]);
                    Assert.Equal(new byte[] { 8, 2, 0, 0, 0 }, body[8..].ToArray());
                }
                else if (type == "IDAT") idat.Write(body);
                pos += 12 + length;
                if (type == "IEND") break;
            }
            Assert.Equal(png.Length, pos);
            idat.Position = 0;
            var raw = new MemoryStream();
            using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(raw);
            var bytes = raw.ToArray();
            Assert.Equal(height * (1 + width * 3), bytes.Length);
            var rgb = new byte[width * height * 3];
            for (int y = 0; y < height; y++)
            {
                Assert.Equal(0, bytes[y * (1 + width * 3)]);
                Array.Copy(bytes, y * (1 + width * 3) + 1, rgb, y * width * 3, width * 3);
            }
            return (width, height, rgb);
        }

        private static uint BitwiseCrc(ReadOnlySpan<byte> data)
        {
            uint crc = 0xFFFFFFFF;
            foreach (byte b in data)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
            }
            return ~crc;
        }
    }
}
