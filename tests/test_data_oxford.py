"""The Oxford-IIIT Pet parser on a hand-written fixture in the official layout."""

import logging

import numpy as np
import pytest
import torch
from PIL import Image

from cats_dit.breeds import LABELS, OTHER_ID, to_id
from cats_dit.data import ImageDataset, generator_transform, load_records
from cats_dit.data.oxford import LIST_HEADER, OXFORD_CLASSES, class_from_stem, oxford_ids

# Rows exactly as they appear in the real annotations/list.txt (CLASS-ID SPECIES BREED-ID).
REAL_ROWS = {
    "Abyssinian_100": (1, 1, 1),
    "american_bulldog_10": (2, 2, 1),
    "beagle_5": (5, 2, 4),
    "Bengal_1": (6, 1, 2),
    "British_Shorthair_10": (10, 1, 5),
    "Egyptian_Mau_1": (12, 1, 6),
    "Maine_Coon_1": (21, 1, 7),
    "Siamese_1": (33, 1, 11),
    "Sphynx_3": (34, 1, 12),
    "yorkshire_terrier_2": (37, 2, 25),
}


def test_class_ids_match_the_real_list():
    assert len(OXFORD_CLASSES) == 37
    for stem, ids in REAL_ROWS.items():
        assert oxford_ids(class_from_stem(stem)) == ids, stem
    assert class_from_stem("British_Shorthair_123") == "British_Shorthair"
    with pytest.raises(ValueError, match="Oxford-IIIT Pet image name"):
        class_from_stem("cat.jpg")


def _jpeg(path, color, size=(40, 30)):
    Image.new("RGB", size, color).save(path, "JPEG", quality=90)


