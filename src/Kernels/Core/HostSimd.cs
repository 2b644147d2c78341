using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ILGPU;

namespace GpuNet;

/// <summary>The SIMD paths of the host engine, narrowest first.</summary>
internal enum HostWidth
{
    /// <summary>One float at a time.</summary>
    Scalar,
    /// <summary><see cref="Vector{T}"/> (for example NEON, or 256-bit AVX2 by default on x64).</summary>
    VectorT,
    /// <summary><see cref="Vector256{T}"/> (AVX2).</summary>
    V256,
    /// <summary><see cref="Vector512{T}"/> (AVX-512).</summary>
    V512,
}

/// <summary>An elementwise op of one input: <c>y = f(a)</c>.</summary>
internal interface IUnaryHostOp
{
    TV Invoke<TV>(TV a) where TV : struct, IHostVector<TV>;
}

/// <summary>An elementwise op of two inputs: <c>y = f(a, b)</c>.</summary>
internal interface IBinaryHostOp
{
    TV Invoke<TV>(TV a, TV b) where TV : struct, IHostVector<TV>;
}

/// <summary>An elementwise op of three inputs: <c>y = f(a, b, c)</c>.</summary>
internal interface ITernaryHostOp
{
    TV Invoke<TV>(TV a, TV b, TV c) where TV : struct, IHostVector<TV>;
}

/// <summary>
/// An in-place update of a weight and up to three state values from a gradient (an optimizer rule). A state an option
/// turns off is passed as zero and its result is discarded.
/// </summary>
internal interface IUpdateHostOp
{
    void Invoke<TV>(ref TV w, TV g, ref TV s0, ref TV s1, ref TV s2) where TV : struct, IHostVector<TV>;
}

/// <summary>
/// The host engine's elementwise drivers: they split a view into fixed blocks of <see cref="BlockSize"/> elements, run the
/// blocks on up to <see cref="Device.HostThreads"/> threads, and run each block at the widest SIMD width the processor
/// has (Vector512, Vector256, <see cref="Vector{T}"/>) with scalar tails. Block boundaries depend only on the length, and
/// the ops compute each element on its own, so results do not depend on the thread count or the width.
/// </summary>
/// <remarks>
/// Views may alias exactly (the output the same view as an input, for in-place ops): each vector is loaded before it is
/// stored. Partially overlapping views are not supported, as for the ILGPU kernels.
/// </remarks>
internal static unsafe class HostSimd
{
    /// <summary>
    /// Elements per block: 64K floats (256 KiB per stream) is large enough that a block's scheduling cost vanishes next
    /// to its memory traffic and small enough to balance two or more threads on the sizes training uses.
    /// </summary>
    public const int BlockSize = 1 << 16;

    /// <summary>The widest path this processor runs natively.</summary>
    public static readonly HostWidth Best =
        Vector512.IsHardwareAccelerated ? HostWidth.V512
        : Vector256.IsHardwareAccelerated ? HostWidth.V256
        : Vector.IsHardwareAccelerated ? HostWidth.VectorT
        : HostWidth.Scalar;

    private static volatile HostWidth _limit = HostWidth.V512;

    /// <summary>
    /// Caps the width the drivers use, so that tests run every narrower path on a processor that has the widest one.
    /// Results never depend on it; production code leaves it at <see cref="HostWidth.V512"/>.
    /// </summary>
    internal static HostWidth Limit
    {
        get => _limit;
        set => _limit = value;
    }

    /// <summary>The path the drivers take now: <see cref="Best"/>, capped by <see cref="Limit"/>.</summary>
    public static HostWidth Width => Best < _limit ? Best : _limit;

    private static float* Ptr(ArrayView<float> view) => HostView.Ptr(view);

    // ---- y = f(a) ----

