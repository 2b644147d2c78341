using ILGPU;

namespace GpuNet.Kernels;

/// <summary>
/// Gathers rows by index: how a data loader assembles a batch on the device from a dataset that lives there, with an
/// affine map on the way (scaling to [0, 1] and normalising), so a batch costs no host round trip.
/// </summary>
/// <remarks>
/// Indices are not checked against the source on the host (that would need a round trip per batch; the data loader
/// makes them). An index outside <c>[0, rows)</c> does not read out of bounds: its row of <c>dst</c> is NaN
/// (<see cref="Rows"/>) or -1 (<see cref="Values"/>).
/// </remarks>
public static partial class Gather
{
    /// <summary>
    /// Computes <c>dst[r·rowLength + j] = src[indices[r]·rowLength + j]·scale + shift</c> for <c>r &lt; indices.Length</c>,
    /// <c>j &lt; rowLength</c>.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="src">The source rows, row-major <c>[rows × rowLength]</c>; its length must be a multiple of <paramref name="rowLength"/>.</param>
    /// <param name="rowLength">Elements per row, at least 1.</param>
    /// <param name="indices">Which source row each output row copies.</param>
    /// <param name="dst">Output, <c>indices.Length · rowLength</c> elements; must not overlap <paramref name="src"/>.</param>
    /// <param name="scale">Multiplies every value (finite).</param>
    /// <param name="shift">Is added after scaling (finite).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rowLength"/> is not positive, or scale or shift is not finite.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void Rows(Device device, ArrayView<float> src, int rowLength, ArrayView<int> indices, ArrayView<float> dst,
        float scale = 1f, float shift = 0f)
    {
        ArgumentNullException.ThrowIfNull(device);
        Check.Positive(rowLength, nameof(rowLength));
        Check.Finite(scale, nameof(scale));
        Check.Finite(shift, nameof(shift));
        if (src.Length % rowLength != 0)
            throw new ArgumentException($"src has {src.Length} elements, not a whole number of rows of {rowLength}.", nameof(src));
        Check.Length(dst, indices.Length * rowLength, nameof(dst));
        Check.Device(device, src, nameof(src));
        Check.Device(device, dst, nameof(dst));
        Reduce.CheckDevice(device, indices, nameof(indices));
        if (dst.Length == 0) return;
        var args = new RowArgs(rowLength, src.Length / rowLength, scale, shift);
        if (device.UsesHostEngine) RowsHost(device, src, indices, dst, args);
        else RowsIlgpu(device, src, indices, dst, args);
    }

    /// <summary>Computes <c>dst[r] = src[indices[r]]</c> for <c>r &lt; indices.Length</c> (labels of a batch).</summary>
    /// <exception cref="ArgumentException"><paramref name="dst"/> is not as long as <paramref name="indices"/>, or a view lives on another device.</exception>
    public static void Values(Device device, ArrayView<int> src, ArrayView<int> indices, ArrayView<int> dst)
    {
        ArgumentNullException.ThrowIfNull(device);
        Check.Length(dst, indices.Length, nameof(dst));
        Reduce.CheckDevice(device, src, nameof(src));
        Reduce.CheckDevice(device, indices, nameof(indices));
        Reduce.CheckDevice(device, dst, nameof(dst));
        if (dst.Length == 0) return;
        if (device.UsesHostEngine) ValuesHost(src, indices, dst);
        else ValuesIlgpu(device, src, indices, dst);
    }
}

/// <summary>The per-launch constants of <see cref="Gather.Rows"/>.</summary>
internal readonly struct RowArgs(int rowLength, long sourceRows, float scale, float shift)
{
    public readonly int RowLength = rowLength;
    public readonly long SourceRows = sourceRows;
    public readonly float Scale = scale;
    public readonly float Shift = shift;
}
