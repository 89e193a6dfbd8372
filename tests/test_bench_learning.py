"""benchmarks/bench_learning.py end to end at a toy budget: both models train in the one loop, every
evaluation point is measured, and the table, JSON and plot are written."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_learning  # noqa: E402


def test_parse_variant_and_errors():
    assert bench_learning.parse_variant("tinydit-v1+lr=0.001+pred=sample") == (
        "tinydit-v1",
        {"qk_norm": 1, "class_std": 0.02, "time_std": 0.02, "lr": 0.001, "pred": "sample"},
    )
    # "tinydit" is the presets' recipe (x-prediction); velocity is an explicit modifier
    assert bench_learning.parse_variant("tinydit") == ("tinydit", {"qk_norm": 0, "pred": "sample"})
    assert bench_learning.parse_variant("tinydit+pred=velocity")[1]["pred"] == "velocity"
    with pytest.raises(ValueError, match="unknown variant base"):
        bench_learning.parse_variant("unet")
    with pytest.raises(ValueError, match="key=value"):
        bench_learning.parse_variant("tinydit+lr")


def test_block_cond_gives_every_block_its_own_condition():
    import torch

    base, opts = bench_learning.parse_variant("tinydit+block_cond=1")
    model = bench_learning.build_model(base, opts, 16, seed=0)
    shared = bench_learning.build_model("tinydit", {"qk_norm": 0}, 16, seed=0)
    extra = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in shared.parameters())
    d, depth = model.config.hidden_size, len(model.blocks)
    assert extra == (depth - 1) * (256 * d + d + d * d + d + 14 * d)  # a time MLP and class table per extra block
    seen = []
    for block in model.blocks:
        block.register_forward_hook(lambda mod, args, out: seen.append(args[1].detach().clone()))
    x, t, y = torch.randn(2, 3, 16, 16), torch.tensor([300.0, 700.0]), torch.tensor([1, 13])
    with torch.no_grad():
        model(x, t, y)
    assert len(seen) == depth and all(not torch.allclose(seen[0], c) for c in seen[1:])
    # the first block (and the final layer) keep the model's shared embedding
    with torch.no_grad():
        want = model.time_embed(bench_learning.timestep_embedding(t, 256)) + model.class_embed(y)
    assert torch.allclose(seen[0], want)


def test_guidance_interval_is_checked(capsys):
    with pytest.raises(SystemExit):
        bench_learning.parse_args(["--guidance-interval", "0.5,0.2"])
    assert "--guidance-interval: guidance_interval must satisfy 0 <= low <= high <= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_learning_runs_two_models_on_digits(tmp_path, capsys):
    out = tmp_path / "bl"
    argv = [
        "--datasets",
        "digits16",
        "--variants",
        "tinydit,diffusers-dit,tinydit-v1+qk_norm=0",
        "--steps",
        "6",
        "--batch",
        "8",
        "--per-class",
        "3",
        "--eval-at",
        "0.5,1.0",
        "--jobs",
        "1",
        "--threads",
        "1",
        "--judge-epochs",
        "1",
        "--guidance-interval",
        "0.2,1",
        "--out",
        str(out),
    ]
    assert bench_learning.main(argv) == 0
    result = json.loads((out / "learning.json").read_text())["results"]["digits16"]
    assert result["floor_fd"] > 0 and 0 <= result["judge_acc"] <= 1
    runs = {r["variant"]: r for r in result["runs"]}
    assert set(runs) == {"tinydit", "diffusers-dit", "tinydit-v1+qk_norm=0"}
    assert runs["diffusers-dit"]["params"] != runs["tinydit"]["params"]  # really two different models
    for run in runs.values():
        assert [p["step"] for p in run["curve"]] == [3, 6]
        for p in run["curve"]:
            assert p["loss"] > 0 and 0 <= p["acc_g1"] <= 1 and p["fd_ratio_g3"] > 0
    table = capsys.readouterr().out
    assert "| digits16 | diffusers-dit |" in table and "load average at start" in table
    assert "Guidance applied at noise levels 0.2-1" in table
    assert json.loads((out / "learning.json").read_text())["args"]["guidance_interval"] == [0.2, 1.0]
    assert (out / "learning.png").stat().st_size > 5000
