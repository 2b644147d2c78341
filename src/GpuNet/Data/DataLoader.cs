using GpuNet.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Data;

/// <summary>
/// An <see cref="ImageSet"/> uploaded to a device once: pixels as floats in [0, 1] (<c>byte / 255</c>), shape
/// <c>[Count, Rows·Columns]</c>, and labels as ints. Data loaders over it gather their batches on the device.
/// </summary>
public sealed class DeviceImages : IDisposable
{
    private DeviceImages(Device device, ImageSet source, Tensor pixels, MemoryBuffer1D<int, Stride1D.Dense> labels)
    {
        Device = device;
        Source = source;
        Pixels = pixels;
        Labels = labels;
    }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>The host images this was uploaded from.</summary>
    public ImageSet Source { get; }

    /// <summary>The pixels, <c>[Count, Rows·Columns]</c>, values in [0, 1].</summary>
    public Tensor Pixels { get; }

    /// <summary>The labels, <c>Count</c> ints.</summary>
    public MemoryBuffer1D<int, Stride1D.Dense> Labels { get; }

    /// <summary>Uploads <paramref name="source"/> to <paramref name="device"/>, converting a block of images at a time.</summary>
    public static DeviceImages Upload(Device device, ImageSet source)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(source);
        int p = source.PixelsPerImage;
        var pixels = Tensor.Empty(device, source.Count, p);
        try
        {
            const int block = 1024;
            var floats = new float[Math.Min(block, Math.Max(1, source.Count)) * p];
            for (int start = 0; start < source.Count; start += block)
            {
                int n = Math.Min(block, source.Count - start);
                var bytes = source.Pixels.AsSpan(start * p, n * p);
                for (int i = 0; i < bytes.Length; i++) floats[i] = bytes[i] / 255f;
                pixels.View.SubView((long)start * p, (long)n * p).CopyFromCPU(device.Accelerator.DefaultStream, floats.AsSpan(0, n * p));
            }
            var labels = device.Accelerator.Allocate1D(source.Labels.Select(l => (int)l).ToArray());
            device.Synchronize();
            return new DeviceImages(device, source, pixels, labels);
        }
        catch
        {
            pixels.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Pixels.Dispose();
        Labels.Dispose();
    }
}

/// <summary>Options of a <see cref="DataLoader"/>.</summary>
public sealed record DataLoaderOptions
{
    /// <summary>Images per batch.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Visit the samples in a new order each epoch (drawn from the seed and the epoch); else in the given order.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Leave out the last batch when it is smaller than <see cref="BatchSize"/>.</summary>
    public bool DropLast { get; init; }

    /// <summary>The seed of the shuffle and of the augmentation parameters.</summary>
    public ulong Seed { get; init; }

    /// <summary>The normalisation applied last (usually the training split's, <see cref="Normalization.FromImages"/>).</summary>
    public Normalization Normalization { get; init; } = Normalization.Identity;

    /// <summary>The augmentation applied to each image before normalisation.</summary>
    public AugmentPipeline Augment { get; init; } = AugmentPipeline.None;
}

/// <summary>One batch of a <see cref="DataLoader"/>. Its views belong to the loader and are overwritten by the next batch.</summary>
/// <param name="Index">The batch's number within the epoch.</param>
/// <param name="Size">The number of images (the last batch may be smaller).</param>
/// <param name="Images">The images, <c>[Size, Rows·Columns]</c>, augmented and normalised.</param>
/// <param name="Labels">The labels, <c>Size</c> ints.</param>
/// <param name="SampleIds">Each image's index in the dataset, <c>Size</c> ints.</param>
public sealed record Batch(int Index, int Size, Tensor Images, ArrayView<int> Labels, ArrayView<int> SampleIds);

/// <summary>
/// Serves a subset of a <see cref="DeviceImages"/> as batches of device tensors: each epoch visits every sample of the
/// subset exactly once, in an order shuffled from (seed, epoch) (<see cref="DataSplit.Shuffle"/> on stream
/// <see cref="DataStreams.Shuffle"/>), gathers each batch on the device, applies the augmentation pipeline per sample
/// keyed by (seed, epoch, sample index) and normalises. Nothing goes back to the host; the order (one int per sample) is
/// uploaded once per epoch.
/// </summary>
public sealed class DataLoader : IDisposable
{
    private readonly DeviceImages _data;
    private readonly int[] _indices;
    private readonly DataLoaderOptions _options;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _order;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _labels;
    private readonly Tensor _images;
    private readonly Tensor? _scratchA;
    private readonly Tensor? _scratchB;

