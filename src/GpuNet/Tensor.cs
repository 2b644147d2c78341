using ILGPU;
using ILGPU.Runtime;

namespace GpuNet;

/// <summary>
/// A float32 tensor on a <see cref="GpuNet.Device"/>: a device buffer plus a row-major shape.
/// A tensor made by <see cref="Zeros"/>, <c>FromArray</c> or <see cref="Empty"/> owns its buffer; views made by
/// <see cref="Rows"/> and <see cref="Reshape"/> share it, copy nothing, and must not outlive it.
/// Disposing a view does nothing; disposing the owner frees the memory.
/// </summary>
public sealed class Tensor : IDisposable
{
    private readonly MemoryBuffer1D<float, Stride1D.Dense>? _owned;
    private readonly int[] _shape;
    private bool _disposed;

    private Tensor(Device device, MemoryBuffer1D<float, Stride1D.Dense>? owned, ArrayView<float> view, int[] shape)
    {
        Device = device;
        _owned = owned;
        View = view;
        _shape = shape;
    }

    /// <summary>The device the data lives on.</summary>
    public Device Device { get; }

    /// <summary>The device memory, <see cref="Length"/> floats in row-major order.</summary>
    public ArrayView<float> View { get; }

    /// <summary>The shape, outermost dimension first.</summary>
    public IReadOnlyList<int> Shape => _shape;

    /// <summary>The number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>The number of elements: the product of the shape.</summary>
    public long Length => View.Length;

    /// <summary>True when this tensor owns its buffer; false for views.</summary>
    public bool OwnsMemory => _owned is not null;

    /// <summary>The size of dimension <paramref name="axis"/>; a negative axis counts from the end.</summary>
    public int Dim(int axis) => _shape[axis < 0 ? _shape.Length + axis : axis];

    /// <summary>Allocates a tensor without initialising its contents.</summary>
    /// <exception cref="ArgumentException">A dimension is negative or the shape is empty.</exception>
    public static Tensor Empty(Device device, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(device);
        long n = CheckShape(shape);
        var buffer = device.Allocate(n);
        return new Tensor(device, buffer, buffer.View, (int[])shape.Clone());
    }

    /// <summary>Allocates a tensor filled with zeros.</summary>
    public static Tensor Zeros(Device device, params int[] shape)
    {
        var t = Empty(device, shape);
        t.Clear();
        return t;
    }

    /// <summary>Uploads <paramref name="data"/> (row-major) as a tensor of the given shape.</summary>
    /// <exception cref="ArgumentException">The data length is not the product of the shape.</exception>
    public static Tensor FromArray(Device device, ReadOnlySpan<float> data, params int[] shape)
    {
        long n = CheckShape(shape);
        if (data.Length != n)
            throw new ArgumentException($"data has {data.Length} elements but shape [{string.Join(", ", shape)}] needs {n}.", nameof(data));
        var t = Empty(device, shape);
        t.CopyFrom(data);
        return t;
    }

    /// <summary>Uploads a 2-D array as a tensor of shape <c>[rows, cols]</c>.</summary>
    public static Tensor FromArray(Device device, float[,] data)
    {
        int rows = data.GetLength(0), cols = data.GetLength(1);
        var flat = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                flat[r * cols + c] = data[r, c];
        return FromArray(device, flat, rows, cols);
    }

    /// <summary>Overwrites the contents with <paramref name="data"/> (row-major, exactly <see cref="Length"/> values).</summary>
    public void CopyFrom(ReadOnlySpan<float> data)
    {
        ThrowIfDisposed();
        if (data.Length != Length)
            throw new ArgumentException($"data has {data.Length} elements; this tensor has {Length}.", nameof(data));
        if (Length == 0) return;
        View.AsDense().CopyFromCPU(Device.Accelerator.DefaultStream, data);
        // The copy reads the caller's span, which must not be released before the copy is done.
        Device.Synchronize();
    }

    /// <summary>Downloads the contents, row-major.</summary>
    public float[] ToArray()
    {
        ThrowIfDisposed();
        var result = new float[Length];
        if (Length == 0) return result;
        Device.Synchronize();
        View.CopyToCPU(Device.Accelerator.DefaultStream, result);
        Device.Accelerator.DefaultStream.Synchronize();
        return result;
    }

    /// <summary>Downloads a 2-D tensor as a <c>[rows, cols]</c> array.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not 2-D.</exception>
    public float[,] ToArray2D()
    {
        if (Rank != 2) throw new InvalidOperationException($"ToArray2D needs a 2-D tensor; this one has shape {ShapeString}.");
        var flat = ToArray();
        var result = new float[_shape[0], _shape[1]];
        for (int r = 0; r < _shape[0]; r++)
            for (int c = 0; c < _shape[1]; c++)
                result[r, c] = flat[r * _shape[1] + c];
        return result;
    }

    /// <summary>Sets every element to zero, in stream order and without waiting for the device (see <see cref="Device.Clear"/>):
    /// kernels launched later see the zeros. It is called in every training step (gradients, loss and layer backward
    /// buffers), so it must not synchronise.</summary>
    public void Clear()
    {
        ThrowIfDisposed();
        Device.Clear(View);
    }

    /// <summary>
    /// A view of rows <c>[start, start + count)</c> along the first dimension: a batch, without a copy.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the first dimension.</exception>
    public Tensor Rows(int start, int count)
    {
        ThrowIfDisposed();
        if (Rank == 0) throw new InvalidOperationException("Rows needs a tensor with at least one dimension.");
        if (start < 0 || count < 0 || start > _shape[0] - count)
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) are outside [0, {_shape[0]}).");
        long rowLength = _shape.Length == 1 ? 1 : Length / Math.Max(1, _shape[0]);
        var shape = (int[])_shape.Clone();
        shape[0] = count;
        return new Tensor(Device, null, View.SubView(start * rowLength, count * rowLength), shape);
    }

    /// <summary>A view with another shape of the same length, without a copy. One dimension may be -1 (inferred).</summary>
    /// <exception cref="ArgumentException">The new shape has another number of elements.</exception>
    public Tensor Reshape(params int[] shape)
    {
        ThrowIfDisposed();
        shape = (int[])shape.Clone();
        int infer = Array.IndexOf(shape, -1);
        if (infer >= 0)
        {
            long known = 1;
            for (int i = 0; i < shape.Length; i++) if (i != infer) known *= shape[i];
            if (known <= 0 || Length % known != 0)
                throw new ArgumentException($"cannot reshape {ShapeString} into [{string.Join(", ", shape)}].", nameof(shape));
            shape[infer] = (int)(Length / known);
        }
        long n = CheckShape(shape);
        if (n != Length)
            throw new ArgumentException($"cannot reshape {ShapeString} ({Length} elements) into [{string.Join(", ", shape)}] ({n}).", nameof(shape));
        return new Tensor(Device, null, View, shape);
    }

    /// <summary>The shape as text, for messages: <c>[64, 784]</c>.</summary>
    public string ShapeString => $"[{string.Join(", ", _shape)}]";

    /// <inheritdoc />
    public override string ToString() => $"Tensor{ShapeString} on {Device.Spec}";

    private static long CheckShape(int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0) throw new ArgumentException("a shape needs at least one dimension.", nameof(shape));
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"shape [{string.Join(", ", shape)}] has a negative dimension.", nameof(shape));
            n *= d;
        }
        return n;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _owned?.Dispose();
    }
}
