using GpuNet.Data;
using GpuNet.Kernels;
using GpuNet.Tests.Kernels;

namespace GpuNet.Tests.Datasets;

[Collection("devices")]
public class DataLoaderTests(DeviceFixture devices)
{
    public static TheoryData<string> Specs() => new() { "ilgpu-cpu", "cpu" };

    /// <summary>Images of <paramref name="side"/>² pixels with labels cycling over the classes.</summary>
    private static ImageSet Images(int count, int side = 4, int classes = 10, int seed = 1)
    {
        var rng = new Random(seed);
        var pixels = new byte[count * side * side];
        rng.NextBytes(pixels);
        var labels = Enumerable.Range(0, count).Select(i => (byte)(i % classes)).ToArray();
        return new ImageSet("test", pixels, labels, side, side, classes);
    }

    [Fact]
    public void Shuffle_is_a_permutation_reproducible_from_seed_and_stream()
    {
        var items = Enumerable.Range(0, 1000).ToArray();
        var a = (int[])items.Clone();
        var b = (int[])items.Clone();
        var c = (int[])items.Clone();
        DataSplit.Shuffle(a, 42, 5);
        DataSplit.Shuffle(b, 42, 5);
        DataSplit.Shuffle(c, 42, 6);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(items, a.Order());
        Assert.True(a.Where((v, i) => v == i).Count() < 20, "a shuffle should move almost everything");
    }

    [Fact]
    public void Stratified_split_has_the_default_counts_per_class_and_is_deterministic()
    {
        // The shape of Fashion-MNIST's training set: 6,000 per class, round-robin.
        var labels = Enumerable.Range(0, 60000).Select(i => (byte)(i % 10)).ToArray();
        var (train, valid) = DataSplit.Stratified(labels, 10, DataSplit.DefaultValidation, seed: 7);
        Assert.Equal(54000, train.Length);
        Assert.Equal(6000, valid.Length);
        for (int c = 0; c < 10; c++)
        {
            Assert.Equal(600, valid.Count(i => labels[i] == c));
            Assert.Equal(5400, train.Count(i => labels[i] == c));
        }
        Assert.Equal(Enumerable.Range(0, 60000), train.Concat(valid).Order());
        var again = DataSplit.Stratified(labels, 10, DataSplit.DefaultValidation, seed: 7);
        Assert.Equal(valid, again.Validation);
        var other = DataSplit.Stratified(labels, 10, DataSplit.DefaultValidation, seed: 8);
        Assert.NotEqual(valid, other.Validation);
    }

