namespace GpuNet;

/// <summary>
/// Runs the host engine's blocks of work on up to <see cref="Device.HostThreads"/> threads. Callers split their work into
/// blocks whose boundaries do not depend on the thread count, so results are the same with 1 thread or many.
/// </summary>
internal static class HostParallel
{
    /// <summary>Runs <paramref name="body"/> for every block index in <c>[0, blocks)</c>, in parallel when the device allows.</summary>
    public static void For(Device device, int blocks, Action<int> body)
    {
        if (blocks <= 0) return;
        int threads = Math.Min(device.HostThreads, blocks);
        if (threads <= 1)
        {
            for (int i = 0; i < blocks; i++) body(i);
            return;
        }
        // Contiguous runs of blocks per thread on the host workers; through the thread pool when they are busy.
        int parts = Math.Min(threads, HostWorkers.MaxParts);
        if (HostWorkers.TryRun(parts, p =>
            {
                int b0 = (int)((long)blocks * p / parts), b1 = (int)((long)blocks * (p + 1) / parts);
                for (int b = b0; b < b1; b++) body(b);
            }))
            return;
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
    }

    /// <summary>
    /// Splits <c>[0, length)</c> into fixed blocks of <paramref name="blockSize"/> elements (the last may be shorter) and
    /// runs <paramref name="body"/>(start, count) for each; one block runs inline, without the thread pool.
    /// </summary>
    public static void ForRanges(Device device, long length, int blockSize, Action<long, int> body)
    {
        if (length <= 0) return;
        long blocks = (length + blockSize - 1) / blockSize;
        if (blocks == 1)
        {
            body(0, (int)length);
            return;
        }
        For(device, checked((int)blocks), b =>
        {
            long start = (long)b * blockSize;
            body(start, (int)Math.Min(blockSize, length - start));
        });
    }
}
