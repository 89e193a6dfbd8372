"""Oxford-IIIT Pet in its official layout.

    root/images/<Class_Name>_<n>.jpg      cats capitalised ("Bengal_12.jpg"), dogs lower-case ("beagle_3.jpg")
    root/annotations/list.txt             "#" header lines, then "Image CLASS-ID SPECIES BREED-ID"
    root/annotations/trainval.txt         same row format, the official training split
    root/annotations/test.txt             same row format, the official test split

CLASS-ID is 1..37 over the 37 class names sorted alphabetically ignoring case; SPECIES is
1 = cat, 2 = dog; BREED-ID is 1-based within the species (cats 1..12, dogs 1..25).
"""

from __future__ import annotations

from pathlib import Path

from ..breeds import CAT_BREEDS, DOG_BREEDS, OTHER_ID, oxford_to_id
from .records import Record, carve_split

# The 37 classes in Oxford's CLASS-ID order (alphabetical, ignoring case).
OXFORD_CLASSES: tuple[str, ...] = tuple(sorted(CAT_BREEDS + DOG_BREEDS, key=str.lower))

# Verbatim from the real list.txt (its BREED ID line really swaps the cat and dog ranges).
LIST_HEADER = (
    "#Image CLASS-ID SPECIES BREED ID\n"
    "#ID: 1:37 Class ids\n"
    "#SPECIES: 1:Cat 2:Dog\n"
    "#BREED ID: 1-25:Cat 1:12:Dog\n"
    "#All images with 1st letter as captial are cat images\n"
    "#images with small first letter are dog images\n"
)


def oxford_ids(class_name: str) -> tuple[int, int, int]:
    """Oxford class name -> (CLASS-ID, SPECIES, BREED-ID), all 1-based as in list.txt."""
    class_id = OXFORD_CLASSES.index(class_name) + 1
    if class_name in CAT_BREEDS:
        return class_id, 1, CAT_BREEDS.index(class_name) + 1
    return class_id, 2, DOG_BREEDS.index(class_name) + 1


def class_from_stem(stem: str) -> str:
    """'British_Shorthair_123' -> 'British_Shorthair' (strip the trailing _<n>)."""
    name, sep, number = stem.rpartition("_")
    if not sep or not number.isdigit():
        raise ValueError(f"{stem!r} does not look like an Oxford-IIIT Pet image name (<Class_Name>_<n>)")
    return name


def is_oxford_root(root: str | Path) -> bool:
    ann = Path(root) / "annotations"
    return (ann / "trainval.txt").is_file() or (ann / "list.txt").is_file()


def read_split_file(path: Path) -> list[str]:
    """Image stems listed in a list.txt / trainval.txt / test.txt file (comments skipped)."""
    stems = []
    for line_no, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"{path}:{line_no}: expected 'Image CLASS-ID SPECIES BREED-ID', got {line!r}")
        stems.append(parts[0])
    return stems


def _find_image(images: Path, stem: str) -> Path:
    path = images / f"{stem}.jpg"
    if path.exists():
        return path
    for ext in (".jpeg", ".png", ".JPG", ".JPEG", ".PNG"):
        alt = images / f"{stem}{ext}"
        if alt.exists():
            return alt
    return path  # missing: ImageDataset reports it with the other unusable files


def oxford_records(
    root: str | Path,
    split: str = "train",
    cats_only: bool = False,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> list[Record]:
    """Records of one split: "trainval" / "test" are the official files, "train" / "val" a seeded
    stratified split of trainval, "all" = trainval + test. Dog breeds get the ``other`` label."""
    root = Path(root)
    ann, images = root / "annotations", root / "images"
    files = {"trainval": ["trainval.txt"], "train": ["trainval.txt"], "val": ["trainval.txt"], "test": ["test.txt"]}
    files["all"] = ["trainval.txt", "test.txt"]
    if split not in files:
        raise ValueError(f"Unknown split {split!r}; choose one of {', '.join(files)}")
    records = []
    for name in files[split]:
        path = ann / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: an Oxford-IIIT Pet root needs annotations/trainval.txt and annotations/test.txt "
                "(python -m cats_dit.data download --root DIR fetches them)"
            )
        for stem in read_split_file(path):
            oxford_class = class_from_stem(stem)
            label = oxford_to_id(oxford_class)
            if cats_only and label == OTHER_ID:
                continue
            records.append(Record(_find_image(images, stem), label, oxford_class))
    if split in ("train", "val"):
        train, val = carve_split(records, val_fraction, seed)  # stratified by label
        records = train if split == "train" else val
    return records
