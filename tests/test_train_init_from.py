"""train_dit.py --init-from: start from another model's weights (fine-tune / continue), refuse misfits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cats_dit import TinyDiTModel
from cats_dit.testing import build_tiny_pipeline

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "train"))
from init_from import load_initial_weights  # noqa: E402


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("src") / "pipeline"
    build_tiny_pipeline(seed=4).save_pretrained(folder)
    return folder


def output(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 3, 16, 16, generator=g)
    with torch.no_grad():
        return model.eval()(x, torch.tensor([900.0, 50.0]), torch.tensor([3, 13])).sample


def test_weights_are_copied_from_a_pipeline_or_transformer_folder(source):
    ref = TinyDiTModel.from_pretrained(source / "transformer")
    for where in (source, source / "transformer"):
        model = TinyDiTModel(**{k: v for k, v in ref.config.items() if not k.startswith("_")})
        assert not torch.equal(output(model), output(ref))
        info = load_initial_weights(model, str(where))
        assert info["new_modules"] == []
        assert torch.equal(output(model), output(ref))


def test_a_model_can_gain_the_final_conv_and_starts_where_the_source_was(source):
    ref = TinyDiTModel.from_pretrained(source / "transformer")
    config = {k: v for k, v in ref.config.items() if not k.startswith("_")}
    model = TinyDiTModel(**{**config, "final_conv": True})
    info = load_initial_weights(model, str(source))
    assert info["new_modules"] == ["conv_out"]
    torch.testing.assert_close(output(model), output(ref), rtol=0, atol=1e-6)


def test_misfits_are_refused_naming_the_tensors(source, tmp_path):
    ref = TinyDiTModel.from_pretrained(source / "transformer")
    config = {k: v for k, v in ref.config.items() if not k.startswith("_")}
    wider = TinyDiTModel(**{**config, "hidden_size": 32, "num_heads": 4})
    with pytest.raises(ValueError, match=r"shapes that differ.*blocks.0.attn.qkv.weight \(192, 64\) vs \(96, 32\)"):
        load_initial_weights(wider, str(source))
    deeper = TinyDiTModel(**{**config, "depth": 3})
    with pytest.raises(ValueError, match=r"tensors the source lacks: blocks\.2\."):
        load_initial_weights(deeper, str(source))
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_initial_weights(deeper, str(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match="config.json is missing"):
        load_initial_weights(deeper, str(tmp_path / "empty"))


@pytest.mark.slow
def test_train_dit_starts_from_the_given_weights(source, tmp_path):
    from cats_dit.data import make_cartoon_dataset

    data = make_cartoon_dataset(tmp_path / "pets", per_class=3, seed=2, progress=False)
    out = tmp_path / "ft"
    cmd = [sys.executable, str(REPO / "train" / "train_dit.py"), "--data-root", str(data), "--output-dir", str(out)]
    cmd += ["--preset", "tiny", "--init-from", str(source), "--model-override", "final_conv=true", "--lr", "0"]
    cmd += [
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--sample-every",
        "0",
        "--sample-steps",
        "2",
        "--torch-threads",
        "1",
    ]
    cmd += ["--prediction-type", "sample"]
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "new modules at identity init: conv_out" in proc.stdout + proc.stderr
    config = json.loads((out / "run_config.json").read_text())
    assert config["init_from"] == str(source) and config["loss_space"] == "velocity"
    # lr 0: the saved EMA weights are the source's, plus the identity conv.
    tuned = TinyDiTModel.from_pretrained(out / "pipeline" / "transformer")
    torch.testing.assert_close(
        output(tuned), output(TinyDiTModel.from_pretrained(source / "transformer")), rtol=0, atol=1e-6
    )
