// Runs a custom op sequence on two devices: logits = X·Wᵀ (GEMM), then softmax cross-entropy with its gradient,
// on the SIMD host engine (`cpu`) and as ILGPU kernels (`ilgpu-cpu`, or a GPU when given), and compares them.
// Usage: CustomOps [--devices cpu,ilgpu-cpu] [--batch 64] [--features 784] [--classes 10]
using GpuNet;
using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;
using Device = GpuNet.Device;   // ILGPU.Runtime has a Device too

string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
int batch = int.Parse(Option("--batch", "64")), features = int.Parse(Option("--features", "784")), classes = int.Parse(Option("--classes", "10"));

var random = new Random(42);
float[] x = Enumerable.Range(0, batch * features).Select(_ => random.NextSingle()).ToArray();
float[] w = Enumerable.Range(0, classes * features).Select(_ => (random.NextSingle() - 0.5f) * 0.1f).ToArray();
int[] labels = Enumerable.Range(0, batch).Select(i => i % classes).ToArray();

var results = new List<(float Loss, float[] Gradient)>();
foreach (string spec in Option("--devices", "cpu,ilgpu-cpu").Split(','))
{
    using var device = Device.Open(spec);
    using var xBuffer = device.Accelerator.Allocate1D(x);
    using var wBuffer = device.Accelerator.Allocate1D(w);
    using var labelBuffer = device.Accelerator.Allocate1D(labels);
    using var logits = device.Allocate(batch * classes);
    using var gradient = device.Allocate(batch * classes);
    using var rowLoss = device.Allocate(batch);
    using var loss = device.Allocate(1);
    using var correct = device.Accelerator.Allocate1D<int>(1);

    // logits[batch, classes] = X[batch, features] · W[classes, features]ᵀ
    Gemm.Run(device, Transpose.No, Transpose.Yes, batch, classes, features, 1f, xBuffer.View, wBuffer.View, 0f, logits.View);
    SoftmaxCrossEntropy.Forward(device, logits.View, labelBuffer.View, batch, classes, rowLoss.View, loss.View, correct.View);
    gradient.MemSetToZero();   // backward accumulates: dlogits += (softmax - onehot) / batch
    SoftmaxCrossEntropy.Backward(device, logits.View, labelBuffer.View, batch, classes, gradient.View);
    device.Synchronize();

    float meanLoss = loss.GetAsArray1D()[0];
    float[] dlogits = gradient.GetAsArray1D();
    results.Add((meanLoss, dlogits));
    Console.WriteLine($"{device}: loss {meanLoss:F6}, {correct.GetAsArray1D()[0]} of {batch} right, |dlogits| {MathF.Sqrt(dlogits.Sum(g => g * g)):F6}");
}
float lossDifference = results.Max(r => r.Loss) - results.Min(r => r.Loss);
float gradientDifference = results.Skip(1).Select(r => r.Gradient.Zip(results[0].Gradient, (a, b) => MathF.Abs(a - b)).Max()).DefaultIfEmpty().Max();
Console.WriteLine($"largest difference between the devices: loss {lossDifference:E2}, dlogits {gradientDifference:E2}");
