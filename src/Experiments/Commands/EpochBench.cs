using System.Diagnostics;
using System.Globalization;
using GpuNet.Nn;
using ILGPU.Runtime;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet bench epoch</c>: one training epoch of a 784-256-128-10 ReLU MLP with plain SGD on random data of
/// Fashion-MNIST's shape (60,000 × 784, 10 classes), the same work as bench/peers/mlp_epoch.py does in PyTorch.
/// </summary>
public static class EpochBench
{
    /// <summary>Trains <paramref name="epochs"/> epochs after one warm-up epoch and reports the median seconds per epoch.</summary>
    /// <returns>The median seconds per epoch.</returns>
    public static double Run(Device device, int batch, int epochs, int samples, TextWriter output)
    {
        const int features = 784, classes = 10;
        var rng = new Random(1);
        var xs = new float[(long)samples * features];
        for (long i = 0; i < xs.Length; i++) xs[i] = (float)rng.NextDouble();
        var ys = new int[samples];
        for (int i = 0; i < samples; i++) ys[i] = rng.Next(classes);

        using var x = Tensor.FromArray(device, xs, samples, features);
        using var labels = device.Accelerator.Allocate1D(ys);
        using var model = new Sequential(device, features, 1, new Linear(784, 256), new ReLU(), new Linear(256, 128), new ReLU(), new Linear(128, 10));
        using var loss = new CrossEntropyLoss(device);
        using var sgd = new Sgd(model.Parameters, lr: 0.01);
        int steps = (samples + batch - 1) / batch;
        using var losses = device.Accelerator.Allocate1D<float>(steps);
        using var correct = device.Accelerator.Allocate1D<int>(steps);

        double Epoch()
        {
            var sw = Stopwatch.StartNew();
            model.Train();
            for (int s = 0; s < steps; s++)
            {
                int start = s * batch, size = Math.Min(batch, samples - start);
                using var xb = x.Rows(start, size);
                var yb = labels.View.SubView(start, size);
                sgd.ZeroGrad();
                var logits = model.Forward(xb);
                loss.Forward(logits, yb, losses.View.SubView(s, 1), correct.View.SubView(s, 1));
                model.Backward(loss.Backward(logits, yb));
                sgd.Step();
            }
            // One read-back per epoch, as a trainer does for its metrics.
            var epochLosses = losses.GetAsArray1D();
            device.Synchronize();
            if (!float.IsFinite(epochLosses[^1])) throw new InvalidOperationException("the benchmark diverged.");
            return sw.Elapsed.TotalSeconds;
        }

        output.WriteLine($"# gpunet bench epoch on {device.Spec} ({device.Name}): MLP 784-256-128-10, SGD, {samples} samples, batch {batch}");
        double warm = Epoch();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm-up epoch {warm:F3} s"));
        var times = new List<double>();
        for (int e = 0; e < epochs; e++)
        {
            times.Add(Epoch());
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"epoch {e + 1}: {times[^1]:F3} s"));
        }
        times.Sort();
        double median = times[times.Count / 2];
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch mlp batch={batch} {device.Spec} median {median:F4} s/epoch"));
        return median;
    }
}
