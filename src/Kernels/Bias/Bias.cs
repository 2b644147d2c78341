using ILGPU;

namespace GpuNet.Kernels;

/// <summary>
/// The bias of a dense layer on a row-major <c>[rows × cols]</c> batch: forward adds the bias to every row, backward
/// accumulates the column sums of the upstream gradient.
/// </summary>
public static partial class Bias
{
    /// <summary>Computes <c>y[r·cols + c] += bias[c]</c> for every <c>r &lt; rows</c>, <c>c &lt; cols</c>, in place.</summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="y">Row-major <c>[rows × cols]</c> matrix, updated in place.</param>
    /// <param name="bias">The bias, <c>cols</c> elements.</param>
    /// <param name="rows">Number of rows, at least 0.</param>
    /// <param name="cols">Number of columns, at least 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="cols"/> is negative.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void Add(Device device, ArrayView<float> y, ArrayView<float> bias, int rows, int cols)
    {
        CheckShapes(device, y, bias, rows, cols, nameof(y), nameof(bias));
        if ((long)rows * cols == 0) return;
        if (device.UsesHostEngine) AddHost(device, y, bias, rows, cols);
        else AddIlgpu(device, y, bias, rows, cols);
    }

    /// <summary>
    /// Accumulates the bias gradient <c>dbias[c] += Σ_r dy[r·cols + c]</c> (column sums of <paramref name="dy"/>). It adds to
    /// <paramref name="dbias"/>, as every backward does; clear it first for a plain sum.
    /// </summary>
    /// <param name="device">The device the views live on.</param>
    /// <param name="dy">Upstream gradient, row-major <c>[rows × cols]</c>.</param>
    /// <param name="dbias">Bias gradient, <c>cols</c> elements, accumulated into.</param>
    /// <param name="rows">Number of rows, at least 0.</param>
    /// <param name="cols">Number of columns, at least 0.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rows"/> or <paramref name="cols"/> is negative.</exception>
    /// <exception cref="ArgumentException">A view has the wrong length or lives on another device.</exception>
    public static void Gradient(Device device, ArrayView<float> dy, ArrayView<float> dbias, int rows, int cols)
    {
        CheckShapes(device, dy, dbias, rows, cols, nameof(dy), nameof(dbias));
        if ((long)rows * cols == 0) return;
        if (device.UsesHostEngine) GradientHost(device, dy, dbias, rows, cols);
        else GradientIlgpu(device, dy, dbias, rows, cols);
    }

    private static void CheckShapes(Device device, ArrayView<float> matrix, ArrayView<float> vector, int rows, int cols,
        string matrixName, string vectorName)
    {
        Check.NonNegative(rows, nameof(rows));
        Check.NonNegative(cols, nameof(cols));
        Check.Length(matrix, (long)rows * cols, matrixName);
        Check.Length(vector, cols, vectorName);
        Check.Device(device, matrix, matrixName);
        Check.Device(device, vector, vectorName);
    }
}
