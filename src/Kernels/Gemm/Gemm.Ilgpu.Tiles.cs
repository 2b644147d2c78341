using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace GpuNet.Kernels;

/// <summary>One generated tile variant of kernel 3: a <see cref="BM"/>×<see cref="BN"/> tile of C per group, depth
/// slices of <see cref="BK"/>, a <see cref="TM"/>×<see cref="TN"/> block of C per thread.</summary>
internal readonly record struct GemmTileShape(GemmTile Tile, int BM, int BN, int BK, int TM, int TN)
{
    /// <summary>Threads per group.</summary>
    public int Threads => BM / TM * (BN / TN);

    /// <summary>Tiles of C an m×n product needs.</summary>
    public long Tiles(int m, int n) => (long)((m + BM - 1) / BM) * ((n + BN - 1) / BN);
}

/// <summary>Which GEMM kernel <see cref="Gemm.Run(Device, Transpose, Transpose, int, int, int, float, ArrayView{float}, ArrayView{float}, float, ArrayView{float})"/>
/// runs for a shape on a device, and how (<see cref="Gemm.Plan(int, int, int, int, int, bool)"/>).</summary>
/// <param name="Generated">True for kernel 3 (a generated tile), false for kernel 2.</param>
/// <param name="Tile">Kernel 3's tile.</param>
/// <param name="Splits">Kernel 3's split-K factor (1: no split).</param>
/// <param name="KChunk">The depth of one split (a multiple of the tile depth).</param>
internal readonly record struct GemmPlan(bool Generated, GemmTile Tile, int Splits, int KChunk)
{
    public override string ToString() =>
        !Generated ? "kernel 2 (64x64 runtime tiles)" : Splits > 1 ? $"kernel 3 {Tile}, split-K {Splits}x{KChunk}" : $"kernel 3 {Tile}";
}

public static partial class Gemm
{
    // -------------------------------------------------------------------------------------------------------------
    // Kernel 3: generated tile variants (gen_gpu_gemm.py writes Gemm.Ilgpu.Tiles.g.cs). Why it is faster than kernel 2
    // on a GPU:
    //  - Tile sizes, depth and thread shape are literals: the depth slice is unrolled, shared-memory offsets are
    //    immediates, staging indices are shifts and masks (kernel 2 divides and takes remainders at run time).
    //  - 8x8 (or 8x4) of C per thread instead of 4x4: per depth step 16 (12) shared loads feed 64 (32) multiply-adds,
    //    twice (1.5 times) kernel 2's 8 for 16.
    //  - The next depth slice is loaded from global memory into registers before the current one is computed, and
    //    written to the second of two shared buffers after: one barrier per slice instead of two, and the global
    //    latency overlaps the arithmetic.
    //  - 128x128 tiles halve global traffic per multiply-add against 64x64 where there are enough tiles; where there
    //    are not (the MLP's batch-64 shapes on a GPU with 100+ multiprocessors), the dispatcher (Plan) picks 64x64,
    //    split-K or 32x32 tiles so that the launch has enough groups.
    // ILGPU 1.5.3 has no vector loads (ld.global.v4 / ld.shared.v4) that an ArrayView<float> kernel can ask for, so
    // all loads are 4-byte scalars; docs/gpu.md records that.
    // -------------------------------------------------------------------------------------------------------------

