"""The independent judge: learns real cartoon cats at the generator's size, is not fooled by blobs,
round-trips through disk, refuses wrong inputs, and plugs into ``python -m cats_dit.eval``."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cats_dit import build_pipeline
from cats_dit.classifier import BreedClassifier
from cats_dit.data import make_cartoon_dataset
from cats_dit.eval import EvalSettings, run_eval
from cats_dit.eval.judge import Judge, accuracy, train_judge
from cats_dit.eval.real import load_images, load_split
from cats_dit.eval.train_judge import main as train_judge_main

SIZE = 16


@pytest.fixture(scope="module")
def real_sets(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("judge")
    train_root = make_cartoon_dataset(root / "train", per_class=40, seed=11, test_fraction=0.25, progress=False)
    fresh_root = make_cartoon_dataset(root / "fresh", per_class=10, seed=12, test_fraction=0.5, progress=False)
    train = load_images(load_split(train_root, "trainval") + load_split(train_root, "test"), SIZE)
    fresh = load_images(load_split(fresh_root, "trainval") + load_split(fresh_root, "test"), SIZE)
    return root, train_root, train, fresh


@pytest.fixture(scope="module")
def judge(real_sets):
    _, _, (x, y), _ = real_sets
    return train_judge(x, y, epochs=8, batch_size=64, progress=False)


@pytest.mark.slow
def test_judge_learns_fresh_cats_and_is_not_fooled_by_blobs(judge, real_sets):
    _, _, _, (x, y) = real_sets
    real_acc = accuracy(judge, x, y)
    assert real_acc > 0.4, f"judge accuracy {real_acc:.2f} on fresh cartoon cats (chance 0.08)"
    # Colour blobs: the same images with every shape detail removed (4 px and back).
    blobs = F.interpolate(F.interpolate(x, size=(4, 4), mode="area"), size=(SIZE, SIZE), mode="bilinear")
    blob_acc = accuracy(judge, blobs.clamp(0, 1), y)
    assert blob_acc < real_acc - 0.15, f"blobs scored {blob_acc:.2f} vs real {real_acc:.2f}"


def test_judge_round_trips_and_refuses_wrong_inputs(judge, tmp_path):
    judge.save_pretrained(tmp_path / "j", {"note": 1})
    again = Judge.from_pretrained(tmp_path / "j")
    x = torch.rand(5, 3, SIZE, SIZE)
    np.testing.assert_allclose(again.features(x)[0], judge.features(x)[0], atol=1e-6)
    assert again.metrics == {"note": 1}
    with pytest.raises(ValueError, match=r"\[B, 3, 16, 16\]"):
        judge.features(torch.rand(2, 3, 32, 32))
    with pytest.raises(FileNotFoundError, match="judge_config.json"):
        Judge.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="at least"):
        train_judge(torch.rand(3, 3, SIZE, SIZE), [0, 1, 2], batch_size=8)


def save_untrained_models(folder, backbone: str) -> None:
    """A tiny pipeline whose zero-initialised output is perturbed (so it draws noise, not a flat
    image) in ``folder/pipeline``, and an untrained classifier in ``folder/classifier``."""
    torch.manual_seed(0)
    pipe = build_pipeline("tiny")
    with torch.no_grad():
        for p in pipe.transformer.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    pipe.save_pretrained(folder / "pipeline")
    BreedClassifier(backbone, image_size=32).save_pretrained(folder / "classifier")


@pytest.mark.slow
def test_train_judge_cli_and_eval_reports_judge_numbers(real_sets, tmp_path):
    root, train_root, _, _ = real_sets
    assert (
        train_judge_main(
            ["--real", str(train_root), "--size", str(SIZE), "--out", str(tmp_path / "j"), "--epochs", "2"]
        )
        == 0
    )
    saved = json.loads((tmp_path / "j" / "judge_config.json").read_text())
    assert saved["image_size"] == SIZE and 0 <= saved["metrics"]["test_accuracy"] <= 1

    save_untrained_models(tmp_path, "resnet18")
    settings = EvalSettings(
        generator=str(tmp_path / "pipeline"),
        classifier=str(tmp_path / "classifier"),
        real=str(train_root),
        out=str(tmp_path / "out"),
        per_breed=4,
        steps=2,
        breeds=["Bengal", "Sphynx"],
        guidance_sweep=[1.0, 3.0],
        kid_subsets=5,
        judge=str(tmp_path / "j"),
    )
    s = run_eval(settings)["summary"]
    assert 0 <= s["judge_fidelity"] <= 1 and s["judge_fd"] > 0 and s["judge_fd_floor"] > 0
    # random weights draw noise: far from real images in the judge's space
    assert s["judge_fd"] > 2 * s["judge_fd_floor"]
    sweep = json.loads((tmp_path / "out" / "eval.json").read_text())["guidance_sweep"]
    assert all("judge_fidelity" in row and "judge_fd" in row for row in sweep)

    wrong = EvalSettings(**{**settings.__dict__, "out": str(tmp_path / "out2")})
    Judge(image_size=32).save_pretrained(tmp_path / "j32")
    wrong.judge = str(tmp_path / "j32")
    with pytest.raises(ValueError, match="trained at 32 px but the generator draws 16 px"):
        run_eval(wrong)


@pytest.mark.slow
def test_sweep_sampling_passes_solver_shift_and_interval_through(judge, real_sets, tmp_path):
    """Each setting must change the images: an earlier sweep silently drew every Heun row with Euler."""
    from benchmarks.sweep_sampling import main as sweep_main

    _, train_root, _, _ = real_sets
    judge.save_pretrained(tmp_path / "judge")
    save_untrained_models(tmp_path, "mobilenet_v3_small")
    settings = "euler:4:1:3,heun:4:1:3,euler:4:3:3,euler:4:1:3:0.5-1,euler:4:1:1"
    args = ["--generator", str(tmp_path / "pipeline"), "--classifier", str(tmp_path / "classifier")]
    args += ["--judge", str(tmp_path / "judge"), "--real", str(train_root), "--per-breed", "2"]
    assert sweep_main([*args, "--settings", settings, "--out", str(tmp_path / "sweep")]) == 0
    rows = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["rows"]
    assert [(r["solver"], r["calls"], r["rows"]) for r in rows] == [
        ("euler", 4, 8),
        ("heun", 7, 14),
        ("euler", 4, 8),
        ("euler", 4, 6),  # s = 1 and 0.667 guided; 0.334 and 0.001 not
        ("euler", 4, 4),
    ]
    assert rows[3]["interval"] == [0.5, 1.0] and rows[0]["interval"] == [0.0, 1.0]  # the model's own
    fds = [r["judge_fd_ratio"] for r in rows]
    assert len({round(fd, 9) for fd in fds}) == len(fds), f"two settings drew the same images: {fds}"
