"""Any image folder: root/<label>/*.{jpg,jpeg,png,webp}, label folders named like breeds.py labels.

Folder names match leniently ("british shorthair", "British-Shorthair", "maine_coon", "other" ...).
Splits: "test" is a fixed seeded 20% of each class (independent of ``seed``, so it never
moves), "trainval" the rest, "train"/"val" a seeded ``val_fraction`` of trainval.
"""

from __future__ import annotations

from pathlib import Path

from ..breeds import LABELS, OTHER_ID, to_id
from .records import Record, carve_split

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
TEST_FRACTION = 0.2
TEST_SEED = 1234


def _label_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def is_image_folder(root: str | Path) -> bool:
    root = Path(root)
    return any(f.suffix.lower() in IMAGE_EXTENSIONS for d in _label_dirs(root) for f in d.iterdir() if f.is_file())


def folder_records(
    root: str | Path, split: str = "train", cats_only: bool = False, val_fraction: float = 0.1, seed: int = 0
) -> list[Record]:
    root = Path(root)
    dirs = [d for d in _label_dirs(root) if any(f.suffix.lower() in IMAGE_EXTENSIONS for f in d.iterdir())]
    unknown, records = [], []
    for d in dirs:
        try:
            label = to_id(d.name)
        except ValueError:
            unknown.append(d.name)
            continue
        if cats_only and label == OTHER_ID:
            continue
        files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        records.extend(Record(f, label, d.name) for f in files)
    if unknown:
        raise ValueError(
            f"Image folder {root}: folder name(s) {', '.join(repr(u) for u in unknown)} are not breed labels. "
            f"Name each folder after one of: {', '.join(LABELS)} (case, spaces, '-' and '_' do not matter)"
        )
    if split == "all":
        return records
    trainval, test = carve_split(records, TEST_FRACTION, TEST_SEED)
    if split == "test":
        return test
    if split == "trainval":
        return trainval
    train, val = carve_split(trainval, val_fraction, seed)
    return train if split == "train" else val
