"""static_site/models/ (committed, what the page loads) stays in step with weights/.

If the demo weights are retrained without re-exporting, the browser would draw different
cats than Python: these checks catch that.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cats_dit import CatsDiTPipeline
from cats_dit.classifier import BreedClassifier
from cats_dit.onnx_pipeline import OnnxBreedClassifier, OnnxCatsDiTPipeline

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "static_site" / "models"
REEXPORT = "re-export: python -m export --pipeline weights/pipeline --classifier weights/classifier --output static_site/models --precisions fp32,fp16 --only-default"


def test_every_listed_file_exists_with_its_size_and_sha256():
    meta = json.loads((MODELS / "models.json").read_text())
    for model in ("generator", "classifier"):
        default = meta[model]["default_precision"]
        assert default in meta[model]["files"], f"{model}: default precision {default} has no file"
        for entry in meta[model]["files"].values():
            data = (MODELS / entry["name"]).read_bytes()
            assert len(data) == entry["size"], entry["name"]
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["name"]


@pytest.mark.slow
def test_browser_models_draw_the_same_cats_as_the_demo_pipeline():
    torch.set_num_threads(2)
    pipe = CatsDiTPipeline.from_pretrained(ROOT / "weights" / "pipeline")
    pipe.set_progress_bar_config(disable=True)
    onnx = OnnxCatsDiTPipeline.from_folder(MODELS)
    breeds = ["Bengal", "Sphynx", "other"]
    ours = onnx(breeds, seed=5)
    steps, guidance = onnx.defaults["num_inference_steps"], onnx.defaults["guidance_scale"]
    ref = pipe(breeds, num_inference_steps=steps, guidance_scale=guidance, seed=5, output_type="np").images
    mse = float(np.mean((ours - ref) ** 2))
    psnr = 10 * np.log10(1.0 / max(mse, 1e-12))
    assert psnr >= 35.0, f"static_site/models differ from weights/pipeline (PSNR {psnr:.1f} dB); {REEXPORT}"

    clf = BreedClassifier.from_pretrained(ROOT / "weights" / "classifier")
    onnx_clf = OnnxBreedClassifier.from_folder(MODELS)
    images = [(img * 255).round().astype(np.uint8) for img in ref]
    agree = onnx_clf.predict_proba(images).argmax(1) == clf.predict_proba(images).numpy().argmax(1)
    assert agree.all(), f"static_site/models classifier disagrees with weights/classifier; {REEXPORT}"
