"""train/train_dit.py end to end on a small cartoon-cats tree: real subprocesses, real files.

One uninterrupted run (A) is shared by several tests: loss falls, checkpoints rotate, sample
grids and the pipeline folder are written, and it is the reference for kill-and-resume.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cats_dit.accelerate_launch import accelerate_command
from cats_dit.testing import free_port

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "train" / "train_dit.py"
sys.path.insert(0, str(REPO / "train"))
from checkpointing import config_differences, list_checkpoints  # noqa: E402

# Same arguments for run A and run B (only --output-dir differs): exact resume compares them.
STEPS = 40
COMMON = [
    "--preset",
    "tiny",
    "--max-steps",
    str(STEPS),
    "--batch-size",
    "16",
    "--checkpointing-steps",
    "5",
    "--checkpoints-total-limit",
    "2",
    "--sample-every",
    "20",
    "--sample-steps",
    "4",
    "--log-every",
    "1",
    "--seed",
    "3",
    "--num-workers",
    "0",
    "--torch-threads",
    "1",
]


def env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run_train(args: list[str], timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=REPO, env=env(), capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"training failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def tb_scalars(logdir: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values = []
    for events in logdir.rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        if tag in acc.Tags()["scalars"]:
            values += [(e.step, e.value) for e in acc.Scalars(tag)]
    return sorted(values)


@pytest.fixture(scope="module")
def cartoon_root(tmp_path_factory) -> Path:
    from cats_dit.data import make_cartoon_dataset

    return make_cartoon_dataset(tmp_path_factory.mktemp("cartoon") / "pets", per_class=10, seed=11, progress=False)


@pytest.fixture(scope="module")
def run_a(cartoon_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run_a")
    run_train(["--data-root", str(cartoon_root), "--output-dir", str(out), *COMMON])
    return out


@pytest.mark.slow
def test_training_run_writes_everything_and_loss_falls(run_a):
    losses = [v for _, v in tb_scalars(run_a / "logs", "loss")]
    assert len(losses) == STEPS
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < 0.85 * first, f"loss did not fall: first steps {first:.3f}, last steps {last:.3f}"

    # Checkpoints rotate: only the newest two survive, complete and with their run config.
    ckpts = [p.name for p in list_checkpoints(run_a / "checkpoints")]
    assert ckpts == [f"checkpoint-{STEPS - 5}", f"checkpoint-{STEPS}"]
    assert not list((run_a / "checkpoints").glob("*.tmp"))
    for name in ckpts:
        files = {p.name for p in (run_a / "checkpoints" / name).iterdir()}
        assert {
            "model.safetensors",
            "optimizer.bin",
            "scheduler.bin",
            "run_config.json",
            "trainer_state.json",
            "custom_checkpoint_0.pkl",
            "random_states_0.pkl",
        } <= files

    # Per-breed sample grids: 13 labelled rows of 6 upscaled 16 px samples.
    from PIL import Image

    grids = sorted(p.name for p in (run_a / "samples").glob("*.png"))
    assert grids == ["step-000020.png", "step-000040.png"]
    grid = Image.open(run_a / "samples" / "step-000040.png")
    assert grid.height == 13 * (32 + 2) and grid.width > 6 * 32

    card = (run_a / "pipeline" / "README.md").read_text()
    assert "library_name: diffusers" in card and f"steps: {STEPS}" in card and "final training loss" in card


@pytest.mark.slow
def test_pipeline_folder_loads_without_the_package(run_a):
    """DiffusionPipeline + trust_remote_code, with `cats_dit` made unimportable in the child."""
    code = f"""
import sys
sys.modules["cats_dit"] = None  # any `import cats_dit` now fails: only the folder's own code may be used
from diffusers import DiffusionPipeline
pipe = DiffusionPipeline.from_pretrained({str(run_a / "pipeline")!r}, trust_remote_code=True)
assert type(pipe).__name__ == "CatsDiTPipeline", type(pipe)
for obj in (pipe, pipe.transformer, pipe.scheduler):
    assert not type(obj).__module__.startswith("cats_dit."), type(obj).__module__  # the copies in the folder
img = pipe("Bengal", num_inference_steps=3, seed=1, output_type="np").images
assert img.shape == (1, 16, 16, 3), img.shape
print("OK", type(pipe.transformer).__module__)
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=run_a, env=env(), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]


