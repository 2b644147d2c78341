// Loads a checkpoint (from TrainMlp or `gpunet run mlp`) and classifies Fashion-MNIST test images with it.
// Usage: Classify --checkpoint model.safetensors --data DIR [--count 10] [--device auto|cpu|cuda|opencl|ilgpu-cpu]
using GpuNet;
using GpuNet.Data;
using GpuNet.IO;

string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;

using var device = Device.Open(Option("--device", "auto"));
var checkpoint = Checkpoint.Load(Option("--checkpoint", "model.safetensors"), device);
using var model = checkpoint.Model;
var test = FashionMnist.Load(Option("--data", FashionMnist.DefaultDirectory)).Test;
int count = Math.Min(int.Parse(Option("--count", "10")), test.Count);

// The checkpoint records its preprocessing: x = (pixel / 255 - mean) / std.
var (mean, std) = checkpoint.Normalization;
var input = new float[count * FashionMnist.Pixels];
for (int i = 0; i < input.Length; i++) input[i] = (float)((test.Pixels[i] / 255.0 - mean) / std);

using var batch = Tensor.FromArray(device, input, count, FashionMnist.Pixels);
model.Eval();
float[] logits = model.Forward(batch).ToArray();   // [count, 10], owned by the model

int right = 0;
for (int i = 0; i < count; i++)
{
    var row = logits.AsSpan(i * FashionMnist.Classes, FashionMnist.Classes);
    int predicted = row.IndexOf(row.ToArray().Max());
    right += predicted == test.Labels[i] ? 1 : 0;
    Console.WriteLine($"test image {i}: {FashionMnist.ClassNames[predicted]} (true: {FashionMnist.ClassNames[test.Labels[i]]})");
}
Console.WriteLine($"{right} of {count} right with {model} on {device}");
