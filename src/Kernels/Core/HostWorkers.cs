using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace GpuNet;

/// <summary>
/// A team of dedicated threads for the host engine's fork-join calls, the caller among them.
/// A training step makes dozens of calls of tens of microseconds each; through the thread pool each fork and join cost
/// several microseconds of wake-ups (a futex per side, and the pool's own queue), a large share of such a call. Here a
/// worker that has just finished keeps polling for the next call for a short while before it sleeps, so calls in quick
/// succession are handed over through memory alone, as OpenMP and OpenBLAS do.
/// <para>One caller at a time: a call that finds the team busy (another thread's call, or a call from inside a part)
/// returns false and the caller runs its parts some other way. Which thread runs a part never changes what the part
/// computes.</para>
/// </summary>
internal static class HostWorkers
{
    // How long a worker polls for the next call after finishing one before it blocks (about the gap between the ops of a
    // training step); polling longer would take CPU time from other processes on a shared machine.
    private static readonly long PollTicks = Stopwatch.Frequency / 20_000; // 50 µs

    private static readonly Worker[] s_workers = CreateWorkers();
    private static int s_busy;

    /// <summary>The most parts one call can run at once: the workers plus the caller.</summary>
    public static int MaxParts => s_workers.Length + 1;

    /// <summary>
    /// Runs <paramref name="body"/>(p) for p in [0, <paramref name="parts"/>) on the calling thread and the workers, and
    /// returns when all are done; rethrows the first exception of a part. Parts are claimed one at a time by whichever
    /// thread is free, so a worker that the operating system is slow to schedule (a busy machine) costs nothing: the
    /// caller runs the parts itself. Returns false without running anything when the team is busy or too small.
    /// </summary>
    public static bool TryRun(int parts, Action<int> body)
    {
        if (parts < 2 || parts > MaxParts || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0) return false;
        var call = new Call(body, parts);
        try
        {
            for (int i = 0; i < parts - 1; i++) s_workers[i].Post(call);
            call.RunParts();
            call.WaitForParts();
        }
        finally
        {
            Volatile.Write(ref s_busy, 0);
        }
        call.Rethrow();
        return true;
    }

    private static Worker[] CreateWorkers()
    {
        int count = Math.Max(0, Environment.ProcessorCount - 1);
        var workers = new Worker[count];
        for (int i = 0; i < count; i++) workers[i] = new Worker(i);
        return workers;
    }

    private sealed class Call(Action<int> body, int parts)
    {
        private readonly int _parts = parts;
        private int _next;
        private int _remaining = parts;
        private Exception? _error;
        private readonly ManualResetEventSlim _done = new(false, spinCount: 1);

        /// <summary>Claims and runs parts until none is left.</summary>
        public void RunParts()
        {
            int part;
            while ((part = Interlocked.Increment(ref _next) - 1) < _parts)
            {
                try
                {
                    body(part);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _error, e, null);
                }
                if (Interlocked.Decrement(ref _remaining) == 0) _done.Set();
            }
        }

        /// <summary>Waits until every part has finished (the caller's own are done when this is called).</summary>
        public void WaitForParts()
        {
            // A part a worker has claimed is an equal share begun at most a moment ago: poll first.
            long until = Stopwatch.GetTimestamp() + PollTicks;
            while (Volatile.Read(ref _remaining) != 0)
            {
                if (Stopwatch.GetTimestamp() > until)
                {
                    _done.Wait();
                    break;
                }
                Thread.SpinWait(20);
            }
            // Not disposed: a worker may still be inside Set when the caller sees the count reach zero.
        }

        public void Rethrow()
        {
            if (_error is { } e) ExceptionDispatchInfo.Capture(e).Throw();
        }
    }

    private sealed class Worker
    {
        private Call? _call;
        private readonly ManualResetEventSlim _wake = new(false, spinCount: 1);

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"GpuNet host worker {index + 1}" };
            thread.Start();
        }

        public void Post(Call call)
        {
            Volatile.Write(ref _call, call);
            _wake.Set();
        }

        private void Loop()
        {
            while (true)
            {
                var call = Volatile.Read(ref _call);
                if (call is null)
                {
                    long until = Stopwatch.GetTimestamp() + PollTicks;
                    while ((call = Volatile.Read(ref _call)) is null && Stopwatch.GetTimestamp() < until) Thread.SpinWait(20);
                    if (call is null)
                    {
                        _wake.Wait();
                        _wake.Reset();
                        continue;
                    }
                }
                _wake.Reset();
                Volatile.Write(ref _call, null);
                call.RunParts();
            }
        }
    }
}
