"""The library stands alone: a non-editable install, used from outside the checkout, still exports
the ONNX models and serves them (the onnx backend needs no ``export/`` folder and no repo root)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a wheel build plus one fp32 export of tiny models (~1 min on 2 cores)

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, sys
from pathlib import Path
import cats_dit
from cats_dit.serving import load_service
from cats_dit.testing import make_tiny_models
from PIL import Image

pipe_dir, clf_dir = make_tiny_models(Path("models"))
service = load_service(str(pipe_dir), str(clf_dir), backend="onnx", log=lambda *a, **k: None)
updates = list(service.generate("Bengal", 1, 2, 2.0, "euler", 3, False))
image = updates[-1].gallery[0][0]
probs = service.classify(Image.new("RGB", (40, 40), (200, 120, 40)))
print(json.dumps({
    "package": cats_dit.__file__,
    "errors": service.errors,
    "backend": service.generator.backend,
    "onnx_dir": service.about_extra.get("onnx_dir"),
    "image": str(image),
    "image_size": Image.open(image).size,
    "sample_size": service.generator.sample_size,
    "probs": probs,
}))
"""


def test_non_editable_install_exports_and_serves_outside_the_checkout(tmp_path):
    source = tmp_path / "src"  # only what the wheel is built from, so the build cannot see the checkout
    source.mkdir()
    shutil.copytree(REPO / "cats_dit", source / "cats_dit", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            target,
            source,
        ],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(source)  # nothing of the checkout is left to fall back on
    assert (target / "cats_dit" / "model_card.md.jinja").is_file()  # package data travels with the wheel
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "CATS_DIT_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    env.pop("CATS_DIT_ONNX_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=work, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["package"]).is_relative_to(target), result["package"]
    assert result["errors"] == {}
    assert result["backend"] == "onnxruntime"
    assert Path(result["onnx_dir"]).is_relative_to(tmp_path / "cache")
    assert (Path(result["onnx_dir"]) / "models.json").is_file()
    assert result["image_size"] == [result["sample_size"]] * 2
    assert len(result["probs"]) == 13 and abs(sum(result["probs"].values()) - 1) < 1e-4
