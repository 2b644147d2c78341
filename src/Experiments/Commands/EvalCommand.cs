using System.CommandLine;
using System.Globalization;
using GpuNet.Data;
using GpuNet.Experiments.Training;
using GpuNet.IO;
using GpuNet.Nn;
using GpuNet.Training;

namespace GpuNet.Experiments;

/// <summary>
/// <c>gpunet eval --checkpoint FILE [--device D] [--split test|validation|train]</c>: rebuilds a model from a checkpoint's
/// metadata (architecture and input preprocessing), runs it on a split of Fashion-MNIST and prints its loss and accuracy.
/// </summary>
public static class EvalCommand
{
    /// <summary>Builds the <c>eval</c> command; <paramref name="dataOption"/> makes its <c>--data</c> option.</summary>
    public static Command Build(TextWriter stdout, Func<Option<string?>> dataOption)
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "The safetensors file a gpunet run wrote.", Required = true };
        var device = new Option<string>("--device") { Description = "auto | cuda[:i] | opencl[:i] | cpu | ilgpu-cpu (default: $GPUNET_DEVICE, else auto)." };
        var split = new Option<string>("--split")
        {
            Description = "test (10,000 images), validation (the split held out of the training images with the checkpoint's seed) or train (the rest).",
            DefaultValueFactory = _ => "test",
        };
        split.AcceptOnlyFromAmong("test", "validation", "train");
        var data = dataOption();
        var eval = new Command("eval", "Evaluate a checkpoint on a split of Fashion-MNIST: loss and accuracy.") { checkpoint, device, split, data };
        eval.SetAction(parse => Run(parse.GetValue(checkpoint)!, parse.GetValue(device), parse.GetValue(split)!, parse.GetValue(data), stdout));
        return eval;
    }

    /// <summary>Evaluates the checkpoint and prints one line with the loss and the accuracy.</summary>
    public static int Run(string checkpointPath, string? deviceSpec, string split, string? dataDir, TextWriter stdout)
    {
        if (!File.Exists(checkpointPath)) throw new UsageException($"no checkpoint at {Path.GetFullPath(checkpointPath)}.");
        using var device = Device.Open(deviceSpec);
        var loaded = Checkpoint.Load(checkpointPath, device);
        using var model = loaded.Model;
        if (model.InputFeatures != FashionMnist.Pixels || model.OutputFeatures != FashionMnist.Classes)
            throw new InvalidDataException($"{checkpointPath}: the model maps {model.InputFeatures} inputs to {model.OutputFeatures} outputs; " +
                $"Fashion-MNIST needs {FashionMnist.Pixels} to {FashionMnist.Classes}.");
        var data = FashionMnist.Load(dataDir, new Progress(stdout));
        int seed = loaded.Metadata.TryGetValue("split_seed", out var s) && int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int parsed)
            ? parsed : DataCommand.DefaultSeed;
        ImageSet set = split == "test" ? data.Test : data.Train;
        int[]? indices = null;
        if (split != "test")
        {
            var (train, validation) = DataSplit.Stratified(data.Train.Labels, data.Train.Classes, CourseData.ValidationSize(data.Train.Count), (ulong)seed);
            indices = split == "validation" ? validation : train;
        }
        using var images = DeviceImages.Upload(device, set);
        using var loader = CourseData.EvalLoader(images, indices, loaded.Normalization);
        // The trainer's evaluation needs an optimizer to exist; a zero-rate SGD without state is never stepped.
        using var sgd = new Sgd(model.Parameters, 0);
        using var trainer = new Trainer(model, sgd);
        var (loss, accuracy) = trainer.Evaluate(loader);
        int correct = (int)Math.Round(accuracy * loader.Count);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileName(checkpointPath)} on {split} ({loader.Count} images, {device.Spec}): loss {loss:F6} nats, accuracy {accuracy:F6} ({correct}/{loader.Count}, {accuracy * 100:F2}%)"));
        stdout.WriteLine($"model: {Architecture.Summary(model)}; input: {Checkpoint.Preprocessing} with mean " +
            string.Create(CultureInfo.InvariantCulture, $"{loaded.Normalization.Mean:F4}, std {loaded.Normalization.Std:F4}"));
        return Cli.ExitOk;
    }

    private sealed class Progress(TextWriter output) : IProgress<string>
    {
        public void Report(string value) => output.WriteLine(value);
    }
}
