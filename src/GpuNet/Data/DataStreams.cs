namespace GpuNet.Data;

/// <summary>
/// The Philox streams the data pipeline draws from, one range per purpose so that no two purposes share random numbers
/// under the same seed: the top four bits name the purpose, the rest the epoch (and stage) or class.
/// </summary>
public static class DataStreams
{
    /// <summary>The largest epoch number the streams can address (2^24 - 1).</summary>
    public const int MaxEpoch = (1 << 24) - 1;

    /// <summary>The largest number of stages in an augmentation pipeline.</summary>
    public const int MaxStages = 16;

    /// <summary>The stream that shuffles the samples of class <paramref name="label"/> for the train/validation split.</summary>
    public static uint Split(int label) => 0x3000_0000u | (uint)label;

    /// <summary>The stream of the epoch's shuffle.</summary>
    public static uint Shuffle(int epoch) => 0x5000_0000u | (uint)CheckEpoch(epoch);

    /// <summary>The stream of augmentation stage <paramref name="stage"/> in epoch <paramref name="epoch"/>.</summary>
    public static uint Augment(int epoch, int stage)
    {
        if (stage is < 0 or >= MaxStages) throw new ArgumentOutOfRangeException(nameof(stage), stage, $"a pipeline has at most {MaxStages} stages.");
        return 0xA000_0000u | ((uint)CheckEpoch(epoch) << 4) | (uint)stage;
    }

    private static int CheckEpoch(int epoch)
    {
        if (epoch is < 0 or > MaxEpoch) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, $"epochs are numbered 0..{MaxEpoch}.");
        return epoch;
    }
}
