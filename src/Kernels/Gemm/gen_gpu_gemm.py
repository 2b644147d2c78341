#!/usr/bin/env python3
"""Writes Gemm.Ilgpu.Tiles.g.cs: the GPU GEMM's tile variants (kernel 3), one ILGPU kernel per tile shape.

Why generated: every tile size is a literal in the kernel, so shared-memory offsets are immediates, the depth slice is
fully unrolled, index arithmetic is shifts and masks, and each thread's TM x TN block of C lives in named locals (ILGPU
has no register arrays; a local array would go to local memory). The host micro-kernels are generated the same way by
gen_microkernels.py; this script is separate so the two can change independently.

Run from this folder: python3 gen_gpu_gemm.py
"""

# name, BM (rows of C per group), BN (columns), BK (depth slice), TM x TN (block of C per thread)
VARIANTS = [
    ("Tile128x128x8", 128, 128, 8, 8, 8),
    ("Tile64x64x16", 64, 64, 16, 8, 4),
    ("Tile32x32x8", 32, 32, 8, 8, 8),
]


def log2(x):
    r = x.bit_length() - 1
    assert 1 << r == x, x
    return r


def variant(w, name, bm, bn, bk, tm, tn):
    tx, ty = bn // tn, bm // tm  # threads along the columns and rows of C
    threads = tx * ty
    la, lb = bm * bk // threads, bn * bk // threads  # global loads per thread per slice, A and B
    assert la * threads == bm * bk and lb * threads == bn * bk
    sa, sb = bm + 1, bn + 1  # panel strides, padded by one so depth-contiguous stores do not share a bank
    half_a, half_b = bk * sa, bk * sb  # one buffer of the double-buffered panels
    i = "        "

    w(f"    // {name}: a {bm}x{bn} tile of C per group of {threads} threads ({tx} x {ty}), {tm}x{tn} per thread, depth")
    w(f"    // slices of {bk}; shared memory {2 * (half_a + half_b) * 4} bytes (two buffers of each panel). Per slice a")
    w(f"    // thread does {bk * tm * tn} multiply-adds from {bk * (tm + tn)} shared loads and issues {la + lb} global loads.")
    w("    [GpuKernel]")
    w(f"    private static void {name}Kernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,")
    w("        ArrayView<float> bias, ArrayView<float> rowNorms, ArrayView<float> work, GemmArgs p)")
    w("    {")
    w(f"{i}var sa = SharedMemory.Allocate<float>({2 * half_a});")
    w(f"{i}var sb = SharedMemory.Allocate<float>({2 * half_b});")
    w(f"{i}int thread = Group.IdxX;")
    w(f"{i}int tx = thread & {tx - 1};")
    w(f"{i}int ty = thread >> {log2(tx)};")
    w(f"{i}int aRow = p.TransA == 0 ? p.K : 1, aDepth = p.TransA == 0 ? 1 : p.M;")
    w(f"{i}int bDepth = p.TransB == 0 ? p.N : 1, bCol = p.TransB == 0 ? 1 : p.K;")
    w(f"{i}int tilesN = (p.N + {bn - 1}) >> {log2(bn)};")
    w(f"{i}int tiles = ((p.M + {bm - 1}) >> {log2(bm)}) * tilesN;")
    w(f"{i}int total = tiles * p.Splits;")
    w(f"{i}for (int job = Grid.IdxX; job < total; job += Grid.DimX)")
    w(f"{i}{{")
    j = i + "    "
    w(f"{j}int split = job / tiles;")
    w(f"{j}int tile = job - split * tiles;")
    w(f"{j}int tileRow = tile / tilesN;")
    w(f"{j}int row0 = tileRow << {log2(bm)};")
    w(f"{j}int col0 = (tile - tileRow * tilesN) << {log2(bn)};")
    w(f"{j}int kBegin = split * p.KChunk;")
    w(f"{j}int kEnd = kBegin + p.KChunk < p.K ? kBegin + p.KChunk : p.K;")
    for r in range(tm):
        w(j + " ".join(f"float c{r}_{s} = 0f;" for s in range(tn)))

    def load(kk):
        for t in range(la):
            w(f"{j}float pa{t} = LoadA(a, p, aRow, aDepth, row0, {kk}, kEnd, thread + {t * threads}, {log2(bk)}, {log2(bm)});")
        for t in range(lb):
            w(f"{j}float pb{t} = LoadB(b, p, bDepth, bCol, col0, {kk}, kEnd, thread + {t * threads}, {log2(bk)}, {log2(bn)});")

    def load_again(kk):
        for t in range(la):
            w(f"{j}        pa{t} = LoadA(a, p, aRow, aDepth, row0, {kk}, kEnd, thread + {t * threads}, {log2(bk)}, {log2(bm)});")
        for t in range(lb):
            w(f"{j}        pb{t} = LoadB(b, p, bDepth, bCol, col0, {kk}, kEnd, thread + {t * threads}, {log2(bk)}, {log2(bn)});")

    def store(buf_a, buf_b, ind):
        for t in range(la):
            w(f"{ind}sa[{buf_a} + SlotA(p, thread + {t * threads}, {log2(bk)}, {log2(bm)}, {sa})] = pa{t};")
        for t in range(lb):
            w(f"{ind}sb[{buf_b} + SlotB(p, thread + {t * threads}, {log2(bk)}, {log2(bn)}, {sb})] = pb{t};")

    w(f"{j}// The first slice goes straight to buffer 0; later slices are loaded into registers one slice ahead.")
    load("kBegin")
    store("0", "0", j)
    w(f"{j}Group.Barrier();")
    w(f"{j}int bufA = 0, bufB = 0;")
    w(f"{j}for (int kk = kBegin; kk < kEnd; kk += {bk})")
    w(f"{j}{{")
    k = j + "    "
    w(f"{k}bool more = kk + {bk} < kEnd;")
    w(f"{k}if (more)")
    w(f"{k}{{")
    load_again(f"kk + {bk}")
    w(f"{k}}}")
    w(f"{k}int oa = bufA + ty, ob = bufB + tx;")
    for q in range(bk):
        w(k + " ".join(f"float a{r} = sa[oa + {q * sa + r * ty}];" if q == 0 else f"a{r} = sa[oa + {q * sa + r * ty}];"
                       for r in range(tm)))
        w(k + " ".join(f"float b{s} = sb[ob + {q * sb + s * tx}];" if q == 0 else f"b{s} = sb[ob + {q * sb + s * tx}];"
                       for s in range(tn)))
        for r in range(tm):
            w(k + " ".join(f"c{r}_{s} += a{r} * b{s};" for s in range(tn)))
    w(f"{k}bufA = {half_a} - bufA;")
    w(f"{k}bufB = {half_b} - bufB;")
    w(f"{k}if (more)")
    w(f"{k}{{")
    store("bufA", "bufB", k + "    ")
    w(f"{k}}}")
    w(f"{k}// One barrier per slice: the next slice was written to the other buffer, whose last readers finished")
    w(f"{k}// before the previous barrier.")
    w(f"{k}Group.Barrier();")
    w(f"{j}}}")
    for r in range(tm):
        w(f"{j}int r{r} = row0 + ty + {r * ty};")
    for s in range(tn):
        w(f"{j}int s{s} = col0 + tx + {s * tx};")
    for r in range(tm):
        w(j + " ".join(f"Emit(c, bias, rowNorms, work, p, split, r{r}, s{s}, c{r}_{s});" for s in range(tn)))
    w(f"{i}}}")
    w("    }")
    w("")


