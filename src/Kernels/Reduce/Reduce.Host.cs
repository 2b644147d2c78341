using ILGPU;

namespace GpuNet.Kernels;

public static partial class Reduce
{
    // Scalar host loops; the SIMD versions come with the host engine. Sums accumulate in float64 over fixed chunks that
    // are combined in order, so the result does not depend on how many threads ran.
    private const int HostChunk = 1 << 16;

    private static void SumHost<TTerm>(ArrayView<float> x, ArrayView<float> result, float scale, TTerm term)
        where TTerm : struct, IReduceTerm
    {
        long n = x.Length;
        int chunks = (int)((n + HostChunk - 1) / HostChunk);
        double total = 0;
        if (chunks <= 1)
        {
            total = SumChunk(x, 0, n, term);
        }
        else
        {
            var partial = new double[chunks];
            Parallel.For(0, chunks, k =>
            {
                long start = (long)k * HostChunk;
                partial[k] = SumChunk(x, start, Math.Min(n, start + HostChunk), term);
            });
            foreach (double p in partial) total += p;
        }
        HostView.Span(result)[0] = (float)(total * scale);
    }

    private static double SumChunk<TTerm>(ArrayView<float> x, long start, long end, TTerm term) where TTerm : struct, IReduceTerm
    {
        var xs = HostView.Span(x.SubView(start, end - start));
        double sum = 0;
        foreach (float v in xs) sum += term.Apply(v);
        return sum;
    }

    /// <summary>The index of the first maximum of <paramref name="row"/> by <see cref="Beats"/> (NaN largest, lowest index on ties).</summary>
    internal static int HostArgmax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int c = 1; c < row.Length; c++)
            if (Beats(row[c], c, row[best], best)) best = c;
        return best;
    }

    private static void RowArgmaxHost(ArrayView<float> x, int rows, int cols, ArrayView<int> result)
    {
        ForRows(rows, cols, r =>
        {
            var row = HostView.Span(x.SubView((long)r * cols, cols));
            HostView.Span(result)[r] = HostArgmax(row);
        });
    }

    private static void CountCorrectHost(ArrayView<float> logits, ArrayView<int> labels, int rows, int cols, ArrayView<int> count)
    {
        int correct = 0;
        ForRows(rows, cols, r =>
        {
            var row = HostView.Span(logits.SubView((long)r * cols, cols));
            if (HostArgmax(row) == HostView.Span(labels)[r]) Interlocked.Increment(ref correct);
        });
        HostView.Span(count)[0] = correct;
    }

    /// <summary>Runs <paramref name="body"/> for every row, in parallel when the matrix is big enough to pay for it.</summary>
    internal static void ForRows(int rows, int cols, Action<int> body)
    {
        if ((long)rows * cols < HostChunk || rows == 1)
        {
            for (int r = 0; r < rows; r++) body(r);
        }
        else
        {
            Parallel.For(0, rows, body);
        }
    }
}
