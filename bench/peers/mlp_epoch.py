#!/usr/bin/env python3
"""Seconds per training epoch of a 784-256-128-10 ReLU MLP with plain SGD in PyTorch (CPU, or CUDA with --device cuda),
on random data of Fashion-MNIST's shape: the same work as `gpunet bench epoch`.

Usage: /usr/bin/python3 bench/peers/mlp_epoch.py [--batch 64] [--epochs 3] [--samples 60000] [--threads N] [--device cpu|cuda]
Prints `epoch mlp batch=B torch median S s/epoch` (`torch-cuda` on the GPU) as its last line.

With --device cuda the data, the model and the per-step losses live on cuda:0 (TF32 off, so the products are FP32 as
GpuNet's are); the epoch's one read-back of the last loss waits for the GPU, and the clock stops after
torch.cuda.synchronize().
"""
import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: all cores)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    else:
        import os
        torch.set_num_threads(os.cpu_count() or 1)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit(f"--device cuda: torch.cuda.is_available() is False (torch {torch.__version__}, built for CUDA "
                     f"{torch.version.cuda or 'none'}): no GPU, no driver, or a CPU-only PyTorch")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda:0" if args.device == "cuda" else "cpu")
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    label = "torch-cuda" if args.device == "cuda" else "torch"

    g = torch.Generator().manual_seed(1)
    x = torch.rand(args.samples, 784, generator=g).to(device)
    y = torch.randint(0, 10, (args.samples,), generator=g).to(device)
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    steps = (args.samples + args.batch - 1) // args.batch
    losses = torch.empty(steps, device=device)

    def epoch():
        t0 = time.perf_counter()
        model.train()
        for s in range(steps):
            xb = x[s * args.batch:(s + 1) * args.batch]
            yb = y[s * args.batch:(s + 1) * args.batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses[s] = loss.detach()
        # One read-back per epoch, as GpuNet's trainer does.
        if not torch.isfinite(losses[-1]):
            raise RuntimeError("diverged")
        sync()
        return time.perf_counter() - t0

    where = (f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}" if args.device == "cuda"
             else f"{torch.get_num_threads()} threads")
    print(f"# torch {torch.__version__}, {where}: MLP 784-256-128-10, SGD, "
          f"{args.samples} samples, batch {args.batch}")
    print(f"warm-up epoch {epoch():.3f} s")
    times = []
    for e in range(args.epochs):
        times.append(epoch())
        print(f"epoch {e + 1}: {times[-1]:.3f} s", flush=True)
    print(f"epoch mlp batch={args.batch} {label} median {statistics.median(times):.4f} s/epoch")


if __name__ == "__main__":
    main()
