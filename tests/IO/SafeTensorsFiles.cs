using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace GpuNet.Tests.IO;

/// <summary>
/// The safetensors format written and read here, independently of GpuNet's reader and writer: an 8-byte little-endian
/// header length, a UTF-8 JSON object (each tensor's <c>dtype</c>, <c>shape</c> and <c>data_offsets</c> relative to the
/// data, plus an optional <c>__metadata__</c> object of strings), then the data.
/// </summary>
internal static class SafeTensorsFiles
{
    /// <summary>A file from a header (any text, valid or not) and its data bytes.</summary>
    public static byte[] Make(string header, byte[]? data = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + (data?.Length ?? 0)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        data?.CopyTo(bytes, 8 + json.Length);
        return bytes;
    }

    /// <summary>The little-endian bytes of float32 values.</summary>
    public static byte[] F32(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    /// <summary>A tensor read by <see cref="Read"/>: its dtype, shape and float32 values.</summary>
    public sealed record Entry(string Dtype, long[] Shape, float[] Values);

    /// <summary>
    /// Reads an F32 safetensors file with nothing but the format's description: checks that the header is a JSON object,
    /// that the data starts 8-byte aligned, that each tensor's byte range has exactly shape-product × 4 bytes, and that the
    /// ranges tile the data section with neither gap nor overlap.
    /// </summary>
    public static (Dictionary<string, Entry> Tensors, Dictionary<string, string> Metadata, long DataStart) Read(byte[] file)
    {
        long headerLength = checked((long)BinaryPrimitives.ReadUInt64LittleEndian(file));
        long dataStart = 8 + headerLength;
        using var doc = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        var tensors = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var ranges = new List<(long Begin, long End)>();
        foreach (var property in doc.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                foreach (var m in property.Value.EnumerateObject()) metadata.Add(m.Name, m.Value.GetString()!);
                continue;
            }
            string dtype = property.Value.GetProperty("dtype").GetString()!;
            Assert.Equal("F32", dtype);
            long[] shape = property.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            Assert.Equal(2, offsets.Length);
            long count = shape.Aggregate(1L, (a, d) => a * d);
            Assert.Equal(count * 4, offsets[1] - offsets[0]);
            var values = new float[count];
            for (long i = 0; i < count; i++)
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan((int)(dataStart + offsets[0] + 4 * i), 4));
            tensors.Add(property.Name, new Entry(dtype, shape, values));
            ranges.Add((offsets[0], offsets[1]));
        }
        long covered = 0;
        foreach (var (begin, end) in ranges.OrderBy(r => r.Begin))
        {
            Assert.Equal(covered, begin);
            covered = end;
        }
        Assert.Equal(file.Length - dataStart, covered);
        return (tensors, metadata, dataStart);
    }
}
