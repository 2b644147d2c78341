// Trains a 784-256-128-10 MLP on Fashion-MNIST and saves it as a checkpoint.
// Usage: TrainMlp --data DIR [--out model.safetensors] [--epochs 10] [--device auto|cpu|cuda|opencl|ilgpu-cpu]
using GpuNet;
using GpuNet.Data;
using GpuNet.IO;
using GpuNet.Nn;
using GpuNet.Training;

string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
int epochs = int.Parse(Option("--epochs", "10"));

using var device = Device.Open(Option("--device", "auto"));
var data = FashionMnist.Load(Option("--data", FashionMnist.DefaultDirectory));   // fetched on first use when missing
var (trainIds, validationIds) = DataSplit.Stratified(data.Train.Labels, FashionMnist.Classes, data.Train.Count / 10, seed: 42);
var normalization = Normalization.FromImages(data.Train, trainIds);
using var trainImages = DeviceImages.Upload(device, data.Train);
using var testImages = DeviceImages.Upload(device, data.Test);
var evaluation = new DataLoaderOptions { BatchSize = 1000, Shuffle = false, Normalization = normalization };
using var train = new DataLoader(trainImages, trainIds, new DataLoaderOptions { BatchSize = 64, Seed = 42, Normalization = normalization });
using var validation = new DataLoader(trainImages, validationIds, evaluation);
using var test = new DataLoader(testImages, null, evaluation);

using var model = new Sequential(device, FashionMnist.Pixels, seed: 42,
    new Linear(784, 256), new ReLU(), new Linear(256, 128), new ReLU(), new Linear(128, 10));
using var sgd = new Sgd(model.Parameters, lr: 0.1);
using var trainer = new Trainer(model, sgd);
var result = trainer.Fit(train, null, validation, test, new TrainerOptions { Epochs = epochs, Schedule = new CosineSchedule(epochs) });

foreach (var e in result.History)
    Console.WriteLine($"epoch {e.Epoch}: loss {e.RunningLoss:F4}, validation accuracy {100 * e.ValidationAccuracy:F2}%");
Console.WriteLine($"best validation epoch {result.BestEpoch} on {device}: test accuracy {100 * result.Best!.TestAccuracy:F2}%");
string output = Option("--out", "model.safetensors");
Checkpoint.Save(output, model, normalization, "one 28x28 grey-scale image, 784 values, row-major");
Console.WriteLine($"saved {output}");
