#!/usr/bin/env python3
"""make_photo_patches.py: 16x16 RGB patches of real photographs as a PNG folder dataset, no download.

scikit-learn ships two colour photographs inside its package (sklearn.datasets.load_sample_images:
china.jpg, a pagoda with trees, sky and a lake, and flower.jpg, a dahlia on a dark green background;
427 x 640 pixels each). This cuts them into square patches and writes them as numbered PNGs in the
layout `fce-gpu train|eval --dataset folder --data-dir DIR` reads (every *.png of one folder, all of
one size, sorted by name; the folder loader has no split of its own, so train and test are two
folders):

  OUT/train/000000.png ...   training patches
  OUT/train/labels.txt       "NAME LABEL" per patch: 0 china.jpg, 1 flower.jpg (for `fce-gpu probe`)
  OUT/test/000000.png ...    test patches (and their labels.txt)
  OUT/manifest.json          the settings, the counts and which tiles went to the test split

Split: each photograph is divided into tiles of --tile pixels (64; the tiles at the bottom edge are
shorter). Per photograph, a seeded shuffle of its tiles sends the first --test-fraction (1/2,
rounded up) to the test split and the rest to training. A patch is cut only where it lies wholly
inside one tile, so test patches share no pixel with training patches, and both splits cover the
whole of both pictures (sky, foliage, water, the building, the flower and its background).
Training patches start every --stride pixels (8: neighbours overlap by half, several thousand
patches); test patches every --test-stride pixels (16: side by side, no two test patches share a
pixel, so a test patch's nearest test neighbours are other patches, not shifted copies of itself,
which would make the k-nearest-neighbour radii of `fce-gpu quality` tiny and its data-versus-data
floor flattering). Each split is then shuffled (seeded) before numbering. The defaults give 3,220
training and 1,040 test patches.

  python3 scripts/make_photo_patches.py OUT [--seed 1] [--patch 16] [--stride 8] [--test-stride 16]
                                            [--tile 64] [--test-fraction 0.5] [--force]

An OUT that already holds train/ or test/ pictures is refused (exit 2) unless --force, which first
removes the *.png files in OUT/train and OUT/test. Needs numpy, scikit-learn and pillow
(scripts/make-photo-patches.sh installs the last two with pip when they are missing)."""
import argparse
import json
import math
import os
import sys

import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_images


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", help="output folder (train/ and test/ are made in it)")
    p.add_argument("--seed", type=int, default=1, help="seed of the tile split and the shuffles")
    p.add_argument("--patch", type=int, default=16, help="patch side in pixels")
    p.add_argument("--stride", type=int, default=8, help="pixels between training patch origins in a tile")
    p.add_argument("--test-stride", type=int, default=16, help="pixels between test patch origins in a tile")
    p.add_argument("--tile", type=int, default=64, help="tile side in pixels (the unit of the split)")
    p.add_argument("--test-fraction", type=float, default=0.5, help="share of each photo's tiles for test")
    p.add_argument("--force", action="store_true", help="replace the PNGs of an earlier run in OUT")
    a = p.parse_args(argv)
    if a.patch < 1 or a.stride < 1 or a.test_stride < 1 or a.tile < a.patch:
        p.error("need --patch >= 1, --stride >= 1, --test-stride >= 1 and --tile >= --patch")
    if not 0 < a.test_fraction < 1:
        p.error("--test-fraction must be in (0, 1)")
    return a


def tile_patches(img, ty, tx, stride, a):
    """The patches wholly inside tile (ty, tx) of img, origins every `stride` pixels of the tile."""
    h, w = img.shape[:2]
    y0, x0 = ty * a.tile, tx * a.tile
    y1, x1 = min(y0 + a.tile, h), min(x0 + a.tile, w)
    return [img[y:y + a.patch, x:x + a.patch]
            for y in range(y0, y1 - a.patch + 1, stride)
            for x in range(x0, x1 - a.patch + 1, stride)]


def split_photo(img, name, rng, a):
    """(train patches, test patches, test tiles) of one photograph."""
    h, w = img.shape[:2]
    tiles = [(ty, tx) for ty in range(math.ceil(h / a.tile)) for tx in range(math.ceil(w / a.tile))]
    order = rng.permutation(len(tiles))
    n_test = math.ceil(a.test_fraction * len(tiles))
    test_tiles = {tiles[i] for i in order[:n_test]}
    train, test = [], []
    for t in tiles:
        if t in test_tiles:
            test.extend(tile_patches(img, t[0], t[1], a.test_stride, a))
        else:
            train.extend(tile_patches(img, t[0], t[1], a.stride, a))
    return train, test, sorted([name, ty, tx] for ty, tx in test_tiles)


def prepare_folder(folder, force):
    os.makedirs(folder, exist_ok=True)
    old = [f for f in os.listdir(folder) if f.lower().endswith(".png")]
    if old and not force:
        print(f"make_photo_patches: {folder} already holds {len(old)} PNG(s); choose another OUT "
              "or add --force to replace them", file=sys.stderr)
        sys.exit(2)
    for f in old:
        os.remove(os.path.join(folder, f))


def write_split(folder, patches, labels, rng):
    """The patches as NNNNNN.png in a seeded random order, and labels.txt naming each one's photo."""
    lines = []
    for i, k in enumerate(rng.permutation(len(patches))):
        name = f"{i:06d}.png"
        Image.fromarray(np.ascontiguousarray(patches[k])).save(os.path.join(folder, name))
        lines.append(f"{name} {labels[k]}\n")
    with open(os.path.join(folder, "labels.txt"), "w") as f:
        f.writelines(lines)


def main(argv):
    a = parse_args(argv)
    for split in ("train", "test"):  # refuse (or clear, --force) before any work
        prepare_folder(os.path.join(a.out, split), a.force)
    photos = load_sample_images()
    names = [os.path.basename(f) for f in photos.filenames]
    rng = np.random.default_rng(a.seed)
    train, test, test_tiles, train_labels, test_labels = [], [], [], [], []
    for label, (img, name) in enumerate(zip(photos.images, names)):
        tr, te, tt = split_photo(np.asarray(img, dtype=np.uint8), name, rng, a)
        train += tr
        test += te
        test_tiles += tt
        train_labels += [label] * len(tr)
        test_labels += [label] * len(te)
        print(f"{name}: {img.shape[1]}x{img.shape[0]} -> {len(tr)} train, {len(te)} test patches")
    write_split(os.path.join(a.out, "train"), train, train_labels, rng)
    write_split(os.path.join(a.out, "test"), test, test_labels, rng)
    manifest = {"source": "sklearn.datasets.load_sample_images", "photos": names,
                "labels": {name: label for label, name in enumerate(names)},
                "patch": a.patch, "stride": a.stride, "test_stride": a.test_stride, "tile": a.tile,
                "test_fraction": a.test_fraction, "seed": a.seed,
                "n_train": len(train), "n_test": len(test), "test_tiles": test_tiles}
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(train)} training patches to {a.out}/train and {len(test)} test patches to "
          f"{a.out}/test ({a.patch}x{a.patch} RGB PNGs)\n"
          f"train: fce-gpu train --dataset folder --data-dir {a.out}/train ...\n"
          f"eval:  fce-gpu eval --dataset folder --data-dir {a.out}/test --checkpoint RUN/checkpoint.fce")


if __name__ == "__main__":
    main(sys.argv[1:])
