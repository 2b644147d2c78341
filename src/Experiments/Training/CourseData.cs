using GpuNet.Data;

namespace GpuNet.Experiments.Training;

/// <summary>
/// Fashion-MNIST as the course experiments use it: loaded from the data folder (fetched on first use), uploaded to the
/// device once, with the stratified validation split held out of the training images (6,000 of 60,000; a tenth of a
/// smaller set) chosen from the seed. Everything else (subsets, loaders) is drawn from these.
/// </summary>
public sealed class CourseData : IDisposable
{
    /// <summary>The batch size of evaluation loaders: large, since evaluation keeps no activations for a backward pass.</summary>
    public const int EvalBatch = 1000;

    private CourseData(Device device, string directory, FashionMnistData data, int seed)
    {
        Device = device;
        Directory = directory;
        Seed = seed;
        TrainSet = data.Train;
        TestSet = data.Test;
        ValidationCount = ValidationSize(data.Train.Count);
        (TrainSplit, ValidationSplit) = DataSplit.Stratified(data.Train.Labels, data.Train.Classes, ValidationCount, (ulong)seed);
        Train = DeviceImages.Upload(device, data.Train);
        try
        {
            Test = DeviceImages.Upload(device, data.Test);
        }
        catch
        {
            Train.Dispose();
            throw;
        }
        TestIndices = Enumerable.Range(0, data.Test.Count).ToArray();
    }

    /// <summary>The size of the validation split for a training set of <paramref name="trainCount"/> images.</summary>
    public static int ValidationSize(int trainCount) => Math.Min(DataSplit.DefaultValidation, trainCount / 10);

    /// <summary>Loads the data from <paramref name="directory"/> (null: <c>$GPUNET_DATA</c>, else <c>./data/fashion-mnist</c>).</summary>
    public static CourseData Load(Device device, string? directory, int seed, RunConsole console)
    {
        string dir = Path.GetFullPath(directory ?? FashionMnist.DefaultDirectory);
        var data = FashionMnist.Load(dir, new Lines(console));
        return new CourseData(device, dir, data, seed);
    }

    private sealed class Lines(RunConsole console) : IProgress<string>
    {
        public void Report(string value) => console.WriteLine(value);
    }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>The data folder.</summary>
    public string Directory { get; }

    /// <summary>The seed of the validation split.</summary>
    public int Seed { get; }

    /// <summary>The 60,000 training images (host).</summary>
    public ImageSet TrainSet { get; }

    /// <summary>The 10,000 test images (host).</summary>
    public ImageSet TestSet { get; }

    /// <summary>The training images on the device.</summary>
    public DeviceImages Train { get; }

    /// <summary>The test images on the device.</summary>
    public DeviceImages Test { get; }

    /// <summary>Indices (into <see cref="TrainSet"/>) of the training split.</summary>
    public int[] TrainSplit { get; }

    /// <summary>Indices (into <see cref="TrainSet"/>) of the validation split.</summary>
    public int[] ValidationSplit { get; }

    /// <summary>The size of the validation split.</summary>
    public int ValidationCount { get; }

    /// <summary>Every test index.</summary>
    public int[] TestIndices { get; }

    /// <summary>
    /// A stratified subset of <paramref name="count"/> of <paramref name="indices"/> (all of them when there are no more),
    /// in ascending order, drawn from the seed and <paramref name="salt"/> so different subsets of one run differ.
    /// </summary>
    public int[] Subset(int[] indices, int count, int salt)
    {
        if (count >= indices.Length) return indices;
        var labels = indices.Select(i => TrainSet.Labels[i]).ToArray();
        var (_, chosen) = DataSplit.Stratified(labels, TrainSet.Classes, count, (ulong)Seed * 0x9E3779B97F4A7C15UL + (ulong)salt);
        return chosen.Select(k => indices[k]).ToArray();
    }

    /// <summary>A shuffling training loader over <paramref name="indices"/>.</summary>
    public DataLoader TrainLoader(int[] indices, int batch, Normalization normalization, AugmentPipeline augment, ulong seed) =>
        new(Train, indices, new DataLoaderOptions
        {
            BatchSize = batch,
            Shuffle = true,
            Seed = seed,
            Normalization = normalization,
            Augment = augment,
        });

    /// <summary>An evaluation loader (in order, no augmentation) over <paramref name="indices"/> of <paramref name="images"/>.</summary>
    public static DataLoader EvalLoader(DeviceImages images, int[]? indices, Normalization normalization) =>
        new(images, indices, new DataLoaderOptions { BatchSize = EvalBatch, Shuffle = false, Normalization = normalization });

    /// <inheritdoc />
    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
    }
}