    /// <summary>A loader over the samples <paramref name="indices"/> of <paramref name="data"/> (null: all of them).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The batch size is not positive, or an index is outside the dataset.</exception>
    public DataLoader(DeviceImages data, IReadOnlyList<int>? indices, DataLoaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        _data = data;
        _options = options ?? new DataLoaderOptions();
        ArgumentNullException.ThrowIfNull(_options.Augment, "options.Augment");
        if (_options.BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(options), _options.BatchSize, "the batch size must be positive.");
        _indices = indices?.ToArray() ?? Enumerable.Range(0, data.Source.Count).ToArray();
        foreach (int i in _indices)
            if (i < 0 || i >= data.Source.Count)
                throw new ArgumentOutOfRangeException(nameof(indices), i, $"sample {i} is outside the {data.Source.Count} images of {data.Source.Name}.");
        var device = data.Device;
        int p = data.Source.PixelsPerImage;
        int b = _options.BatchSize;
        _order = device.Accelerator.Allocate1D<int>(Math.Max(1, _indices.Length));
        _labels = device.Accelerator.Allocate1D<int>(b);
        _images = Tensor.Empty(device, b, p);
        if (!_options.Augment.IsEmpty)
        {
            _scratchA = Tensor.Empty(device, b, p);
            _scratchB = Tensor.Empty(device, b, p);
        }
    }

    /// <summary>The number of samples an epoch visits (before drop-last).</summary>
    public int Count => _indices.Length;

    /// <summary>The options.</summary>
    public DataLoaderOptions Options => _options;

    /// <summary>Batches per epoch.</summary>
    public int BatchCount => _options.DropLast ? Count / _options.BatchSize : (Count + _options.BatchSize - 1) / _options.BatchSize;

    /// <summary>The dataset indices in the order epoch <paramref name="epoch"/> visits them.</summary>
    public int[] Order(int epoch)
    {
        if (epoch is < 0 or > DataStreams.MaxEpoch)
            throw new ArgumentOutOfRangeException(nameof(epoch), epoch, $"epochs are numbered 0..{DataStreams.MaxEpoch}.");
        var order = (int[])_indices.Clone();
        if (_options.Shuffle) DataSplit.Shuffle(order, _options.Seed, DataStreams.Shuffle(epoch));
        return order;
    }

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/>. Each batch's views are valid until the next batch is requested.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        var order = Order(epoch);
        return Batches(epoch, order);
    }

    private IEnumerable<Batch> Batches(int epoch, int[] order)
    {
        var device = _data.Device;
        if (order.Length > 0)
        {
            _order.View.SubView(0, order.Length).CopyFromCPU(device.Accelerator.DefaultStream, order);
            device.Synchronize(); // once per epoch: the order array must outlive the copy
        }
        int p = _data.Source.PixelsPerImage;
        var norm = _options.Normalization;
        for (int k = 0; k < BatchCount; k++)
        {
            int start = k * _options.BatchSize;
            int size = Math.Min(_options.BatchSize, order.Length - start);
            var ids = _order.View.SubView(start, size);
            var images = _images.Rows(0, size);
            var labels = _labels.View.SubView(0, size);
            if (_options.Augment.IsEmpty)
            {
                Gather.Rows(device, _data.Pixels.View, p, ids, images.View, norm.Scale, norm.Shift);
            }
            else
            {
                var a = _scratchA!.View.SubView(0, (long)size * p);
                var b = _scratchB!.View.SubView(0, (long)size * p);
                Gather.Rows(device, _data.Pixels.View, p, ids, a);
                _options.Augment.Apply(device, a, b, images.View, ids, _data.Source.Rows, _data.Source.Columns,
                    _options.Seed, epoch, norm.Scale, norm.Shift);
            }
            Gather.Values(device, _data.Labels.View, ids, labels);
            yield return new Batch(k, size, images, labels, ids);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _order.Dispose();
        _labels.Dispose();
        _images.Dispose();
        _scratchA?.Dispose();
        _scratchB?.Dispose();
    }
}
