"""Cartoon cats: Oxford-IIIT Pet layout, determinism, odd files."""

import hashlib
from collections import Counter

from PIL import Image

from cats_dit.breeds import CAT_BREEDS, LABELS, OTHER_ID, oxford_to_id
from cats_dit.data import ImageDataset, load_records, make_cartoon_dataset
from cats_dit.data.cartoon import DOG_KINDS, ODD_FILES, odd_file_names
from cats_dit.data.oxford import LIST_HEADER, class_from_stem, oxford_ids


def _digests(root):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "images").iterdir())}


def _rows(path):
    return [line.split() for line in path.read_text().splitlines() if not line.startswith("#")]


def test_layout(cartoon_root):
    ann, images = cartoon_root / "annotations", cartoon_root / "images"
    listing = (ann / "list.txt").read_text()
    assert listing.startswith(LIST_HEADER)
    rows = _rows(ann / "list.txt")
    assert len(rows) == 13 * 6
    files = {p.name for p in images.iterdir()}
    assert files == {f"{r[0]}.jpg" for r in rows}  # every row has its file and nothing else is there
    for stem, class_id, species, breed_id in rows:
        assert oxford_ids(class_from_stem(stem)) == (int(class_id), int(species), int(breed_id))
        first = stem[0]
        assert first.isupper() == (species == "1")  # cats capitalised, dogs lower-case
    trainval = [r[0] for r in _rows(ann / "trainval.txt")]
    test = [r[0] for r in _rows(ann / "test.txt")]
    assert sorted(trainval + test) == sorted(r[0] for r in rows) and not set(trainval) & set(test)
    assert all(len(r) == 4 for r in _rows(ann / "trainval.txt") + _rows(ann / "test.txt"))
    counts = Counter(oxford_to_id(class_from_stem(r[0])) for r in rows)
    assert counts == dict.fromkeys(range(13), 6)
    test_counts = Counter(oxford_to_id(class_from_stem(s)) for s in test)
    assert all(test_counts[c] >= 1 for c in range(12))
    assert {class_from_stem(r[0]) for r in rows} >= set(CAT_BREEDS)
    dogs = {class_from_stem(r[0]) for r in rows if r[2] == "2"}
    assert len(dogs) >= 5 and dogs <= set(DOG_KINDS)


def test_varied_jpeg_sizes(cartoon_root):
    sizes = set()
    for p in (cartoon_root / "images").iterdir():
        with Image.open(p) as im:
            assert im.format == "JPEG" and im.mode == "RGB"
            sizes.add(im.size)
            assert 90 <= min(im.size) and max(im.size) <= 260
    assert len(sizes) > 30
    assert any(w > h for w, h in sizes) and any(h > w for w, h in sizes)


def test_same_seed_same_bytes_different_seed_differs(tmp_path, cartoon_root):
    again = make_cartoon_dataset(tmp_path / "again", per_class=6, seed=0)
    assert _digests(again) == _digests(cartoon_root)
    for name in ("list.txt", "trainval.txt", "test.txt"):
        assert (again / "annotations" / name).read_bytes() == (cartoon_root / "annotations" / name).read_bytes()
    other = make_cartoon_dataset(tmp_path / "other", per_class=6, seed=1)
    a, b = _digests(cartoon_root), _digests(other)
    assert sum(a[k] != b[k] for k in a) == len(a)


def test_subset_of_classes_and_loader(tmp_path):
    root = make_cartoon_dataset(tmp_path / "sub", per_class=4, seed=2, classes=[0, 5, OTHER_ID], test_fraction=0.5)
    recs = load_records(root, "all")
    assert Counter(r.label for r in recs) == {0: 4, 5: 4, OTHER_ID: 4}
    assert len(load_records(root, "test")) == 6
    assert load_records(root, "all", cats_only=True) and all(
        r.label != OTHER_ID for r in load_records(root, "all", cats_only=True)
    )


def test_odd_files(cartoon_odd_root):
    odd = odd_file_names(cartoon_odd_root)
    assert set(odd) == set(ODD_FILES)
    images = cartoon_odd_root / "images"
    with Image.open(images / f"{odd['grayscale_jpeg']}.jpg") as im:
        assert im.mode == "L"
    with Image.open(images / f"{odd['cmyk_jpeg']}.jpg") as im:
        assert im.mode == "CMYK"
    with Image.open(images / f"{odd['rgba_png_named_jpg']}.jpg") as im:
        assert im.format == "PNG" and im.mode == "RGBA"
    assert (images / f"{odd['zero_bytes']}.jpg").stat().st_size == 0
    recs = load_records(cartoon_odd_root, "trainval")
    ds = ImageDataset(recs)
    assert {p.stem for p, _ in ds.skipped} == {odd[k] for k, keep in ODD_FILES.items() if not keep}
    kept = {r.path.stem for r in ds.records}
    assert all(odd[k] in kept for k, keep in ODD_FILES.items() if keep)
    assert all(ds.load_image(i).mode == "RGB" for i in range(len(ds)))
    assert len(LABELS) == 13
