"""The Gradio app on a real localhost server, driven through gradio_client."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradio_client import Client, handle_file  # noqa: E402

import app  # noqa: E402
from cats_dit.serving import MAX_IMAGE_PIXELS, configure_pil, load_service  # noqa: E402
from cats_dit.testing import free_port, make_tiny_models  # noqa: E402

GOOD_GENERATE = ("Bengal", 1, 2, 3.0, "euler", 1, False)


def start(service, concurrency=2):
    demo = app.build_demo(service)
    _, url, _ = app.launch(
        demo, "127.0.0.1", free_port(), concurrency=concurrency, prevent_thread_lock=True, quiet=True
    )
    return demo, url


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    configure_pil()
    pipeline, classifier = make_tiny_models(tmp_path_factory.mktemp("tiny_app"))
    service = load_service(str(pipeline), str(classifier), backend="torch")
    demo, url = start(service)
    yield url, service
    demo.close()


def pixels(gallery) -> list[np.ndarray]:
    return [np.asarray(Image.open(item["image"]).convert("RGB")) for item in gallery]


def test_named_endpoints(tiny_server):
    api = Client(tiny_server[0], verbose=False).view_api(return_format="dict", print_info=False)
    assert {"/generate", "/classify"} <= set(api["named_endpoints"])
    params = [p["parameter_name"] for p in api["named_endpoints"]["/generate"]["parameters"]]
    assert params == ["breed", "num_images", "steps", "guidance", "sampler", "seed", "check"]


def test_generate_same_seed_gives_identical_pngs(tiny_server):
    client = Client(tiny_server[0], verbose=False)
    first = client.predict("Persian", 2, 5, 3.0, "heun", 4242, True, api_name="/generate")
    second = client.predict("Persian", 2, 5, 3.0, "heun", 4242, True, api_name="/generate")
    other = client.predict("Persian", 2, 5, 3.0, "heun", 4243, True, api_name="/generate")
    gallery, status, info = first
    assert [Path(g["image"]).name for g in gallery] == [
        "cats_dit_Persian_seed4242_steps5_cfg3_heun.png",
        "cats_dit_Persian_seed4243_steps5_cfg3_heun.png",
    ]
    assert all(np.array_equal(a, b) for a, b in zip(pixels(gallery), pixels(second[0])))
    assert not np.array_equal(pixels(gallery)[0], pixels(other[0])[0])
    assert np.array_equal(pixels(gallery)[1], pixels(other[0])[0])  # seed 4243 either way
    assert gallery[0]["caption"].startswith("Persian · seed 4242 · ")
    assert "- Persian, seed 4242: the classifier thinks this is " in status
    assert "5 heun steps (9 model evaluations)" in status
    assert info["seed"] == 4242 and info["sampler"] == "heun" and len(info["images"]) == 2
    with Image.open(gallery[1]["image"]) as im:
        assert im.text["seed"] == "4243" and im.text["steps"] == "5" and im.text["guidance"] == "3.0"


def test_generate_streams_previews_before_the_result(tiny_server):
    client = Client(tiny_server[0], verbose=False)
    job = client.submit("Birman", 2, 10, 3.0, "euler", 77, False, api_name="/generate")
    gallery, status, info = job.result(timeout=120)
    outputs = job.outputs()
    previews = outputs[:-1]
    assert len(previews) >= 3
    for preview_gallery, preview_status, preview_info in previews:
        assert len(preview_gallery) == 2 and preview_gallery[0]["caption"].startswith("step ")
        assert preview_status.startswith("Step ") and preview_info is None
    assert outputs[-1][1] == status and status.startswith("Done: 2 images, 10 euler steps")
    assert [g["caption"] for g in gallery] == ["Birman · seed 77", "Birman · seed 78"]


def _bomb(path: Path, pixels: float) -> Path:
    side = int(pixels**0.5) + 1
    Image.new("1", (side, side)).save(path)
    return path


def _bad_requests(tmp: Path):
    text = tmp / "notes.txt"
    text.write_text("not a picture")
    png = tmp / "ok.png"
    Image.new("RGB", (50, 50), "orange").save(png)
    truncated = tmp / "truncated.png"
    truncated.write_bytes(png.read_bytes()[:-30])
    g = list(GOOD_GENERATE)

    def gen(i, value):
        args = list(g)
        args[i] = value
        return "/generate", args

    return [
        (gen(0, "Tabby"), ["Unknown breed 'Tabby'", "Abyssinian"]),
        (gen(2, 0), ["steps must be between 1 and 100"]),
        (gen(2, 1000), ["steps must be between 1 and 100"]),
        (gen(3, -1.0), ["guidance must be between 0.0 and 10.0"]),
        (gen(3, 99.0), ["guidance must be between 0.0 and 10.0"]),
        (gen(5, -5), ["seed must be between 0 and 4294967295"]),
        (gen(5, 2**53), ["seed must be between 0 and 4294967295"]),
        (gen(4, "ddim"), ["sampler must be one of Euler, Heun"]),
        (gen(1, 50), ["num_images must be between 1 and 8"]),
        (("/classify", [handle_file(str(text))]), ["'notes.txt' is not an image"]),
        (("/classify", [handle_file(str(truncated))]), ["'truncated.png' is corrupt"]),
        (("/classify", [handle_file(str(_bomb(tmp / "huge.png", MAX_IMAGE_PIXELS * 1.5)))]), ["too large"]),
        (("/classify", [handle_file(str(_bomb(tmp / "huger.png", MAX_IMAGE_PIXELS * 3)))]), ["too large"]),
        (("/classify", [None]), ["No image given"]),
    ]


def test_bad_inputs_get_clear_errors_and_the_server_keeps_serving(tiny_server, tmp_path):
    client = Client(tiny_server[0], verbose=False)
    ok = tmp_path / "ok_input.png"
    Image.new("RGB", (40, 40), "teal").save(ok)
    for (endpoint, args), words in _bad_requests(tmp_path):
        with pytest.raises(Exception) as info:
            client.predict(*args, api_name=endpoint)
        for word in words:
            assert word in str(info.value), (endpoint, args, str(info.value))
        # the next good request still succeeds
        if endpoint == "/generate":
            gallery, status, _ = client.predict(*GOOD_GENERATE, api_name="/generate")
            assert len(gallery) == 1 and status.startswith("Done")
        else:
            assert len(client.predict(handle_file(str(ok)), api_name="/classify")["confidences"]) == 5


def test_odd_image_modes_work_through_the_api(tiny_server, tmp_path):
    client = Client(tiny_server[0], verbose=False)
    base = Image.new("RGB", (30, 20), (120, 60, 200))
    arr16 = np.linspace(0, 65535, 600).reshape(20, 30).astype(np.uint16)
    images = {
        "gray.png": base.convert("L"),
        "rgba.png": base.convert("RGBA"),
        "palette.png": base.convert("P"),
        "sixteen.png": Image.fromarray(arr16, mode="I;16"),
    }
    for name, image in images.items():
        image.save(tmp_path / name)
        result = client.predict(handle_file(str(tmp_path / name)), api_name="/classify")
        assert result["label"] and len(result["confidences"]) == 5, name


def test_eight_concurrent_clients_get_their_own_correct_images(tiny_server):
    url, service = tiny_server
    breeds = ["Abyssinian", "Bengal", "Birman", "Bombay", "Persian", "Ragdoll", "Siamese", "Sphynx"]
    expected = {}
    for i, breed in enumerate(breeds):
        final = list(service.generate(breed, 2, 4, 3.0, "euler", 500 + i, check=False))[-1]
        expected[i] = [np.asarray(Image.open(p).convert("RGB")) for p, _ in final.gallery]
    results, errors = {}, []

    def user(i):
        try:
            client = Client(url, verbose=False)
            gallery, _, info = client.predict(breeds[i], 2, 4, 3.0, "euler", 500 + i, False, api_name="/generate")
            results[i] = (pixels(gallery), info)
        except Exception as exc:  # reported below
            errors.append((i, exc))

    threads = [threading.Thread(target=user, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    assert sorted(results) == list(range(8))
    for i, (got, info) in results.items():
        assert info["breed"] == breeds[i] and info["seed"] == 500 + i
        assert all(np.array_equal(a, b) for a, b in zip(got, expected[i])), breeds[i]


def test_missing_weights_start_with_a_clear_message(tmp_path):
    service = load_service(
        str(tmp_path / "no_pipeline"), str(tmp_path / "no_classifier"), backend="torch", log=lambda *a, **k: None
    )
    demo, url = start(service, concurrency=1)
    try:
        client = Client(url, verbose=False)
        with pytest.raises(Exception, match="generator is not loaded.*no_pipeline does not exist"):
            client.predict(*GOOD_GENERATE, api_name="/generate")
        png = tmp_path / "x.png"
        Image.new("RGB", (8, 8)).save(png)
        with pytest.raises(Exception, match="classifier is not loaded.*no_classifier does not exist"):
            client.predict(handle_file(str(png)), api_name="/classify")
        import requests

        page_config = requests.get(url + "config", timeout=30).text
        assert "The generator is not available." in page_config and "no_pipeline does not exist" in page_config
    finally:
        demo.close()


DEMO_WEIGHTS = ROOT / "weights"


def test_demo_classifier_names_the_example_breeds():
    """The committed demo weights: each example cartoon is classified as its breed (the dog as other)."""
    assert (DEMO_WEIGHTS / "classifier" / "config.json").is_file(), "the demo weights must be committed in weights/"
    service = load_service(None, None, backend="torch", default_weights=DEMO_WEIGHTS)
    assert "classifier" not in service.errors
    demo, url = start(service, concurrency=1)
    try:
        client = Client(url, verbose=False)
        for path in sorted((ROOT / "examples").glob("*.png")):
            top = client.predict(handle_file(str(path)), api_name="/classify")["label"]
            want = "Other (not one of the 12 breeds)" if path.stem == "dog" else path.stem.replace("_", " ")
            assert top == want, (path.name, top)
    finally:
        demo.close()


def test_cli_help_lists_the_options():
    import subprocess

    out = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    for option in ("--model", "--classifier", "--backend", "--onnx-dir", "CATS_DIT_MODEL", "CATS_DIT_CLASSIFIER"):
        assert option in out.stdout
