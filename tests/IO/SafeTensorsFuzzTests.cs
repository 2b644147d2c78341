using System.Buffers.Binary;
using System.Text;
using GpuNet.IO;
using GpuNet.Nn;

namespace GpuNet.Tests.IO;

/// <summary>
/// The safetensors reader against random and hostile files: random bytes, every truncation of a valid file, byte flips,
/// and hostile headers (huge lengths, deep JSON, duplicate names, enormous shapes). Every case either loads or throws an
/// <see cref="InvalidDataException"/> naming the file; none crashes with another exception, hangs (each case has a time
/// limit) or allocates much more than the file's size. The random cases are a fixed, seeded number (a few seconds in CI);
/// set <c>GPUNET_FUZZ_CASES</c> to run more.
/// </summary>
[Collection("devices")]
public class SafeTensorsFuzzTests(DeviceFixture devices) : IDisposable
{
    private const int DefaultCases = 300;
    private readonly string _dir = Directory.CreateTempSubdirectory("gpunet-st-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Cases =>
        int.TryParse(Environment.GetEnvironmentVariable("GPUNET_FUZZ_CASES"), out int n) && n > 0 ? n : DefaultCases;

    /// <summary>Loads <paramref name="bytes"/> from a file; returns whether it loaded, failing on anything but a clear refusal.</summary>
    private bool Check(byte[] bytes, string what, bool mustFail = false)
    {
        string path = Path.Combine(_dir, "case.safetensors");
        File.WriteAllBytes(path, bytes);
        long allocated = 0;
        Exception? error = null;
        var task = Task.Run(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                SafeTensors.Load(path);
            }
            catch (Exception e)
            {
                error = e;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        });
        Assert.True(task.Wait(TimeSpan.FromSeconds(30)), $"{what}: no answer within 30 s");
        // Linear in the file's size: the file itself, the float copies of its data, and the parsed header, whose JSON
        // nodes cost about 50 bytes per token (a header of a million one-digit numbers takes 54 bytes per byte of file).
        Assert.True(allocated < 2_000_000 + 64L * bytes.Length, $"{what}: {allocated} bytes allocated for a {bytes.Length}-byte file");
        if (error is null)
        {
            Assert.False(mustFail, $"{what}: loaded, expected a refusal");
            return true;
        }
        Assert.True(error is InvalidDataException, $"{what}: {error.GetType().Name}: {error.Message}");
        Assert.Contains(path, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        return false;
    }

    private byte[] ValidFile()
    {
        using var model = new Sequential(devices.Host, 3, 5, new Linear(3, 4), new ReLU(), new Linear(4, 2));
        string path = Path.Combine(_dir, "valid.safetensors");
        Checkpoint.Save(path, model, new global::GpuNet.Data.Normalization(0.25, 0.5), "3 values");
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void Every_truncation_of_a_valid_file_is_refused()
    {
        var valid = ValidFile();
        Assert.True(Check(valid, "the whole file"));
        for (int length = 0; length < valid.Length; length++)
            Check(valid[..length], $"truncated to {length} of {valid.Length} bytes", mustFail: true);
    }

    [Fact]
    public void Byte_flips_load_or_are_refused_clearly()
    {
        var valid = ValidFile();
        var rng = new Random(16);
        int loaded = 0, cases = Cases;
        for (int c = 0; c < cases; c++)
        {
            var bytes = (byte[])valid.Clone();
            int flips = 1 + rng.Next(3);
            for (int f = 0; f < flips; f++)
            {
                // Mostly in the length and the header, where the structure is.
                int at = rng.Next(3) == 0 ? rng.Next(bytes.Length) : rng.Next(Math.Min(bytes.Length, 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(valid)));
                bytes[at] ^= (byte)(1 << rng.Next(8));
            }
            if (Check(bytes, $"case {c}: {flips} flips")) loaded++;
        }
        Assert.InRange(loaded, 1, cases - 1); // flips in the data load; flips in the structure mostly do not
    }

    [Fact]
    public void Random_bytes_are_refused_clearly()
    {
        var rng = new Random(1616);
        for (int c = 0; c < Cases; c++)
        {
            var bytes = new byte[rng.Next(0, 600)];
            rng.NextBytes(bytes);
            // Half the cases get a header length that fits, so the JSON parser sees the random bytes.
            if (bytes.Length >= 8 && c % 2 == 0) BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)rng.Next(0, bytes.Length - 7));
            // And some get a JSON-looking start.
            if (bytes.Length >= 10 && c % 4 == 0) { bytes[8] = (byte)'{'; bytes[9] = (byte)'"'; }
            Check(bytes, $"random case {c} ({bytes.Length} bytes)", mustFail: true);
        }
    }

