"""Record (one labelled image file), seeded stratified splits, and the layout auto-detection."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "val", "trainval", "test", "all")


@dataclass(frozen=True)
class Record:
    """One image file and its label id (0..12). ``source`` is the original class name
    (Oxford class such as "beagle", or the folder name)."""

    path: Path
    label: int
    source: str = ""


def carve_split(
    records: list[Record], fraction: float, seed: int, key: Callable[[Record], object] = lambda r: r.label
) -> tuple[list[Record], list[Record]]:
    """Split into (rest, carved) with ``fraction`` of each group (by ``key``) carved out, seeded.

    Every group with at least 2 items gives at least one to each side when ``fraction`` > 0, so a
    small validation set still sees every class. Order inside each side follows the input."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"split fraction must be in [0, 1), got {fraction}")
    groups: dict[object, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        groups[key(r)].append(i)
    carved: set[int] = set()
    rng = random.Random(seed)
    for k in sorted(groups, key=str):
        idx = sorted(groups[k], key=lambda i: str(records[i].path))
        rng.shuffle(idx)
        n = round(len(idx) * fraction)
        if fraction > 0 and len(idx) >= 2:
            n = min(max(n, 1), len(idx) - 1)
        carved.update(idx[:n])
    rest = [r for i, r in enumerate(records) if i not in carved]
    out = [r for i, r in enumerate(records) if i in carved]
    return rest, out


def load_records(
    root: str | Path,
    split: str = "train",
    cats_only: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> list[Record]:
    """Records of a split from an Oxford-IIIT Pet root (annotations/ + images/) or an image folder
    (root/<label>/*.jpg). Splits: "train", "val" (seeded ``val_fraction`` of trainval), "trainval",
    "test" (Oxford: the official file; image folder: a fixed seeded 20% per class), "all"."""
    from .folder import folder_records, is_image_folder
    from .oxford import is_oxford_root, oxford_records

    root = Path(root)
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if not root.is_dir():
        raise FileNotFoundError(f"Data root {root} does not exist or is not a folder")
    if is_oxford_root(root):
        return oxford_records(root, split, cats_only=cats_only, val_fraction=val_fraction, seed=seed)
    if is_image_folder(root):
        return folder_records(root, split, cats_only=cats_only, val_fraction=val_fraction, seed=seed)
    raise ValueError(
        f"{root} is neither an Oxford-IIIT Pet root (annotations/trainval.txt + images/) nor an image folder "
        "(root/<breed>/*.jpg). Make one with: python -m cats_dit.data cartoon --root DIR, or download the real "
        "dataset with: python -m cats_dit.data download --root DIR"
    )
