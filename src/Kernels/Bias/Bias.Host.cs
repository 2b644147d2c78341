using ILGPU;

namespace GpuNet.Kernels;

public static partial class Bias
{
    // Scalar host loops, parallel over rows (Add) or column blocks (Gradient) when the matrix is large; the SIMD versions
    // come with the host engine.
    private const int ParallelThreshold = 1 << 16;
    private const int ColumnBlock = 256;

    private static void AddHost(ArrayView<float> y, ArrayView<float> bias, int rows, int cols)
    {
        Reduce.ForRows(rows, cols, r =>
        {
            var row = HostView.Span(y.SubView((long)r * cols, cols));
            var b = HostView.Span(bias);
            for (int c = 0; c < row.Length; c++) row[c] += b[c];
        });
    }

    private static void GradientHost(ArrayView<float> dy, ArrayView<float> dbias, int rows, int cols)
    {
        int blocks = (cols + ColumnBlock - 1) / ColumnBlock;
        if ((long)rows * cols < ParallelThreshold || blocks == 1)
            GradientBlock(dy, dbias, rows, cols, 0, cols);
        else
            Parallel.For(0, blocks, k => GradientBlock(dy, dbias, rows, cols, k * ColumnBlock, Math.Min(cols, (k + 1) * ColumnBlock)));
    }

    // Rows outer, columns inner: reads dy in memory order. Accumulates in float64, then adds once to dbias.
    private static void GradientBlock(ArrayView<float> dy, ArrayView<float> dbias, int rows, int cols, int start, int end)
    {
        var sums = new double[end - start];
        var d = HostView.Span(dy);
        for (int r = 0; r < rows; r++)
        {
            var row = d.Slice(r * cols + start, end - start);
            for (int c = 0; c < row.Length; c++) sums[c] += row[c];
        }
        var db = HostView.Span(dbias);
        for (int c = start; c < end; c++) db[c] = (float)(db[c] + sums[c - start]);
    }
}
