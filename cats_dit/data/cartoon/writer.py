"""The cartoon dataset on disk, in the exact Oxford-IIIT Pet layout (images/ + annotations/),
and the awkward files (``ODD_FILES``) the loaders are tested against."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm.auto import tqdm

from ...breeds import CAT_BREEDS, LABELS, OTHER_ID
from ..oxford import LIST_HEADER, OXFORD_CLASSES, oxford_ids
from .draw import draw_class
from .looks import DOG_KINDS

ODD_FILES = {  # kind -> whether ImageDataset should keep it (converted to RGB) or skip it
    "grayscale_jpeg": True,
    "cmyk_jpeg": True,
    "rgba_png_named_jpg": True,
    "zero_bytes": False,
    "truncated_jpeg": False,
}


def _image_size(rng) -> tuple[int, int]:
    short = int(rng.integers(90, 200))
    long = int(min(260, short * rng.uniform(1.0, 1.35)))
    return (long, short) if rng.uniform() < 0.6 else (short, long)


def _write_odd(path: Path, kind: str, image: Image.Image) -> None:
    if kind == "grayscale_jpeg":
        image.convert("L").save(path, "JPEG", quality=90)
    elif kind == "cmyk_jpeg":
        image.convert("CMYK").save(path, "JPEG", quality=90)
    elif kind == "rgba_png_named_jpg":
        rgba = image.convert("RGBA")
        alpha = Image.new("L", image.size, 255)
        ImageDraw.Draw(alpha).rectangle([0, 0, image.size[0] // 5, image.size[1]], fill=0)
        rgba.putalpha(alpha)
        rgba.save(path, "PNG")
    elif kind == "zero_bytes":
        path.write_bytes(b"")
    elif kind == "truncated_jpeg":
        image.save(path, "JPEG", quality=90)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])


def make_cartoon_dataset(
    root: str | Path,
    per_class: int = 100,
    seed: int = 0,
    test_fraction: float = 0.3,
    classes: list[int] | None = None,
    odd_files: bool = False,
    overwrite: bool = True,
    progress: bool | None = None,
) -> Path:
    """Draw ``per_class`` images for each label id in ``classes`` (default all 13) into ``root``
    in the Oxford-IIIT Pet layout and return ``root``.

    ``other`` images are dogs spread over several Oxford dog breeds (named like "beagle_3.jpg").
    ``test_fraction`` of each label goes to test.txt, the rest to trainval.txt. With
    ``odd_files`` a few trainval files of different classes are replaced by the awkward kinds in
    ``ODD_FILES`` (see ``odd_file_names``)."""
    root = Path(root)
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    classes = list(range(len(LABELS))) if classes is None else [int(c) for c in classes]
    images, ann = root / "images", root / "annotations"
    if overwrite:
        for d in (images, ann):
            if d.exists():
                shutil.rmtree(d)
    images.mkdir(parents=True, exist_ok=True)
    ann.mkdir(parents=True, exist_ok=True)

    stems_by_class: dict[str, list[str]] = {}
    jobs = []
    for label in classes:
        for k in range(per_class):
            kind = DOG_KINDS[k % len(DOG_KINDS)] if label == OTHER_ID else None
            oxford_class = kind or CAT_BREEDS[label]
            stems = stems_by_class.setdefault(oxford_class, [])
            stem = f"{oxford_class}_{len(stems) + 1}"
            stems.append(stem)
            jobs.append((label, k, kind, stem))
    show = progress if progress is not None else len(jobs) > 2000
    for label, k, kind, stem in tqdm(jobs, desc="drawing cartoon cats", unit="img", disable=not show):
        rng = np.random.default_rng([seed, label, k])
        img = draw_class(label, rng, _image_size(rng), dog_kind=kind)
        img.save(images / f"{stem}.jpg", "JPEG", quality=int(rng.integers(75, 96)))

    # split per label (not per dog breed) so every label gets its test_fraction even when small
    split_rng = np.random.default_rng([seed, 10_000])
    trainval, test = [], []
    for label in classes:
        stems = [stem for lab, _, _, stem in jobs if lab == label]
        order = split_rng.permutation(len(stems))
        n_test = round(len(stems) * test_fraction)
        if test_fraction > 0 and len(stems) >= 2:
            n_test = min(max(n_test, 1), len(stems) - 1)
        test_set = {stems[i] for i in order[:n_test]}
        for stem in stems:
            (test if stem in test_set else trainval).append(stem)

    def row(stem: str) -> str:
        class_id, species, breed_id = oxford_ids(stem.rpartition("_")[0])
        return f"{stem} {class_id} {species} {breed_id}\n"

    def order(stems):  # Oxford order: by CLASS-ID, then name
        return sorted(stems, key=lambda s: (OXFORD_CLASSES.index(s.rpartition("_")[0]), s))

    trainval, test = order(trainval), order(test)
    everything = order(trainval + test)
    (ann / "list.txt").write_text(LIST_HEADER + "".join(row(s) for s in everything))
    (ann / "trainval.txt").write_text("".join(row(s) for s in trainval))
    (ann / "test.txt").write_text("".join(row(s) for s in test))

    if odd_files:
        for kind, stem in odd_file_names(root).items():
            path = images / f"{stem}.jpg"
            with Image.open(path) as im:
                _write_odd(path, kind, im.convert("RGB"))
    return root


def odd_file_names(root: str | Path) -> dict[str, str]:
    """Which trainval stems ``make_cartoon_dataset(odd_files=True)`` replaces: the first trainval
    image of successive classes, one awkward kind each (stable for a given dataset)."""
    rows = (Path(root) / "annotations" / "trainval.txt").read_text().split()
    stems = rows[::4]
    picked, seen = [], set()
    for stem in stems:
        cls = stem.rpartition("_")[0]
        if cls not in seen:
            seen.add(cls)
            picked.append(stem)
    if len(picked) < len(ODD_FILES):
        raise ValueError("odd_files needs trainval images of at least 5 classes")
    return dict(zip(ODD_FILES, picked))
