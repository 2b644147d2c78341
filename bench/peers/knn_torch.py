#!/usr/bin/env python3
"""The k-NN test search of `gpunet run knn` in PyTorch: distances of every query to every reference with torch.cdist,
then the k nearest with torch.topk, per metric (L2, L1). The peer of the `knn-search` timings of `gpunet check`.

Usage: /usr/bin/python3 bench/peers/knn_torch.py [--device cpu|cuda] [--queries 10000] [--references 60000] [--k 201]
                                                 [--metrics l2,l1] [--chunk N] [--data DIR]

The data are uniform random pixels in [0, 1] of Fashion-MNIST's size (784), as `gpunet check` uses, so no data set
is needed; with --data DIR the first --queries test images and --references training images of the IDX files there
are used instead (pixels / 255). Queries go through in chunks of --chunk rows (default: as many as keep one distance
block at 2^28 floats, 1 GiB), each chunk's cdist followed by its topk(k, largest=False). The L2 search ranks by the
Euclidean distance (cdist's; GpuNet ranks by its square, the same order). With --device cuda everything runs on cuda:0
with TF32 off (cdist's L2 goes through a matrix product), and the clock stops after torch.cuda.synchronize().

Prints `#` lines, then one line per metric: `knn-search METRIC QxRx784 k=K LIBRARY SECONDS s`.
"""
import argparse
import gzip
import os
import struct
import sys
import time

import torch


def read_idx(path):
    for candidate in (path, path + ".gz"):
        if os.path.exists(candidate):
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(candidate, "rb") as f:
                data = f.read()
            break
    else:
        sys.exit(f"knn_torch.py: {path} not found")
    _, _, dims = struct.unpack(">HBB", data[:4])
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def search(q, r, k, p, chunk):
    """The k nearest references of every query: (distances, indices), each [queries x k]."""
    dists, idx = [], []
    for s in range(0, q.shape[0], chunk):
        d = torch.cdist(q[s:s + chunk], r, p=p)
        v, i = torch.topk(d, k, dim=1, largest=False, sorted=True)
        dists.append(v)
        idx.append(i)
    return torch.cat(dists), torch.cat(idx)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--queries", type=int, default=10000)
    ap.add_argument("--references", type=int, default=60000)
    ap.add_argument("--k", type=int, default=201)
    ap.add_argument("--metrics", default="l2,l1")
    ap.add_argument("--chunk", type=int, default=0, help="queries per cdist block (0: 2^28 floats per block)")
    ap.add_argument("--data", default=None, help="a Fashion-MNIST folder (default: random pixels)")
    args = ap.parse_args()
    if args.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit(f"--device cuda: torch.cuda.is_available() is False (torch {torch.__version__}, built for CUDA "
                     f"{torch.version.cuda or 'none'}): no GPU, no driver, or a CPU-only PyTorch")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda:0" if args.device == "cuda" else "cpu")
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    label = "torch-cuda" if args.device == "cuda" else "torch"
    dim = 784
    if args.data:
        test = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte"))[:args.queries]
        train = read_idx(os.path.join(args.data, "train-images-idx3-ubyte"))[:args.references]
        q = (test.reshape(len(test), -1).float() / 255).to(device)
        r = (train.reshape(len(train), -1).float() / 255).to(device)
        source = f"Fashion-MNIST from {args.data}"
    else:
        g = torch.Generator().manual_seed(5)
        q = torch.rand(args.queries, dim, generator=g).to(device)
        r = torch.rand(args.references, dim, generator=g).to(device)
        source = "random pixels in [0, 1]"
    k = min(args.k, r.shape[0])
    chunk = args.chunk if args.chunk > 0 else max(1, min(q.shape[0], (1 << 28) // max(1, r.shape[0])))
    where = (f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, TF32 off" if args.device == "cuda"
             else f"{torch.get_num_threads()} threads")
    print(f"# torch {torch.__version__}, {where}: {q.shape[0]} queries x {r.shape[0]} references of {dim} ({source}), "
          f"top-{k}, {chunk} queries per block")
    for metric in [m.strip() for m in args.metrics.split(",") if m.strip()]:
        p = {"l2": 2.0, "l1": 1.0}.get(metric)
        if p is None:
            sys.exit(f"knn_torch.py: unknown metric {metric!r} (l2 or l1)")
        with torch.no_grad():
            search(q[:8], r[:min(64, r.shape[0])], min(k, 64, r.shape[0]), p, chunk)  # warm-up: kernels and allocator
            sync()
            t0 = time.perf_counter()
            search(q, r, k, p, chunk)
            sync()
            seconds = time.perf_counter() - t0
        print(f"knn-search {metric} {q.shape[0]}x{r.shape[0]}x{dim} k={k} {label} {seconds:.4f} s", flush=True)


if __name__ == "__main__":
    main()
