"""The metrics on the committed demo weights: good weights score well and well above random ones.

A fresh cartoon-cats set (a seed the demo was not trained on) is the real data; a copy of the
demo generator with random weights is the deliberately broken one.
"""

import json
import math
from pathlib import Path

import pytest
import torch

from cats_dit import CatsDiTPipeline
from cats_dit.data import make_cartoon_dataset
from cats_dit.eval import SUMMARY_KEYS
from cats_dit.eval.__main__ import main

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (WEIGHTS / "pipeline" / "model_index.json").is_file()
        or not (WEIGHTS / "classifier" / "config.json").is_file(),
        reason="demo weights (weights/pipeline, weights/classifier) are not in this checkout",
    ),
]
COMMON = ["--per-breed", "5", "--steps", "8", "--kid-subsets", "10", "--max-real-per-breed", "30"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_eval")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        make_cartoon_dataset(root / "cartoon", per_class=40, seed=20261129, test_fraction=0.4, progress=False)
        pipe = CatsDiTPipeline.from_pretrained(WEIGHTS / "pipeline")
        torch.manual_seed(0)
        with torch.no_grad():
            for p in pipe.transformer.parameters():
                p.normal_(0.0, 0.05)
        pipe.save_pretrained(root / "random_pipeline")
        base = ["--classifier", str(WEIGHTS / "classifier"), "--real", str(root / "cartoon"), *COMMON]
        assert main(["--generator", str(WEIGHTS / "pipeline"), "--out", str(root / "demo"), *base,
                     "--guidance-sweep", "1,3"]) == 0  # fmt: skip
        assert main(["--generator", str(root / "random_pipeline"), "--out", str(root / "random"), *base,
                     "--guidance-sweep", "none"]) == 0  # fmt: skip
    finally:
        torch.set_num_threads(before)
    return tuple(json.loads((root / name / "eval.json").read_text()) for name in ("demo", "random"))


def test_demo_weights_have_every_metric_and_beat_chance_and_stay_above_the_floor(runs):
    demo, _ = runs
    s = demo["summary"]
    for key in SUMMARY_KEYS:
        assert math.isfinite(s[key]), key
    assert len(demo["metrics"]["breed_fidelity"]["per_breed"]) == 13
    assert len(demo["guidance_sweep"]) == 2
    assert s["breed_fidelity"] > 4 * s["chance"]  # chance is 1/13
    assert s["fd"] > s["fd_floor"] > 0  # real held-out images are the best any generator can do
    assert s["kid"] > s["kid_floor"]


def test_random_weights_score_clearly_worse_on_every_metric(runs):
    demo, broken = runs
    d, b = demo["summary"], broken["summary"]
    assert d["breed_fidelity"] - b["breed_fidelity"] > 0.25
    assert b["fd"] > 2 * d["fd"]
    assert b["kid"] > 2 * d["kid"]
    assert d["recall"] > b["recall"] + 0.2
    assert d["density"] > 1.5 * b["density"]
    assert d["coverage"] > b["coverage"] + 0.2
    assert d["class_precision"] > b["class_precision"] + 0.2
    assert d["class_recall"] > b["class_recall"] + 0.2
    # Overall k-NN precision is left out on purpose: noise images land next to real spotted coats
    # in this feature space, inside a few large real k-NN balls, and can score a precision as high
    # as the demo's (measured: 0.93 vs 0.78 at 20 images per breed). Density, coverage and the
    # per-breed precision above are the versions of "realism" that this does not fool.
    assert b["fd_floor"] == pytest.approx(d["fd_floor"], rel=1e-3)  # the same real images on both sides
