using GpuNet.Data;
using GpuNet.Kernels;
using GpuNet.Nn;
using GpuNet.Training;

namespace GpuNet.Tests.Kernels;

/// <summary>
/// The host engine's results do not depend on its thread count: the ops not covered by their own thread tests (GEMM on
/// both host algorithms, softmax cross-entropy hard and soft, forward and backward, gather, every augmentation stage) and a
/// whole training run with dropout and augmentation give the same bits on 1 thread, 3 threads and every core.
/// </summary>
public class ThreadCountTests
{
    private static readonly int[] ThreadCounts = [1, 3, Math.Max(2, Environment.ProcessorCount)];

    /// <summary>Runs <paramref name="body"/> on a host device of each thread count and checks every result has the same bits.</summary>
    private static void SameOnEveryThreadCount(string what, Func<Device, float[][]> body)
    {
        float[][]? first = null;
        foreach (int threads in ThreadCounts)
        {
            using var device = Device.Open("cpu", new DeviceOptions { Threads = threads });
            var results = body(device);
            if (first is null) { first = results; continue; }
            for (int r = 0; r < results.Length; r++)
                HostSimdTestData.SameBits(first[r], results[r], $"{what} [{r}], 1 thread vs {threads}");
        }
    }

    [Fact]
    public void Gemm_is_bit_identical_on_any_thread_count()
    {
        // Large enough for several threads on the packed path (about 1.2·10⁷ multiply-adds) and on the direct one (10 columns).
        foreach (var (m, n, k) in new[] { (257, 181, 263), (3000, 10, 301), (10, 700, 3001) })
            SameOnEveryThreadCount($"GEMM {m}x{n}x{k}", device =>
            {
                using var a = Tensor.FromArray(device, Data.Uniform(m * k, 1), m * k);
                using var b = Tensor.FromArray(device, Data.Uniform(k * n, 2), k * n);
                using var c = Tensor.FromArray(device, Data.Uniform(m * n, 3), m * n);
                Gemm.Run(device, Transpose.No, Transpose.Yes, m, n, k, 0.7f, a.View, b.View, 0.3f, c.View);
                var nt = c.ToArray();
                Gemm.Run(device, Transpose.Yes, Transpose.No, m, n, k, 1f, a.View, b.View, 0f, c.View);
                return [nt, c.ToArray()];
            });
    }

    [Fact]
    public void Softmax_cross_entropy_is_bit_identical_on_any_thread_count()
    {
        const int batch = 3001, classes = 10;
        var labels = Enumerable.Range(0, batch).Select(i => i * 7 % classes).ToArray();
        SameOnEveryThreadCount("softmax cross-entropy", device =>
        {
            using var logits = Tensor.FromArray(device, Data.Uniform(batch * classes, 4, -5f, 5f), batch, classes);
            using var teacher = Tensor.FromArray(device, Data.Uniform(batch * classes, 5, -5f, 5f), batch, classes);
            using var lab = IntBuffers.Upload(device, labels);
            using var rowLoss = Tensor.Zeros(device, batch);
            using var loss = Tensor.Zeros(device, 1);
            using var correct = IntBuffers.Filled(device, 1, 0);
            using var d = Tensor.Zeros(device, batch * classes);
            SoftmaxCrossEntropy.Forward(device, logits.View, lab.View, batch, classes, rowLoss.View, loss.View, correct.View);
            var hard = new[] { rowLoss.ToArray(), loss.ToArray(), [IntBuffers.Download(device, correct)[0]] };
            SoftmaxCrossEntropy.Backward(device, logits.View, lab.View, batch, classes, d.View, 0.5f);
            var dHard = d.ToArray();
            SoftmaxCrossEntropy.ForwardSoft(device, logits.View, teacher.View, batch, classes, 3f, rowLoss.View, loss.View);
            var soft = new[] { rowLoss.ToArray(), loss.ToArray() };
            d.Clear();
            SoftmaxCrossEntropy.BackwardSoft(device, logits.View, teacher.View, batch, classes, 3f, d.View, 0.25f);
            return [.. hard, dHard, .. soft, d.ToArray()];
        });
    }

    [Fact]
    public void Gather_and_every_augmentation_stage_are_bit_identical_on_any_thread_count()
    {
        const int images = 700, h = 28, w = 28, p = h * w, batch = 513;
        var ids = Enumerable.Range(0, batch).Select(i => i * 37 % images).ToArray();
        AugmentStage[] stages = [AugmentStage.Flip(), AugmentStage.Shift(3), AugmentStage.Rotate(-15, 15), AugmentStage.Erase(0.7f), AugmentStage.Noise(0.2f)];
        SameOnEveryThreadCount("gather and augmentation", device =>
        {
            using var src = Tensor.FromArray(device, Data.Uniform(images * p, 6, 0f, 1f), images * p);
            using var idx = IntBuffers.Upload(device, ids);
            using var gathered = Tensor.Zeros(device, batch * p);
            using var augmented = Tensor.Zeros(device, batch * p);
            Gather.Rows(device, src.View, p, idx.View, gathered.View, 1.5f, -0.25f);
            var results = new List<float[]> { gathered.ToArray() };
            foreach (var stage in stages)
            {
                Augment.Apply(device, stage, gathered.View, augmented.View, idx.View, h, w, 99, 3, 0.5f, 0.1f);
                results.Add(augmented.ToArray());
            }
            return [.. results];
        });
    }

    [Fact]
    public void A_whole_training_run_is_bit_identical_on_any_thread_count()
    {
        // Fashion-MNIST-shaped images of 4 classes, an MLP with dropout, augmentation, momentum and a validation split.
        const int n = 320, classes = 4;
        var rng = new Random(8);
        var pixels = new byte[n * 784];
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = (byte)(i % classes);
            for (int q = 0; q < 784; q++)
                pixels[i * 784 + q] = (byte)Math.Clamp((q / 196 == labels[i] ? 180 : 40) + rng.Next(-40, 41), 0, 255);
        }
        var set = new ImageSet("threads", pixels, labels, 28, 28, classes);
        SameOnEveryThreadCount("training run", device =>
        {
            using var images = DeviceImages.Upload(device, set);
            var (train, validation) = DataSplit.Stratified(set.Labels, classes, 64, seed: 2);
            var norm = Normalization.FromImages(set, train);
            var augment = AugmentPipeline.Parse("flip,shift:2,rot:10,erase,noise:0.05");
            using var loader = new DataLoader(images, train, new DataLoaderOptions { BatchSize = 32, Seed = 4, Normalization = norm, Augment = augment });
            using var val = new DataLoader(images, validation, new DataLoaderOptions { BatchSize = 64, Shuffle = false, Normalization = norm });
            using var model = new Sequential(device, 784, 5, new Linear(784, 64), new ReLU(), new GpuNet.Nn.Dropout(0.3f), new Linear(64, classes));
            using var sgd = new Sgd(model.Parameters, 0.05, momentum: 0.9);
            using var trainer = new Trainer(model, sgd);
            var result = trainer.Fit(loader, loader, val, null, new TrainerOptions { Epochs = 2 });
            Assert.False(result.Diverged);
            return [[.. result.StepLosses], [.. result.History.Select(h => (float)h.ValidationLoss)], model.Parameters.Values.ToArray()];
        });
    }
}
