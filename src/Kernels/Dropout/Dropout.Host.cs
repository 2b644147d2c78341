using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using ILGPU;

namespace GpuNet.Kernels;

public static partial class Dropout
{
    // The host engine. Masks come from Philox run several blocks per SIMD register (PhiloxSimd), with the kernel's
    // addressing, and each random word is kept by an integer compare that gives exactly MaskArgs.Keep's answer (see
    // MaskArgs.KeepLimit), so masks are bit-identical to the kernel's. Applying a mask is an elementwise driver over
    // operator structs that keep the kernels' order of float32 operations ((x·m)·scale, then the add), so those results
    // are bit-identical too.

    private static unsafe void GenerateMaskHost(Device device, ArrayView<float> mask, MaskArgs args)
    {
        nint p = (nint)HostView.Ptr(mask);
        // Blocks start at multiples of BlockSize, a multiple of 4: every block begins on a Philox quad.
        HostParallel.ForRanges(device, mask.Length, HostSimd.BlockSize,
            (start, count) => MaskBlock((float*)p + start, (ulong)start >> 2, count, args));
    }

    /// <summary>Writes mask elements <c>4·firstQuad .. 4·firstQuad + count - 1</c> to <paramref name="m"/>.</summary>
    private static unsafe void MaskBlock(float* m, ulong firstQuad, int count, MaskArgs args)
    {
        int i = 0;
        HostWidth width = HostSimd.Width;
        if (width >= HostWidth.V512 && PhiloxSimd.IsSupported512)
        {
            // 128 elements per iteration: eight registers of four Philox blocks each, generated together.
            var limit = Vector512.Create(args.KeepLimit);
            var key = PhiloxSimd.Key512(args.Seed);
            var quads4 = Vector512.Create(4ul, 0ul, 4ul, 0ul, 4ul, 0ul, 4ul, 0ul);
            var counters = PhiloxSimd.Counters512(firstQuad, args.Stream);
            for (; i <= count - 128; i += 128)
            {
                var c0 = counters.AsUInt32();
                var c1 = (counters + quads4).AsUInt32();
                var c2 = (counters + quads4 * 2).AsUInt32();
                var c3 = (counters + quads4 * 3).AsUInt32();
                var c4 = (counters + quads4 * 4).AsUInt32();
                var c5 = (counters + quads4 * 5).AsUInt32();
                var c6 = (counters + quads4 * 6).AsUInt32();
                var c7 = (counters + quads4 * 7).AsUInt32();
                PhiloxSimd.Generate512(ref c0, ref c1, ref c2, ref c3, ref c4, ref c5, ref c6, ref c7, key);
                Keep(c0, limit).Store(m + i);
                Keep(c1, limit).Store(m + i + 16);
                Keep(c2, limit).Store(m + i + 32);
                Keep(c3, limit).Store(m + i + 48);
                Keep(c4, limit).Store(m + i + 64);
                Keep(c5, limit).Store(m + i + 80);
                Keep(c6, limit).Store(m + i + 96);
                Keep(c7, limit).Store(m + i + 112);
                counters += quads4 * 8;
            }
            // (Non-temporal stores, which skip the read of each line before it is written, measured twice as slow
            // here on 32M elements, so the mask is stored normally.)
        }
        if (width >= HostWidth.V256 && PhiloxSimd.IsSupported256)
        {
            // 32 elements per iteration: four registers of two Philox blocks each. With AVX-512 this takes what is left
            // after the 128-element groups.
            var limit = Vector256.Create(args.KeepLimit);
            var key = PhiloxSimd.Key256(args.Seed);
            var quads2 = Vector256.Create(2ul, 0ul, 2ul, 0ul);
            var counters = PhiloxSimd.Counters256(firstQuad + (ulong)(i >> 2), args.Stream);
            for (; i <= count - 32; i += 32)
            {
                var c0 = counters.AsUInt32();
                var c1 = (counters + quads2).AsUInt32();
                var c2 = (counters + quads2 * 2).AsUInt32();
                var c3 = (counters + quads2 * 3).AsUInt32();
                PhiloxSimd.Generate256(ref c0, ref c1, ref c2, ref c3, key);
                Keep(c0, limit).Store(m + i);
                Keep(c1, limit).Store(m + i + 8);
                Keep(c2, limit).Store(m + i + 16);
                Keep(c3, limit).Store(m + i + 24);
                counters += quads2 * 4;
            }
        }
        // The last quads (and the whole block where neither AVX-512 nor AVX2 is there): one Philox call per quad.
        for (; i < count; i += 4)
        {
            var block = PhiloxSimd.Block(args.Seed, args.Stream, firstQuad + (ulong)(i >> 2));
            m[i] = args.Keep(block.X);
            if (i + 1 < count) m[i + 1] = args.Keep(block.Y);
            if (i + 2 < count) m[i + 2] = args.Keep(block.Z);
            if (i + 3 < count) m[i + 3] = args.Keep(block.W);
        }
    }

    // MaskArgs.Keep per lane, as one unsigned compare against MaskArgs.KeepLimit (the same answer for every word).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Keep(Vector512<uint> r, Vector512<uint> limit) =>
        Vector512.ConditionalSelect(Vector512.LessThanOrEqual(r, limit).AsSingle(), Vector512.Create(1f), Vector512<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Keep(Vector256<uint> r, Vector256<uint> limit) =>
        (Vector256.LessThanOrEqual(r, limit) & Vector256.Create(1f).AsUInt32()).AsSingle();

    private static void ApplyHost(Device device, ArrayView<float> x, ArrayView<float> mask, ArrayView<float> y, float scale) =>
        HostSimd.Map(device, x, mask, y, new ApplyOp(scale));

    private static void ScaleHost(Device device, ArrayView<float> x, ArrayView<float> y, float scale)
    {
        // x·1 is x exactly: inverted dropout's evaluation is a copy (nothing at all in place).
        if (scale == 1f) HostSimd.Copy(device, x, y);
        else HostSimd.Map(device, x, y, new ScaleOp(scale));
    }

    private static void BackwardHost(Device device, ArrayView<float> dy, ArrayView<float> mask, ArrayView<float> dx, float scale) =>
        HostSimd.Map(device, dy, mask, dx, dx, new BackwardOp(scale));

    /// <summary><c>(x·m)·scale</c>, as the kernel's <c>x[i] * mask[i] * scale</c>.</summary>
    private readonly struct ApplyOp(float scale) : IBinaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV x, TV m) where TV : struct, IHostVector<TV> => x * m * TV.Create(scale);
    }

    /// <summary><c>x·scale</c>.</summary>
    private readonly struct ScaleOp(float scale) : IUnaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV x) where TV : struct, IHostVector<TV> => x * TV.Create(scale);
    }

    /// <summary><c>dx + (dy·m)·scale</c>, as the kernel's <c>dx[i] += dy[i] * mask[i] * scale</c>.</summary>
    private readonly struct BackwardOp(float scale) : ITernaryHostOp
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Invoke<TV>(TV dy, TV m, TV dx) where TV : struct, IHostVector<TV> => dx + dy * m * TV.Create(scale);
    }
}
