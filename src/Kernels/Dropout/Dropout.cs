using ILGPU;

namespace GpuNet.Kernels;

/// <summary>How dropout scales activations, and so which of training or evaluation pays for the scaling.</summary>
public enum DropoutMode
{
    /// <summary>
    /// The original formulation (Srivastava et al. 2014): training computes <c>y = x·m</c>, evaluation
    /// <c>y = x·pKeep</c>, so that the expected activation is the same in both.
    /// </summary>
    Standard,

    /// <summary>
    /// Inverted dropout, as <c>torch.nn.Dropout</c>: training computes <c>y = x·m / pKeep</c>, evaluation is the
    /// identity <c>y = x</c>.
    /// </summary>
    Inverted,
}

/// <summary>
/// Dropout: Bernoulli keep-masks drawn from Philox4x32-10 by <c>(seed, stream, element index)</c>, and their
/// application forward and backward. A mask is a float view of 0s and 1s; the same seed and stream give a
/// bit-identical mask on every backend and group size (see <see cref="Philox"/>).
/// </summary>
/// <remarks>
/// <c>pKeep</c> is the probability of keeping an element (PyTorch's <c>1 - p</c>). Every method throws
/// <see cref="ArgumentOutOfRangeException"/> unless <c>0 &lt; pKeep &lt;= 1</c>, and <see cref="ArgumentException"/>
/// when the views' lengths differ. The inverted scale is computed once as the float32 <c>1 / pKeep</c> and multiplied in.
/// </remarks>
public static partial class Dropout
{
    /// <summary>
    /// Fills <paramref name="mask"/> with a Bernoulli(<paramref name="pKeep"/>) keep-mask:
    /// <c>mask[i] = Philox.Uniform(seed, stream, i) &lt; pKeep ? 1 : 0</c>, where <c>i</c> counts from the start of the view.
    /// </summary>
    /// <param name="device">The device the view lives on.</param>
    /// <param name="mask">Output, any length.</param>
    /// <param name="pKeep">Probability of keeping an element, in (0, 1]; 1 keeps every element.</param>
    /// <param name="seed">The run's seed (the Philox key).</param>
    /// <param name="stream">Which independent stream of the seed to draw from (for example one per layer and step).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pKeep"/> is not in (0, 1].</exception>
    public static void GenerateMask(Device device, ArrayView<float> mask, float pKeep, ulong seed, uint stream)
    {
        ArgumentNullException.ThrowIfNull(device);
        CheckKeep(pKeep);
        Check.Device(device, mask, nameof(mask));
        if (mask.Length == 0) return;
        var args = new MaskArgs(seed, stream, pKeep);
        if (device.UsesHostEngine) GenerateMaskHost(device, mask, args);
        else GenerateMaskIlgpu(device, mask, args);
    }

    /// <summary>
    /// Training forward with a given mask: <c>y[i] = x[i]·mask[i]</c> (<see cref="DropoutMode.Standard"/>) or
    /// <c>y[i] = x[i]·mask[i] / pKeep</c> (<see cref="DropoutMode.Inverted"/>). The mask is usually one from
    /// <see cref="GenerateMask"/>, but any values are applied as given (a caller-supplied mask of 0s and 1s).
    /// <paramref name="x"/> and <paramref name="y"/> may be the same view.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pKeep"/> is not in (0, 1].</exception>
    /// <exception cref="ArgumentException"><paramref name="x"/>, <paramref name="mask"/> and <paramref name="y"/> differ in length.</exception>
    public static void ForwardTrain(Device device, DropoutMode mode, ArrayView<float> x, ArrayView<float> mask, ArrayView<float> y, float pKeep)
    {
        ArgumentNullException.ThrowIfNull(device);
        CheckKeep(pKeep);
        Check.SameLength(x, mask, nameof(x), nameof(mask));
        Check.SameLength(x, y, nameof(x), nameof(y));
        Check.Device(device, x, nameof(x));
        Check.Device(device, mask, nameof(mask));
        Check.Device(device, y, nameof(y));
        if (x.Length == 0) return;
        float scale = TrainScale(mode, pKeep);
        if (device.UsesHostEngine) ApplyHost(device, x, mask, y, scale);
        else ApplyIlgpu(device, x, mask, y, scale);
    }

