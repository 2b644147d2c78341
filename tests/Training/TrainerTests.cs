using GpuNet.Data;
using GpuNet.Nn;
using GpuNet.Training;

namespace GpuNet.Tests.Training;

[Collection("devices")]
public class TrainerTests(DeviceFixture devices)
{
    // 4x4 images of 2 classes: class 0 bright on the left half, class 1 on the right half, with noise.
    private static ImageSet Blobs(int n, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[n * 16];
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = (byte)(i % 2);
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 4; c++)
                {
                    bool lit = (c < 2) == (labels[i] == 0);
                    pixels[i * 16 + r * 4 + c] = (byte)Math.Clamp((lit ? 170 : 60) + rng.Next(-60, 60), 0, 255);
                }
        }
        return new ImageSet("blobs", pixels, labels, 4, 4, 2);
    }

    [Fact]
    public void Fit_learns_keeps_the_best_epoch_and_is_deterministic()
    {
        TrainResult Run()
        {
            var device = devices.Host;
            using var train = DeviceImages.Upload(device, Blobs(200, 1));
            using var test = DeviceImages.Upload(device, Blobs(100, 2));
            var (tr, va) = DataSplit.Stratified(train.Source.Labels, 2, 40, seed: 3);
            var norm = Normalization.FromImages(train.Source, tr);
            using var trainLoader = new DataLoader(train, tr, new DataLoaderOptions { BatchSize = 16, Seed = 5, Normalization = norm });
            using var trainEval = new DataLoader(train, tr, new DataLoaderOptions { BatchSize = 64, Shuffle = false, Normalization = norm });
            using var val = new DataLoader(train, va, new DataLoaderOptions { BatchSize = 64, Shuffle = false, Normalization = norm });
            using var testLoader = new DataLoader(test, null, new DataLoaderOptions { BatchSize = 64, Shuffle = false, Normalization = norm });
            using var model = new Sequential(device, 16, 9, new Linear(16, 8), new ReLU(), new GpuNet.Nn.Dropout(0.2f), new Linear(8, 2));
            using var sgd = new Sgd(model.Parameters, lr: 0.05);
            using var trainer = new Trainer(model, sgd);
            var result = trainer.Fit(trainLoader, trainEval, val, testLoader, new TrainerOptions { Epochs = 6 });
            // After Fit the best epoch's parameters are restored: evaluating again gives its validation accuracy.
            Assert.Equal(result.Best!.ValidationAccuracy, trainer.Evaluate(val).Accuracy);
            return result;
        }

        var a = Run();
        Assert.False(a.Diverged);
        Assert.Equal(6, a.History.Count);
        Assert.Equal(160 / 16 * 6, a.StepLosses.Count);
        Assert.Equal(a.History.Max(h => h.ValidationAccuracy), a.Best!.ValidationAccuracy);
        Assert.True(a.History[^1].TestAccuracy > 0.9, $"test accuracy {a.History[^1].TestAccuracy}");
        Assert.True(a.History[^1].TrainLoss < a.History[0].RunningLoss);
        var b = Run();
        Assert.Equal(a.StepLosses, b.StepLosses); // same seed, same device: bit-identical
        Assert.Equal(a.History.Select(h => h.TestLoss), b.History.Select(h => h.TestLoss));
    }

    [Fact]
    public void A_diverging_run_stops_and_is_marked()
    {
        var device = devices.Host;
        using var train = DeviceImages.Upload(device, Blobs(64, 1));
        using var loader = new DataLoader(train, null, new DataLoaderOptions { BatchSize = 16, Seed = 1 });
        // A learning rate beyond float32's range turns the weights into inf/NaN on the first step, so the loss becomes NaN.
        using var model = new Sequential(device, 16, 1, new Linear(16, 2));
        using var sgd = new Sgd(model.Parameters, lr: 1e39);
        using var trainer = new Trainer(model, sgd);
        var result = trainer.Fit(loader, loader, null, null, new TrainerOptions { Epochs = 20 });
        Assert.True(result.Diverged);
        Assert.True(result.History.Count < 20);
        // The first step's update makes the weights inf/NaN, so the loss of step 2 (or 1) is the first non-finite one.
        Assert.InRange(result.DivergedAtStep, 1, 2);
        Assert.False(float.IsFinite(result.StepLosses[result.DivergedAtStep - 1]));
    }

    [Theory]
    [InlineData(37, 16, 3)]  // sample 37 is in the third batch of 16 of the first epoch
    [InlineData(0, 16, 1)]
    [InlineData(63, 64, 1)]
    public void NaN_in_the_data_stops_the_run_as_diverged_at_the_step_that_read_it(int sample, int batchSize, int step)
    {
        var device = devices.Host;
        using var train = DeviceImages.Upload(device, Blobs(64, 1));
        // One pixel of one image becomes NaN on the device, as a corrupt data set or a bad normalisation would make it.
        var pixels = train.Pixels.ToArray();
        pixels[sample * 16 + 5] = float.NaN;
        train.Pixels.CopyFrom(pixels);
        using var loader = new DataLoader(train, null, new DataLoaderOptions { BatchSize = batchSize, Shuffle = false });
        using var model = new Sequential(device, 16, 1, new Linear(16, 2));
        using var sgd = new Sgd(model.Parameters, lr: 0.01);
        using var trainer = new Trainer(model, sgd);
        var result = trainer.Fit(loader, loader, null, null, new TrainerOptions { Epochs = 5 });
        Assert.True(result.Diverged);
        Assert.Equal(step, result.DivergedAtStep);
        Assert.Empty(result.History); // stopped in the first epoch: no epoch finished
        Assert.All(result.StepLosses.Take(step - 1), v => Assert.True(float.IsFinite(v)));
        Assert.True(float.IsNaN(result.StepLosses[step - 1]));
    }

    [Fact]
    public void A_clean_run_has_no_divergence_step()
    {
        var device = devices.Host;
        using var train = DeviceImages.Upload(device, Blobs(64, 1));
        using var loader = new DataLoader(train, null, new DataLoaderOptions { BatchSize = 16, Shuffle = false });
        using var model = new Sequential(device, 16, 1, new Linear(16, 2));
        using var sgd = new Sgd(model.Parameters, lr: 0.01);
        using var trainer = new Trainer(model, sgd);
        var result = trainer.Fit(loader, loader, null, null, new TrainerOptions { Epochs = 2 });
        Assert.False(result.Diverged);
        Assert.Equal(0, result.DivergedAtStep);
    }

    private sealed class Ignore<T> : IProgress<T>
    {
        public void Report(T value) { }
    }

    public static TheoryData<string> Specs() => new(DeviceFixture.Specs);

    // A model with every backward that used to clear a buffer: loss, tanh, dropout, ReLU (ZeroGrad clears the gradients).
    private static Sequential SmallMlp(Device device) =>
        new(device, 16, 9, new Linear(16, 8), new GpuNet.Nn.Tanh(), new GpuNet.Nn.Dropout(0.25f), new Linear(8, 8), new ReLU(), new Linear(8, 2));

    [Theory]
    [MemberData(nameof(Specs))]
    public void A_training_step_makes_no_device_synchronisation(string spec)
    {
        var device = devices.Get(spec);
        using var train = DeviceImages.Upload(device, Blobs(80, 1));
        using var loader = new DataLoader(train, null, new DataLoaderOptions { BatchSize = 16, Seed = 1 });
        using var model = SmallMlp(device);
        using var sgd = new Sgd(model.Parameters, lr: 0.05, momentum: 0.9);
        using var loss = new CrossEntropyLoss(device);
        model.Train();
        var perStep = new List<long>();
        foreach (var batch in loader.Epoch(0))
        {
            long before = device.Synchronizations;
            var logits = model.Forward(batch.Images);
            loss.Forward(logits, batch.Labels);
            sgd.ZeroGrad();
            model.Backward(loss.Backward(logits, batch.Labels));
            sgd.Step();
            perStep.Add(device.Synchronizations - before);
        }
        Assert.Equal(5, perStep.Count);
        Assert.True(perStep.All(n => n == 0), $"synchronisations per step on {spec}: {string.Join(", ", perStep)}");
        // Reading the loss back is one counted synchronisation, and it sees the steps' work.
        long beforeRead = device.Synchronizations;
        Assert.True(float.IsFinite(loss.ReadLoss()));
        Assert.Equal(beforeRead + 1, device.Synchronizations);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Fit_synchronises_once_per_progress_report_and_not_per_step(string spec)
    {
        var device = devices.Get(spec);
        long SyncsOfOneEpoch(int images)
        {
            using var train = DeviceImages.Upload(device, Blobs(images, 1));
            using var loader = new DataLoader(train, null, new DataLoaderOptions { BatchSize = 16, Seed = 1 });
            using var model = SmallMlp(device);
            using var sgd = new Sgd(model.Parameters, lr: 0.05);
            using var trainer = new Trainer(model, sgd);
            long before = device.Synchronizations;
            trainer.Fit(loader, null, null, null, new TrainerOptions { Epochs = 1, EvaluateTrain = false, ProgressEvery = 2 },
                new Ignore<TrainProgress>());
            return device.Synchronizations - before;
        }
        // 4 and 12 steps: the per-epoch reads are the same, and 8 more steps add 4 progress reads and nothing else.
        long four = SyncsOfOneEpoch(64), twelve = SyncsOfOneEpoch(192);
        Assert.Equal(4, twelve - four);
    }
}
