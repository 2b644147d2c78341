using GpuNet.Kernels;

namespace GpuNet.Data;

/// <summary>Deterministic shuffles and the stratified train/validation split, all drawn from Philox by (seed, stream).</summary>
public static class DataSplit
{
    /// <summary>The default size of the validation split carved from Fashion-MNIST's 60,000 training images.</summary>
    public const int DefaultValidation = 6000;

    /// <summary>
    /// Shuffles <paramref name="items"/> in place by Fisher-Yates, the swap partner of position <c>i</c> (from the end) being
    /// <c>floor(r·(i+1) / 2^64)</c> with <c>r</c> the 64 bits of Philox block <c>i</c> (words X, Y) of the stream. The result
    /// depends only on (seed, stream) and the input order.
    /// </summary>
    public static void Shuffle(Span<int> items, ulong seed, uint stream)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            var b = Philox.Block(seed, stream, (ulong)i);
            ulong r = ((ulong)b.Y << 32) | b.X;
            int j = (int)Math.BigMul(r, (ulong)(i + 1), out _);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>
    /// Splits the samples into training and validation sets with the classes in the same proportions as in the whole set:
    /// each class's samples are shuffled (stream <see cref="DataStreams.Split"/>(class)) and its first <c>q_c</c> go to
    /// validation, where the quotas <c>q_c</c> are the class shares of <paramref name="validation"/>, rounded by largest
    /// remainder (ties to the lower class) so that they add up exactly. Both lists come back in ascending order.
    /// </summary>
    /// <param name="labels">The label of every sample.</param>
    /// <param name="classes">The number of classes; every label is below it.</param>
    /// <param name="validation">How many samples go to validation, 0..labels.Length.</param>
    /// <param name="seed">The seed.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="validation"/> is out of range or a label is not below <paramref name="classes"/>.</exception>
    public static (int[] Train, int[] Validation) Stratified(ReadOnlySpan<byte> labels, int classes, int validation, ulong seed)
    {
        if (validation < 0 || validation > labels.Length)
            throw new ArgumentOutOfRangeException(nameof(validation), validation, $"the validation split must hold 0..{labels.Length} samples.");
        var byClass = new List<int>[classes];
        for (int c = 0; c < classes; c++) byClass[c] = [];
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classes) throw new ArgumentOutOfRangeException(nameof(labels), $"label {i} is {labels[i]}; expected 0..{classes - 1}.");
            byClass[labels[i]].Add(i);
        }

        // Largest remainder: floor of each exact share, then one more to the classes with the largest remainders.
        var quota = new int[classes];
        var remainders = new (long Remainder, int Class)[classes];
        int given = 0;
        for (int c = 0; c < classes; c++)
        {
            long exact = (long)byClass[c].Count * validation;
            quota[c] = labels.Length == 0 ? 0 : (int)(exact / labels.Length);
            remainders[c] = (labels.Length == 0 ? 0 : exact % labels.Length, c);
            given += quota[c];
        }
        foreach (var (_, c) in remainders.OrderByDescending(r => r.Remainder).ThenBy(r => r.Class).Take(validation - given))
            quota[c]++;

        var train = new List<int>(labels.Length - validation);
        var valid = new List<int>(validation);
        for (int c = 0; c < classes; c++)
        {
            var members = byClass[c].ToArray();
            Shuffle(members, seed, DataStreams.Split(c));
            valid.AddRange(members.AsSpan(0, quota[c]));
            train.AddRange(members.AsSpan(quota[c]));
        }
        train.Sort();
        valid.Sort();
        return (train.ToArray(), valid.ToArray());
    }
}
