using System.Globalization;

namespace GpuNet.Experiments.Commands;

/// <summary>
/// How close a device's result must be to the host engine's: every element must satisfy
/// <c>|a - r| &lt;= Atol + Rtol·|r|</c> (NaN only matches NaN), or, when <see cref="Bits"/>, have the same bits.
/// </summary>
/// <param name="Atol">Absolute tolerance.</param>
/// <param name="Rtol">Relative tolerance.</param>
/// <param name="Why">Why the tolerance is what it is (shown in check.md beside loose ones).</param>
/// <param name="Bits">Bit-identical: the float32 bit patterns must be equal (for dropout masks, exact integer outputs).</param>
internal sealed record Tolerance(double Atol, double Rtol, string Why, bool Bits = false)
{
    /// <summary>The same bits in every element.</summary>
    public static Tolerance Identical(string why) => new(0, 0, why, Bits: true);

    /// <summary>The tolerance as check.md shows it.</summary>
    public override string ToString() => Bits
        ? "bit-identical"
        : string.Create(CultureInfo.InvariantCulture, $"atol {Atol:G3}, rtol {Rtol:G3}");
}

/// <summary>One op (or one training run) compared between the device under test and the host engine.</summary>
/// <param name="Op">The op's name, as <c>--perturb</c> and check.json name it (for example <c>gemm</c> or <c>dropout.mask</c>).</param>
/// <param name="Shape">The shape it ran at, in words a reader can reproduce (for example <c>64x784x256:NT</c>).</param>
/// <param name="Tolerance">How close the results must be.</param>
/// <param name="Run">Runs the op on a device from fixed inputs and returns every output, flattened (integers as floats).</param>
internal sealed record CheckCase(string Op, string Shape, Tolerance Tolerance, Func<Device, float[]> Run);

/// <summary>The outcome of one <see cref="CheckCase"/>.</summary>
/// <param name="Op">The op.</param>
/// <param name="Shape">The shape.</param>
/// <param name="Elements">Number of output elements compared.</param>
/// <param name="MaxAbs">Largest <c>|a - r|</c> (NaN-vs-NaN pairs count as 0; a NaN against a number makes it NaN).</param>
/// <param name="MaxRel">Largest <c>|a - r| / |r|</c> over elements with <c>|r| &gt; max(atol, 1e-30)</c>.</param>
/// <param name="Tolerance">The tolerance applied.</param>
/// <param name="Mismatches">Elements outside the tolerance.</param>
/// <param name="FirstMismatch">The first mismatching element, in words; null when all match.</param>
/// <param name="Seconds">Wall time of both runs and the comparison.</param>
internal sealed record CheckRow(string Op, string Shape, long Elements, double MaxAbs, double MaxRel, Tolerance Tolerance,
    long Mismatches, string? FirstMismatch, double Seconds)
{
    /// <summary>True when no element is outside the tolerance.</summary>
    public bool Pass => Mismatches == 0;
}

/// <summary>One timing of <c>gpunet check</c>.</summary>
/// <param name="Name">What was timed (<c>gemm</c>, <c>epoch</c>, <c>knn-search</c>, <c>launch</c>).</param>
/// <param name="Shape">The shape or setting, in the same words as the PyTorch peers print.</param>
/// <param name="Value">The measurement.</param>
/// <param name="Unit">Its unit (<c>GFLOP/s</c>, <c>s</c>, <c>us</c>).</param>
/// <param name="Note">Anything a reader needs to read it right; may be empty.</param>
internal sealed record TimingRow(string Name, string Shape, double Value, string Unit, string Note = "");

/// <summary>Element-wise comparison of a device's outputs with the host engine's.</summary>
internal static class Comparison
{
    /// <summary>Compares <paramref name="actual"/> (the device) with <paramref name="reference"/> (the host engine).</summary>
    public static CheckRow Compare(CheckCase c, float[] actual, float[] reference, double seconds)
    {
        var tol = c.Tolerance;
        if (actual.Length != reference.Length)
            return new CheckRow(c.Op, c.Shape, reference.Length, double.NaN, double.NaN, tol, Math.Max(1, reference.Length),
                $"{actual.Length} outputs on the device, {reference.Length} on the host engine", seconds);
        double maxAbs = 0, maxRel = 0;
        long bad = 0;
        string? first = null;
        double relFloor = Math.Max(tol.Atol, 1e-30);
        for (int i = 0; i < actual.Length; i++)
        {
            float a = actual[i], r = reference[i];
            bool ok;
            double diff;
            if (float.IsNaN(a) || float.IsNaN(r))
            {
                bool both = float.IsNaN(a) && float.IsNaN(r);
                diff = both ? 0 : double.NaN;
                ok = both && (!tol.Bits || BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(r));
            }
            else
            {
                diff = a == r ? 0 : Math.Abs((double)a - r);   // a == r also covers equal infinities
                ok = tol.Bits
                    ? BitConverter.SingleToInt32Bits(a) == BitConverter.SingleToInt32Bits(r)
                    : diff <= tol.Atol + tol.Rtol * Math.Abs((double)r);
                if (Math.Abs((double)r) > relFloor) maxRel = Math.Max(maxRel, diff / Math.Abs((double)r));
            }
            maxAbs = double.IsNaN(diff) || double.IsNaN(maxAbs) ? double.NaN : Math.Max(maxAbs, diff);
            if (!ok)
            {
                first ??= string.Create(CultureInfo.InvariantCulture, $"[{i}] device {a:R}, host {r:R}");
                bad++;
            }
        }
        return new CheckRow(c.Op, c.Shape, actual.Length, maxAbs, maxRel, tol, bad, first, seconds);
    }

    /// <summary>
    /// Changes the first output element far beyond any tolerance, to show that the check catches a wrong result: the value
    /// <c>x</c> becomes <c>x + 1 + |x|/100</c> (for a 0/1 mask or an integer output, a different value).
    /// </summary>
    public static void Perturb(float[] values)
    {
        if (values.Length > 0) values[0] += 1f + Math.Abs(values[0]) / 100f;
    }
}