    /// <summary>Loads element <paramref name="l"/> of the slice of op(A) at depth <paramref name="kk"/> (0 outside A or
    /// past <paramref name="kEnd"/>). Consecutive <paramref name="l"/> walk the contiguous axis of A as stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float LoadA(ArrayView<float> a, GemmArgs p, int aRow, int aDepth, int row0, int kk, int kEnd, int l,
        int log2Depth, int log2Rows)
    {
        int r = p.TransA == 0 ? l >> log2Depth : l & ((1 << log2Rows) - 1);
        int q = p.TransA == 0 ? l & ((1 << log2Depth) - 1) : l >> log2Rows;
        int row = row0 + r, d = kk + q;
        return row < p.M && d < kEnd ? a[row * aRow + d * aDepth] : 0f;
    }

    /// <summary>Where element <paramref name="l"/> of an op(A) slice goes in the depth-major panel: <c>q·stride + r</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SlotA(GemmArgs p, int l, int log2Depth, int log2Rows, int stride)
    {
        int r = p.TransA == 0 ? l >> log2Depth : l & ((1 << log2Rows) - 1);
        int q = p.TransA == 0 ? l & ((1 << log2Depth) - 1) : l >> log2Rows;
        return q * stride + r;
    }

    /// <summary>Loads element <paramref name="l"/> of the slice of op(B) at depth <paramref name="kk"/> (0 outside B or
    /// past <paramref name="kEnd"/>). Consecutive <paramref name="l"/> walk the contiguous axis of B as stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float LoadB(ArrayView<float> b, GemmArgs p, int bDepth, int bCol, int col0, int kk, int kEnd, int l,
        int log2Depth, int log2Cols)
    {
        int s = p.TransB == 0 ? l & ((1 << log2Cols) - 1) : l >> log2Depth;
        int q = p.TransB == 0 ? l >> log2Cols : l & ((1 << log2Depth) - 1);
        int col = col0 + s, d = kk + q;
        return col < p.N && d < kEnd ? b[d * bDepth + col * bCol] : 0f;
    }

    /// <summary>Where element <paramref name="l"/> of an op(B) slice goes in its panel: <c>q·stride + s</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SlotB(GemmArgs p, int l, int log2Depth, int log2Cols, int stride)
    {
        int s = p.TransB == 0 ? l & ((1 << log2Cols) - 1) : l >> log2Depth;
        int q = p.TransB == 0 ? l >> log2Cols : l & ((1 << log2Depth) - 1);
        return q * stride + s;
    }

    /// <summary>Kernel 3's write of one element: the epilogue into C, or with split-K the raw partial sum into the
    /// workspace (<c>work[split·m·n + row·n + col]</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Emit(ArrayView<float> c, ArrayView<float> bias, ArrayView<float> rowNorms, ArrayView<float> work, GemmArgs p,
        int split, int row, int col, float acc)
    {
        if (row >= p.M || col >= p.N) return;
        int idx = row * p.N + col;
        if (p.Splits > 1) work[split * p.M * p.N + idx] = acc;
        else c[idx] = Finish(c, bias, rowNorms, p, idx, row, col, acc);
    }

    /// <summary>Split-K's second launch: adds the partial sums of each element in split order (so the result depends on
    /// the shape and the split factor only) and applies the epilogue.</summary>
    [GpuKernel]
    private static void SplitKReduceKernel(ArrayView<float> c, ArrayView<float> bias, ArrayView<float> rowNorms, ArrayView<float> work,
        GemmArgs p)
    {
        int total = p.M * p.N;
        for (int idx = Grid.GlobalIndex.X; idx < total; idx += Grid.DimX * Group.DimX)
        {
            float acc = work[idx];
            for (int s = 1; s < p.Splits; s++) acc += work[s * total + idx];
            int row = idx / p.N;
            c[idx] = Finish(c, bias, rowNorms, p, idx, row, idx - row * p.N, acc);
        }
    }

    /// <summary>The shape of a generated tile.</summary>
    internal static GemmTileShape TileShape(GemmTile tile) => GeneratedTiles.Single(t => t.Tile == tile);

    // Split-K keeps at least this much depth per split (two slices of the 64x64 tile), so that the partial sums, written
    // and read back once, stay a small part of the work.
    private const int MinSplitDepth = 32;
    private const int MaxSplits = 16;

    /// <summary>
    /// The GEMM dispatcher: which kernel runs an m×n×k product on a device with <paramref name="multiprocessors"/>
    /// multiprocessors and groups of at most <paramref name="maxThreads"/> threads. On the plain CPU simulator
    /// (<paramref name="gpuShaped"/> false) kernel 2, whose panel takes the whole depth so that few barriers run there.
    /// Elsewhere kernel 3: the 128x128 tile when it alone gives every multiprocessor a group, else 64x64; when even
    /// 64x64 tiles are fewer than the multiprocessors, split-K over 64x64 tiles if the depth allows two splits of
    /// <see cref="MinSplitDepth"/>, else 32x32 tiles. A function of the shape and the device's figures only, so a result
    /// never depends on anything else. (A heuristic: no GPU has timed it yet.)
    /// </summary>
    internal static GemmPlan Plan(int m, int n, int k, int multiprocessors, int maxThreads, bool gpuShaped)
    {
        if (!gpuShaped) return new GemmPlan(false, default, 1, k);
        var big = TileShape(GemmTile.Tile128x128x8);
        var mid = TileShape(GemmTile.Tile64x64x16);
        var small = TileShape(GemmTile.Tile32x32x8);
        int sms = Math.Max(1, multiprocessors);
        if (big.Threads <= maxThreads && big.Tiles(m, n) >= sms) return new GemmPlan(true, big.Tile, 1, k);
        if (mid.Threads > maxThreads)
            return small.Threads <= maxThreads ? new GemmPlan(true, small.Tile, 1, k) : new GemmPlan(false, default, 1, k);
        long tiles = mid.Tiles(m, n);
        if (tiles >= sms) return new GemmPlan(true, mid.Tile, 1, k);
        long wanted = (sms + tiles - 1) / tiles;
        int splits = (int)Math.Min(Math.Min(wanted, k / MinSplitDepth), MaxSplits);
        while (splits > 1 && (long)splits * m * n > int.MaxValue) splits--;
        if (splits >= 2)
        {
            int chunk = (k + splits - 1) / splits;
            chunk = (chunk + mid.BK - 1) / mid.BK * mid.BK;
            splits = (k + chunk - 1) / chunk;
            if (splits >= 2) return new GemmPlan(true, mid.Tile, splits, chunk);
        }
        return small.Tiles(m, n) > tiles && small.Threads <= maxThreads
            ? new GemmPlan(true, small.Tile, 1, k)
            : new GemmPlan(true, mid.Tile, 1, k);
    }

    /// <summary>The plan <see cref="Run(Device, Transpose, Transpose, int, int, int, float, ArrayView{float}, ArrayView{float}, float, ArrayView{float})"/>
    /// follows on <paramref name="device"/>.</summary>
    internal static GemmPlan Plan(Device device, int m, int n, int k) =>
        Plan(m, n, k, device.Accelerator.NumMultiprocessors, device.Accelerator.MaxNumThreadsPerGroup, device.LaunchesLikeGpu);

    /// <summary>Runs the product as <paramref name="plan"/> says, with the epilogue (an empty <paramref name="bias"/> means
    /// none). Arguments are not validated: call <see cref="Validate"/> first.</summary>
    internal static void RunPlanned(Device device, GemmPlan plan, Transpose transA, Transpose transB, int m, int n, int k,
        float alpha, ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c,
        ArrayView<float> bias, ActivationKind activation, ArrayView<float> rowNorms = default)
    {
        if (m == 0 || n == 0) return;
        if (!plan.Generated)
        {
            RunTiled(device, transA, transB, m, n, k, alpha, a, b, beta, c, bias, activation, DefaultGroupShape(device), 0, rowNorms);
            return;
        }
        RunGenerated(device, plan.Tile, plan.Splits, plan.KChunk, transA, transB, m, n, k, alpha, a, b, beta, c, bias, activation, rowNorms);
    }

    /// <summary>Runs kernel 3 with <paramref name="tile"/>, split into <paramref name="splits"/> depth ranges of
    /// <paramref name="kChunk"/> (a multiple of the tile depth; ignored when <paramref name="splits"/> is 1). Tests call
    /// it to run every variant at every shape. Arguments are not validated: call <see cref="Validate"/> first.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The tile needs more threads than the accelerator's groups allow, or
    /// the split does not cover the depth exactly.</exception>
    internal static void RunGenerated(Device device, GemmTile tile, int splits, int kChunk, Transpose transA, Transpose transB,
        int m, int n, int k, float alpha, ArrayView<float> a, ArrayView<float> b, float beta, ArrayView<float> c,
        ArrayView<float> bias, ActivationKind activation, ArrayView<float> rowNorms = default)
    {
        var shape = TileShape(tile);
        var acc = device.Accelerator;
        if (shape.Threads > acc.MaxNumThreadsPerGroup)
            throw new ArgumentOutOfRangeException(nameof(tile), tile,
                $"{tile} needs {shape.Threads} threads per group; {device.Spec} allows {acc.MaxNumThreadsPerGroup}.");
        if (splits > 1 && (kChunk <= 0 || kChunk % shape.BK != 0 || (long)(splits - 1) * kChunk >= k || (long)splits * kChunk < k))
            throw new ArgumentOutOfRangeException(nameof(kChunk), kChunk,
                $"split-K needs a chunk that is a multiple of {shape.BK} and {splits} chunks covering k = {k}, none empty.");
        if (m == 0 || n == 0) return;
        splits = Math.Max(1, splits);
        long jobs = shape.Tiles(m, n) * splits;
        long cap = Math.Max(1L, (long)acc.NumMultiprocessors * Math.Max(1, acc.MaxNumThreadsPerMultiprocessor / shape.Threads) * 4);
        int groups = (int)Math.Clamp(jobs, 1, cap);
        var config = new KernelConfig(new Index1D(groups), new Index1D(shape.Threads));
        var args = Args(m, n, k, alpha, beta, transA, transB, shape.BK, bias, activation, rowNorms, splits, kChunk);
        var biasView = bias.Length > 0 ? bias : c;
        var rowView = rowNorms.Length > 0 ? rowNorms : c;
        var work = splits > 1 ? device.Workspace((long)splits * m * n) : c;
        LaunchGenerated(device, tile, config, a, b, c, biasView, rowView, work, args);
        if (splits > 1)
        {
            var reduce = device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>(SplitKReduceKernel);
            reduce(device.Config1D((long)m * n), c, biasView, rowView, work, args);
        }
        device.AfterLaunch();
    }
}
