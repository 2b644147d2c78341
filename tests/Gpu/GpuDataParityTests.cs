using GpuNet.Data;
using GpuNet.Kernels;

namespace GpuNet.Tests.Gpu;

/// <summary>
/// The data pipeline's kernels (gather, augmentation) on a real GPU against the host engine. Skipped where no GPU is
/// present. Values agree to float rounding (the GPU compiler may fuse a multiply and an add, and its sine, cosine,
/// exponential and logarithm are not correctly rounded). Flip and shift move pixels by integer parameters drawn
/// straight from Philox, so every element must agree; a rotation sample point or an erased rectangle's side that falls
/// within rounding of a boundary may move a few pixels, so those stages allow a tiny fraction of larger differences.
/// </summary>
[Collection("gpu")]
public class GpuDataParityTests
{
    [GpuFact]
    public void Augmented_normalised_batches_match_the_host_engine()
    {
        using var gpu = Device.Open(GpuFactAttribute.GpuSpec);
        using var host = Device.Open("cpu");
        var rng = new Random(5);
        var pixels = new byte[300 * 784];
        rng.NextBytes(pixels);
        var labels = Enumerable.Range(0, 300).Select(i => (byte)(i % 10)).ToArray();
        var set = new ImageSet("gpu", pixels, labels, 28, 28, 10);
        foreach (string spec in new[] { "none", "flip,shift:3", "erase:0.05-0.3:0.8", "rot:15", "noise:0.1" })
        {
            var options = new DataLoaderOptions { BatchSize = 64, Seed = 9, Augment = AugmentPipeline.Parse(spec), Normalization = new Normalization(0.286, 0.353) };
            float[][] Epoch(Device device)
            {
                using var data = DeviceImages.Upload(device, set);
                using var loader = new DataLoader(data, null, options);
                return loader.Epoch(2).Select(b => b.Images.ToArray()).ToArray();
            }
            var g = Epoch(gpu);
            var h = Epoch(host);
            Assert.Equal(h.Length, g.Length);
            double allowed = spec is "none" || spec.StartsWith("flip", StringComparison.Ordinal) ? 0 : 0.002;
            long bad = 0, total = 0;
            for (int b = 0; b < h.Length; b++)
                for (int i = 0; i < h[b].Length; i++, total++)
                    if (Math.Abs(g[b][i] - h[b][i]) > 1e-4 + 1e-4 * Math.Abs(h[b][i])) bad++;
            Assert.True(bad <= allowed * total, $"{spec} on {gpu.Spec}: {bad} of {total} values differ from the host engine");
        }
    }
}
