using System.Text.Json.Nodes;
using GpuNet.Data;
using GpuNet.IO;
using GpuNet.Kernels;
using GpuNet.Nn;

namespace GpuNet.Tests.IO;

[Collection("devices")]
public class CheckpointTests(DeviceFixture devices) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpunet-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Sequential Model(ulong seed) => new(devices.Host, 12, seed,
        new Linear(12, 8), new ReLU(), new GpuNet.Nn.Dropout(0.25f), new Linear(8, 6, bias: false), new Tanh(),
        new GpuNet.Nn.Dropout(0.5f, DropoutMode.Standard), new ActivationModule(ActivationKind.LeakyRelu, 0.2f), new Linear(6, 3));

    [Fact]
    public void Architecture_is_pytorch_vocabulary_and_rebuilds_the_same_layers()
    {
        using var model = Model(1);
        string json = Architecture.Describe(model);
        var layers = JsonNode.Parse(json)!["layers"]!.AsArray();
        Assert.Equal(12, JsonNode.Parse(json)!["input_features"]!.GetValue<int>());
        Assert.Equal("""{"type":"Linear","in_features":12,"out_features":8,"bias":true}""", layers[0]!.ToJsonString());
        Assert.Equal("""{"type":"Dropout","p":0.25}""", layers[2]!.ToJsonString());
        Assert.Equal("""{"type":"Dropout","p":0.5,"mode":"standard"}""", layers[5]!.ToJsonString());
        Assert.Equal("""{"type":"LeakyReLU","negative_slope":0.2}""", layers[6]!.ToJsonString());

        using var rebuilt = Architecture.Build(devices.Host, json);
        Assert.Equal(model.Describe(), rebuilt.Describe());
        Assert.Equal(model.Parameters.Parameters.Select(p => (p.Name, string.Join("x", p.Shape))),
            rebuilt.Parameters.Parameters.Select(p => (p.Name, string.Join("x", p.Shape))));
        Assert.Equal(json, Architecture.Describe(rebuilt));
        Assert.Equal("12-8-6-3 ReLU, dropout 0.25, Tanh, dropout 0.5, LeakyReLU(0.2)", Architecture.Summary(model));
    }

    [Theory]
    [InlineData("""{"input_features": 4, "layers": [{"type": "Conv2d"}]}""", "unknown type 'Conv2d'")]
    [InlineData("""{"input_features": 4, "layers": [{"type": "Linear", "in_features": 5, "out_features": 2}]}""", "do not fit together")]
    [InlineData("""{"layers": []}""", "malformed")]
    [InlineData("""[1, 2]""", "not a JSON object")]
    public void Bad_architectures_are_format_errors_that_say_why(string json, string why)
    {
        var e = Assert.Throws<FormatException>(() => Architecture.Build(devices.Host, json));
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void Checkpoint_rebuilds_the_model_and_its_preprocessing_from_the_file_alone()
    {
        using var model = Model(7);
        string path = Path.Combine(_dir, "m.safetensors");
        var norm = new Normalization(0.28604060411453247, 0.35302424451492237);
        Checkpoint.Save(path, model, norm, "12 values", new Dictionary<string, string> { ["run"] = "test" });

        var (_, meta) = SafeTensors.Load(path);
        Assert.Equal("pt", meta["format"]);
        Assert.Equal("1/255", meta["input_scale"]);
        Assert.Equal(Checkpoint.Preprocessing, meta["preprocessing"]);
        Assert.Equal("test", meta["run"]);

        var loaded = Checkpoint.Load(path, devices.Host);
        using var copy = loaded.Model;
        Assert.Equal(norm, loaded.Normalization); // the mean and std round-trip exactly
        Assert.True(model.Parameters.Values.ToArray().AsSpan().SequenceEqual(copy.Parameters.Values.ToArray()));

        // Same parameters, same layers: the same outputs in evaluation mode.
        var x = Enumerable.Range(0, 5 * 12).Select(i => (float)Math.Sin(i)).ToArray();
        using var input = Tensor.FromArray(devices.Host, x, 5, 12);
        model.Eval();
        copy.Eval();
        Assert.Equal(model.Forward(input).ToArray(), copy.Forward(input).ToArray());
    }

    [Fact]
    public void Reserved_keys_and_foreign_files_are_refused()
    {
        using var model = Model(3);
        string path = Path.Combine(_dir, "x.safetensors");
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, model, Normalization.Identity, "12 values",
            new Dictionary<string, string> { ["architecture"] = "mine" }));

        SafeTensors.Save(path, model, new Dictionary<string, string>());
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, devices.Host));
        Assert.Contains("input_mean", e.Message);
        Assert.Contains(path, e.Message);
    }
}
