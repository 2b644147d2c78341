#!/usr/bin/env python3
"""Reads `perf script -F comm,tid,ip,sym` (one stack per sample, leaf first) and prints the share of samples per phase
and per op. The phase is the outermost GpuNet frame that names one; the op is the innermost GpuNet.Kernels frame."""
import re
import sys
from collections import Counter

# (phase, pattern on any frame); the first pattern found from the root down decides.
PHASES = [
    ("evaluation", re.compile(r"Trainer::Evaluate|::Evaluate\(|EvalCommand|Distill\w*::Evaluate")),
    ("k-NN", re.compile(r"GpuNet\.Neighbors|Knn")),
    ("plots and reports", re.compile(r"GpuNet\.Experiments\.(Plots|ImageGrid|WeightMaps)|SkiaSharp|HarfBuzz|::Analyse\(")),
    ("data loading", re.compile(r"FashionMnist|Idx::|CourseData::Load|ImageSet::")),
    ("training steps", re.compile(r"Trainer::Fit|::Step\(|DataLoader|AugmentPipeline")),
]
OPS = [
    ("GEMM", re.compile(r"Gemm|MicroKernel|Transpose(8x8|16x16)")),
    ("k-NN distances and top-k", re.compile(r"Knn|TopK|RowNorms")),
    ("loss (softmax CE, MSE, reductions)", re.compile(r"SoftmaxCrossEntropy|MeanSquaredError|Reduce")),
    ("augmentation and batch gather", re.compile(r"Augment|Gather")),
    ("dropout and its random numbers", re.compile(r"Dropout|Philox")),
    ("activation, bias, optimizer and other elementwise", re.compile(r"Activation|Bias|Optimiz|Proximal|HostSimd|HostRowSimd|Sgd|Adam")),
]


def classify(frames):
    phase = "runtime, JIT and other"
    for name, pattern in PHASES:
        if any(pattern.search(f) for f in frames):
            phase = name
            break
    op = None
    for f in frames:  # leaf first: the innermost kernel frame names the op
        if "GpuNet.Kernels" in f:
            for name, pattern in OPS:
                if pattern.search(f):
                    op = name
                    break
            if op:
                break
    if op is None:
        leaf = frames[0] if frames else ""
        op = "outside the kernels (managed code, runtime, kernel, I/O)" if "GpuNet.Kernels" not in leaf else "other kernels"
    return phase, op


def main():
    phases, ops, total = Counter(), Counter(), 0
    frames = []
    for line in list(sys.stdin) + [""]:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                phase, op = classify(frames)
                phases[phase] += 1
                ops[op] += 1
                total += 1
            frames = []
            continue
        if line.startswith("\t") or line.startswith(" "):
            frames.append(line.strip())
    if total == 0:
        print("no samples (was perf allowed to sample?)")
        return
    print(f"# {total} samples")
    print("phase                                              share")
    for name, n in phases.most_common():
        print(f"{name:50s} {100 * n / total:5.1f}%")
    print()
    print("op (innermost kernel frame)                        share")
    for name, n in ops.most_common():
        print(f"{name:50s} {100 * n / total:5.1f}%")


if __name__ == "__main__":
    main()