    /// <summary>Computes <c>y[i] = op(a[i])</c> for every <c>i &lt; a.Length</c>.</summary>
    public static void Map<TOp>(Device device, ArrayView<float> a, ArrayView<float> y, TOp op) where TOp : struct, IUnaryHostOp
    {
        nint pa = (nint)Ptr(a), py = (nint)Ptr(y);
        HostParallel.ForRanges(device, a.Length, BlockSize, (start, count) =>
        {
            float* ba = (float*)pa + start, by = (float*)py + start;
            switch (Width)
            {
                case HostWidth.V512: Map<HostVector512, TOp>(ba, by, count, op); break;
                case HostWidth.V256: Map<HostVector256, TOp>(ba, by, count, op); break;
                case HostWidth.VectorT: Map<HostVectorT, TOp>(ba, by, count, op); break;
                default: Map<HostScalar, TOp>(ba, by, count, op); break;
            }
        });
    }

    private static void Map<TV, TOp>(float* a, float* y, int n, TOp op) where TV : struct, IHostVector<TV> where TOp : struct, IUnaryHostOp
    {
        int i = 0;
        for (; i <= n - TV.Count; i += TV.Count) op.Invoke(TV.Load(a + i)).Store(y + i);
        for (; i < n; i++) op.Invoke(HostScalar.Load(a + i)).Store(y + i);
    }

    // ---- y = f(a, b) ----

    /// <summary>Computes <c>y[i] = op(a[i], b[i])</c> for every <c>i &lt; a.Length</c>.</summary>
    public static void Map<TOp>(Device device, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, TOp op) where TOp : struct, IBinaryHostOp
    {
        nint pa = (nint)Ptr(a), pb = (nint)Ptr(b), py = (nint)Ptr(y);
        HostParallel.ForRanges(device, a.Length, BlockSize, (start, count) =>
        {
            float* ba = (float*)pa + start, bb = (float*)pb + start, by = (float*)py + start;
            switch (Width)
            {
                case HostWidth.V512: Map<HostVector512, TOp>(ba, bb, by, count, op); break;
                case HostWidth.V256: Map<HostVector256, TOp>(ba, bb, by, count, op); break;
                case HostWidth.VectorT: Map<HostVectorT, TOp>(ba, bb, by, count, op); break;
                default: Map<HostScalar, TOp>(ba, bb, by, count, op); break;
            }
        });
    }

    private static void Map<TV, TOp>(float* a, float* b, float* y, int n, TOp op)
        where TV : struct, IHostVector<TV> where TOp : struct, IBinaryHostOp
    {
        int i = 0;
        for (; i <= n - TV.Count; i += TV.Count) op.Invoke(TV.Load(a + i), TV.Load(b + i)).Store(y + i);
        for (; i < n; i++) op.Invoke(HostScalar.Load(a + i), HostScalar.Load(b + i)).Store(y + i);
    }

    // ---- y = f(a, b, c) ----

    /// <summary>Computes <c>y[i] = op(a[i], b[i], c[i])</c> for every <c>i &lt; a.Length</c>.</summary>
    public static void Map<TOp>(Device device, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> y, TOp op)
        where TOp : struct, ITernaryHostOp
    {
        nint pa = (nint)Ptr(a), pb = (nint)Ptr(b), pc = (nint)Ptr(c), py = (nint)Ptr(y);
        HostParallel.ForRanges(device, a.Length, BlockSize, (start, count) =>
        {
            float* ba = (float*)pa + start, bb = (float*)pb + start, bc = (float*)pc + start, by = (float*)py + start;
            switch (Width)
            {
                case HostWidth.V512: Map<HostVector512, TOp>(ba, bb, bc, by, count, op); break;
                case HostWidth.V256: Map<HostVector256, TOp>(ba, bb, bc, by, count, op); break;
                case HostWidth.VectorT: Map<HostVectorT, TOp>(ba, bb, bc, by, count, op); break;
                default: Map<HostScalar, TOp>(ba, bb, bc, by, count, op); break;
            }
        });
    }

