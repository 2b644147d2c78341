#!/usr/bin/env python3
"""Seconds per training epoch of a 784-256-128-10 ReLU MLP with plain SGD in PyTorch (CPU), on random data of
Fashion-MNIST's shape: the same work as `gpunet bench epoch`.

Usage: /usr/bin/python3 bench/peers/mlp_epoch.py [--batch 64] [--epochs 3] [--samples 60000] [--threads N]
Prints `epoch mlp batch=B torch median S s/epoch` as its last line.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: all cores)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    else:
        import os
        torch.set_num_threads(os.cpu_count() or 1)

    g = torch.Generator().manual_seed(1)
    x = torch.rand(args.samples, 784, generator=g)
    y = torch.randint(0, 10, (args.samples,), generator=g)
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    steps = (args.samples + args.batch - 1) // args.batch
    losses = torch.empty(steps)

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
        return time.perf_counter() - t0

    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads: MLP 784-256-128-10, SGD, "
          f"{args.samples} samples, batch {args.batch}")
    print(f"warm-up epoch {epoch():.3f} s")
    times = []
    for e in range(args.epochs):
        times.append(epoch())
        print(f"epoch {e + 1}: {times[-1]:.3f} s", flush=True)
    print(f"epoch mlp batch={args.batch} torch median {statistics.median(times):.4f} s/epoch")


if __name__ == "__main__":
    main()
