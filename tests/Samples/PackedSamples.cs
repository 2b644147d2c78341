using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace GpuNet.Tests.Samples;

/// <summary>
/// The samples as a user gets them, set up once per test run: <c>scripts/pack.sh</c> packs GpuNet.Kernels, GpuNet and
/// the gpunet tool from this build (<c>NO_BUILD=1</c>) into a local feed with a version suffix unique to the run; a copy
/// of <c>samples/</c> is built against those packages (not the projects) and the tool is installed from the feed.
/// Restores go to a private packages folder, with the user's global one as a read-only fallback for ILGPU and the
/// rest, so nothing is downloaded again and no test package lands in the user's NuGet cache.
/// </summary>
public sealed class PackedSamples : IDisposable
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(8);

    public PackedSamples()
    {
        RepoRoot = FindRepoRoot();
        Root = Directory.CreateTempSubdirectory("gpunet-samples-").FullName;
        Version = $"{ReadVersionPrefix(RepoRoot)}-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        Feed = Path.Combine(Root, "feed");
        SamplesDir = Path.Combine(Root, "samples");
        ToolDir = Path.Combine(Root, "tool");
        string configuration = typeof(PackedSamples).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

        var timer = Stopwatch.StartNew();
        Step("pack", Run("bash", [Path.Combine(RepoRoot, "scripts", "pack.sh"), Feed], RepoRoot,
            ("NO_BUILD", "1"), ("CONFIGURATION", configuration), ("VERSION_SUFFIX", Version[(Version.IndexOf('-') + 1)..])));
        PackSeconds = timer.Elapsed.TotalSeconds;

        CopyTree(Path.Combine(RepoRoot, "samples"), SamplesDir);
        File.Copy(Path.Combine(RepoRoot, "version.props"), Path.Combine(Root, "version.props"));
        File.WriteAllText(Path.Combine(SamplesDir, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="gpunet-test-feed" value="{Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
              <fallbackPackageFolders>
                <add key="user-packages" value="{UserPackagesFolder()}" />
              </fallbackPackageFolders>
            </configuration>
            """);
        timer.Restart();
        Step("build the samples", Run("dotnet", ["build", "Samples.slnx", "-c", "Release", $"-p:GpuNetVersion={Version}", "-nologo", "-v", "q"], SamplesDir));
        BuildSeconds = timer.Elapsed.TotalSeconds;

        timer.Restart();
        Step("install the tool", Run("dotnet", ["tool", "install", "GpuNet.Tool", "--version", Version, "--tool-path", ToolDir,
            "--add-source", Feed], SamplesDir));
        ToolSeconds = timer.Elapsed.TotalSeconds;
    }

    public string RepoRoot { get; }

    public string Root { get; }

    /// <summary>The version of the packages of this run, e.g. <c>0.1.0-test.20260101120000.1234</c>.</summary>
    public string Version { get; }

    public string Feed { get; }

    public string SamplesDir { get; }

    public string ToolDir { get; }

    public double PackSeconds { get; }

    public double BuildSeconds { get; }

    public double ToolSeconds { get; }

    /// <summary>Runs a built sample (<c>dotnet NAME.dll args</c>).</summary>
    public Result Sample(string name, params string[] args) =>
        Run("dotnet", [Path.Combine(SamplesDir, name, "bin", "Release", "net10.0", name + ".dll"), .. args], Root);

    /// <summary>Runs the installed <c>gpunet</c> tool through its launcher, as a user would.</summary>
    public Result Tool(params string[] args) =>
        Run(Path.Combine(ToolDir, "gpunet"), args, Root, ("DOTNET_ROOT", DotnetRoot()));

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { } // a sample still holding a file must not fail the run
    }

    public sealed record Result(int Code, string Out, string Err)
    {
        public override string ToString() => $"exit {Code}\n{Out}\n{Err}";
    }

    private Result Run(string file, IEnumerable<string> args, string directory, params (string Name, string Value)[] environment)
    {
        var info = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args) info.ArgumentList.Add(a);
        // The test host runs under MSBuild's and VSTest's variables; a nested build must not inherit them.
        foreach (string key in info.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)
                     || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(key);
        info.Environment["NUGET_PACKAGES"] = Path.Combine(Root, "packages");
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        foreach (var (name, value) in environment) info.Environment[name] = value;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(StepTimeout))
        {
            process.Kill(entireProcessTree: true);
            return new Result(-1, stdout.Result, $"{file} ran over {StepTimeout.TotalMinutes} minutes and was stopped\n{stderr.Result}");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static void Step(string what, Result result)
    {
        if (result.Code != 0) throw new InvalidOperationException($"{what} failed: {result}");
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GpuNet.sln")) && Directory.Exists(Path.Combine(dir.FullName, "samples")))
                return dir.FullName;
        throw new InvalidOperationException($"no GpuNet.sln with samples/ above {AppContext.BaseDirectory}");
    }

    private static string ReadVersionPrefix(string repoRoot)
    {
        string props = File.ReadAllText(Path.Combine(repoRoot, "version.props"));
        int start = props.IndexOf("<VersionPrefix>", StringComparison.Ordinal) + "<VersionPrefix>".Length;
        return props[start..props.IndexOf("</VersionPrefix>", StringComparison.Ordinal)].Trim();
    }

    /// <summary>The user's global packages folder: where the test project's own restore put ILGPU, SkiaSharp and the rest.</summary>
    private static string UserPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>The .NET installation running this test (…/shared/Microsoft.NETCore.App/VERSION/ is three levels below it).</summary>
    private static string DotnetRoot() =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (string dir in Directory.GetDirectories(from))
            if (Path.GetFileName(dir) is not ("bin" or "obj"))
                CopyTree(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}
