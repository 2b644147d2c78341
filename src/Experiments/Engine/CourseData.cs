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

    private readonly bool _ownsImages;

    private CourseData(Device device, string directory, ImageSet trainSet, ImageSet testSet, DeviceImages train, DeviceImages test,
        string hash, int seed, bool ownsImages)
    {
        Device = device;
        Directory = directory;
        Seed = seed;
        TrainSet = trainSet;
        TestSet = testSet;
        Train = train;
        Test = test;
        Hash = hash;
        _ownsImages = ownsImages;
        ValidationCount = ValidationSize(trainSet.Count);
        (TrainSplit, ValidationSplit) = DataSplit.Stratified(trainSet.Labels, trainSet.Classes, ValidationCount, (ulong)seed);
        TestIndices = Enumerable.Range(0, testSet.Count).ToArray();
    }

    private static CourseData Upload(Device device, string directory, FashionMnistData data, int seed)
    {
        string hash = HashOf(data);
        var train = DeviceImages.Upload(device, data.Train);
        try
        {
            var test = DeviceImages.Upload(device, data.Test);
            return new CourseData(device, directory, data.Train, data.Test, train, test, hash, seed, ownsImages: true);
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The same images (not copied: they stay on the device once) split with another seed. The view does not own the
    /// images; dispose only the data it was made from.
    /// </summary>
    public CourseData WithSeed(int seed) => new(Device, Directory, TrainSet, TestSet, Train, Test, Hash, seed, ownsImages: false);

    // SHA-256 of the four arrays with their lengths, so a run's hash changes when its data does.
    private static string HashOf(FashionMnistData data)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var bytes in new[] { data.Train.Pixels, data.Train.Labels, data.Test.Pixels, data.Test.Labels })
        {
            sha.AppendData(BitConverter.GetBytes((long)bytes.Length));
            sha.AppendData(bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>The SHA-256 of the training and test images and labels (hex).</summary>
    public string Hash { get; }

    /// <summary>The size of the validation split for a training set of <paramref name="trainCount"/> images.</summary>
    public static int ValidationSize(int trainCount) => Math.Min(DataSplit.DefaultValidation, trainCount / 10);

    /// <summary>Loads the data from <paramref name="directory"/> (null: <c>$GPUNET_DATA</c>, else <c>./data/fashion-mnist</c>).</summary>
    public static CourseData Load(Device device, string? directory, int seed, RunConsole console)
    {
        string dir = Path.GetFullPath(directory ?? FashionMnist.DefaultDirectory);
        var data = FashionMnist.Load(dir, new Lines(console));
        return Upload(device, dir, data, seed);
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
        return Stratified(labels, TrainSet.Classes, count, Seed, salt).Select(k => indices[k]).ToArray();
    }

    /// <summary>A stratified subset of <paramref name="count"/> test images (all of them when there are no more), in
    /// ascending order, drawn from the seed and <paramref name="salt"/>.</summary>
    public int[] TestSubset(int count, int salt) =>
        count >= TestSet.Count ? TestIndices : Stratified(TestSet.Labels, TestSet.Classes, count, Seed, salt);

    /// <summary>
    /// The positions (into <paramref name="labels"/>) of a stratified subset of <paramref name="count"/>, in ascending order,
    /// drawn from <paramref name="seed"/> and <paramref name="salt"/>: every subset of the course experiments is drawn this
    /// way, so that one seed's subsets differ by salt and neighbouring seeds' subsets are unrelated.
    /// </summary>
    public static int[] Stratified(ReadOnlySpan<byte> labels, int classes, int count, int seed, int salt) =>
        DataSplit.Stratified(labels, classes, count, SubsetSeed(seed, salt)).Validation;

    // The seed times 2^64 over the golden ratio spreads neighbouring seeds over the generator's key space; the salt tells
    // one run's subsets apart.
    private static ulong SubsetSeed(int seed, int salt) => (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)salt;

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
        if (!_ownsImages) return;
        Train.Dispose();
        Test.Dispose();
    }
}
