"""The lean Space (`python -m cats_dit.hub space`): its folder, its errors, and a real torch-free install.

The slow test builds the folder, installs its requirements.txt into a fresh venv (PyPI or the pip
cache), starts its app.py from that venv and checks, through gradio_client, that /generate gives
the torch pipeline's images and /classify the torch classifier's answer. `--push` needs the
internet, so only the checks before the upload are tested.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from huggingface_hub import SpaceCard
from PIL import Image

from cats_dit import hub
from cats_dit.testing import app_server, make_tiny_models

ROOT = Path(__file__).resolve().parents[1]
COMMITTED_ONNX = ROOT / "static_site" / "models"
LEAN = {"gradio", "onnxruntime", "numpy", "pillow"}


def build(out: Path, *args: str) -> int:
    return hub.main(["space", "--out", str(out), "--app", str(ROOT / "app.py"), *args])


def requirement_names(folder: Path) -> set[str]:
    lines = (folder / "requirements.txt").read_text().splitlines()
    return {line.split("==")[0].strip().lower() for line in lines if line.strip() and not line.startswith("#")}


def test_folder_from_a_ready_export(tmp_path):
    out = tmp_path / "space"
    args = ["--pipeline", str(ROOT / "weights/pipeline"), "--classifier", str(ROOT / "weights/classifier")]
    assert build(out, *args, "--onnx", str(COMMITTED_ONNX)) == 0
    card = SpaceCard.load(out / "README.md")
    assert card.data.sdk == "gradio" and card.data.app_file == "app.py"
    assert requirement_names(out) == LEAN
    assert (out / "app.py").read_bytes() == (ROOT / "app.py").read_bytes()
    assert (out / "weights/pipeline/onnx/models.json").is_file() and (out / "weights/classifier/config.json").is_file()
    assert sorted(p.name for p in (out / "examples").iterdir()) == sorted(
        p.name for p in (ROOT / "examples").glob("*.png")
    )
    shipped = {p.name for p in out.rglob("*")}
    assert not {"modeling_tinydit.py", "pipeline_cats_dit.py", "classifier.py", "export.py"} & shipped
    assert not list(out.rglob("*.safetensors")) and not list(out.glob(".*"))


def test_out_must_be_new_or_empty(tmp_path, capsys):
    out = tmp_path / "space"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert build(out, "--onnx", str(COMMITTED_ONNX)) == 1
    assert f"--out {out} exists and is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_missing_onnx_models_are_named(tmp_path, capsys):
    weights = ["--pipeline", str(ROOT / "weights/pipeline"), "--classifier", str(ROOT / "weights/classifier")]
    assert build(tmp_path / "a", *weights, "--onnx", str(tmp_path)) == 1
    assert f"--onnx {tmp_path} has no models.json" in capsys.readouterr().err
    partial = tmp_path / "partial"
    shutil.copytree(COMMITTED_ONNX, partial)
    (partial / "generator_fp16.onnx").unlink()
    assert build(tmp_path / "b", *weights, "--onnx", str(partial)) == 1
    assert "generator fp16 file generator_fp16.onnx, which is missing" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no half-written folder left


def test_push_checks_before_building(tmp_path, capsys, monkeypatch):
    assert build(tmp_path / "a", "--onnx", str(COMMITTED_ONNX), "--push", "not a repo") == 1
    assert "--push 'not a repo' must look like 'user/name'" in capsys.readouterr().err
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no cached login
    assert build(tmp_path / "b", "--onnx", str(COMMITTED_ONNX), "--push", "user/cats") == 1
    assert "No Hugging Face token" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def lean_venv(space: Path, where: Path) -> Path:
    """A fresh venv holding only the Space's requirements (installed by this venv's pip, so the new
    one needs no pip of its own; --no-compile: Python compiles what the app imports anyway)."""
    venv.EnvBuilder(with_pip=False).create(where)
    python = where / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-compile"]
    result = subprocess.run([*pip, "-r", space / "requirements.txt"], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return python


def torch_images(pipeline: Path, breed: str, n: int, steps: int, guidance: float, sampler: str, seed: int):
    from cats_dit import CatsDiTPipeline, FlowMatchScheduler
    from cats_dit.serving.pngs import to_uint8

    pipe = CatsDiTPipeline.from_pretrained(pipeline)
    pipe.scheduler = FlowMatchScheduler.from_config(pipe.scheduler.config, solver=sampler)
    images = pipe(
        breed, num_images_per_prompt=n, num_inference_steps=steps, guidance_scale=guidance, seed=seed, output_type="np"
    ).images
    return to_uint8(np.asarray(images))


@pytest.mark.slow  # an ONNX export, a fresh venv with gradio + onnxruntime from PyPI, a real server
def test_lean_space_serves_without_torch(tmp_path):
    pipeline, classifier = make_tiny_models(tmp_path / "models", seed=5)
    space = tmp_path / "space"
    assert build(space, "--pipeline", str(pipeline), "--classifier", str(classifier)) == 0
    assert requirement_names(space) == LEAN

    python = lean_venv(space, tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = "import importlib.util as u, cats_dit; print([m for m in {mods} if u.find_spec(m)], cats_dit.__file__)"
    mods = ["torch", "torchvision", "diffusers", "transformers", "optimum", "accelerate"]
    result = subprocess.run(
        [python, "-c", probe.format(mods=mods)], cwd=space, env=env, capture_output=True, text=True, check=True
    )
    found, where = result.stdout.strip().split(" ", 1)
    assert found == "[]", f"the lean venv has {found}"
    assert Path(where).resolve() == (space / "cats_dit" / "__init__.py").resolve()
    # asked for torch there, the app starts and says why it cannot serve
    ask_torch = (
        "from cats_dit.serving import load_service as L; print(L(backend='torch', default_weights='weights').errors)"
    )
    result = subprocess.run([python, "-c", ask_torch], cwd=space, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.count("the torch backend needs torch, which is not installed here") == 2

    with app_server(space / "app.py", tmpdir=tmp_path, python=python, env={"PYTHONPATH": None}) as (url, _):
        client = Client(url, verbose=False)
        calls = [("Ragdoll", 3, 8, 3.0, "euler", 2024), ("Bengal", 1, 4, 2.0, "heun", 7)]
        served = [client.predict(*args, True, api_name="/generate") for args in calls]
        label = client.predict(handle_file(str(space / "examples" / "Bengal.png")), api_name="/classify")

    for (breed, n, steps, guidance, sampler, seed), (gallery, _, info) in zip(calls, served):
        assert info["backend"] == "onnxruntime"
        assert [i["seed"] for i in info["images"]] == [seed + k for k in range(n)]
        expected = torch_images(pipeline, breed, n, steps, guidance, sampler, seed)
        got = np.stack([np.asarray(Image.open(item["image"]).convert("RGB")) for item in gallery])
        assert got.shape == expected.shape
        assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1, (breed, sampler)

    from cats_dit.serving import load_service

    reference = load_service(str(pipeline), str(classifier), backend="torch").classify(ROOT / "examples" / "Bengal.png")
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}  # the top 5 the UI shows
    assert label["label"] == max(reference, key=reference.get) and len(confidences) == 5
    for name, p in confidences.items():
        assert abs(p - reference[name]) < 1e-3, name


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
