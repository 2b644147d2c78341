using System.Collections.Concurrent;
using GpuNet.Data;

namespace GpuNet.Tests.Experiments;

/// <summary>
/// A small Fashion-MNIST-shaped data folder (the four IDX files and a DATASET.md, so nothing is fetched): 28x28 images of
/// 10 classes, each class a bright bar at its own place over noise, so that a network learns them in a few epochs. Also
/// runs experiments on it once per (arguments) and keeps the results for every test that asks again.
/// </summary>
public sealed class TinyFashion : IDisposable
{
    public const int TrainPerClass = 40;
    public const int TestPerClass = 10;

    private readonly ConcurrentDictionary<string, Lazy<QuickRun>> _runs = new();

    public TinyFashion()
    {
        Root = Directory.CreateTempSubdirectory("gpunet-tiny-").FullName;
        DataDir = Path.Combine(Root, "data");
        Directory.CreateDirectory(DataDir);
        Write("train", TrainPerClass, seed: 1);
        Write("t10k", TestPerClass, seed: 2);
        File.WriteAllText(Path.Combine(DataDir, FashionMnist.ProvenanceFile), "# tiny Fashion-MNIST-shaped test data\n");
    }

    public string Root { get; }

    public string DataDir { get; }

    private void Write(string prefix, int perClass, int seed)
    {
        var rng = new Random(seed);
        int n = perClass * 10;
        var pixels = new byte[n * 784];
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            int c = i % 10;
            labels[i] = (byte)c;
            // Class c lights rows 4 + 10·(c / 5) .. +10 and columns 3 + 5·(c % 5) .. +5, with a jitter of a pixel or two.
            int r0 = 4 + 10 * (c / 5) + rng.Next(-1, 2), c0 = 3 + 5 * (c % 5) + rng.Next(-1, 2);
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    bool lit = y >= r0 && y < r0 + 10 && x >= c0 && x < c0 + 5;
                    pixels[i * 784 + y * 28 + x] = (byte)Math.Clamp((lit ? 190 : 30) + rng.Next(-40, 41), 0, 255);
                }
        }
        Idx.Write(Path.Combine(DataDir, $"{prefix}-images-idx3-ubyte"), pixels, n, 28, 28);
        Idx.Write(Path.Combine(DataDir, $"{prefix}-labels-idx1-ubyte"), labels, n);
    }

    /// <summary>The outcome of one command line.</summary>
    public sealed record QuickRun(int Code, string Out, string Err, string Dir);

    /// <summary>Runs <c>gpunet run NAME --quick --device cpu</c> on the data (once per name, seed, seed count and tag) into its
    /// own folder; <paramref name="seeds"/> adds <c>--seeds</c>.</summary>
    public QuickRun Run(string name, int seed = 42, string tag = "", int? seeds = null) =>
        _runs.GetOrAdd($"{name}-{seed}{(seeds is { } n ? $"x{n}" : "")}{tag}", key => new Lazy<QuickRun>(() =>
        {
            string dir = Path.Combine(Root, "runs", key);
            string[] args = ["run", name, "--quick", "--device", "cpu", "--seed", $"{seed}", "--data", DataDir, "--out", dir];
            var (code, output, err) = Cli(seeds is { } count ? [.. args, "--seeds", $"{count}"] : args);
            return new QuickRun(code, output, err, dir);
        })).Value;

    public static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = GpuNet.Experiments.Cli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
