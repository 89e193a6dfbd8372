"""cats_dit.serving as plain Python: validation, image decoding, model sources, streaming handlers."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from PIL import Image

from cats_dit.breeds import CAT_BREEDS, DISPLAY_NAMES, LABELS
from cats_dit.serving import (
    MAX_IMAGE_PIXELS,
    ModelLoadError,
    configure_pil,
    load_image,
    load_service,
    validate_generate,
)
from cats_dit.serving.sources import ENV_MODEL, ModelSource, choose_source, resolve_folder
from cats_dit.testing import make_tiny_models

GOOD = dict(breed="Bengal", num_images=2, steps=4, guidance=3.0, sampler="euler", seed=7)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pipeline, classifier = make_tiny_models(tmp_path_factory.mktemp("tiny_models"))
    service = load_service(str(pipeline), str(classifier), backend="torch")
    assert service.errors == {}
    return service


@pytest.mark.parametrize(
    "change, words",
    [
        ({"breed": "Tabby"}, ["Unknown breed 'Tabby'", "Bengal", "random"]),
        ({"breed": ""}, ["breed is missing"]),
        ({"steps": 0}, ["steps must be between 1 and 100", "got 0"]),
        ({"steps": 101}, ["steps must be between 1 and 100"]),
        ({"steps": 2.5}, ["steps must be a whole number"]),
        ({"steps": "many"}, ["steps must be a number", "'many'"]),
        ({"guidance": -0.5}, ["guidance must be between 0.0 and 10.0"]),
        ({"guidance": float("nan")}, ["guidance must be a finite number"]),
        ({"guidance": 11}, ["guidance must be between"]),
        ({"seed": -1}, ["seed must be between 0 and 4294967295", "got -1"]),
        ({"seed": 2**40}, ["seed must be between 0 and 4294967295"]),
        ({"seed": None}, ["seed is missing"]),
        ({"num_images": 0}, ["num_images must be between 1 and 8"]),
        ({"num_images": 9}, ["num_images must be between 1 and 8"]),
        ({"sampler": "ddim"}, ["sampler must be one of Euler, Heun", "'ddim'"]),
    ],
)
def test_validate_generate_names_the_bad_setting(change, words):
    with pytest.raises(ValueError) as info:
        validate_generate(**dict(GOOD, **change))
    for word in words:
        assert word in str(info.value)


def test_validate_generate_accepts_lenient_names_and_random():
    req = validate_generate("british shorthair", "3", 20.0, "2.5", "Heun", "42")
    assert (req.breed, req.num_images, req.steps, req.guidance, req.sampler, req.seed) == (
        "British_Shorthair",
        3,
        20,
        2.5,
        "heun",
        42,
    )
    assert req.seeds() == [42, 43, 44]
    rand = validate_generate("random", 4, 10, 3, "euler", 100)
    assert all(b in CAT_BREEDS for b in rand.breeds)
    # image k of a random batch is reproduced alone with seed S + k
    alone = validate_generate("random", 1, 10, 3, "euler", 102)
    assert alone.breeds[0] == rand.breeds[2]
    wrap = validate_generate("Bengal", 2, 10, 3, "euler", 2**32 - 1)
    assert wrap.seeds() == [2**32 - 1, 0]


def _save(tmp_path, name, image, **kw):
    path = tmp_path / name
    image.save(path, **kw)
    return path


def odd_mode_images(tmp_path):
    rgb = Image.new("RGB", (40, 30), (200, 120, 40))
    rgba = rgb.convert("RGBA")
    rgba.putalpha(128)
    pal = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    pal_t = pal.copy()
    pal_t.info["transparency"] = 0
    arr16 = (np.linspace(0, 65535, 40 * 30).reshape(30, 40)).astype(np.uint16)
    return {
        "grayscale.png": _save(tmp_path, "grayscale.png", rgb.convert("L")),
        "grayscale_alpha.png": _save(tmp_path, "grayscale_alpha.png", rgb.convert("LA")),
        "rgba.png": _save(tmp_path, "rgba.png", rgba),
        "palette.png": _save(tmp_path, "palette.png", pal),
        "palette_transparent.png": _save(tmp_path, "palette_transparent.png", pal_t, transparency=0),
        "16bit.png": _save(tmp_path, "16bit.png", Image.fromarray(arr16, mode="I;16")),
        "bilevel.png": _save(tmp_path, "bilevel.png", rgb.convert("1")),
        "cmyk.jpg": _save(tmp_path, "cmyk.jpg", rgb.convert("CMYK")),
        "animated.gif": _save(tmp_path, "animated.gif", pal, save_all=True, append_images=[pal]),
    }


def test_odd_image_modes_are_classified(tiny, tmp_path):
    for name, path in odd_mode_images(tmp_path).items():
        probs = tiny.classify(str(path))
        assert list(probs) == list(DISPLAY_NAMES), name
        assert abs(sum(probs.values()) - 1) < 1e-4, name
    # arrays from an API client: 16-bit, float and single-channel
    assert len(tiny.classify(np.zeros((20, 20), np.uint16))) == 13
    assert len(tiny.classify(np.ones((20, 20, 3), np.float32))) == 13
    assert len(tiny.classify(np.zeros((20, 20, 1), np.uint8))) == 13


def _bomb(tmp_path, name, pixels):
    # A mode "1" PNG of many megapixels is a few kB on disk: a small file that would decode huge.
    side = int(pixels**0.5) + 1
    return _save(tmp_path, name, Image.new("1", (side, side)))


def bad_files(tmp_path):
    good = Image.new("RGB", (64, 64), (10, 200, 30))
    png = _save(tmp_path, "good.png", good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(png.read_bytes()[:-40])
    jpg = _save(tmp_path, "good.jpg", Image.effect_noise((256, 256), 50).convert("RGB"), quality=90)
    cut_jpg = tmp_path / "cut.jpg"
    cut_jpg.write_bytes(jpg.read_bytes()[:300])
    text = tmp_path / "notes.txt"
    text.write_text("this is not an image\n")
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    return {
        "notes.txt": (text, ["'notes.txt' is not an image", "PNG, JPEG"]),
        "fake.png": (fake, ["'fake.png'"]),
        "truncated.png": (truncated, ["'truncated.png' is corrupt"]),
        "cut.jpg": (cut_jpg, ["'cut.jpg' is corrupt"]),
        "empty.png": (empty, ["'empty.png' is empty (0 bytes)"]),
        "bomb_warn.png": (_bomb(tmp_path, "bomb_warn.png", MAX_IMAGE_PIXELS * 1.2), ["too large", "megapixels"]),
        "bomb_error.png": (_bomb(tmp_path, "bomb_error.png", MAX_IMAGE_PIXELS * 2.5), ["too large"]),
    }


def test_bad_image_files_get_clear_errors(tmp_path):
    configure_pil()
    for name, (path, words) in bad_files(tmp_path).items():
        with pytest.raises(ValueError) as info:
            load_image(str(path))
        for word in words:
            assert word in str(info.value), (name, str(info.value))
    with pytest.raises(ValueError, match="No image given"):
        load_image(None)
    with pytest.raises(ValueError, match="was not found"):
        load_image(str(tmp_path / "nope.png"))
    # the guard holds even when PIL's own limit is switched off
    Image.MAX_IMAGE_PIXELS = None
    try:
        with pytest.raises(ValueError, match="too large"):
            load_image(str(bad_files(tmp_path)["bomb_warn.png"][0]))
    finally:
        configure_pil()


def test_sources_precedence_and_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_MODEL, "someone/cats-dit")
    assert choose_source("cli/path", ENV_MODEL, tmp_path).origin == "command line"
    env = choose_source(None, ENV_MODEL, tmp_path)
    assert env.origin == f"env {ENV_MODEL}" and env.is_hub
    monkeypatch.delenv(ENV_MODEL)
    default = choose_source(None, ENV_MODEL, tmp_path / "weights" / "pipeline")
    assert default.is_default and not default.is_hub
    with pytest.raises(ModelLoadError, match="does not exist.*demo weights should be committed in weights/"):
        resolve_folder(default, "generator (pipeline)", "model_index.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="is broken: model_index.json is missing"):
        resolve_folder(ModelSource(str(tmp_path / "empty"), "command line"), "generator (pipeline)", "model_index.json")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="could not be downloaded from the Hugging Face Hub"):
        resolve_folder(ModelSource("nobody/no-such-cats", "command line"), "generator (pipeline)", "model_index.json")


def test_broken_weights_are_reported_not_fatal(tmp_path):
    pipeline, classifier = make_tiny_models(tmp_path)
    weights = classifier / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated download
    (pipeline / "transformer" / "config.json").write_text("{not json")
    service = load_service(str(pipeline), str(classifier), backend="torch", log=lambda *a, **k: None)
    assert "Could not load the generator" in service.errors["generator"]
    assert "truncated or corrupt" in service.errors["classifier"]
    with pytest.raises(ModelLoadError, match="generator is not loaded: Could not load the generator"):
        next(service.generate(**GOOD))
    with pytest.raises(ModelLoadError, match="classifier is not loaded"):
        service.classify(np.zeros((8, 8, 3), np.uint8))


def test_generate_streams_previews_then_tagged_pngs(tiny):
    progress_calls = []
    updates = list(
        tiny.generate(
            "Siamese", 3, 10, 2.0, "euler", 1234, check=True, progress=lambda p, desc=None: progress_calls.append(p)
        )
    )
    previews, final = updates[:-1], updates[-1]
    assert len(previews) >= 3 and all(not u.done for u in previews)
    assert all(u.gallery[0][1].startswith("step ") and u.gallery[0][0].dtype == np.uint8 for u in previews)
    assert all(len(u.gallery) == 3 for u in previews)
    assert final.done and "10 euler steps" in final.status and "ms per step" in final.status
    assert progress_calls[-1] == (10, 10)
    assert [i["seed"] for i in final.info["images"]] == [1234, 1235, 1236]
    for (path, caption), seed in zip(final.gallery, [1234, 1235, 1236]):
        assert path.endswith(f"cats_dit_Siamese_seed{seed}_steps10_cfg2_euler.png")
        assert caption.startswith(f"Siamese · seed {seed} · ") and caption.endswith("%")
        assert f"- Siamese, seed {seed}: the classifier thinks this is " in final.status
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size == (16, 16)
            assert im.text["seed"] == str(seed) and im.text["breed"] == "Siamese" and im.text["sampler"] == "euler"
            assert f"seed: {seed}," in im.text["parameters"]
    json.dumps(final.info)  # what the API returns must be JSON
    # the previews converge to the final image
    last_preview = previews[-1].gallery[0][0].astype(int)
    first_preview = previews[0].gallery[0][0].astype(int)
    final0 = np.asarray(Image.open(final.gallery[0][0])).astype(int)
    assert np.abs(last_preview - final0).mean() < np.abs(first_preview - final0).mean()


def test_same_seed_same_images_and_image_k_reproduces_alone(tiny):
    def pixels(*args):
        final = list(tiny.generate(*args, check=False))[-1]
        return [np.asarray(Image.open(p)) for p, _ in final.gallery]

    a = pixels("Bombay", 3, 6, 3.0, "heun", 99)
    b = pixels("Bombay", 3, 6, 3.0, "heun", 99)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], a[1])
    alone = pixels("Bombay", 1, 6, 3.0, "heun", 101)[0]
    assert np.abs(alone.astype(int) - a[2].astype(int)).max() <= 1
    other = pixels("Bombay", 1, 6, 3.0, "heun", 100)[0]
    assert not np.array_equal(other, a[0])


def test_heun_counts_model_evaluations(tiny):
    final = list(tiny.generate("Sphynx", 1, 5, 3.0, "heun", 3, check=False))[-1]
    assert final.info["timing"]["model_evaluations"] == 9
    assert "5 heun steps (9 model evaluations)" in final.status


def test_closing_the_stream_stops_sampling(tiny):
    before = {t.ident for t in threading.enumerate()}
    stream = tiny.generate("Bengal", 1, 100, 3.0, "euler", 5, check=False)
    first = next(stream)
    assert not first.done
    stream.close()  # what Gradio does when the browser goes away
    deadline = time.time() + 10
    while time.time() < deadline:
        workers = [t for t in threading.enumerate() if t.name == "cats_dit-generate" and t.ident not in before]
        if not workers:
            break
        time.sleep(0.05)
    assert not workers, "the sampler kept running after its client left"


def test_labels_cover_all_breeds():
    assert len(LABELS) == 13 and DISPLAY_NAMES[-1] == "Other (not one of the 12 breeds)"


def test_published_repo_layout_finds_its_classifier(tmp_path):
    """A repo from `python -m cats_dit.hub push`: pipeline at the root, classifier/ beside it."""
    import shutil

    pipeline, classifier = make_tiny_models(tmp_path)
    shutil.copytree(classifier, pipeline / "classifier")
    service = load_service(str(pipeline), None, backend="torch", log=lambda *a, **k: None)
    assert service.errors == {}
    assert service.about_extra["classifier_path"] == str(pipeline / "classifier")
    assert "classifier/ of the generator's command line" in service.sources["classifier"]
    explicit = load_service(str(pipeline), str(pipeline), backend="torch", log=lambda *a, **k: None)
    assert explicit.about_extra["classifier_path"] == str(pipeline / "classifier")