    /// <summary>
    /// Evaluation forward: <c>y[i] = x[i]·pKeep</c> (<see cref="DropoutMode.Standard"/>) or <c>y[i] = x[i]</c>
    /// (<see cref="DropoutMode.Inverted"/>). <paramref name="x"/> and <paramref name="y"/> may be the same view.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pKeep"/> is not in (0, 1].</exception>
    /// <exception cref="ArgumentException"><paramref name="x"/> and <paramref name="y"/> differ in length.</exception>
    public static void ForwardEval(Device device, DropoutMode mode, ArrayView<float> x, ArrayView<float> y, float pKeep)
    {
        ArgumentNullException.ThrowIfNull(device);
        CheckKeep(pKeep);
        Check.SameLength(x, y, nameof(x), nameof(y));
        Check.Device(device, x, nameof(x));
        Check.Device(device, y, nameof(y));
        if (x.Length == 0) return;
        float scale = mode switch
        {
            DropoutMode.Standard => pKeep,
            DropoutMode.Inverted => 1f,
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown dropout mode."),
        };
        if (device.UsesHostEngine) ScaleHost(device, x, y, scale);
        else ScaleIlgpu(device, x, y, scale);
    }

    /// <summary>
    /// Backward of <see cref="ForwardTrain"/>: accumulates <c>dx[i] += dy[i]·mask[i]</c> (<see cref="DropoutMode.Standard"/>)
    /// or <c>dx[i] += dy[i]·mask[i] / pKeep</c> (<see cref="DropoutMode.Inverted"/>), with the mask the forward used.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="pKeep"/> is not in (0, 1].</exception>
    /// <exception cref="ArgumentException"><paramref name="dy"/>, <paramref name="mask"/> and <paramref name="dx"/> differ in length.</exception>
    public static void Backward(Device device, DropoutMode mode, ArrayView<float> dy, ArrayView<float> mask, ArrayView<float> dx, float pKeep)
    {
        ArgumentNullException.ThrowIfNull(device);
        CheckKeep(pKeep);
        Check.SameLength(dy, mask, nameof(dy), nameof(mask));
        Check.SameLength(dy, dx, nameof(dy), nameof(dx));
        Check.Device(device, dy, nameof(dy));
        Check.Device(device, mask, nameof(mask));
        Check.Device(device, dx, nameof(dx));
        if (dy.Length == 0) return;
        float scale = TrainScale(mode, pKeep);
        if (device.UsesHostEngine) BackwardHost(device, dy, mask, dx, scale);
        else BackwardIlgpu(device, dy, mask, dx, scale);
    }

    private static float TrainScale(DropoutMode mode, float pKeep) => mode switch
    {
        DropoutMode.Standard => 1f,
        DropoutMode.Inverted => 1f / pKeep,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown dropout mode."),
    };

    private static void CheckKeep(float pKeep)
    {
        // Written so that NaN fails too.
        if (!(pKeep > 0f && pKeep <= 1f))
            throw new ArgumentOutOfRangeException(nameof(pKeep), pKeep, "pKeep (the probability of keeping an element) must be in (0, 1].");
    }
}

/// <summary>The per-launch constants of mask generation, and the keep test shared by the kernel and the host.</summary>
internal readonly struct MaskArgs(ulong seed, uint stream, float pKeep)
{
    public readonly ulong Seed = seed;
    public readonly uint Stream = stream;
    public readonly float PKeep = pKeep;

    public float Keep(uint r) => Philox.ToUniform(r) < PKeep ? 1f : 0f;

    /// <summary>
    /// The largest random word that <see cref="Keep"/> keeps, for the host's SIMD masks. Keep(r) is
    /// <c>(int)(r &gt;&gt; 8)·2^-24 &lt; pKeep</c> with both sides exact in float32, so for the integer u = r &gt;&gt; 8 it is
    /// exactly u &lt; pKeep·2^24, that is u &lt; t = ceil(pKeep·2^24), that is r &lt; 256·t. So <c>r &lt;= KeepLimit</c>
    /// gives Keep's answer for every word with one unsigned compare in place of a shift, a conversion, a multiply and a
    /// float compare (pKeep = 1 gives 2^32 - 1: every word is kept).
    /// </summary>
    public uint KeepLimit => (uint)(256 * (ulong)Math.Ceiling(PKeep * 16777216.0) - 1);
}
