"""Which layout a data root has (Oxford-IIIT Pet or an image folder), and its records of a split."""

from __future__ import annotations

from pathlib import Path

from .folder import folder_records, is_image_folder
from .oxford import is_oxford_root, oxford_records
from .records import SPLITS, Record


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
