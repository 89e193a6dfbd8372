"""Image-folder datasets: root/<label>/*.jpg with lenient label names."""

from collections import Counter

import pytest
from PIL import Image

from cats_dit.breeds import OTHER_ID, to_id
from cats_dit.data import load_records


def _tree(root, folders, n=10):
    for k, name in enumerate(folders):
        d = root / name
        d.mkdir(parents=True)
        for i in range(n):
            ext = (".jpg", ".png", ".jpeg", ".webp")[i % 4]
            Image.new("RGB", (20 + i, 24), (k * 40, i * 20, 100)).save(d / f"img{i}{ext}")
        (d / "notes.txt").write_text("not an image")
    return root


def test_lenient_names_and_splits(tmp_path):
    root = _tree(tmp_path, ["british shorthair", "Maine-Coon", "SPHYNX", "other"])
    every = load_records(root, "all")
    assert Counter(r.label for r in every) == {
        to_id("British_Shorthair"): 10,
        to_id("Maine_Coon"): 10,
        to_id("Sphynx"): 10,
        OTHER_ID: 10,
    }
    test = load_records(root, "test")
    trainval = load_records(root, "trainval")
    assert Counter(r.label for r in test) == dict.fromkeys(Counter(r.label for r in every), 2)  # 20% per class
    assert sorted(r.path for r in test + trainval) == sorted(r.path for r in every)
    train, val = load_records(root, "train", val_fraction=0.25), load_records(root, "val", val_fraction=0.25)
    assert sorted(r.path for r in train + val) == sorted(r.path for r in trainval)
    assert not {r.path for r in train} & {r.path for r in val}
    # the test split never depends on the validation seed
    assert [r.path for r in load_records(root, "test", seed=7)] == [r.path for r in test]
    assert all(r.label != OTHER_ID for r in load_records(root, "all", cats_only=True))


def test_unknown_folder_names_listed(tmp_path):
    root = _tree(tmp_path, ["Bengal", "tabby", "Scottish Fold"], n=2)
    with pytest.raises(ValueError) as err:
        load_records(root, "all")
    msg = str(err.value)
    assert "'tabby'" in msg and "'Scottish Fold'" in msg
    assert "British_Shorthair" in msg and "other" in msg  # the valid names are listed
