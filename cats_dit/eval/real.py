"""Real image sets at the generator's resolution, so real and generated images are compared alike."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm


def load_split(root: str | Path, split: str, cats_only: bool = False, seed: int = 0) -> list:
    """Records of one split of an Oxford-IIIT Pet tree, cartoon-cats tree or image folder."""
    from ..data import load_records

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Real image folder {root} does not exist")
    return load_records(root, split=split, cats_only=cats_only, seed=seed)


def subsample_per_class(records: list, max_per_class: int | None, seed: int = 0) -> list:
    """At most ``max_per_class`` records of each label (seeded choice, stable order)."""
    if not max_per_class:
        return list(records)
    by_label = defaultdict(list)
    for rec in records:
        by_label[int(rec.label)].append(rec)
    rng = random.Random(seed)
    out = []
    for label in sorted(by_label):
        recs = sorted(by_label[label], key=lambda r: str(r.path))
        out.extend(recs if len(recs) <= max_per_class else rng.sample(recs, max_per_class))
    return out


def _transform(size: int):
    """The generator's training transform without flips, mapped back to [0, 1]."""
    from ..data import generator_transform

    tf = generator_transform(size, flip=False)
    return lambda img: (tf(img).float() + 1.0) / 2.0


def load_images(records: list, size: int, desc: str = "reading real images") -> tuple[torch.Tensor, np.ndarray]:
    """Records -> (images [N, 3, size, size] in [0, 1], labels [N]); unreadable files are skipped."""
    from ..data import ImageDataset

    if not records:
        raise ValueError("No real images to load (the split is empty)")
    dataset = ImageDataset(records, _transform(size))
    images, labels = [], []
    for i in tqdm(range(len(dataset)), desc=desc, unit="img"):
        x, y = dataset[i]
        images.append(x)
        labels.append(int(y))
    if not images:
        raise ValueError("None of the real images could be read")
    return torch.stack(images).clamp(0, 1), np.asarray(labels, dtype=np.int64)
