"""Draw the Classify tab's example pictures: a few cartoon cats (and a dog) from unseen seeds.

Run: ``python examples/make_examples.py`` (writes small PNGs next to this file).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cats_dit.breeds import LABEL2ID, OTHER_ID
from cats_dit.data.cartoon import draw_class

# Seeds far from make_cartoon_dataset's [seed, label, k] streams, so these are not training images.
EXAMPLES = ("Abyssinian", "Bengal", "Maine_Coon", "Siamese", "Sphynx", "other")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="output folder")
    p.add_argument("--size", type=int, default=128, help="image side in pixels")
    args = p.parse_args()
    for name in EXAMPLES:
        label = LABEL2ID[name]
        rng = np.random.default_rng([987_654, label])
        image = draw_class(label, rng, (args.size, args.size), dog_kind="beagle" if label == OTHER_ID else None)
        path = args.out / f"{'dog' if label == OTHER_ID else name}.png"
        image.save(path, optimize=True)
        print(path, path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
