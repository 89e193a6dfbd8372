"""save_pretrained / from_pretrained both ways, including Hub custom code without cats_dit."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cats_dit import CatsDiTPipeline, FlowMatchScheduler
from cats_dit.testing import build_tiny_pipeline


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    pipe = build_tiny_pipeline(seed=0, solver="heun", prediction_type="sample")
    pipe.set_progress_bar_config(disable=True)
    folder = tmp_path_factory.mktemp("pipe") / "cats-tiny"
    pipe.save_pretrained(folder)
    images = pipe(["Bengal", "other"], num_inference_steps=4, guidance_scale=2.5, seed=77, output_type="np").images
    return folder, images


def test_folder_has_hub_custom_code_layout(saved):
    folder, _ = saved
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == ["pipeline_cats_dit", "CatsDiTPipeline"]
    assert index["transformer"] == ["modeling_tinydit", "TinyDiTModel"]
    assert index["scheduler"] == ["scheduling_flow_match", "FlowMatchScheduler"]
    assert index["id2label"]["12"] == "other"
    for rel in [
        "pipeline_cats_dit.py",
        "transformer/modeling_tinydit.py",
        "scheduler/scheduling_flow_match.py",
        "transformer/diffusion_pytorch_model.safetensors",
        "transformer/config.json",
        "scheduler/scheduler_config.json",
    ]:
        assert (folder / rel).is_file(), rel
    assert not list(folder.rglob("*.bin"))


def test_package_round_trip_gives_identical_images(saved):
    folder, images = saved
    pipe = CatsDiTPipeline.from_pretrained(folder)
    assert isinstance(pipe.scheduler, FlowMatchScheduler)
    assert pipe.scheduler.config.solver == "heun" and pipe.scheduler.config.prediction_type == "sample"
    pipe.set_progress_bar_config(disable=True)
    again = pipe(["Bengal", "other"], num_inference_steps=4, guidance_scale=2.5, seed=77, output_type="np").images
    assert np.array_equal(images, again)


def test_diffusers_loads_it_without_cats_dit_installed(saved, tmp_path):
    folder, images = saved
    out = tmp_path / "images.npy"
    repo_root = str(Path(__file__).resolve().parents[1])
    code = f"""
import sys
sys.path = [p for p in sys.path if p not in ("", {repo_root!r})]
import importlib.util
assert importlib.util.find_spec("cats_dit") is None or "site-packages" not in str(importlib.util.find_spec("cats_dit").origin)
sys.modules["cats_dit"] = None  # make any import of the package fail loudly
import numpy as np
from diffusers import DiffusionPipeline
pipe = DiffusionPipeline.from_pretrained({str(folder)!r}, trust_remote_code=True)
assert type(pipe).__name__ == "CatsDiTPipeline", type(pipe)
assert "cats_dit" not in type(pipe.transformer).__module__
pipe.set_progress_bar_config(disable=True)
images = pipe(["Bengal", "other"], num_inference_steps=4, guidance_scale=2.5, seed=77, output_type="np").images
np.save({str(out)!r}, images)
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert np.array_equal(np.load(out), images)


def test_dynamic_pipeline_can_save_again(saved, tmp_path):
    folder, images = saved
    from diffusers import DiffusionPipeline

    pipe = DiffusionPipeline.from_pretrained(folder, trust_remote_code=True)
    pipe.save_pretrained(tmp_path / "again")
    reloaded = CatsDiTPipeline.from_pretrained(tmp_path / "again")
    reloaded.set_progress_bar_config(disable=True)
    again = reloaded(["Bengal", "other"], num_inference_steps=4, guidance_scale=2.5, seed=77, output_type="np").images
    assert np.array_equal(images, again)


def copy_folder(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_truncated_weights_error_names_the_file(saved, tmp_path):
    folder = copy_folder(saved[0], tmp_path / "broken")
    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    for load in (
        lambda: CatsDiTPipeline.from_pretrained(folder),
        lambda: __import__("diffusers").DiffusionPipeline.from_pretrained(folder, trust_remote_code=True),
    ):
        with pytest.raises(OSError) as err:
            load()
        assert "diffusion_pytorch_model.safetensors" in str(err.value) and "truncated" in str(err.value)


def test_missing_weights_and_wrong_folder_errors(saved, tmp_path):
    folder = copy_folder(saved[0], tmp_path / "missing")
    (folder / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(OSError, match="diffusion_pytorch_model.safetensors is missing"):
        CatsDiTPipeline.from_pretrained(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match="model_index.json is missing"):
        CatsDiTPipeline.from_pretrained(tmp_path / "empty")
