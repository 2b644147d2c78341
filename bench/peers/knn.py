#!/usr/bin/env python3
"""scikit-learn's brute-force k-NN on the same Fashion-MNIST files as `gpunet run knn`: the peer for its timings and
its accuracies.

Usage: /usr/bin/python3 bench/peers/knn.py [--data DIR] [--test N] [--metrics l2,l1] [--dtype float32|float64]

Features are the raw pixels / 255, as in `gpunet run knn` (no mean/std normalisation); the references are all 60,000
training images. For each metric, KNeighborsClassifier(algorithm="brute", n_neighbors=201) is fitted and `kneighbors`
runs once on the test images: that call (distances and the selection of the 201 nearest) is what is timed, the same
work as gpunet's test search. The votes of every k (uniform and distance-weighted) are then taken from those lists
with scikit-learn's own code (`_get_weights`, `_mode`, `weighted_mode`, as `predict` does), and checked against
`predict` itself on the first 200 test images at k = 5. `--test N` classifies only the first N test images (scikit-learn's
L1 is slow: about 15 ms per test image on two cores); the time of the full set is then about 10,000 / N times larger.

Prints `#` comment lines, then one line `json {...}` with the timings and accuracies.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import sklearn
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neighbors._base import _get_weights
from sklearn.utils.extmath import weighted_mode

try:
    from sklearn.utils.fixes import _mode
except ImportError:  # newer versions call scipy.stats.mode directly
    from scipy.stats import mode as _scipy_mode

    def _mode(a, axis=0):
        return _scipy_mode(a, axis=axis, keepdims=True)

K_VALUES = [1, 3, 5, 7, 9, 15, 25, 51, 101, 201]
METRICS = {"l2": "euclidean", "l1": "manhattan"}


def read_idx(path):
    for candidate in (path, path + ".gz"):
        if os.path.exists(candidate):
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(candidate, "rb") as f:
                data = f.read()
            break
    else:
        sys.exit(f"knn.py: {path} not found; pass --data or set GPUNET_DATA")
    zero, dtype, dims = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"knn.py: {path} is not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(directory, dtype):
    def images(name):
        x = read_idx(os.path.join(directory, name))
        return (x.reshape(len(x), -1).astype(dtype) / dtype(255)).astype(dtype)

    return (images("train-images-idx3-ubyte"), read_idx(os.path.join(directory, "train-labels-idx1-ubyte")).astype(np.int64),
            images("t10k-images-idx3-ubyte"), read_idx(os.path.join(directory, "t10k-labels-idx1-ubyte")).astype(np.int64))


def vote(neigh_dist, neigh_ind, y_train, classes, k, weights):
    """KNeighborsClassifier.predict's vote on the first k neighbours (single output)."""
    labels = y_train[neigh_ind[:, :k]]
    if weights == "uniform":
        mode, _ = _mode(labels, axis=1)
    else:
        w = _get_weights(neigh_dist[:, :k].copy(), "distance")
        mode, _ = weighted_mode(labels, w, axis=1)
    return classes.take(np.asarray(mode.ravel(), dtype=np.intp))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("GPUNET_DATA", "data/fashion-mnist"))
    ap.add_argument("--test", type=int, default=0, help="classify only the first N test images (0: all)")
    ap.add_argument("--metrics", default="l2,l1")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress lines through a pipe as they come
    dtype = np.float32 if args.dtype == "float32" else np.float64
    x_train, y_train, x_test, y_test = load(args.data, dtype)
    if args.test > 0:
        x_test, y_test = x_test[:args.test], y_test[:args.test]
    k_max = min(K_VALUES[-1], len(x_train))
    ks = [k for k in K_VALUES if k <= k_max]

    try:
        from threadpoolctl import threadpool_info
        pools = ", ".join(f"{p['internal_api']} {p['num_threads']} threads" for p in threadpool_info())
    except ImportError:
        pools = "threadpoolctl not installed"
    print(f"# scikit-learn {sklearn.__version__}, numpy {np.__version__}, {args.dtype}; {pools}")
    print(f"# {len(x_test)} test x {len(x_train)} training images of {x_train.shape[1]} pixels (/255), top-{k_max}")

    out = {"sklearn": sklearn.__version__, "dtype": args.dtype, "test_images": len(x_test), "train_images": len(x_train),
           "k_max": k_max, "timings": {}, "results": []}
    for name in [m.strip() for m in args.metrics.split(",") if m.strip()]:
        clf = KNeighborsClassifier(n_neighbors=k_max, algorithm="brute", metric=METRICS[name]).fit(x_train, y_train)
        t0 = time.perf_counter()
        neigh_dist, neigh_ind = clf.kneighbors(x_test)
        seconds = time.perf_counter() - t0
        out["timings"][name] = {"kneighbors_seconds": round(seconds, 3)}
        print(f"# {name}: kneighbors({len(x_test)} x {len(x_train)}, k={k_max}) {seconds:.2f} s", flush=True)
        for weights in ("uniform", "distance"):
            accuracies = []
            for k in ks:
                predicted = vote(neigh_dist, neigh_ind, y_train, clf.classes_, k, weights)
                accuracy = float(np.mean(predicted == y_test))
                out["results"].append({"metric": name, "weights": weights, "k": k, "test_accuracy": accuracy})
                accuracies.append(f"k={k} {accuracy * 100:.2f}%")
            print(f"# {name} {weights:8s} accuracy " + ", ".join(accuracies), flush=True)
        # The votes above are predict's own code on sliced lists; check them against predict on a few images.
        n = min(200, len(x_test))
        for weights in ("uniform", "distance"):
            check = KNeighborsClassifier(n_neighbors=min(5, k_max), algorithm="brute", metric=METRICS[name], weights=weights)
            expected = check.fit(x_train, y_train).predict(x_test[:n])
            got = vote(neigh_dist[:n], neigh_ind[:n], y_train, clf.classes_, min(5, k_max), weights)
            agree = int(np.sum(expected == got))
            out.setdefault("predict_check", {})[f"{name} {weights}"] = f"{agree}/{n}"
            if agree != n:
                print(f"# warning: {name} {weights}: the sliced-list vote agrees with predict on {agree} of {n} images "
                      "(ties between equal distances can order neighbours differently)")
    print("json " + json.dumps(out))


if __name__ == "__main__":
    main()
