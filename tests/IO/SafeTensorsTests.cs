using System.Text;
using GpuNet.IO;
using GpuNet.Nn;

namespace GpuNet.Tests.IO;

[Collection("devices")]
public class SafeTensorsTests(DeviceFixture devices) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpunet-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Model_round_trips_bit_for_bit_with_metadata()
    {
        using var model = new Sequential(devices.Host, 784, 11, new Linear(784, 32), new ReLU(), new Linear(32, 10));
        string path = Path.Combine(_dir, "model.safetensors");
        SafeTensors.Save(path, model, new Dictionary<string, string> { ["architecture"] = model.ToString(), ["mean"] = "0.286" });

        var (tensors, meta) = SafeTensors.Load(path);
        Assert.Equal(["0.bias", "0.weight", "2.bias", "2.weight"], tensors.Keys.Order(StringComparer.Ordinal).ToArray());
        Assert.Equal([32, 784], tensors["0.weight"].Shape);
        Assert.Equal("0.286", meta["mean"]);
        foreach (var p in model.Parameters.Parameters)
            Assert.True(p.Value.ToArray().AsSpan().SequenceEqual(tensors[p.Name].Data), p.Name);

        using var copy = new Sequential(devices.Host, 784, 99, new Linear(784, 32), new ReLU(), new Linear(32, 10));
        SafeTensors.LoadInto(copy, tensors, path);
        Assert.True(model.Parameters.Values.ToArray().AsSpan().SequenceEqual(copy.Parameters.Values.ToArray()));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));

        // The data section starts 8-byte aligned, as the format recommends.
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(0, BitConverter.ToInt64(bytes, 0) % 8);
    }

    [Fact]
    public void Reads_a_file_written_by_an_independent_writer()
    {
        // Written here byte by byte, following the format's description, without GpuNet's writer: an F32 [2,3] tensor,
        // an F64 [2] tensor, and metadata, with the tensors' data in the opposite order of the header's entries.
        string header = "{\"b\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}," +
                        "\"__metadata__\":{\"format\":\"pt\"}," +
                        "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[16,40]}}";
        var stream = new MemoryStream();
        var writer = new BinaryWriter(stream);
        writer.Write((ulong)Encoding.UTF8.GetByteCount(header));
        writer.Write(Encoding.UTF8.GetBytes(header));
        writer.Write(0.5);
        writer.Write(-2.25);
        foreach (float v in new[] { 1f, 2f, 3f, -4f, 5.5f, 1e-7f }) writer.Write(v);
        writer.Flush();
        string path = Path.Combine(_dir, "independent.safetensors");
        File.WriteAllBytes(path, stream.ToArray());

        var (tensors, meta) = SafeTensors.Load(path);
        Assert.Equal("pt", meta["format"]);
        Assert.Equal([2, 3], tensors["a.weight"].Shape);
        Assert.Equal([1f, 2f, 3f, -4f, 5.5f, 1e-7f], tensors["a.weight"].Data);
        Assert.Equal([0.5f, -2.25f], tensors["b"].Data);
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 }, "shorter than")]
    [InlineData(new byte[] { 255, 255, 255, 255, 0, 0, 0, 0, 123 }, "header length")]
    [InlineData(new byte[] { 2, 0, 0, 0, 0, 0, 0, 0, (byte)'[', (byte)']' }, "JSON object")]
    public void Broken_files_give_a_clear_error_naming_the_file(byte[] content, string reason)
    {
        string path = Path.Combine(_dir, "broken.safetensors");
        File.WriteAllBytes(path, content);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Offsets_that_do_not_match_the_shape_are_rejected()
    {
        string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}";
        var bytes = BitConverter.GetBytes((ulong)header.Length).Concat(Encoding.UTF8.GetBytes(header)).Concat(new byte[12]).ToArray();
        string path = Path.Combine(_dir, "short.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void Loading_into_a_model_of_another_shape_names_the_parameter()
    {
        using var small = new Sequential(devices.Host, 4, 1, new Linear(4, 3));
        using var big = new Sequential(devices.Host, 4, 1, new Linear(4, 5));
        string path = Path.Combine(_dir, "small.safetensors");
        SafeTensors.Save(path, small, new Dictionary<string, string>());
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.LoadInto(big, SafeTensors.Load(path).Tensors, path));
        Assert.Contains("0.weight", e.Message);
    }
}