@pytest.fixture
def oxford_root(tmp_path):
    """A small Oxford-IIIT Pet tree with the awkward files the real one has."""
    images, ann = tmp_path / "images", tmp_path / "annotations"
    images.mkdir()
    ann.mkdir()
    trainval, test = [], []
    rng = np.random.default_rng(0)
    for cls in ("Abyssinian", "Bengal", "Siamese", "Sphynx", "beagle", "yorkshire_terrier", "pug"):
        for n in range(1, 9):
            stem = f"{cls}_{n}"
            _jpeg(images / f"{stem}.jpg", tuple(int(v) for v in rng.integers(0, 255, 3)))
            (test if n > 6 else trainval).append(stem)
    # awkward files, all listed in trainval
    Image.new("L", (30, 20), 128).save(images / "Abyssinian_1.jpg", "JPEG")  # grayscale
    rgba = Image.new("RGBA", (30, 20), (200, 10, 10, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    rgba.save(images / "Bengal_1.jpg", "PNG")  # PNG data under a .jpg name
    (images / "Siamese_1.jpg").write_bytes(b"")  # zero bytes
    data = (images / "Sphynx_1.jpg").read_bytes()
    (images / "Sphynx_1.jpg").write_bytes(data[: len(data) // 2])  # truncated JPEG
    Image.fromarray(np.full((20, 30), 40000, np.uint16)).save(images / "Sphynx_2.jpg", "PNG")  # 16-bit grey
    Image.new("P", (30, 20), 3).save(images / "beagle_1.jpg", "PNG")  # palette

    def rows(stems):
        return "".join(f"{s} {' '.join(map(str, oxford_ids(class_from_stem(s))))}\n" for s in stems)

    (ann / "list.txt").write_text(LIST_HEADER + rows(sorted(trainval + test, key=str.lower)))
    (ann / "trainval.txt").write_text(rows(trainval))
    (ann / "test.txt").write_text(rows(test))
    return tmp_path


def test_official_split_and_labels(oxford_root):
    trainval = load_records(oxford_root, "trainval")
    test = load_records(oxford_root, "test")
    assert len(trainval) == 7 * 6 and len(test) == 7 * 2
    assert {r.path.name for r in trainval}.isdisjoint({r.path.name for r in test})
    by_name = {r.path.name: r.label for r in trainval + test}
    assert by_name["Abyssinian_3.jpg"] == to_id("Abyssinian")
    assert by_name["Sphynx_7.jpg"] == to_id("Sphynx")
    for dog in ("beagle_2.jpg", "yorkshire_terrier_8.jpg", "pug_4.jpg"):
        assert by_name[dog] == OTHER_ID
    assert {r.source for r in trainval if r.label == OTHER_ID} == {"beagle", "yorkshire_terrier", "pug"}


def test_val_is_carved_from_trainval_and_seeded(oxford_root):
    train = load_records(oxford_root, "train", val_fraction=0.2, seed=0)
    val = load_records(oxford_root, "val", val_fraction=0.2, seed=0)
    trainval = load_records(oxford_root, "trainval")
    assert sorted(r.path for r in train + val) == sorted(r.path for r in trainval)
    assert not {r.path for r in train} & {r.path for r in val}
    assert {r.label for r in val} == {r.label for r in trainval}  # every label is validated
    assert [r.path for r in load_records(oxford_root, "val", val_fraction=0.2, seed=0)] == [r.path for r in val]
    other_seed = load_records(oxford_root, "val", val_fraction=0.2, seed=1)
    assert {r.path for r in other_seed} != {r.path for r in val}


def test_cats_only(oxford_root):
    recs = load_records(oxford_root, "trainval", cats_only=True)
    assert recs and all(r.label != OTHER_ID for r in recs)
    assert len(recs) == 4 * 6


def test_awkward_files_converted_or_skipped(oxford_root, caplog):
    recs = load_records(oxford_root, "trainval")
    with caplog.at_level(logging.WARNING, logger="cats_dit.data"):
        ds = ImageDataset(recs, generator_transform(16, flip=False))
    skipped = {p.name for p, _ in ds.skipped}
    assert skipped == {"Siamese_1.jpg", "Sphynx_1.jpg"}
    assert len(ds) == len(recs) - 2
    warnings = [r for r in caplog.records if "Skipped 2 unusable" in r.getMessage()]
    assert len(warnings) == 1 and "Siamese_1.jpg" in warnings[0].getMessage()
    for i in range(len(ds)):  # a whole epoch, including the grayscale / RGBA / 16-bit / palette files
        x, y = ds[i]
        assert x.shape == (3, 16, 16) and x.dtype == torch.float32
        assert -1.0 <= x.min() and x.max() <= 1.0
        assert 0 <= y < len(LABELS)
    names = [r.path.name for r in ds.records]
    gray = ds.load_image(names.index("Abyssinian_1.jpg"))
    assert gray.mode == "RGB" and gray.getpixel((5, 5))[0] == gray.getpixel((5, 5))[2]
    rgba = ds.load_image(names.index("Bengal_1.jpg"))
    assert rgba.mode == "RGB" and rgba.getpixel((0, 0)) == (255, 255, 255)  # transparency on white
    assert rgba.getpixel((5, 5)) == (200, 10, 10)
    grey16 = ds.load_image(names.index("Sphynx_2.jpg"))
    assert grey16.getpixel((3, 3)) == (156, 156, 156)  # 40000 / 65535 * 255


def test_missing_class_is_reported_before_training(oxford_root):
    recs = load_records(oxford_root, "trainval")
    with pytest.raises(ValueError, match=r"Bombay \(id 3\)"):
        ImageDataset(recs, require_all_classes=range(len(LABELS)))
    present = sorted({r.label for r in recs})
    ImageDataset(recs, require_all_classes=present)  # all present: fine


def test_class_with_only_broken_files_is_named(tmp_path, oxford_root):
    for n in range(1, 9):
        (oxford_root / "images" / f"Siamese_{n}.jpg").write_bytes(b"")
    recs = load_records(oxford_root, "trainval")
    with pytest.raises(ValueError, match="Siamese"):
        ImageDataset(recs, require_all_classes=sorted({r.label for r in recs}))


def test_decode_failure_mid_epoch_does_not_crash(oxford_root, caplog):
    recs = load_records(oxford_root, "trainval")
    ds = ImageDataset(recs, generator_transform(16, flip=False))
    victim = next(i for i, r in enumerate(ds.records) if r.path.name == "Bengal_4.jpg")
    ds.records[victim].path.write_bytes(b"garbage after the check")
    with caplog.at_level(logging.WARNING, logger="cats_dit.data"):
        x, y = ds[victim]
        x2, y2 = ds[victim]
    assert x.shape == (3, 16, 16) and y == y2 == to_id("Bengal")
    assert sum("Could not decode" in r.getMessage() for r in caplog.records) == 1


def test_unknown_root_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="neither an Oxford-IIIT Pet root"):
        load_records(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_records(tmp_path / "nope")
    with pytest.raises(ValueError, match="Unknown split"):
        load_records(tmp_path, split="training")
