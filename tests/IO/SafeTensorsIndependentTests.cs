using GpuNet.IO;
using GpuNet.Nn;

namespace GpuNet.Tests.IO;

/// <summary>
/// GpuNet's safetensors files read by an independent reader (<see cref="SafeTensorsFiles.Read"/>, the format parsed in the
/// test), and every kind of bad file the reader must refuse with an <see cref="InvalidDataException"/> that names the file.
/// PyTorch's <c>safetensors</c> package would be a second independent reader; it is not used because it is not installed
/// on the machines that run this suite (python3 has neither torch nor safetensors there).
/// </summary>
[Collection("devices")]
public class SafeTensorsIndependentTests(DeviceFixture devices) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpunet-st-ind-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_file_written_by_gpunet_reads_back_with_an_independent_reader()
    {
        using var model = new Sequential(devices.Host, 5, 3, new Linear(5, 4), new ReLU(), new Linear(4, 3));
        string path = Path.Combine(_dir, "model.safetensors");
        SafeTensors.Save(path, model, new Dictionary<string, string> { ["note"] = "é ✓ \"quoted\"", ["mean"] = "0.25" });

        var (tensors, metadata, dataStart) = SafeTensorsFiles.Read(File.ReadAllBytes(path));
        Assert.Equal(0, dataStart % 8); // the data is 8-byte aligned
        Assert.Equal("é ✓ \"quoted\"", metadata["note"]);
        Assert.Equal("0.25", metadata["mean"]);
        Assert.Equal(["0.bias", "0.weight", "2.bias", "2.weight"], tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var p in model.Parameters.Parameters)
        {
            var t = tensors[p.Name];
            Assert.Equal(p.Shape.Select(d => (long)d), t.Shape); // PyTorch's layout: weight [out, in]
            Assert.True(p.Value.ToArray().AsSpan().SequenceEqual(t.Values), p.Name);
        }
        Assert.Equal([4L, 5], tensors["0.weight"].Shape);
    }

    [Fact]
    public void Special_values_and_empty_tensors_round_trip_through_the_independent_reader()
    {
        float[] special = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, float.Epsilon, float.MaxValue, 1e-40f];
        string path = Path.Combine(_dir, "special.safetensors");
        SafeTensors.Save(path, [("s", [7], special), ("empty", [0, 3], [])], new Dictionary<string, string>());
        var (tensors, _, _) = SafeTensorsFiles.Read(File.ReadAllBytes(path));
        Assert.Equal(special.Select(BitConverter.SingleToInt32Bits), tensors["s"].Values.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal([0L, 3], tensors["empty"].Shape);
        var (back, _) = SafeTensors.Load(path);
        Assert.Empty(back["empty"].Data);
        Assert.Equal(special.Select(BitConverter.SingleToInt32Bits), back["s"].Data.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void F16_tensors_are_converted_exactly()
    {
        // Half-precision bit patterns and their values, by hand: 1, -2, 65504 (the largest), 2^-24 (the smallest subnormal),
        // 1/3 rounded (0x3555 = 1 + 341/1024, times 2^-2), -0, +inf, and a NaN.
        ushort[] bits = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3555, 0x8000, 0x7C00, 0x7E00];
        double[] values = [1, -2, 65504, Math.Pow(2, -24), (1 + 341 / 1024.0) / 4, -0.0, double.PositiveInfinity, double.NaN];
        var data = new byte[bits.Length * 2];
        for (int i = 0; i < bits.Length; i++) BitConverter.TryWriteBytes(data.AsSpan(2 * i), bits[i]);
        string path = Write("f16", SafeTensorsFiles.Make("{\"h\":{\"dtype\":\"F16\",\"shape\":[2,4],\"data_offsets\":[0,16]}}", data));
        var (tensors, _) = SafeTensors.Load(path);
        Assert.Equal([2, 4], tensors["h"].Shape);
        var got = tensors["h"].Data;
        for (int i = 0; i < values.Length; i++)
        {
            if (double.IsNaN(values[i])) Assert.True(float.IsNaN(got[i]), $"[{i}] {got[i]}");
            else Assert.Equal(BitConverter.SingleToInt32Bits((float)values[i]), BitConverter.SingleToInt32Bits(got[i]));
        }
    }

    public static TheoryData<string, string, string> BadFiles() => new()
    {
        // name, header, what the message must say
        { "negative dimension", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1,4],\"data_offsets\":[0,16]}}", "negative dimension" },
        { "BF16", "{\"w\":{\"dtype\":\"BF16\",\"shape\":[8],\"data_offsets\":[0,16]}}", "dtype BF16" },
        { "I64", "{\"w\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", "dtype I64" },
        { "out of range", "{\"w\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}", "data offsets [0, 32)" },
        { "negative offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-4,12]}}", "data offsets" },
        { "reversed offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,0]}}", "data offsets" },
        { "overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[4,16]}}", "overlap" },
        { "hole", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", "belong to no tensor" },
        { "trailing bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", "belong to no tensor" },
        { "duplicate names", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "distinct names" },
        { "wrapping shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,1],\"data_offsets\":[0,16]}}", "malformed" },
        { "wrapping product", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647,4],\"data_offsets\":[0,16]}}", "too large" },
        { "fractional dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,16]}}", "malformed" },
        { "no offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", "malformed" },
        { "one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", "malformed" },
        { "numeric metadata", "{\"__metadata__\":{\"mean\":0.5},\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "'__metadata__' is malformed" },
        { "entry not an object", "{\"a\":[1,2,3]}", "malformed" },
        { "null entry", "{\"a\":null}", "malformed" },
        { "JSON null", "null", "empty header" },
        { "not JSON", "{\"a\":", "JSON object" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Bad_files_are_refused_with_the_file_and_the_reason(string name, string header, string reason)
    {
        string path = Write(name.Replace(' ', '-'), SafeTensorsFiles.Make(header, new byte[16]));
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(reason, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_model_missing_a_tensor_names_it()
    {
        using var model = new Sequential(devices.Host, 4, 1, new Linear(4, 3));
        string path = Write("missing", SafeTensorsFiles.Make("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}}", new byte[48]));
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.LoadInto(model, SafeTensors.Load(path).Tensors, path));
        Assert.Contains(path, e.Message);
        Assert.Contains("no tensor '0.bias'", e.Message);
    }

    [Theory]
    [InlineData("input_mean", "abc", "not a non-negative finite number")]
    [InlineData("input_mean", "NaN", "not a non-negative finite number")]
    [InlineData("input_mean", "Infinity", "not a non-negative finite number")]
    [InlineData("input_mean", "1e400", "not a non-negative finite number")]
    [InlineData("input_std", "0", "not a positive finite number")]
    [InlineData("input_std", "-0.3", "not a positive finite number")]
    [InlineData("input_std", "", "not a positive finite number")]
    public void Non_numeric_preprocessing_metadata_is_refused(string key, string value, string reason)
    {
        using var model = new Sequential(devices.Host, 4, 1, new Linear(4, 3));
        string path = Path.Combine(_dir, "checkpoint.safetensors");
        Checkpoint.Save(path, model, new global::GpuNet.Data.Normalization(0.25, 0.5), "4 values");
        var (tensors, metadata) = SafeTensors.Load(path);
        metadata[key] = value;
        SafeTensors.Save(path, tensors.Select(t => (t.Key, t.Value.Shape, t.Value.Data)), metadata);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, devices.Host));
        Assert.Contains(path, e.Message);
        Assert.Contains($"'{key}' is {reason}", e.Message);
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name + ".safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
