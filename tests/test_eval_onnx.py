"""cats_dit.eval reads an ONNX models folder (python -m export output) like a pipeline folder."""

import pytest
import torch

from cats_dit.classifier import BreedClassifier
from cats_dit.data import make_cartoon_dataset
from cats_dit.eval import EvalSettings, run_eval
from cats_dit.testing import build_tiny_pipeline


@pytest.mark.slow
def test_onnx_generator_scores_like_the_torch_pipeline(tmp_path):
    from cats_dit.onnx.export import run_export

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pipe = build_tiny_pipeline(seed=1)
        pipe.save_pretrained(tmp_path / "pipeline")
        BreedClassifier("resnet18", image_size=32).save_pretrained(tmp_path / "classifier")
        run_export(
            tmp_path / "pipeline", tmp_path / "classifier", tmp_path / "onnx", precisions=["fp32"], log=lambda *_: None
        )
        make_cartoon_dataset(tmp_path / "cartoon", per_class=6, seed=2, test_fraction=0.4, progress=False)
        results = {}
        for kind in ("pipeline", "onnx"):
            results[kind] = run_eval(
                EvalSettings(
                    generator=str(tmp_path / kind),
                    classifier=str(tmp_path / "classifier"),
                    real=str(tmp_path / "cartoon"),
                    out=str(tmp_path / f"eval_{kind}"),
                    per_breed=4,
                    steps=3,
                    breeds=["Ragdoll", "Russian_Blue", "other"],
                    guidance_sweep=[],
                    kid_subsets=3,
                )
            )
    finally:
        torch.set_num_threads(before)
    torch_r, onnx_r = results["pipeline"], results["onnx"]
    assert onnx_r["generator"]["kind"] == "onnx" and onnx_r["generator"]["precision"] == "fp32"
    assert torch_r["generator"]["kind"] == "torch"
    # same seeded noise, same maths: the same images up to float round-off, so the same scores
    assert onnx_r["confusion_matrix"] == torch_r["confusion_matrix"]
    for key in ("fd", "kid", "precision", "recall", "fd_floor"):
        assert onnx_r["summary"][key] == pytest.approx(torch_r["summary"][key], rel=1e-3, abs=1e-6), key