    public static TheoryData<string> HostileHeaders() => new()
    {
        "huge length", "length 2^63", "length just past the file", "length at the cap + 1", "deep arrays", "deep objects",
        "duplicate names", "duplicate metadata", "many tensors sharing bytes", "enormous shape", "a million dimensions",
        "long name", "huge offsets", "offsets near long.MaxValue", "BOM", "UTF-16", "nul bytes",
    };

    [Theory]
    [MemberData(nameof(HostileHeaders))]
    public void Hostile_headers_are_refused_clearly(string name)
    {
        byte[] Length(ulong length, int total)
        {
            var b = new byte[total];
            BinaryPrimitives.WriteUInt64LittleEndian(b, length);
            "{}"u8.CopyTo(b.AsSpan(8));
            return b;
        }
        string Tensor(string n, string shape, long begin, long end) =>
            $"\"{n}\":{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";
        byte[] bytes = name switch
        {
            "huge length" => Length(ulong.MaxValue, 64),
            "length 2^63" => Length(1ul << 63, 64),
            "length just past the file" => Length(57, 64),
            "length at the cap + 1" => Length(100_000_001, 64),
            "deep arrays" => SafeTensorsFiles.Make("{\"a\":" + new string('[', 100_000) + new string(']', 100_000) + "}"),
            "deep objects" => SafeTensorsFiles.Make(string.Concat(Enumerable.Repeat("{\"a\":", 5000)) + "1" + new string('}', 5000)),
            "duplicate names" => SafeTensorsFiles.Make("{" + Tensor("w", "[1]", 0, 4) + "," + Tensor("w", "[1]", 0, 4) + "}", new byte[4]),
            "duplicate metadata" => SafeTensorsFiles.Make("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}"),
            "many tensors sharing bytes" => SafeTensorsFiles.Make(
                "{" + string.Join(",", Enumerable.Range(0, 20_000).Select(i => Tensor($"t{i}", "[4]", 0, 16))) + "}", new byte[16]),
            "enormous shape" => SafeTensorsFiles.Make("{" + Tensor("w", "[2147483647,2147483647]", 0, 16) + "}", new byte[16]),
            "a million dimensions" => SafeTensorsFiles.Make("{" + Tensor("w", "[" + string.Join(",", Enumerable.Repeat("1", 1_000_000)) + ",2]", 0, 16) + "}", new byte[16]),
            "long name" => SafeTensorsFiles.Make("{" + Tensor(new string('n', 1_000_000), "[4]", 0, 16) + "," + Tensor("x", "[1]", 0, 4) + "}", new byte[16]),
            "huge offsets" => SafeTensorsFiles.Make("{" + Tensor("w", "[1073741824]", 0, 4294967296) + "}", new byte[16]),
            "offsets near long.MaxValue" => SafeTensorsFiles.Make("{" + Tensor("w", "[2]", long.MaxValue - 4, long.MaxValue) + "}", new byte[16]),
            "BOM" => [.. SafeTensorsFiles.Make("\uFEFF{}")],
            "UTF-16" => Utf16("{\"w\":1}"),
            "nul bytes" => SafeTensorsFiles.Make("{\"w\u0000\":{}}"),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
        var sw = System.Diagnostics.Stopwatch.StartNew();
        bool loaded = Check(bytes, name);
        // An empty header with a BOM is a valid empty file for JSON readers that skip the mark; anything else must fail.
        Assert.True(!loaded || name == "BOM", $"{name}: loaded");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"{name}: {sw.Elapsed.TotalSeconds:F1} s");
    }

    private static byte[] Utf16(string header)
    {
        var json = Encoding.Unicode.GetBytes(header);
        var bytes = new byte[8 + json.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        return bytes;
    }
}
