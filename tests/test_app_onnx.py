"""The onnxruntime backend: export on first start, cache reuse, `auto`, same images as torch."""

from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client
from PIL import Image
from test_app import pixels, start  # noqa: F401  (test_app puts the repo root on sys.path)

from cats_dit.serving import load_service
from cats_dit.serving.onnx_backend import ENV_CACHE, OnnxGenerator, cache_root, fingerprint
from cats_dit.testing import make_tiny_models

pytestmark = pytest.mark.slow  # one real `python -m export` run (~30-60 s on 2 CPU cores)


def finals(service, *args):
    final = list(service.generate(*args, check=True))[-1]
    return [np.asarray(Image.open(p).convert("RGB")) for p, _ in final.gallery], final.info


def test_onnx_backend_exports_once_and_matches_torch(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "cache"))
    pipeline, classifier = make_tiny_models(tmp_path / "models", seed=3)
    messages = []

    def log(*parts, **kwargs):
        messages.append(" ".join(map(str, parts)))

    # auto without an export: torch, and it says why
    auto = load_service(str(pipeline), str(classifier), backend="auto", log=log)
    assert auto.generator.backend == "torch"
    assert "no exported ONNX models for these weights yet" in auto.about_extra["auto_backend_note"]

    onnx = load_service(str(pipeline), str(classifier), backend="onnx", log=log)
    assert onnx.errors == {}
    assert isinstance(onnx.generator, OnnxGenerator) and onnx.classifier.backend == "onnxruntime"
    expected_dir = cache_root() / "onnx" / fingerprint(pipeline, classifier)
    assert onnx.about_extra["onnx_dir"] == str(expected_dir) and (expected_dir / "models.json").is_file()
    assert sum("exporting ONNX models once" in m for m in messages) == 1

    # second start: the cached export is reused, and `auto` now picks onnxruntime
    again = load_service(str(pipeline), str(classifier), backend="auto", log=log)
    assert again.generator.backend == "onnxruntime"
    assert sum("exporting ONNX models once" in m for m in messages) == 1

    torch_service = auto
    for args in [("Ragdoll", 3, 8, 3.0, "euler", 2024), ("random", 2, 5, 4.5, "heun", 7)]:
        t_images, t_info = finals(torch_service, *args)
        o_images, o_info = finals(onnx, *args)
        for t, o in zip(t_images, o_images):
            diff = np.abs(t.astype(int) - o.astype(int))
            assert diff.max() <= 1 and (diff > 0).mean() < 0.01, args
        assert [i["breed"] for i in t_info["images"]] == [i["breed"] for i in o_info["images"]]
        assert [i["classifier"]["label"] for i in t_info["images"]] == [
            i["classifier"]["label"] for i in o_info["images"]
        ]
    # previews stream from the onnx backend too
    updates = list(onnx.generate("Bengal", 1, 10, 3.0, "euler", 1, check=False))
    assert sum(not u.done for u in updates) >= 3

    # and through a real server with the onnx backend
    demo, url = start(onnx, concurrency=1)
    try:
        gallery, status, info = Client(url, verbose=False).predict(
            "Ragdoll", 3, 8, 3.0, "euler", 2024, False, api_name="/generate"
        )
        assert info["backend"] == "onnxruntime"
        t_images, _ = finals(torch_service, "Ragdoll", 3, 8, 3.0, "euler", 2024)
        for t, o in zip(t_images, pixels(gallery)):
            assert np.abs(t.astype(int) - o.astype(int)).max() <= 1
    finally:
        demo.close()


def test_onnx_dir_errors_are_clear(tmp_path):
    service = load_service(
        str(tmp_path / "p"), str(tmp_path / "c"), backend="onnx", onnx_dir=str(tmp_path), log=lambda *a, **k: None
    )
    assert f"the ONNX folder {tmp_path} has no models.json" in service.errors["generator"]
