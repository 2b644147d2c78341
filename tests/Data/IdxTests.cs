using System.IO.Compression;
using CsCheck;
using GpuNet.Data;

namespace GpuNet.Tests.Datasets;

public class IdxTests
{
    private static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "gpunet-idx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>An IDX file of unsigned bytes, built by hand (independently of <see cref="Idx.Write"/>).</summary>
    internal static byte[] IdxBytes(int[] dims, byte[] data)
    {
        var bytes = new List<byte> { 0, 0, 0x08, (byte)dims.Length };
        foreach (int d in dims) bytes.AddRange([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    internal static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    private static IdxArray ReadBytes(byte[] bytes, string name = "test.idx") => Idx.Read(new MemoryStream(bytes), name);

    [Fact]
    public void Write_then_read_round_trips_raw_and_gz()
    {
        string dir = TempDir();
        try
        {
            var data = Enumerable.Range(0, 3 * 4 * 5).Select(i => (byte)(i * 7)).ToArray();
            string path = Path.Combine(dir, "images");
            Idx.Write(path, data, 3, 4, 5);
            Assert.Equal(IdxBytes([3, 4, 5], data), File.ReadAllBytes(path));
            var read = Idx.ReadImages(path, 4, 5);
            Assert.Equal([3, 4, 5], read.Dimensions);
            Assert.Equal(data, read.Data);

            File.WriteAllBytes(path + ".gz", Gzip(File.ReadAllBytes(path)));
            var gz = Idx.ReadImages(path + ".gz", 4, 5);
            Assert.Equal(data, gz.Data);
            Assert.Empty(Directory.GetFiles(dir, "*" + AtomicFile.TemporarySuffix));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 }, "truncated")]    // no data byte
    [InlineData(new byte[] { 0, 0, 8 }, "truncated")]                                                 // inside the magic
    [InlineData(new byte[] { 0, 0, 8, 3, 0, 0, 0 }, "truncated in its header")]
    [InlineData(new byte[] { }, "empty")]
    [InlineData(new byte[] { 1, 2, 8, 1, 0, 0, 0, 1, 5 }, "bad magic")]
    [InlineData(new byte[] { 0, 0, 0x0D, 1, 0, 0, 0, 1, 5, 5, 5, 5 }, "element type 0x0D")]
    [InlineData(new byte[] { 0, 0, 8, 0 }, "zero dimensions")]
    [InlineData(new byte[] { 0, 0, 8, 1, 0xFF, 0xFF, 0xFF, 0xFF }, "negative")]
    [InlineData(new byte[] { 0, 0, 8, 2, 0x7F, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF }, "more than")]
    [InlineData(new byte[] { 0, 0, 8, 1, 0x10, 0, 0, 0, 1, 2, 3 }, "truncated")]                 // claims 256 MiB, holds 3 bytes
    [InlineData(new byte[] { 0, 0, 8, 1, 0, 0, 0, 1, 5, 6 }, "extra bytes")]
    public void Malformed_files_name_the_file_and_the_problem(byte[] bytes, string problem)
    {
        var e = Assert.Throws<DataFormatException>(() => ReadBytes(bytes, "some/file-idx"));
        Assert.StartsWith("some/file-idx: ", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.Equal("some/file-idx", e.FileName);
    }

    [Fact]
    public void Corrupt_gzip_names_the_file()
    {
        var gz = Gzip(IdxBytes([4], [1, 2, 3, 4]));
        gz[12] ^= 0xFF;
        gz[13] ^= 0xFF;
        var e = Assert.Throws<DataFormatException>(() => ReadBytes(gz, "labels.gz"));
        Assert.StartsWith("labels.gz: ", e.Message);
        var truncated = Gzip(IdxBytes([400], new byte[400]))[..12];
        e = Assert.Throws<DataFormatException>(() => ReadBytes(truncated, "labels.gz"));
        Assert.StartsWith("labels.gz: ", e.Message);
    }

    [Fact]
    public void Wrong_dimensions_labels_out_of_range_and_count_mismatch_name_the_file()
    {
        string dir = TempDir();
        try
        {
            string images = Path.Combine(dir, "train-images-idx3-ubyte");
            string labels = Path.Combine(dir, "train-labels-idx1-ubyte");
            File.WriteAllBytes(images, IdxBytes([2, 3, 3], new byte[18]));
            File.WriteAllBytes(labels, IdxBytes([3], [0, 1, 2]));

            var e = Assert.Throws<DataFormatException>(() => Idx.ReadImages(images, 28, 28));
            Assert.Contains(images, e.Message);
            Assert.Contains("3x3 images; expected 28x28", e.Message);

            e = Assert.Throws<DataFormatException>(() => Idx.ReadImages(labels));
            Assert.Contains(labels, e.Message);
            Assert.Contains("images need 3", e.Message);

            e = Assert.Throws<DataFormatException>(() => Idx.ReadLabels(images, 10));
            Assert.Contains(images, e.Message);
            Assert.Contains("labels need 1", e.Message);

            e = Assert.Throws<DataFormatException>(() => ImageSet.Load("train", images, labels, 3, 3, 10));
            Assert.Contains(labels, e.Message);
            Assert.Contains("3 labels but train-images-idx3-ubyte holds 2 images", e.Message);

            File.WriteAllBytes(labels, IdxBytes([2], [3, 10]));
            e = Assert.Throws<DataFormatException>(() => ImageSet.Load("train", images, labels, 3, 3, 10));
            Assert.Contains(labels, e.Message);
            Assert.Contains("label 1 is 10", e.Message);

            File.WriteAllBytes(labels, IdxBytes([2], [3, 9]));
            var set = ImageSet.Load("train", images, labels, 3, 3, 10);
            Assert.Equal(2, set.Count);
            Assert.Equal(9, set.Labels[1]);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Missing_file_is_a_file_not_found_error()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Idx.Read(Path.Combine(Path.GetTempPath(), "gpunet-no-such-file")));
        Assert.Contains("gpunet-no-such-file", e.Message);
    }

    // ---- properties (CsCheck) ----

    private static readonly Gen<(int[] Dims, byte[] Data)> ValidIdx =
        Gen.Int[1, 4].SelectMany(rank => Gen.Int[0, 6].Array[rank]).SelectMany(dims =>
            Gen.Byte.Array[dims.Aggregate(1, (a, b) => a * b)].Select(data => (dims, data)));

    [Fact]
    public void Random_bytes_either_parse_consistently_or_fail_with_a_named_error()
    {
        // Mostly-valid prefixes make the generator reach past the magic number; pure noise covers the rest.
        var bytes = Gen.OneOf(
            Gen.Byte.Array[0, 64],
            Gen.Int[1, 3].SelectMany(rank => Gen.Byte.Array[0, 40].Select(rest =>
                new byte[] { 0, 0, 8, (byte)rank }.Concat(rest).ToArray())),
            Gen.Byte.Array[0, 64].Select(rest => new byte[] { 0x1F, 0x8B }.Concat(rest).ToArray()));
        bytes.Sample(data =>
        {
            try
            {
                var array = ReadBytes(data, "random.idx");
                long n = array.Dimensions.Aggregate(1L, (a, b) => a * b);
                Assert.Equal(n, array.Data.Length);
            }
            catch (DataFormatException e)
            {
                Assert.StartsWith("random.idx: ", e.Message);
            }
        }, iter: 3000);
    }

    [Fact]
    public void Valid_files_round_trip_raw_and_gzip()
    {
        ValidIdx.Sample(t =>
        {
            var bytes = IdxBytes(t.Dims, t.Data);
            var raw = ReadBytes(bytes);
            Assert.Equal(t.Dims, raw.Dimensions);
            Assert.Equal(t.Data, raw.Data);
            var gz = ReadBytes(Gzip(bytes));
            Assert.Equal(t.Data, gz.Data);
        }, iter: 300);
    }

    [Fact]
    public void Every_truncation_of_a_valid_file_is_a_named_error()
    {
        ValidIdx.Where(t => t.Data.Length > 0).SelectMany(t => Gen.Int[0, IdxBytes(t.Dims, t.Data).Length - 1].Select(cut => (t.Dims, t.Data, cut)))
            .Sample(t =>
            {
                var bytes = IdxBytes(t.Dims, t.Data)[..t.cut];
                var e = Assert.Throws<DataFormatException>(() => ReadBytes(bytes, "cut.idx"));
                Assert.StartsWith("cut.idx: ", e.Message);
                Assert.True(e.Message.Contains("truncated") || e.Message.Contains("empty"), e.Message);
                // Truncating the compressed form is an error too (a short stream or corrupt gzip), never a crash.
                var gz = Gzip(IdxBytes(t.Dims, t.Data));
                var gzCut = gz[..Math.Min(t.cut, gz.Length - 1)];
                Assert.Throws<DataFormatException>(() => ReadBytes(gzCut, "cut.idx.gz"));
            }, iter: 300);
    }

    [Fact]
    public void Flipping_any_byte_of_a_valid_file_never_crashes()
    {
        ValidIdx.SelectMany(t => Gen.Int[0, IdxBytes(t.Dims, t.Data).Length - 1].SelectMany(at => Gen.Byte[1, 255].Select(x => (t.Dims, t.Data, at, x))))
            .Sample(t =>
            {
                var bytes = IdxBytes(t.Dims, t.Data);
                bytes[t.at] ^= t.x;
                try
                {
                    var array = ReadBytes(bytes, "flipped.idx");
                    Assert.Equal(array.Dimensions.Aggregate(1L, (a, b) => a * b), array.Data.Length);
                }
                catch (DataFormatException e)
                {
                    Assert.StartsWith("flipped.idx: ", e.Message);
                }
            }, iter: 1000);
    }
}
