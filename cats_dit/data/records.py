"""Record (one labelled image file) and seeded stratified splits (the layouts build on these)."""

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
