using System.Security.Cryptography;

namespace GpuNet.Data;

// The official files: the four .gz files of the zalandoresearch project, kept only with their published MD5s.
public static partial class FashionMnist
{
    private static string OfficialNote(string directory, FetchOptions options)
    {
        bool allOfficial = FileNames.All(n =>
        {
            string? path = Find(directory, n);
            return path is not null && path.EndsWith(".gz", StringComparison.Ordinal) && Hash(path, MD5.Create()) == options.OfficialMd5[n];
        });
        return allOfficial ? "; they are the official .gz files (their MD5s match the published ones)" : "";
    }

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
}