    private static void Map<TV, TOp>(float* a, float* b, float* c, float* y, int n, TOp op)
        where TV : struct, IHostVector<TV> where TOp : struct, ITernaryHostOp
    {
        int i = 0;
        for (; i <= n - TV.Count; i += TV.Count) op.Invoke(TV.Load(a + i), TV.Load(b + i), TV.Load(c + i)).Store(y + i);
        for (; i < n; i++) op.Invoke(HostScalar.Load(a + i), HostScalar.Load(b + i), HostScalar.Load(c + i)).Store(y + i);
    }

    // ---- y = a ----

    /// <summary>Copies <paramref name="a"/> into <paramref name="y"/> block by block; nothing to do when they are the same view.</summary>
    public static void Copy(Device device, ArrayView<float> a, ArrayView<float> y)
    {
        nint pa = (nint)Ptr(a), py = (nint)Ptr(y);
        if (pa == py) return;
        HostParallel.ForRanges(device, a.Length, BlockSize, (start, count) =>
            new ReadOnlySpan<float>((float*)pa + start, count).CopyTo(new Span<float>((float*)py + start, count)));
    }

    // ---- (w, s0, s1, s2) = update(w, g, s0, s1, s2) ----

    /// <summary>
    /// Runs <paramref name="op"/> over every element of <paramref name="w"/> in place. A state view is read and written only
    /// when its <c>use</c> flag is set; otherwise the op sees zero there and the view is not touched (it may be empty).
    /// </summary>
    public static void Update<TOp>(Device device, ArrayView<float> w, ArrayView<float> g, ArrayView<float> s0, bool use0,
        ArrayView<float> s1, bool use1, ArrayView<float> s2, bool use2, TOp op) where TOp : struct, IUpdateHostOp
    {
        nint pw = (nint)Ptr(w), pg = (nint)Ptr(g);
        nint p0 = use0 ? (nint)Ptr(s0) : 0, p1 = use1 ? (nint)Ptr(s1) : 0, p2 = use2 ? (nint)Ptr(s2) : 0;
        HostParallel.ForRanges(device, w.Length, BlockSize, (start, count) =>
        {
            var b = new UpdateBlock((float*)pw + start, (float*)pg + start,
                p0 == 0 ? null : (float*)p0 + start, p1 == 0 ? null : (float*)p1 + start, p2 == 0 ? null : (float*)p2 + start);
            switch (Width)
            {
                case HostWidth.V512: Update<HostVector512, TOp>(b, count, op); break;
                case HostWidth.V256: Update<HostVector256, TOp>(b, count, op); break;
                case HostWidth.VectorT: Update<HostVectorT, TOp>(b, count, op); break;
                default: Update<HostScalar, TOp>(b, count, op); break;
            }
        });
    }

    private readonly struct UpdateBlock(float* w, float* g, float* s0, float* s1, float* s2)
    {
        public readonly float* W = w, G = g, S0 = s0, S1 = s1, S2 = s2;
    }

    private static void Update<TV, TOp>(UpdateBlock b, int n, TOp op) where TV : struct, IHostVector<TV> where TOp : struct, IUpdateHostOp
    {
        int i = 0;
        for (; i <= n - TV.Count; i += TV.Count) UpdateAt<TV, TOp>(b, i, op);
        for (; i < n; i++) UpdateAt<HostScalar, TOp>(b, i, op);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateAt<TV, TOp>(UpdateBlock b, int i, TOp op) where TV : struct, IHostVector<TV> where TOp : struct, IUpdateHostOp
    {
        // The null checks are the same for every element of a call, so they cost a predicted branch each.
        TV w = TV.Load(b.W + i);
        TV s0 = b.S0 != null ? TV.Load(b.S0 + i) : default;
        TV s1 = b.S1 != null ? TV.Load(b.S1 + i) : default;
        TV s2 = b.S2 != null ? TV.Load(b.S2 + i) : default;
        op.Invoke(ref w, TV.Load(b.G + i), ref s0, ref s1, ref s2);
        w.Store(b.W + i);
        if (b.S0 != null) s0.Store(b.S0 + i);
        if (b.S1 != null) s1.Store(b.S1 + i);
        if (b.S2 != null) s2.Store(b.S2 + i);
    }
}