def main():
    out = []
    w = out.append
    w("// <auto-generated> by gen_gpu_gemm.py: do not edit; change the script and run it again. </auto-generated>")
    w("using ILGPU;")
    w("")
    w("namespace GpuNet.Kernels;")
    w("")
    w("public static partial class Gemm")
    w("{")
    w("    /// <summary>The tile variants of kernel 3, as generated.</summary>")
    w("    internal static readonly GemmTileShape[] GeneratedTiles =")
    w("    [")
    for name, bm, bn, bk, tm, tn in VARIANTS:
        w(f"        new(GemmTile.{name}, {bm}, {bn}, {bk}, {tm}, {tn}),")
    w("    ];")
    w("")
    for v in VARIANTS:
        variant(w, *v)
    w("    private static void LaunchGenerated(Device device, GemmTile tile, KernelConfig config, ArrayView<float> a,")
    w("        ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> rowNorms, ArrayView<float> work,")
    w("        GemmArgs p)")
    w("    {")
    w("        var kernel = tile switch")
    w("        {")
    for name, *_ in VARIANTS:
        w(f"            GemmTile.{name} => device.Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>({name}Kernel),")
    w("            _ => throw new ArgumentOutOfRangeException(nameof(tile), tile, \"not a generated tile\"),")
    w("        };")
    w("        kernel(config, a, b, c, bias, rowNorms, work, p);")
    w("    }")
    w("}")
    w("")
    w("/// <summary>The generated tile variants of the GPU GEMM (kernel 3).</summary>")
    w("internal enum GemmTile")
    w("{")
    for name, *_ in VARIANTS:
        w(f"    {name},")
    w("}")
    with open("Gemm.Ilgpu.Tiles.g.cs", "w", newline="\n") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
