#!/usr/bin/env python3
"""make_digits_cifar.py: a small real image dataset in CIFAR-10's binary format, with no download.

The GPU machine has no internet and no CIFAR-10/SVHN files, but scikit-learn ships the UCI handwritten
digits (1797 greyscale 8x8 pictures, values 0..16, labels 0..9) inside its package. This writes them as
CIFAR-10 binary records (1 label byte + 1024 R + 1024 G + 1024 B bytes, row-major 32x32) that
`fce-gpu --dataset cifar10 --data-dir FILE` reads: each picture is scaled to 0..255 and upsampled 4x
(bilinear, so the flow sees smooth strokes rather than 4x4 blocks), grey copied to R, G and B.

  python3 scripts/make_digits_cifar.py OUTDIR     # writes OUTDIR/digits_train.bin, digits_test.bin

The split is fixed: a seeded permutation, the first 1500 for training and the other 297 for testing.
It is a real dataset for a smoke-scale run (issue 4 asks for "any dataset available there"); it is not
a substitute for CIFAR-10 or SVHN numbers."""
import os
import sys

import numpy as np
from sklearn.datasets import load_digits


def upsample4(img8):
    """8x8 float -> 32x32 by bilinear interpolation on pixel centres (edge-clamped)."""
    src = (np.arange(32) + 0.5) / 4.0 - 0.5
    i0 = np.clip(np.floor(src).astype(int), 0, 7)
    i1 = np.clip(i0 + 1, 0, 7)
    w = np.clip(src - i0, 0.0, 1.0)
    rows = img8[i0, :] * (1 - w)[:, None] + img8[i1, :] * w[:, None]
    return rows[:, i0] * (1 - w)[None, :] + rows[:, i1] * w[None, :]


def records(images, labels):
    out = bytearray()
    for img, lab in zip(images, labels):
        g = np.clip(np.rint(upsample4(img.astype(np.float64)) * (255.0 / 16.0)), 0, 255).astype(np.uint8)
        out.append(int(lab))
        plane = g.tobytes()
        out += plane + plane + plane
    return bytes(out)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_digits_cifar.py OUTDIR")
    d = load_digits()
    perm = np.random.RandomState(0).permutation(len(d.target))
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, idx in (("digits_train.bin", perm[:1500]), ("digits_test.bin", perm[1500:])):
        path = os.path.join(sys.argv[1], name)
        with open(path + ".tmp", "wb") as f:
            f.write(records(d.images[idx], d.target[idx]))
        os.replace(path + ".tmp", path)
        print(f"{path}: {len(idx)} pictures 32x32x3")


if __name__ == "__main__":
    main()
