using System.Buffers.Binary;
using System.IO.Compression;

namespace GpuNet.Data;

/// <summary>
/// A data file that is not what it should be: bad magic number, wrong dimensions, truncated, extra bytes, labels out of
/// range, or image and label counts that disagree. The message starts with the file's name.
/// </summary>
public sealed class DataFormatException(string fileName, string problem)
    : IOException($"{fileName}: {problem}")
{
    /// <summary>The file (or, for streams, the name it was read under).</summary>
    public string FileName { get; } = fileName;

    /// <summary>What is wrong, without the file name.</summary>
    public string Problem { get; } = problem;
}

/// <summary>The contents of an IDX file of unsigned bytes: its dimensions and its data, row-major.</summary>
/// <param name="Dimensions">The sizes, outermost first (for images: count, rows, columns).</param>
/// <param name="Data">The values, <c>product(Dimensions)</c> bytes.</param>
internal sealed record IdxArray(int[] Dimensions, byte[] Data);

/// <summary>
/// Reads and writes IDX files (LeCun's MNIST format, used by Fashion-MNIST), raw or gzip-compressed.
/// </summary>
/// <remarks>
/// An IDX file is a 4-byte magic number <c>00 00 TT NN</c> (TT the element type, 0x08 for unsigned bytes; NN the number
/// of dimensions), NN big-endian int32 sizes, then the elements row-major. Only unsigned bytes are supported. Every
/// problem with a file is a <see cref="DataFormatException"/> naming it; nothing allocates more than the file really
/// holds, so a corrupt header that claims billions of elements fails as truncated rather than running out of memory.
/// </remarks>
internal static class Idx
{
    /// <summary>The IDX element type of unsigned bytes.</summary>
    public const byte UnsignedByte = 0x08;

    /// <summary>The magic number of an IDX file of unsigned bytes with <paramref name="dimensions"/> dimensions.</summary>
    public static int Magic(int dimensions) => (UnsignedByte << 8) | dimensions;

    /// <summary>Reads an IDX file of unsigned bytes, raw or gzip-compressed (recognised by its first two bytes).</summary>
    /// <exception cref="DataFormatException">The file is not a well-formed IDX file of unsigned bytes.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static IdxArray Read(string path)
    {
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    /// <summary>Reads an IDX array from <paramref name="stream"/>, which may be gzip-compressed; errors name <paramref name="name"/>.</summary>
    /// <exception cref="DataFormatException">The data is not a well-formed IDX file of unsigned bytes.</exception>
    public static IdxArray Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        var buffered = new BufferedStream(stream, 1 << 16);
        Span<byte> first = stackalloc byte[2];
        int got = ReadUpTo(buffered, first, name);
        bool gzip = got == 2 && first[0] == 0x1F && first[1] == 0x8B;
        var prefix = first[..got].ToArray();
        if (!gzip) return ReadRaw(new PrefixedStream(prefix, buffered), name, compressed: false);
        using var gz = new GZipStream(new PrefixedStream(prefix, buffered), CompressionMode.Decompress);
        return ReadRaw(gz, name, compressed: true);
    }

    /// <summary>Reads images: an IDX file with three dimensions <c>[count, rows, columns]</c>.</summary>
    /// <param name="path">The file, raw or <c>.gz</c>.</param>
    /// <param name="rows">The required number of rows, or null for any.</param>
    /// <param name="columns">The required number of columns, or null for any.</param>
    /// <exception cref="DataFormatException">The file is malformed, or its dimensions are not the required ones.</exception>
    public static IdxArray ReadImages(string path, int? rows = null, int? columns = null)
    {
        var array = Read(path);
        CheckImages(array, path, rows, columns);
        return array;
    }

    /// <summary>Reads labels: an IDX file with one dimension whose values are all below <paramref name="classes"/>.</summary>
    /// <exception cref="DataFormatException">The file is malformed, has another number of dimensions, or holds a label
    /// of <paramref name="classes"/> or more.</exception>
    public static byte[] ReadLabels(string path, int classes)
    {
        var array = Read(path);
        CheckLabels(array, path, classes);
        return array.Data;
    }

    internal static void CheckImages(IdxArray array, string name, int? rows, int? columns)
    {
        var d = array.Dimensions;
        if (d.Length != 3)
            throw new DataFormatException(name, $"has {d.Length} dimension(s) [{string.Join(", ", d)}]; images need 3 (count, rows, columns).");
        if ((rows is { } r && d[1] != r) || (columns is { } c && d[2] != c))
            throw new DataFormatException(name, $"holds {d[1]}x{d[2]} images; expected {rows?.ToString() ?? "any"}x{columns?.ToString() ?? "any"}.");
    }

    internal static void CheckLabels(IdxArray array, string name, int classes)
    {
        var d = array.Dimensions;
        if (d.Length != 1)
            throw new DataFormatException(name, $"has {d.Length} dimensions [{string.Join(", ", d)}]; labels need 1.");
        var data = array.Data;
        for (int i = 0; i < data.Length; i++)
            if (data[i] >= classes)
                throw new DataFormatException(name, $"label {i} is {data[i]}; labels must be in 0..{classes - 1}.");
    }

