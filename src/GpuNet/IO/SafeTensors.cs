using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GpuNet.Nn;

namespace GpuNet.IO;

/// <summary>One tensor read from a safetensors file.</summary>
/// <param name="Shape">Row-major shape.</param>
/// <param name="Data">The float32 values, row-major.</param>
public sealed record NamedTensor(int[] Shape, float[] Data);

/// <summary>
/// Reads and writes checkpoints in the safetensors format (an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian data), so a GpuNet model loads in PyTorch with
/// <c>safetensors.torch.load_file</c> and back. Only float32 (<c>F32</c>) tensors are written; reading also accepts F64
/// and F16 and converts them to float32.
/// </summary>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100_000_000;

    /// <summary>Writes every parameter of <paramref name="model"/> under its PyTorch name, plus <paramref name="metadata"/>
    /// as <c>__metadata__</c>. The file is written to a temporary name and renamed, so it is never seen half written.</summary>
    public static void Save(string path, Sequential model, IReadOnlyDictionary<string, string> metadata)
    {
        var tensors = model.Parameters.Parameters
            .OrderBy(p => p.Name.Split('.')[0].Length).ThenBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => (p.Name, Shape: p.Shape.ToArray(), Data: p.Value.ToArray()));
        Save(path, tensors, metadata);
    }

    /// <summary>Writes named float32 tensors and string metadata, atomically.</summary>
    public static void Save(string path, IEnumerable<(string Name, int[] Shape, float[] Data)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var header = new JsonObject();
        if (metadata.Count > 0)
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        var list = tensors.ToList();
        long offset = 0;
        foreach (var (name, shape, data) in list)
        {
            long expected = shape.Aggregate(1L, (a, d) => a * d);
            if (expected != data.Length) throw new ArgumentException($"tensor '{name}' has {data.Length} values but shape [{string.Join(", ", shape)}].");
            long bytes = data.LongLength * 4;
            header[name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8; // the format recommends 8-byte alignment of the data, padded with spaces
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
                stream.Write(len);
                stream.Write(json);
                for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
                var buffer = new byte[64 * 1024];
                foreach (var (_, _, data) in list)
                {
                    for (int i = 0; i < data.Length;)
                    {
                        int n = Math.Min(buffer.Length / 4, data.Length - i);
                        for (int j = 0; j < n; j++) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(j * 4), data[i + j]);
                        stream.Write(buffer, 0, n * 4);
                        i += n;
                    }
                }
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Reads every tensor and the metadata of a safetensors file.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file; the message names the file.</exception>
    public static (Dictionary<string, NamedTensor> Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: cannot read the checkpoint ({e.Message}).", e);
        }
        InvalidDataException Bad(string why) => new($"{path}: not a valid safetensors file: {why}.");
        if (bytes.Length < 8) throw Bad("shorter than its 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > bytes.Length - 8) throw Bad($"header length {headerLength} does not fit the file");
        // Checked first: the JSON reader accepts invalid UTF-8 inside strings and only fails when a name is read later.
        if (!System.Text.Unicode.Utf8.IsValid(bytes.AsSpan(8, (int)headerLength))) throw Bad("the header is not valid UTF-8");
        JsonObject header;
        try
        {
            // Duplicate names are refused (as the reference implementation does) rather than letting the last one win.
            var options = new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 64 };
            header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLength), documentOptions: options)?.AsObject() ?? throw Bad("empty header");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            throw Bad("the header is not a JSON object with distinct names");
        }
        long dataStart = 8 + (long)headerLength, dataLength = bytes.Length - dataStart;
        var tensors = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var ranges = new List<(long Begin, long End, string Name)>();
        foreach (var (name, node) in header)
        {
            try
            {
                if (name == "__metadata__")
                {
                    foreach (var (k, v) in node!.AsObject()) metadata[k] = v!.GetValue<string>();
                    continue;
                }
                var o = node!.AsObject();
                string dtype = o["dtype"]!.GetValue<string>();
                int[] shape = o["shape"]!.AsArray().Select(d => d!.GetValue<int>()).ToArray();
                long begin = o["data_offsets"]![0]!.GetValue<long>(), end = o["data_offsets"]![1]!.GetValue<long>();
                // Checked: a hostile shape's product must not wrap around to the size of its byte range.
                long count = shape.Aggregate(1L, (a, d) => d < 0 ? throw Bad($"tensor '{name}' has a negative dimension") : checked(a * d));
                int size = dtype switch { "F32" => 4, "F64" => 8, "F16" => 2, _ => throw Bad($"tensor '{name}' has dtype {dtype}; only F32, F64 and F16 are read") };
                if (begin < 0 || end < begin || end > dataLength || end - begin != checked(count * size))
                    throw Bad($"tensor '{name}' has data offsets [{begin}, {end}) that do not match its shape and the file");
                ranges.Add((begin, end, name));
                var data = new float[count];
                var span = bytes.AsSpan((int)(dataStart + begin), (int)(end - begin));
                for (long i = 0; i < count; i++)
                    data[i] = dtype switch
                    {
                        "F32" => BinaryPrimitives.ReadSingleLittleEndian(span[(int)(i * 4)..]),
                        "F64" => (float)BinaryPrimitives.ReadDoubleLittleEndian(span[(int)(i * 8)..]),
                        _ => (float)BinaryPrimitives.ReadHalfLittleEndian(span[(int)(i * 2)..]),
                    };
                tensors[name] = new NamedTensor(shape, data);
            }
            catch (Exception e) when (e is InvalidOperationException or NullReferenceException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                throw Bad($"entry '{name}' is malformed");
            }
            catch (OverflowException)
            {
                throw Bad($"tensor '{name}' has a shape too large to hold");
            }
        }
        // As the reference implementation requires: the tensors' byte ranges tile the data section exactly, with no overlap
        // (two tensors sharing bytes) and no hole (bytes that belong to no tensor), so every file read here loads in PyTorch.
        long covered = 0;
        foreach (var (begin, end, name) in ranges.OrderBy(r => r.Begin).ThenBy(r => r.End))
        {
            if (begin < covered) throw Bad($"tensor '{name}' has data offsets [{begin}, {end}) that overlap another tensor's");
            if (begin > covered) throw Bad($"the bytes [{covered}, {begin}) of the data belong to no tensor");
            covered = end;
        }
        if (covered != dataLength) throw Bad($"the bytes [{covered}, {dataLength}) of the data belong to no tensor");
        return (tensors, metadata);
    }

    /// <summary>Copies the tensors of a checkpoint into <paramref name="model"/>'s parameters, by name.</summary>
    /// <exception cref="InvalidDataException">A parameter is missing or has another shape; the message names it.</exception>
    public static void LoadInto(Sequential model, IReadOnlyDictionary<string, NamedTensor> tensors, string source)
    {
        foreach (var p in model.Parameters.Parameters)
        {
            if (!tensors.TryGetValue(p.Name, out var t))
                throw new InvalidDataException($"{source}: no tensor '{p.Name}' for the model's parameter of shape [{string.Join(", ", p.Shape)}].");
            if (!t.Shape.SequenceEqual(p.Shape))
                throw new InvalidDataException($"{source}: tensor '{p.Name}' has shape [{string.Join(", ", t.Shape)}]; the model needs [{string.Join(", ", p.Shape)}].");
            p.Value.CopyFrom(t.Data);
        }
    }
}
