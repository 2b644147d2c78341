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
    }
}
