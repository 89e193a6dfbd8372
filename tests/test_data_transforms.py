"""Transforms (shapes, ranges, eval == preprocess_tensor) and the pre-resized cache."""

import os
import threading

import numpy as np
import torch
from PIL import Image

from cats_dit.classifier import BreedClassifier, image_to_tensor, preprocess_tensor
from cats_dit.data import ImageDataset, classifier_transform, generator_transform, load_records, open_rgb

CONFIG = {"image_size": 48, "resize_size": 55, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def _photo(w=120, h=90, seed=0):
    rng = np.random.default_rng(seed)
    arr = (rng.uniform(0, 1, (h // 10, w // 10, 3)) * 255).astype(np.uint8)
    return Image.fromarray(arr).resize((w, h), Image.BICUBIC)


def test_generator_transform_range_and_flip():
    img = _photo()
    x = generator_transform(32, flip=False)(img)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1.0 and x.max() <= 1.0 and x.min() < -0.5 and x.max() > 0.5
    torch.manual_seed(0)
    flipped = [generator_transform(32, flip=True)(img) for _ in range(20)]
    assert any(torch.equal(f, x) for f in flipped) and any(torch.allclose(f, x.flip(-1)) for f in flipped)
    assert all(torch.equal(f, x) or torch.allclose(f, x.flip(-1)) for f in flipped)


def test_classifier_eval_is_exactly_preprocess_tensor():
    img = _photo(137, 101)
    x = classifier_transform(CONFIG, train=False)(img)
    ref = preprocess_tensor(image_to_tensor(img), 55, 48, CONFIG["mean"], CONFIG["std"])[0]
    assert x.shape == (3, 48, 48)
    assert torch.allclose(x, ref, atol=1e-6)
    clf = BreedClassifier("mobilenet_v3_small", image_size=48)
    full = {**clf.config, "resize_size": 55}
    assert torch.allclose(classifier_transform(full, train=False)(img), ref, atol=1e-6)


def test_classifier_train_shapes_and_randomness():
    t = classifier_transform(CONFIG, train=True)
    torch.manual_seed(0)
    outs = [t(_photo(60 + 20 * i, 90)) for i in range(6)]
    assert all(o.shape == (3, 48, 48) and o.dtype == torch.float32 for o in outs)
    small = Image.new("RGB", (32, 32), (200, 100, 50))  # a generated-size image still works
    assert t(small).shape == (3, 48, 48)
    a, b = t(_photo()), t(_photo())
    assert not torch.equal(a, b)
    # normalised: (0 - mean) / std .. (1 - mean) / std
    lo = (0 - torch.tensor(CONFIG["mean"])) / torch.tensor(CONFIG["std"])
    hi = (1 - torch.tensor(CONFIG["mean"])) / torch.tensor(CONFIG["std"])
    for o in outs:
        assert (o.amin((1, 2)) >= lo - 1e-5).all() and (o.amax((1, 2)) <= hi + 1e-5).all()


def test_cache_matches_uncached_and_is_reused(tmp_path, cartoon_root):
    recs = load_records(cartoon_root, "trainval")[:12]
    t = generator_transform(32, flip=False)
    plain = ImageDataset(recs, t)
    cache = tmp_path / "cache"
    cached = ImageDataset(recs, t, cache_dir=cache, cache_size=64)
    first = [cached[i][0] for i in range(len(cached))]
    assert cached.cache_misses == len(recs) and cached.cache_hits == 0
    files = list(cache.rglob("*.npy"))
    assert len(files) == len(recs)
    for f in files:
        assert min(np.load(f).shape[:2]) == 64  # shorter side shrunk to cache_size
    second = ImageDataset(recs, t, cache_dir=cache, cache_size=64)  # a later epoch / another process
    again = [second[i][0] for i in range(len(second))]
    assert second.cache_hits == len(recs) and second.cache_misses == 0
    diffs = []
    for a, b, (ref, _) in zip(first, again, (plain[i] for i in range(len(plain)))):
        assert torch.equal(a, b)
        diffs.append((a - ref).abs().mean().item())
    # resizing twice (and a sub-pixel crop shift) vs once, in [-1, 1] units; two different
    # cartoons differ by ~0.3 or more
    assert max(diffs) < 0.06 and sum(diffs) / len(diffs) < 0.02
    assert (first[0] - first[1]).abs().mean() > 0.1
    # a changed source file gets a new cache entry
    path = recs[0].path
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = ImageDataset(recs[:1], t, cache_dir=cache, cache_size=64)
    third[0]
    assert third.cache_misses == 1


def test_cache_concurrent_writers(tmp_path, cartoon_root):
    recs = load_records(cartoon_root, "trainval")[:8]
    cache = tmp_path / "cache"
    datasets = [ImageDataset(recs, cache_dir=cache, cache_size=48) for _ in range(4)]
    errors = []

    def run(ds):
        try:
            for i in range(len(ds)):
                assert ds.load_image(i).mode == "RGB"
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(ds,)) for ds in datasets]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(list(cache.rglob("*.npy"))) == len(recs)
    assert not list(cache.rglob("*.tmp"))  # temp files were renamed, none left behind
    ref = open_rgb(recs[0].path)
    got = ImageDataset(recs[:1], cache_dir=cache, cache_size=48).load_image(0)
    assert min(got.size) == 48 and got.size[0] / got.size[1] == pytest_approx(ref.size[0] / ref.size[1])


def pytest_approx(v, rel=0.05):
    import pytest

    return pytest.approx(v, rel=rel)
