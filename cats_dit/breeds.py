"""The 13 labels: the 12 Oxford-IIIT Pet cat breeds (alphabetical) then ``other``.

This module is the one source of truth for class ids. The generator's null class for
classifier-free guidance is ``NUM_CLASSES`` (13), one past the last label.
"""

from __future__ import annotations

CAT_BREEDS: tuple[str, ...] = (
    "Abyssinian",
    "Bengal",
    "Birman",
    "Bombay",
    "British_Shorthair",
    "Egyptian_Mau",
    "Maine_Coon",
    "Persian",
    "Ragdoll",
    "Russian_Blue",
    "Siamese",
    "Sphynx",
)
OTHER = "other"
LABELS: tuple[str, ...] = CAT_BREEDS + (OTHER,)
NUM_CLASSES = len(LABELS)  # 13
NULL_CLASS_ID = NUM_CLASSES  # generator's unconditional row
OTHER_ID = LABELS.index(OTHER)

# The 25 dog breeds of Oxford-IIIT Pet, as spelled in its file names.
DOG_BREEDS: tuple[str, ...] = (
    "american_bulldog",
    "american_pit_bull_terrier",
    "basset_hound",
    "beagle",
    "boxer",
    "chihuahua",
    "english_cocker_spaniel",
    "english_setter",
    "german_shorthaired",
    "great_pyrenees",
    "havanese",
    "japanese_chin",
    "keeshond",
    "leonberger",
    "miniature_pinscher",
    "newfoundland",
    "pomeranian",
    "pug",
    "saint_bernard",
    "samoyed",
    "scottish_terrier",
    "shiba_inu",
    "staffordshire_bull_terrier",
    "wheaten_terrier",
    "yorkshire_terrier",
)

ID2LABEL: dict[int, str] = dict(enumerate(LABELS))
LABEL2ID: dict[str, int] = {name: i for i, name in ID2LABEL.items()}


def _display(name: str) -> str:
    if name == OTHER:
        return "Other (not one of the 12 breeds)"
    return name.replace("_", " ")


DISPLAY_NAMES: tuple[str, ...] = tuple(_display(name) for name in LABELS)


def normalise_name(name: str) -> str:
    """The spelling-free key of a breed name: case, spaces, hyphens and underscores do not matter.
    ``pipeline_cats_dit.CatsDiTPipeline.get_label_ids`` keeps a copy (it ships alone as Hub code);
    ``tests/test_breeds.py`` checks they agree."""
    return name.strip().lower().replace(" ", "_").replace("-", "_")


_LOOKUP: dict[str, int] = {normalise_name(name): i for i, name in enumerate(LABELS)}
_LOOKUP.update({normalise_name(name): i for i, name in enumerate(DISPLAY_NAMES)})


def to_id(label: str | int) -> int:
    """Label name (any case, spaces/underscores/hyphens) or id -> id. Raises ValueError."""
    if isinstance(label, bool):
        raise ValueError(f"Unknown breed {label!r}. Valid breeds: {', '.join(LABELS)}")
    if isinstance(label, int) or (hasattr(label, "__index__") and not isinstance(label, str)):
        i = int(label)
        if 0 <= i < NUM_CLASSES:
            return i
        raise ValueError(f"Breed id {i} is out of range 0..{NUM_CLASSES - 1}. Valid breeds: {', '.join(LABELS)}")
    if isinstance(label, str):
        key = normalise_name(label)
        if key in _LOOKUP:
            return _LOOKUP[key]
        if key.isdigit():
            return to_id(int(key))
    raise ValueError(f"Unknown breed {label!r}. Valid breeds: {', '.join(LABELS)}")


def display_name(label: str | int) -> str:
    """'British_Shorthair' -> 'British Shorthair'; 'other' -> 'Other (not one of the 12 breeds)'."""
    return DISPLAY_NAMES[to_id(label)]


def to_name(label: str | int) -> str:
    """Id or any spelling -> canonical label name."""
    return LABELS[to_id(label)]


def oxford_to_id(oxford_class: str) -> int:
    """Any of the 37 Oxford-IIIT Pet class names (cats capitalised, dogs lower-case) -> id.

    Dog breeds map to ``other``. Unknown names raise ValueError.
    """
    key = normalise_name(oxford_class)
    for i, name in enumerate(CAT_BREEDS):
        if normalise_name(name) == key:
            return i
    if key in DOG_BREEDS:
        return OTHER_ID
    raise ValueError(f"{oxford_class!r} is not an Oxford-IIIT Pet class name")


def is_cat(oxford_class: str) -> bool:
    return oxford_to_id(oxford_class) != OTHER_ID
