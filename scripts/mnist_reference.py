#!/usr/bin/env python3
"""Reference throughput for `neqlab mnist`: the same MLP and training loop in NumPy.

Same network (784 -> 32 -> 10, tanh, float64), same loss scaling (negative log posterior
L = sum_i CE_i + (lambda/2)|w|^2, minibatch gradient (N/B) sum_batch grad CE_i + lambda w),
same SGD with replacement (B distinct indices per step), same learning rate eta, same
bundled data (assets/mnist). Reports training examples per second and test accuracy after
each epoch, so the numbers compare directly with `neqlab mnist` (whose training phase
prints examples/s per epoch).

NumPy's matrix products run on its BLAS; set OMP_NUM_THREADS=1 (or OPENBLAS_NUM_THREADS=1)
for a single-thread comparison, as neqlab's training thread is single-threaded.

PyTorch was not used: `pip install torch` from PyPI pulls the CUDA build (several GB of
nvidia-* wheels), and only PyPI is reachable here.

Usage: python3 scripts/mnist_reference.py [--epochs 10] [--eta 2.5e-5] [--lam 50] [--batch 50]
"""

import argparse
import gzip
import struct
import time
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "mnist"


def read_idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    zero, dtype, rank = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return np.frombuffer(data[4 + 4 * rank :], dtype=np.uint8).reshape(dims)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--eta", type=float, default=2.5e-5)
    parser.add_argument("--lam", type=float, default=50.0)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    x_train = read_idx(ASSETS / "train-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
    y_train = read_idx(ASSETS / "train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = read_idx(ASSETS / "t10k-images-idx3-ubyte.gz").reshape(-1, 784) / 255.0
    y_test = read_idx(ASSETS / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    n, b, h, eta, lam = len(y_train), args.batch, args.hidden, args.eta, args.lam
    rng = np.random.default_rng(args.seed)
    l1, l2 = np.sqrt(6 / (784 + h)), np.sqrt(6 / (h + 10))
    w1 = rng.uniform(-l1, l1, (h, 784))
    b1 = np.zeros(h)
    w2 = rng.uniform(-l2, l2, (10, h))
    b2 = np.zeros(10)
    rows = np.arange(b)
    steps = n // b
    total_examples, total_seconds = 0, 0.0
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        for _ in range(steps):
            # B distinct indices (sampling without repetition inside the batch), as neqlab.
            idx = rng.choice(n, b, replace=False)
            x, y = x_train[idx], y_train[idx]
            a1 = np.tanh(x @ w1.T + b1)
            z = a1 @ w2.T + b2
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[rows, y] -= 1.0
            scale = n / b
            g_w2 = scale * (p.T @ a1) + lam * w2
            g_b2 = scale * p.sum(axis=0) + lam * b2
            d1 = (p @ w2) * (1.0 - a1 * a1)
            g_w1 = scale * (d1.T @ x) + lam * w1
            g_b1 = scale * d1.sum(axis=0) + lam * b1
            w1 -= eta * g_w1
            b1 -= eta * g_b1
            w2 -= eta * g_w2
            b2 -= eta * g_b2
        seconds = time.perf_counter() - started
        total_examples += steps * b
        total_seconds += seconds
        logits = np.tanh(x_test @ w1.T + b1) @ w2.T + b2
        accuracy = float((logits.argmax(axis=1) == y_test).mean())
        print(
            f"epoch {epoch:3d}  test {100 * accuracy:.2f}%  "
            f"{steps * b / seconds:.0f} examples/s"
        )
    print(f"numpy {np.__version__}: {total_examples / total_seconds:.0f} examples/s over {args.epochs} epochs")


if __name__ == "__main__":
    main()