    [Fact]
    public void Stratified_split_rounds_uneven_classes_by_largest_remainder()
    {
        // Classes of 50, 30 and 20 samples; 15 to validation: exact shares 7.5, 4.5, 3 -> 8 (tie to the lower class), 4, 3.
        var labels = Enumerable.Repeat((byte)0, 50).Concat(Enumerable.Repeat((byte)1, 30)).Concat(Enumerable.Repeat((byte)2, 20)).ToArray();
        var (train, valid) = DataSplit.Stratified(labels, 3, 15, seed: 1);
        Assert.Equal([8, 4, 3], Enumerable.Range(0, 3).Select(c => valid.Count(i => labels[i] == c)));
        Assert.Equal(85, train.Length);
        Assert.Empty(train.Intersect(valid));
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSplit.Stratified(labels, 3, 101, 1));
    }

    [Fact]
    public void Normalization_matches_a_float64_reference()
    {
        var set = Images(300, side: 5);
        int[] subset = Enumerable.Range(0, 300).Where(i => i % 3 != 0).ToArray();
        var norm = Normalization.FromImages(set, subset);
        var values = subset.SelectMany(i => set.Image(i).ToArray()).Select(b => b / 255.0).ToArray();
        double mean = values.Average();
        double std = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        Close.Scalar(norm.Mean, mean, 1e-12, 1e-12, "mean");
        Close.Scalar(norm.Std, std, 1e-12, 1e-12, "std");
        Assert.Equal(Normalization.Identity, new Normalization(0, 1));
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Each_epoch_visits_every_sample_once_in_its_own_order_with_normalised_images(string spec)
    {
        var device = devices.Get(spec);
        var set = Images(103);
        var subset = Enumerable.Range(0, 103).Where(i => i % 5 != 0).ToArray(); // 82 samples
        var norm = Normalization.FromImages(set, subset);
        using var data = DeviceImages.Upload(device, set);
        using var loader = new DataLoader(data, subset, new DataLoaderOptions { BatchSize = 16, Seed = 3, Normalization = norm });
        Assert.Equal(6, loader.BatchCount);
        var orders = new List<int[]>();
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var visited = new List<int>();
            double sum = 0, sumSquares = 0;
            foreach (var batch in loader.Epoch(epoch))
            {
                Assert.Equal(batch.Index == 5 ? 2 : 16, batch.Size);
                Assert.Equal([batch.Size, 16], batch.Images.Shape);
                var ids = Download(device, batch.SampleIds);
                var labels = Download(device, batch.Labels);
                var images = batch.Images.ToArray();
                for (int k = 0; k < batch.Size; k++)
                {
                    Assert.Equal(set.Labels[ids[k]], labels[k]);
                    var expected = set.Image(ids[k]).ToArray().Select(b => (b / 255f - norm.Mean) / norm.Std).ToArray();
                    Close.All(images.AsSpan(k * 16, 16), expected, 1e-5, 1e-5, $"{spec} sample {ids[k]}");
                }
                foreach (float v in images) { sum += v; sumSquares += v * (double)v; }
                visited.AddRange(ids);
            }
            Assert.Equal(loader.Order(epoch), visited);
            Assert.Equal(subset, visited.Order());
            // Normalised with the subset's own statistics: mean 0, sd 1 over an epoch.
            double n = subset.Length * 16.0;
            Close.Scalar(sum / n, 0, 1e-4, 0, "normalised mean");
            Close.Scalar(Math.Sqrt(sumSquares / n - (sum / n) * (sum / n)), 1, 1e-4, 0, "normalised sd");
            orders.Add(visited.ToArray());
        }
        Assert.NotEqual(orders[0], orders[1]);
        using var same = new DataLoader(data, subset, new DataLoaderOptions { BatchSize = 16, Seed = 3 });
        Assert.Equal(orders[1], same.Order(1));
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Drop_last_and_no_shuffle(string spec)
    {
        var device = devices.Get(spec);
        var set = Images(50);
        using var data = DeviceImages.Upload(device, set);
        using var loader = new DataLoader(data, null, new DataLoaderOptions { BatchSize = 16, Shuffle = false, DropLast = true });
        Assert.Equal(3, loader.BatchCount);
        var ids = loader.Epoch(4).SelectMany(b => Download(device, b.SampleIds)).ToArray();
        Assert.Equal(Enumerable.Range(0, 48), ids);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(data, [0, 50]));
        Assert.Throws<ArgumentOutOfRangeException>(() => loader.Order(-1));
    }

    [Fact]
    public void Augmented_batches_are_the_same_on_both_backends_and_differ_between_epochs()
    {
        var set = Images(40, side: 28);
        var pipeline = AugmentPipeline.Parse("flip,shift:2,rot:10,erase:0.1-0.2:0.5,noise:0.02");
        var options = new DataLoaderOptions { BatchSize = 16, Seed = 11, Augment = pipeline, Normalization = new Normalization(0.3, 0.35) };
        float[][] Epoch(Device device, int epoch)
        {
            using var data = DeviceImages.Upload(device, set);
            using var loader = new DataLoader(data, null, options);
            return loader.Epoch(epoch).Select(b => b.Images.ToArray()).ToArray();
        }
        var host0 = Epoch(devices.Host, 0);
        var ilgpu0 = Epoch(devices.Ilgpu, 0);
        Assert.Equal(host0.Length, ilgpu0.Length);
        for (int b = 0; b < host0.Length; b++) Assert.True(host0[b].AsSpan().SequenceEqual(ilgpu0[b]), $"batch {b} differs");
        Assert.True(host0.Zip(Epoch(devices.Host, 0)).All(p => p.First.AsSpan().SequenceEqual(p.Second)), "same epoch, same batches");
        Assert.False(host0[0].AsSpan().SequenceEqual(Epoch(devices.Host, 1)[0]), "another epoch, other augmentations");
    }

    [Fact]
    public void Pipeline_applies_stages_in_order_with_one_stream_per_epoch_and_stage()
    {
        var device = devices.Host;
        const int n = 5, h = 6, w = 6;
        var x = Data.Uniform(n * h * w, 2, 0f, 1f);
        var pipeline = AugmentPipeline.Parse("rot:30, flip:1 ,shift:1");
        using var ids = IntBuffers.Upload(device, [4, 8, 15, 16, 23]);
        using var src = Tensor.FromArray(device, x, x.Length);
        using var scratch = Tensor.Zeros(device, x.Length);
        using var dst = Tensor.Zeros(device, x.Length);
        pipeline.Apply(device, src.View, scratch.View, dst.View, ids.View, h, w, 99, epoch: 3, 2f, 1f);

        // The same, stage by stage through the op.
        using var a = Tensor.FromArray(device, x, x.Length);
        using var b = Tensor.Zeros(device, x.Length);
        Augment.Apply(device, pipeline.Stages[0], a.View, b.View, ids.View, h, w, 99, DataStreams.Augment(3, 0));
        Augment.Apply(device, pipeline.Stages[1], b.View, a.View, ids.View, h, w, 99, DataStreams.Augment(3, 1));
        Augment.Apply(device, pipeline.Stages[2], a.View, b.View, ids.View, h, w, 99, DataStreams.Augment(3, 2), 2f, 1f);
        Assert.Equal(b.ToArray(), dst.ToArray());
    }

    [Theory]
    [InlineData("flip,shift:2,rot:10", "flip,shift:2,rot:10")]
    [InlineData(" FLIP:0.25 , rot:-5..20 ", "flip:0.25,rot:-5..20")]
    [InlineData("erase", "erase:0.02-0.33:0.5")]
    [InlineData("erase:0.25", "erase:0.25:0.5")]
    [InlineData("erase:0.1-0.3:1,noise:0.05", "erase:0.1-0.3:1,noise:0.05")]
    [InlineData("none", "none")]
    [InlineData("", "none")]
    public void Spec_strings_parse_and_print_back(string spec, string canonical)
    {
        var pipeline = AugmentPipeline.Parse(spec);
        Assert.Equal(canonical, pipeline.ToString());
        Assert.Equal(canonical, AugmentPipeline.Parse(pipeline.ToString()).ToString());
    }

    [Theory]
    [InlineData("flop", "flop")]
    [InlineData("shift", "shift")]
    [InlineData("shift:1.5", "not a whole number")]
    [InlineData("rot:abc", "not a number")]
    [InlineData("rot:-5", "must not be negative")]
    [InlineData("flip:2", "probability")]
    [InlineData("erase:0.5-0.1", "erase")]
    [InlineData("flip,,rot:3", "''")]
    public void Bad_spec_strings_say_which_stage_is_wrong(string spec, string fragment)
    {
        var e = Assert.Throws<FormatException>(() => AugmentPipeline.Parse(spec));
        Assert.Contains(fragment, e.Message);
        Assert.Contains("flip[:P]", e.Message);
    }

    private static int[] Download(Device device, ILGPU.ArrayView<int> view)
    {
        device.Synchronize();
        var result = new int[view.Length];
        ILGPU.Runtime.ArrayViewExtensions.CopyToCPU(view, device.Accelerator.DefaultStream, result);
        device.Accelerator.DefaultStream.Synchronize();
        return result;
    }
}
