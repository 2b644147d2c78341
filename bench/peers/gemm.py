#!/usr/bin/env python3
"""GEMM GFLOP/s of NumPy (OpenBLAS) and PyTorch (CPU, or CUDA with --device cuda) on the shapes `gpunet bench gemm` takes.

Usage: /usr/bin/python3 bench/peers/gemm.py [--sizes 1024,2048,mlp64] [--seconds 1] [--device cpu|cuda]
Prints one line per shape and library, in the same format as `gpunet bench gemm`:
    gemm SHAPE LIBRARY  MS ms  GFLOPS GFLOP/s
LIBRARY is numpy, torch (CPU) or torch-cuda. Shapes: N (N x N x N), MxKxN, MxKxN:XY (X, Y in {N, T}: transposes of A
and B), mlpB (the 784-256-128-10 MLP's training products at batch B). Use Debian's python3-numpy / python3-torch with
libopenblas0-pthread installed.

With --device cuda only PyTorch runs (NumPy has no GPU), on cuda:0, with TF32 off
(torch.backends.cuda.matmul.allow_tf32 = False): torch.mm is then cuBLAS's FP32 SGEMM, the reference for GpuNet's
float32 kernels. Each timed batch ends with torch.cuda.synchronize().
"""
import argparse
import statistics
import sys
import time

import numpy as np


def mlp_shapes(batch):
    widths = [784, 256, 128, 10]
    for l in range(3):
        fan_in, fan_out = widths[l], widths[l + 1]
        yield (batch, fan_in, fan_out, "NT")   # Z = X W^T
        yield (fan_out, batch, fan_in, "TN")   # dW = dZ^T X
        if l > 0:
            yield (batch, fan_out, fan_in, "NN")  # dX = dZ W


def parse(text):
    shapes = []
    for raw in text.split(","):
        entry = raw.strip().upper()
        if not entry:
            continue
        if entry.startswith("MLP"):
            shapes.extend(mlp_shapes(int(entry[3:])))
            continue
        dims, _, trans = entry.partition(":")
        trans = trans or "NN"
        nums = [int(x) for x in dims.split("X")]
        m, k, n = (nums[0],) * 3 if len(nums) == 1 else nums
        shapes.append((m, k, n, trans))
    return shapes


def name(m, k, n, trans):
    return f"{m}x{k}x{n}" + ("" if trans == "NN" else f":{trans}")


def operands(m, k, n, trans, rng):
    # Stored as GpuNet stores them: A is m x k (or k x m when transposed), B is k x n (or n x k).
    a = rng.random((k, m) if trans[0] == "T" else (m, k), dtype=np.float32) - 0.5
    b = rng.random((n, k) if trans[1] == "T" else (k, n), dtype=np.float32) - 0.5
    return a, b


def measure(fn, seconds, sync=lambda: None):
    """Median seconds per call over timed batches; `sync` waits for queued GPU work before a clock is read."""
    fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    single = max(time.perf_counter() - t0, 1e-7)
    per_batch = int(min(max(seconds / 10 / single, 1), 1_000_000))
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < seconds and len(times) < 50):
        t0 = time.perf_counter()
        for _ in range(per_batch):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / per_batch)
    return statistics.median(times)


def cuda_torch():
    """PyTorch on cuda:0 with TF32 off, or an exit with the reason CUDA cannot be used."""
    try:
        import torch
    except ImportError as e:
        sys.exit(f"--device cuda needs PyTorch with CUDA: {e}")
    if not torch.cuda.is_available():
        sys.exit(f"--device cuda: torch.cuda.is_available() is False (torch {torch.__version__}, built for CUDA "
                 f"{torch.version.cuda or 'none'}): no GPU, no driver, or a CPU-only PyTorch")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    return torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="256,512,1024,2048,1023,mlp64,mlp256")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--libs", default=None, help="numpy,torch (default); with --device cuda only torch")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = ap.parse_args()
    if args.device == "cuda":
        if args.libs not in (None, "torch"):
            ap.error("--device cuda runs PyTorch only (--libs torch)")
        gpu_main(args)
        return
    libs = (args.libs or "numpy,torch").split(",")
    rng = np.random.default_rng(1)

    info = ""
    try:
        import threadpoolctl
        blas = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        info = "; ".join(f"{p['internal_api']} {p.get('version')} {p.get('architecture')} x{p['num_threads']}" for p in blas)
    except Exception:  # threadpoolctl is optional
        pass
    torch = None
    if "torch" in libs:
        import torch as _torch
        torch = _torch
        info += ("; " if info else "") + f"torch {torch.__version__} x{torch.get_num_threads()}"
    print(f"# peers: numpy {np.__version__} ({info})")

    for (m, k, n, trans) in parse(args.sizes):
        a, b = operands(m, k, n, trans, rng)
        flop = 2.0 * m * n * k
        if "numpy" in libs:
            opa = a.T if trans[0] == "T" else a
            opb = b.T if trans[1] == "T" else b
            out = np.empty((m, n), dtype=np.float32)
            t = measure(lambda: np.matmul(opa, opb, out=out), args.seconds)
            print(f"gemm {name(m, k, n, trans):<18} {'numpy':<10} {t * 1e3:10.4f} ms {flop / t / 1e9:9.2f} GFLOP/s", flush=True)
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            opa = ta.t() if trans[0] == "T" else ta
            opb = tb.t() if trans[1] == "T" else tb
            out = torch.empty((m, n), dtype=torch.float32)
            with torch.no_grad():
                t = measure(lambda: torch.mm(opa, opb, out=out), args.seconds)
            print(f"gemm {name(m, k, n, trans):<18} {'torch':<10} {t * 1e3:10.4f} ms {flop / t / 1e9:9.2f} GFLOP/s", flush=True)


def gpu_main(args):
    torch = cuda_torch()
    device = torch.device("cuda:0")
    props = torch.cuda.get_device_properties(device)
    print(f"# peers: torch {torch.__version__}, CUDA {torch.version.cuda}, {props.name} ({props.total_memory / 2**30:.0f} GiB), "
          f"TF32 {'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}")
    rng = np.random.default_rng(1)
    for (m, k, n, trans) in parse(args.sizes):
        a, b = operands(m, k, n, trans, rng)
        ta, tb = torch.from_numpy(a).to(device), torch.from_numpy(b).to(device)
        opa = ta.t() if trans[0] == "T" else ta
        opb = tb.t() if trans[1] == "T" else tb
        out = torch.empty((m, n), dtype=torch.float32, device=device)
        with torch.no_grad():
            t = measure(lambda: torch.mm(opa, opb, out=out), args.seconds, torch.cuda.synchronize)
        flop = 2.0 * m * n * k
        print(f"gemm {name(m, k, n, trans):<18} {'torch-cuda':<10} {t * 1e3:10.4f} ms {flop / t / 1e9:9.2f} GFLOP/s", flush=True)
        del ta, tb, opa, opb, out


if __name__ == "__main__":
    main()
