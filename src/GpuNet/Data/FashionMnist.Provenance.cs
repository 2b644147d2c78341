using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace GpuNet.Data;

// DATASET.md: the source, the split rule and each file's SHA-256, written last and checked on every later fetch.
public static partial class FashionMnist
{
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
