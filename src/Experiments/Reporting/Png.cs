using System.Buffers.Binary;
using System.IO.Compression;
using GpuNet.Data;

namespace GpuNet.Experiments;

/// <summary>An RGB image in memory, 8 bits per channel, row-major, for PNG output.</summary>
public sealed class RgbImage
{
    /// <summary>A <paramref name="width"/>×<paramref name="height"/> image filled with <paramref name="background"/>.</summary>
    public RgbImage(int width, int height, (byte R, byte G, byte B) background)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} must be positive.");
        Width = width;
        Height = height;
        Pixels = new byte[checked(width * height * 3)];
        FillRect(0, 0, width, height, background);
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>The pixels, <c>(R, G, B)</c> per pixel, row after row.</summary>
    public byte[] Pixels { get; }

    /// <summary>Sets one pixel; coordinates outside the image are ignored.</summary>
    public void Set(int x, int y, (byte R, byte G, byte B) color)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = (y * Width + x) * 3;
        Pixels[i] = color.R;
        Pixels[i + 1] = color.G;
        Pixels[i + 2] = color.B;
    }

    /// <summary>The colour of one pixel.</summary>
    public (byte R, byte G, byte B) Get(int x, int y)
    {
        int i = (y * Width + x) * 3;
        return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
    }

    /// <summary>Fills a rectangle (clipped to the image).</summary>
    public void FillRect(int x, int y, int width, int height, (byte R, byte G, byte B) color)
    {
        for (int yy = Math.Max(0, y); yy < Math.Min(Height, y + height); yy++)
            for (int xx = Math.Max(0, x); xx < Math.Min(Width, x + width); xx++)
                Set(xx, yy, color);
    }

    /// <summary>Draws <paramref name="text"/> with <see cref="BitmapFont"/>, top-left at (x, y), each font pixel <paramref name="scale"/>² pixels.</summary>
    public void DrawText(int x, int y, string text, (byte R, byte G, byte B) color, int scale = 1)
    {
        foreach (char ch in text)
        {
            var glyph = BitmapFont.Glyph(ch);
            for (int row = 0; row < glyph.Length; row++)
                for (int col = 0; col < BitmapFont.GlyphWidth; col++)
                    if (glyph[row][col] == '#')
                        FillRect(x + col * scale, y + row * scale, scale, scale, color);
            x += BitmapFont.Advance * scale;
        }
    }
}

/// <summary>
/// A small PNG encoder: 8-bit RGB, no interlacing, each row with filter 0, compressed with zlib (RFC 1950) as the PNG
/// specification requires. Enough for image grids and previews without a native graphics library.
/// </summary>
public static class Png
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private static readonly uint[] CrcTable = MakeCrcTable();

    /// <summary>The PNG file of <paramref name="image"/>.</summary>
    public static byte[] Encode(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var ms = new MemoryStream();
        ms.Write(Signature);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, image.Width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), image.Height);
        header[8] = 8;  // bits per channel
        header[9] = 2;  // colour type: RGB
        header[10] = 0; // deflate
        header[11] = 0; // filter method 0
        header[12] = 0; // no interlace
        WriteChunk(ms, "IHDR", header);

        var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            int stride = image.Width * 3;
            for (int y = 0; y < image.Height; y++)
            {
                z.WriteByte(0); // filter: none
                z.Write(image.Pixels, y * stride, stride);
            }
        }
        WriteChunk(ms, "IDAT", raw.ToArray());
        WriteChunk(ms, "IEND", []);
        return ms.ToArray();
    }

    /// <summary>Writes the PNG file atomically (temporary file, then rename), creating the folder.</summary>
    public static void Write(string path, RgbImage image)
    {
        var bytes = Encode(image);
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    private static void WriteChunk(Stream s, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        s.Write(word);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        uint crc = Crc(Crc(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        s.Write(word);
    }

    /// <summary>The CRC-32 (ISO 3309, as PNG uses) of <paramref name="data"/>.</summary>
    internal static uint Crc32(ReadOnlySpan<byte> data) => Crc(0xFFFFFFFFu, data) ^ 0xFFFFFFFFu;

    private static uint Crc(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    private static uint[] MakeCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