    /// <summary>Writes an IDX file of unsigned bytes, uncompressed, atomically (a temporary file, then a rename).</summary>
    /// <exception cref="ArgumentException">The data length is not the product of the dimensions.</exception>
    public static void Write(string path, ReadOnlySpan<byte> data, params int[] dimensions)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        if (dimensions.Length is < 1 or > 255)
            throw new ArgumentException($"an IDX file has 1 to 255 dimensions; got {dimensions.Length}.", nameof(dimensions));
        long n = 1;
        foreach (int d in dimensions)
        {
            if (d < 0) throw new ArgumentException($"dimensions [{string.Join(", ", dimensions)}] include a negative size.", nameof(dimensions));
            n *= d;
        }
        if (n != data.Length)
            throw new ArgumentException($"data has {data.Length} bytes; dimensions [{string.Join(", ", dimensions)}] need {n}.", nameof(data));
        var header = new byte[4 + 4 * dimensions.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, Magic(dimensions.Length));
        for (int i = 0; i < dimensions.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dimensions[i]);
        var copy = data.ToArray();
        AtomicFile.Write(path, s =>
        {
            s.Write(header);
            s.Write(copy);
        });
    }

    private static IdxArray ReadRaw(Stream s, string name, bool compressed)
    {
        try
        {
            Span<byte> magic = stackalloc byte[4];
            int got = ReadUpTo(s, magic, name);
            if (got < 4)
                throw new DataFormatException(name, got == 0 ? "is empty; expected an IDX file." : $"is truncated: {got} bytes, shorter than the 4-byte IDX magic number.");
            if (magic[0] != 0 || magic[1] != 0)
                throw new DataFormatException(name, $"bad magic number 0x{BinaryPrimitives.ReadUInt32BigEndian(magic):X8}: an IDX file starts with two zero bytes.");
            if (magic[2] != UnsignedByte)
                throw new DataFormatException(name, $"bad magic number 0x{BinaryPrimitives.ReadUInt32BigEndian(magic):X8}: element type 0x{magic[2]:X2} is not supported; expected 0x08 (unsigned bytes).");
            int rank = magic[3];
            if (rank == 0)
                throw new DataFormatException(name, $"bad magic number 0x{BinaryPrimitives.ReadUInt32BigEndian(magic):X8}: zero dimensions.");

            var header = new byte[4 * rank];
            got = ReadUpTo(s, header, name);
            if (got < header.Length)
                throw new DataFormatException(name, $"is truncated in its header: {rank} dimension sizes need {header.Length} bytes after the magic number, found {got}.");
            var dims = new int[rank];
            long total = 1;
            for (int i = 0; i < rank; i++)
            {
                dims[i] = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 * i));
                if (dims[i] < 0)
                    throw new DataFormatException(name, $"dimension {i} has a negative size ({dims[i]}).");
                // A zero size makes the total 0, so the product cannot overflow once it passes the cap below.
                total *= dims[i];
                if (total > Array.MaxLength)
                    throw new DataFormatException(name, $"dimensions [{string.Join(", ", dims.Take(i + 1))}...] describe more than {Array.MaxLength} bytes.");
            }

            // Read what is there, growing the buffer as data arrives, so a header that lies about the size cannot make
            // us allocate gigabytes before noticing the file is short.
            var data = ReadExactlyGrowing(s, (int)total, out int read);
            if (read < total)
                throw new DataFormatException(name, $"is truncated: dimensions [{string.Join(", ", dims)}] need {total} data bytes, found {read}{(compressed ? " after decompression" : "")}.");
            Span<byte> extra = stackalloc byte[1];
            if (ReadUpTo(s, extra, name) > 0)
                throw new DataFormatException(name, $"has extra bytes after the {total} data bytes that dimensions [{string.Join(", ", dims)}] describe.");
            return new IdxArray(dims, data);
        }
        catch (InvalidDataException e)
        {
            // GZipStream's complaint about corrupt compressed data.
            throw new DataFormatException(name, $"is not valid gzip data ({e.Message}).");
        }
    }

    private static byte[] ReadExactlyGrowing(Stream s, int total, out int read)
    {
        var buffer = new byte[Math.Min(total, 1 << 20)];
        read = 0;
        while (read < total)
        {
            if (read == buffer.Length) Array.Resize(ref buffer, (int)Math.Min(total, Math.Max(2L * buffer.Length, 1)));
            int n = s.Read(buffer, read, buffer.Length - read);
            if (n == 0) break;
            read += n;
        }
        return buffer;
    }

    private static int ReadUpTo(Stream s, Span<byte> buffer, string name)
    {
        int total = 0;
        try
        {
            while (total < buffer.Length)
            {
                int n = s.Read(buffer[total..]);
                if (n == 0) break;
                total += n;
            }
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException(name, $"is not valid gzip data ({e.Message}).");
        }
        return total;
    }

    /// <summary>A read-only stream that yields a few bytes already read, then the rest of another stream.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream rest) : Stream
    {
        private int _position;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position < prefix.Length)
            {
                int n = Math.Min(buffer.Length, prefix.Length - _position);
                prefix.AsSpan(_position, n).CopyTo(buffer);
                _position += n;
                return n;
            }
            return rest.Read(buffer);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>Writes files so that a failure half way leaves no partial file: write a temporary file, then rename it.</summary>
public static class AtomicFile
{
    /// <summary>The suffix of temporary files; a folder that holds one after a crash can delete it.</summary>
    public const string TemporarySuffix = ".partial";

    /// <summary>
    /// Writes <paramref name="path"/> through <paramref name="write"/> into <c>path + ".partial"</c>, flushes it to disk and
    /// renames it over <paramref name="path"/>. If <paramref name="write"/> throws, the temporary file is deleted and
    /// <paramref name="path"/> is untouched.
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string temp = path + TemporarySuffix;
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes text (UTF-8) atomically.</summary>
    public static void WriteText(string path, string text) =>
        Write(path, s => s.Write(System.Text.Encoding.UTF8.GetBytes(text)));

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
