"""ImageDataset: verified records -> (tensor, label), with an optional pre-resized cache."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ..breeds import LABELS
from .images import check_image, open_rgb
from .records import Record

logger = logging.getLogger("cats_dit.data")


def _shrink(image: Image.Image, short_side: int) -> Image.Image:
    w, h = image.size
    if min(w, h) <= short_side:
        return image
    scale = short_side / min(w, h)
    size = (max(short_side, round(w * scale)), max(short_side, round(h * scale)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


class ImageDataset(Dataset):
    """A torch Dataset of ``(transform(rgb_pil_image), label)``.

    All files are checked at construction: unreadable, zero-byte or missing files are dropped,
    counted and reported in one warning (``.skipped`` lists them). Should a file still fail to
    decode later, that item is replaced by another image of the same class and reported once,
    so an epoch never crashes midway. With ``cache_dir`` and ``cache_size`` each image is decoded
    once, shrunk so its shorter side is ``cache_size`` and stored as .npy keyed by path, mtime,
    size and cache_size; later reads load the small file (writes are temp + rename, so several
    processes can share a cache).
    """

    def __init__(
        self,
        records: Iterable[Record],
        transform: Callable | None = None,
        cache_dir: str | Path | None = None,
        cache_size: int | None = None,
        require_all_classes: Iterable[int] | None = None,
        verify: bool = True,
        progress: bool | None = None,
    ):
        records = list(records)
        self.transform = transform
        if (cache_dir is None) != (cache_size is None):
            raise ValueError("cache_dir and cache_size go together: give both or neither")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.cache_size = int(cache_size) if cache_size is not None else None
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.skipped: list[tuple[Path, str]] = []
        if verify:
            show = progress if progress is not None else len(records) > 2000
            kept = []
            for r in tqdm(records, desc="checking images", unit="img", disable=not show):
                problem = check_image(r.path)
                if problem is None:
                    kept.append(r)
                else:
                    self.skipped.append((Path(r.path), problem))
            records = kept
        self.records = records
        if self.skipped:
            shown = "; ".join(f"{p.name} ({why})" for p, why in self.skipped[:20])
            more = f"; ... and {len(self.skipped) - 20} more" if len(self.skipped) > 20 else ""
            logger.warning("Skipped %d unusable image file(s): %s%s", len(self.skipped), shown, more)
        self.cache_hits = 0
        self.cache_misses = 0
        self._failed: set[int] = set()
        if require_all_classes is not None:
            self.check_classes(require_all_classes)

    # -- class bookkeeping -------------------------------------------------------------------
    @property
    def labels(self) -> list[int]:
        return [r.label for r in self.records]

    def check_classes(self, class_ids: Iterable[int]) -> None:
        """Raise ValueError naming every class in ``class_ids`` without a usable image."""
        counts = Counter(self.labels)
        missing = [int(c) for c in class_ids if counts[int(c)] == 0]
        if missing:
            names = ", ".join(f"{LABELS[c]} (id {c})" for c in missing)
            raise ValueError(
                f"No usable image for class(es): {names}. {len(self.records)} usable images, "
                f"{len(self.skipped)} skipped. Add images of these classes or train without them (e.g. --cats-only)."
            )

    # -- loading ------------------------------------------------------------------------------
    def cache_path(self, path: Path) -> Path:
        st = os.stat(path)
        key = f"{Path(path).resolve()}|{st.st_mtime_ns}|{st.st_size}|{self.cache_size}"
        digest = hashlib.sha1(key.encode()).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest}.npy"

    def load_image(self, index: int) -> Image.Image:
        """The RGB image of record ``index`` (from the cache when enabled). Raises if unreadable."""
        path = Path(self.records[index].path)
        if self.cache_dir is None:
            return open_rgb(path)
        cached = self.cache_path(path)
        if cached.exists():
            try:
                arr = np.load(cached, allow_pickle=False)
                self.cache_hits += 1
                return Image.fromarray(arr, "RGB")
            except Exception:  # damaged cache entry: rebuild it below
                pass
        image = _shrink(open_rgb(path), self.cache_size)
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.stem}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(image, dtype=np.uint8), allow_pickle=False)
        os.replace(tmp, cached)
        self.cache_misses += 1
        return image

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int):
        record = self.records[index]
        try:
            image = self.load_image(index)
        except Exception as exc:
            image, record = self._substitute(index, exc)
        x = self.transform(image) if self.transform is not None else image
        return x, record.label

    def _substitute(self, index: int, exc: Exception):
        """A file that passed the check failed to decode: use another image of its class instead."""
        record = self.records[index]
        if index not in self._failed:
            self._failed.add(index)
            logger.warning(
                "Could not decode %s (%s); using another %s image in its place", record.path, exc, LABELS[record.label]
            )
        same = [i for i, r in enumerate(self.records) if r.label == record.label and i not in self._failed]
        same += [i for i in range(len(self.records)) if i not in self._failed]
        for j in same:
            try:
                return self.load_image(j), self.records[j]
            except Exception:
                self._failed.add(j)
        raise RuntimeError("No image in this dataset can be decoded") from exc