@pytest.mark.slow
def test_kill_and_resume_gives_identical_weights(run_a, cartoon_root, tmp_path):
    out = tmp_path / "run_b"
    args = [sys.executable, str(SCRIPT), "--data-root", str(cartoon_root), "--output-dir", str(out), *COMMON]
    proc = subprocess.Popen(args, cwd=REPO, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = out / "checkpoints" / "checkpoint-5"
    deadline = time.time() + 600
    while not (first / "trainer_state.json").is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"run B was not killed mid-run (exit {proc.returncode}):\n{err[-3000:]}"
    assert not (out / "pipeline").exists(), "run B finished before the kill; nothing was tested"
    killed_at = list_checkpoints(out / "checkpoints")[-1]

    # A kill during saving leaves a .tmp folder; --resume latest must ignore (and clear) it.
    stale = out / "checkpoints" / f"checkpoint-{STEPS - 1}.tmp"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half-written")

    resumed = run_train(["--data-root", str(cartoon_root), "--output-dir", str(out), *COMMON, "--resume", "latest"])
    assert f"Resumed from {killed_at}" in resumed.stdout + resumed.stderr
    assert not stale.exists()

    for rel in (
        f"checkpoints/checkpoint-{STEPS}/model.safetensors",
        "pipeline/transformer/diffusion_pytorch_model.safetensors",
    ):
        a, b = load_file(run_a / rel), load_file(out / rel)
        assert a.keys() == b.keys()
        different = [k for k in a if not torch.equal(a[k], b[k])]
        assert not different, f"{rel}: {len(different)} tensors differ after resume, e.g. {different[:3]}"
    ema_a = torch.load(run_a / f"checkpoints/checkpoint-{STEPS}/custom_checkpoint_0.pkl", weights_only=True)
    ema_b = torch.load(out / f"checkpoints/checkpoint-{STEPS}/custom_checkpoint_0.pkl", weights_only=True)
    assert ema_a["optimization_step"] == ema_b["optimization_step"] == STEPS


@pytest.mark.slow
def test_resume_refuses_a_checkpoint_from_another_config(run_a, cartoon_root, tmp_path):
    out = tmp_path / "other"
    (out / "checkpoints").mkdir(parents=True)
    src = run_a / "checkpoints" / f"checkpoint-{STEPS}"
    os.symlink(src, out / "checkpoints" / src.name)
    args = [a if a != "16" else "8" for a in COMMON]  # --batch-size 8
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--data-root",
            str(cartoon_root),
            "--output-dir",
            str(out),
            *args,
            "--lr",
            "0.002",
            "--resume",
            "latest",
        ],
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode != 0
    assert "different configuration" in proc.stderr
    assert "batch_size: checkpoint 16, now 8" in proc.stderr and "lr: checkpoint 0.001, now 0.002" in proc.stderr
    assert not (out / "pipeline").exists()


def test_config_differences_names_nested_fields():
    saved = {"lr": 1e-3, "model": {"depth": 2, "hidden_size": 64}, "seed": 0}
    now = {"lr": 1e-3, "model": {"depth": 3, "hidden_size": 64}, "seed": 0, "flip": True}
    assert config_differences(saved, now) == [
        "flip: checkpoint '<absent>', now True",
        "model.depth: checkpoint 2, now 3",
    ]
    assert config_differences(saved, saved) == []


@pytest.mark.slow
def test_two_process_accelerate_launch(cartoon_root, tmp_path, run_a):
    """Two real CPU processes (gloo): data sharded, one set of outputs, a time budget both agree on.

    accelerate 1.x's `launch --cpu --num_processes 2` starts a single process (its CPU multi-process
    path needs an MPI hostfile), so the 2-process CPU launch is `--multi_gpu` on a machine without
    CUDA, where train_dit.py asks accelerate for the CPU."""
    out = tmp_path / "ddp"
    args = [
        "--data-root",
        str(cartoon_root),
        "--output-dir",
        str(out),
        "--cpu",
        "--preset",
        "tiny",
        "--batch-size",
        "8",
        "--max-steps",
        "100000",
        "--max-train-seconds",
        "6",
        "--checkpointing-steps",
        "5",
        "--sample-every",
        "0",
        "--sample-steps",
        "2",
        "--num-workers",
        "0",
        "--torch-threads",
        "1",
    ]
    cmd = accelerate_command(SCRIPT, 2, args, mixed_precision="no", main_process_port=free_port())
    proc = subprocess.run(cmd, cwd=REPO, env=env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    summary = json.loads((out / "summary.json").read_text())
    steps = summary["step"]
    assert 5 <= steps < 100000
    assert summary["images_seen"] == steps * 8 * 2  # each process drew its own 8-image shard per step
    config = json.loads((out / "run_config.json").read_text())
    assert config["num_processes"] == 2
    last = out / "checkpoints" / f"checkpoint-{steps}"
    assert {"random_states_0.pkl", "random_states_1.pkl", "model.safetensors"} <= {p.name for p in last.iterdir()}
    # One set of outputs: one pipeline, one final grid, as many TensorBoard files as a 1-process run.
    assert (out / "pipeline" / "model_index.json").is_file()
    assert [p.name for p in (out / "samples").iterdir()] == [f"step-{steps:06d}.png"]
    n_events = len(list((out / "logs").rglob("events.out.tfevents.*")))
    assert n_events == len(list((run_a / "logs").rglob("events.out.tfevents.*")))
    assert (proc.stdout + proc.stderr).count("Saved ") == 1
