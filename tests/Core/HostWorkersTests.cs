namespace GpuNet.Tests.Core;

/// <summary>The host engine's fork-join team: every part runs once, errors reach the caller, a busy team says so.</summary>
public class HostWorkersTests
{
    [Fact]
    public void Every_part_runs_exactly_once_in_many_calls()
    {
        if (HostWorkers.MaxParts < 2)
        {
            // One core: the team has no workers and refuses every call (the callers then run their parts inline).
            Assert.False(HostWorkers.TryRun(2, _ => { }));
            return;
        }
        int parts = HostWorkers.MaxParts;
        for (int call = 0; call < 2000; call++)
        {
            var counts = new int[parts];
            bool ran = HostWorkers.TryRun(parts, p => Interlocked.Increment(ref counts[p]));
            if (!ran) continue; // another test's call held the team; that is allowed
            Assert.All(counts, c => Assert.Equal(1, c));
        }
    }

    [Fact]
    public void An_exception_in_a_part_reaches_the_caller_after_all_parts_finish()
    {
        if (HostWorkers.MaxParts < 2) { Assert.False(HostWorkers.TryRun(2, _ => { })); return; }
        int finished = 0;
        for (int attempt = 0; attempt < 100; attempt++)
        {
            finished = 0;
            try
            {
                if (!HostWorkers.TryRun(2, p =>
                    {
                        if (p == 1) throw new InvalidOperationException("part 1 failed");
                        Thread.Sleep(5);
                        Interlocked.Increment(ref finished);
                    }))
                    continue;
            }
            catch (InvalidOperationException e)
            {
                Assert.Equal("part 1 failed", e.Message);
                Assert.Equal(1, Volatile.Read(ref finished));
                return;
            }
            Assert.Fail("the exception of part 1 was lost");
        }
        Assert.Fail("the team was busy in 100 attempts");
    }

    [Fact]
    public void A_call_from_inside_a_part_finds_the_team_busy()
    {
        if (HostWorkers.MaxParts < 2) { Assert.False(HostWorkers.TryRun(2, _ => { })); return; }
        for (int attempt = 0; attempt < 100; attempt++)
        {
            var inner = new bool?[2];
            if (!HostWorkers.TryRun(2, p => inner[p] = HostWorkers.TryRun(2, _ => { }))) continue;
            Assert.Equal([false, false], inner);
            return;
        }
        Assert.Fail("the team was busy in 100 attempts");
    }

    [Fact]
    public void Too_many_or_too_few_parts_are_refused()
    {
        Assert.False(HostWorkers.TryRun(1, _ => throw new InvalidOperationException("must not run")));
        Assert.False(HostWorkers.TryRun(HostWorkers.MaxParts + 1, _ => throw new InvalidOperationException("must not run")));
    }
}
