namespace GpuNet.Data;

/// <summary>
/// Labelled grey-scale images in host memory: <see cref="Count"/> images of <see cref="Rows"/>×<see cref="Columns"/>
/// bytes (0 = black, 255 = white) row-major, one after another, and one label per image.
/// </summary>
public sealed class ImageSet
{
    /// <summary>Wraps the given arrays (not copied).</summary>
    /// <exception cref="ArgumentException">The lengths do not fit the sizes, or a label is not below <paramref name="classes"/>.</exception>
    public ImageSet(string name, byte[] pixels, byte[] labels, int rows, int columns, int classes)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (rows <= 0 || columns <= 0) throw new ArgumentOutOfRangeException(nameof(rows), $"image size {rows}x{columns} must be positive.");
        if (classes <= 0 || classes > 256) throw new ArgumentOutOfRangeException(nameof(classes), classes, "classes must be in 1..256.");
        if ((long)labels.Length * rows * columns != pixels.Length)
            throw new ArgumentException($"{name}: {pixels.Length} pixel bytes are not {labels.Length} images of {rows}x{columns}.", nameof(pixels));
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classes)
                throw new ArgumentException($"{name}: label {i} is {labels[i]}; labels must be in 0..{classes - 1}.", nameof(labels));
        Name = name;
        Pixels = pixels;
        Labels = labels;
        Rows = rows;
        Columns = columns;
        Classes = classes;
    }

    /// <summary>What the set is called in messages (for example <c>train</c>).</summary>
    public string Name { get; }

    /// <summary>All pixels, image after image, each row-major.</summary>
    public byte[] Pixels { get; }

    /// <summary>The label of each image, in <c>0..Classes-1</c>.</summary>
    public byte[] Labels { get; }

    /// <summary>Rows per image.</summary>
    public int Rows { get; }

    /// <summary>Columns per image.</summary>
    public int Columns { get; }

    /// <summary>Pixels per image: <c>Rows·Columns</c>.</summary>
    public int PixelsPerImage => Rows * Columns;

    /// <summary>The number of classes labels are drawn from.</summary>
    public int Classes { get; }

    /// <summary>The number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>The pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(checked(index * PixelsPerImage), PixelsPerImage);

    /// <summary>
    /// Loads an image file and a label file (IDX, raw or <c>.gz</c>) and checks they belong together.
    /// </summary>
    /// <exception cref="DataFormatException">Either file is malformed, the images are not <paramref name="rows"/>×<paramref name="columns"/>,
    /// a label is out of range, or the two files hold different numbers of records; the message names the file.</exception>
    public static ImageSet Load(string name, string imagesPath, string labelsPath, int rows, int columns, int classes)
    {
        var images = Idx.ReadImages(imagesPath, rows, columns);
        var labels = Idx.ReadLabels(labelsPath, classes);
        if (images.Dimensions[0] != labels.Length)
            throw new DataFormatException(labelsPath,
                $"holds {labels.Length} labels but {Path.GetFileName(imagesPath)} holds {images.Dimensions[0]} images; the counts must match.");
        return new ImageSet(name, images.Data, labels, rows, columns, classes);
    }
}
