"""Train cats_dit on Modal GPUs: data -> generator + classifier -> ONNX -> eval -> (optional) Hub, one command.

    modal setup                                                   # once: log in
    modal secret create huggingface-secret HF_TOKEN=hf_...        # once, only for --push
    modal run --detach train/modal_app.py --preset s128 --gpu A100-80GB:2 --steps 200000 \
        --run-name s128-a100 [--push --repo-id you/cats-dit]

Stages run as separate Modal Functions, so each gets the hardware it needs:

    prepare_data      CPU   Oxford-IIIT Pet (or cartoon cats) into the data volume + pre-resized cache
    train_dit         GPU   accelerate launch --num_processes <gpus> --mixed_precision bf16 train/train_dit.py
    train_classifier  GPU   accelerate launch ... train/train_classifier.py
    export            CPU   python -m export (ONNX fp32/fp16/int8 + models.json)
    evaluate          CPU   python -m cats_dit.eval (eval.json + plots, needed by the model card)
    push_to_hub       CPU   python -m cats_dit.hub push (HF_TOKEN from the Modal Secret)

Each is callable alone, e.g. ``modal run train/modal_app.py::train_dit --preset s128 --gpu H100:4``:
a GPU type and count are chosen at call time with ``Function.with_options(gpu=...)``.

Long runs survive preemption and the 24 h limit per attempt: training always passes
``--resume latest``, checkpoints are written atomically by the training script and the runs
volume is committed as soon as each one appears, and every GPU Function has
``retries=modal.Retries(...)``. A waiting Function records the id of the GPU call it waits for
in the runs volume, so when it is itself restarted it re-attaches to that call instead of
starting a second trainer.

This file holds only the Modal objects and thin Functions; what they run is plain Python in
``train/cloud/`` (called with the volume mount points), which the tests run locally against a
temporary folder. Importing this file needs no Modal credentials and no network.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import modal
from modal.file_pattern_matcher import FilePatternMatcher

REPO_ROOT = Path(__file__).resolve().parent.parent
if modal.is_local():  # `modal run train/modal_app.py` puts train/, not the checkout, on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from train.cloud.gpu import gpu_count, parse_gpu  # noqa: E402
from train.cloud.layout import (  # noqa: E402
    APP_NAME,
    DATA_DIR,
    DATA_VOLUME_NAME,
    HF_SECRET_NAME,
    PROJECT_DIR,
    RUNS_DIR,
    RUNS_VOLUME_NAME,
    run_paths,
)
from train.cloud.prepare import run_prepare_data  # noqa: E402
from train.cloud.publish import run_evaluate, run_export, run_push_to_hub  # noqa: E402
from train.cloud.reattach import wait_for_gpu_call  # noqa: E402
from train.cloud.requirements import image_requirements  # noqa: E402
from train.cloud.training import run_train_classifier, run_train_dit  # noqa: E402

PYTHON_VERSION = "3.11"
DEFAULT_GPU = "A100-80GB:2"
DEFAULT_RUN_NAME = "s128"
DAY = 24 * 3600  # Modal's longest timeout per attempt; retries give a run more attempts
TRAIN_RETRIES = modal.Retries(max_retries=6, backoff_coefficient=1.0, initial_delay=30.0)
CPU_RETRIES = modal.Retries(max_retries=2, backoff_coefficient=2.0, initial_delay=10.0)

# ----------------------------------------------------------------------------------------------
# Modal objects: all lazy, so importing this module needs no credentials and no network.
app = modal.App(APP_NAME)

_requirements = REPO_ROOT / "requirements.txt"
image = (
    modal.Image.debian_slim(python_version=PYTHON_VERSION)
    # In the container this file is re-imported without requirements.txt beside it; the image is already built.
    .uv_pip_install(*(image_requirements(_requirements) if _requirements.is_file() else []))
    .env({"PYTHONUNBUFFERED": "1", "TORCH_HOME": str(DATA_DIR / "torch-cache"), "HF_HOME": str(DATA_DIR / "hf")})
    # the package's .py files plus its model card template (hub.py renders it for --push)
    .add_local_python_source("cats_dit", ignore=~FilePatternMatcher("**/*.py", "**/*.jinja"))
    .add_local_dir(REPO_ROOT / "train", str(PROJECT_DIR / "train"), ignore=["__pycache__", "*.pyc"])
    .add_local_dir(REPO_ROOT / "export", str(PROJECT_DIR / "export"), ignore=["__pycache__", "*.pyc"])
)

data_volume = modal.Volume.from_name(DATA_VOLUME_NAME, create_if_missing=True)
runs_volume = modal.Volume.from_name(RUNS_VOLUME_NAME, create_if_missing=True)
# Looked up only when a push is asked for (attached with .with_options), so runs without one never need it.
hf_secret = modal.Secret.from_name(HF_SECRET_NAME)

VOLUMES = {str(DATA_DIR): data_volume, str(RUNS_DIR): runs_volume}


# ----------------------------------------------------------------------------------------------
# Modal Functions
@app.function(image=image, volumes=VOLUMES, cpu=8, memory=16384, timeout=4 * 3600, retries=CPU_RETRIES)
def prepare_data(dataset: str = "oxford", preset: str = "s128", per_class: int = 100) -> dict:
    """Download + verify the dataset and fill the pre-resized cache for ``preset`` (idempotent)."""
    from cats_dit import PRESETS

    summary = run_prepare_data(DATA_DIR, dataset, cache_sizes=(PRESETS[preset]["sample_size"],), per_class=per_class)
    data_volume.commit()
    return summary


@app.function(image=image, gpu=DEFAULT_GPU, volumes=VOLUMES, cpu=8, memory=65536, timeout=DAY, retries=TRAIN_RETRIES)
def train_dit_gpu(
    run_name: str, preset: str, steps: int, dataset: str, checkpointing_steps: int, batch_size: int, extra_args: str
) -> dict:
    """The GPU worker: one accelerate process per attached GPU (the GPU comes from ``with_options``)."""
    runs_volume.reload()  # a retried attempt sees every checkpoint committed by the previous one
    return run_train_dit(
        DATA_DIR, RUNS_DIR, run_name, preset, gpu_count(), steps or None, dataset, "bf16",
        checkpointing_steps or None, batch_size or None, extra_args.split(), commit=runs_volume.commit,
    )  # fmt: skip


@app.function(image=image, gpu="A10G", volumes=VOLUMES, cpu=8, memory=32768, timeout=DAY, retries=TRAIN_RETRIES)
def train_classifier_gpu(run_name: str, backbone: str, dataset: str, epochs: int, extra_args: str) -> dict:
    return run_train_classifier(
        DATA_DIR, RUNS_DIR, run_name, backbone, gpu_count(), dataset, "bf16", epochs or None,
        extra_args=extra_args.split(), commit=runs_volume.commit,
    )  # fmt: skip


WAIT = dict(image=image, volumes=VOLUMES, cpu=1, timeout=DAY, retries=TRAIN_RETRIES)


@app.function(**WAIT)
def train_dit(
    run_name: str = DEFAULT_RUN_NAME,
    preset: str = "s128",
    gpu: str = DEFAULT_GPU,
    steps: int = 200_000,
    dataset: str = "oxford",
    checkpointing_steps: int = 0,
    batch_size: int = 0,
    extra_args: str = "",
) -> dict:
    """Train the generator on ``gpu`` (e.g. 'H100:4'); resumes the run's latest checkpoint if there is one."""
    parse_gpu(gpu)
    kwargs = dict(run_name=run_name, preset=preset, steps=steps, dataset=dataset,
                  checkpointing_steps=checkpointing_steps, batch_size=batch_size, extra_args=extra_args)  # fmt: skip
    marker = run_paths(RUNS_DIR, run_name)["calls"] / "train_dit.json"
    return wait_for_gpu_call(train_dit_gpu, gpu, marker, kwargs, runs_volume)


@app.function(**WAIT)
def train_classifier(
    run_name: str = DEFAULT_RUN_NAME,
    backbone: str = "efficientnet_b0",
    gpu: str = "A10G",
    dataset: str = "oxford",
    epochs: int = 15,
    extra_args: str = "",
) -> dict:
    """Train the breed classifier (ImageNet-pretrained backbone) on ``gpu``."""
    parse_gpu(gpu)
    kwargs = dict(run_name=run_name, backbone=backbone, dataset=dataset, epochs=epochs, extra_args=extra_args)
    marker = run_paths(RUNS_DIR, run_name)["calls"] / "train_classifier.json"
    return wait_for_gpu_call(train_classifier_gpu, gpu, marker, kwargs, runs_volume)


@app.function(image=image, volumes=VOLUMES, cpu=8, memory=16384, timeout=2 * 3600, retries=CPU_RETRIES)
def export(run_name: str = DEFAULT_RUN_NAME, extra_args: str = "") -> dict:
    """ONNX export of the run's pipeline and classifier into <run>/onnx (fp32/fp16/int8 + models.json)."""
    runs_volume.reload()
    models = run_export(RUNS_DIR, run_name, extra_args.split())
    runs_volume.commit()
    return models


@app.function(image=image, volumes=VOLUMES, cpu=16, memory=32768, timeout=6 * 3600, retries=CPU_RETRIES)
def evaluate(run_name: str = DEFAULT_RUN_NAME, dataset: str = "oxford", per_breed: int = 50, extra_args: str = ""):
    """Breed fidelity, FD/KID, precision/recall against the real test split -> <run>/eval/eval.json."""
    runs_volume.reload()
    summary = run_evaluate(DATA_DIR, RUNS_DIR, run_name, dataset, per_breed, extra_args.split())
    runs_volume.commit()
    return summary


@app.function(image=image, volumes=VOLUMES, timeout=3600, retries=CPU_RETRIES)
def push_to_hub(run_name: str = DEFAULT_RUN_NAME, repo_id: str = "", dry_run: bool = False) -> str:
    """Upload the run to the Hub (HF_TOKEN from the Modal Secret); ``--dry-run`` writes <run>/hub-upload only."""
    if not repo_id:
        raise ValueError("--repo-id is required, e.g. --repo-id your-name/cats-dit")
    runs_volume.reload()
    where = run_push_to_hub(RUNS_DIR, run_name, repo_id, dry_run)
    runs_volume.commit()
    return where


def hub_secret_or_exit() -> modal.Secret:
    """The Hub secret, checked before any GPU time is spent; exits with the command that creates it."""
    try:
        hf_secret.hydrate()
    except modal.exception.NotFoundError:
        sys.exit(
            f"--push needs the Modal Secret {HF_SECRET_NAME!r} with HF_TOKEN. Create it once with\n"
            f"  modal secret create {HF_SECRET_NAME} HF_TOKEN=hf_...\nor drop --push."
        )
    return hf_secret


@app.function(**WAIT)
def run_all(
    run_name: str, preset: str, gpu: str, steps: int, dataset: str, classifier_gpu: str, backbone: str,
    classifier_epochs: int, per_breed: int, push: bool, repo_id: str, dry_run: bool,
) -> dict:  # fmt: skip
    """The whole job, server-side, so it carries on after the laptop that started it disconnects."""
    from cats_dit import PRESETS

    out = {"data": prepare_data.remote(dataset, preset if preset in PRESETS else "s128")}
    out["train_dit"] = train_dit.remote(run_name=run_name, preset=preset, gpu=gpu, steps=steps, dataset=dataset)
    out["train_classifier"] = train_classifier.remote(
        run_name=run_name, backbone=backbone, gpu=classifier_gpu, dataset=dataset, epochs=classifier_epochs
    )
    out["export"] = export.remote(run_name)
    out["eval"] = evaluate.remote(run_name, dataset, per_breed)
    if push or dry_run:
        pusher = push_to_hub.with_options(secrets=[hf_secret]) if push and not dry_run else push_to_hub
        out["hub"] = pusher.remote(run_name, repo_id, dry_run)
    return out


@app.local_entrypoint()
def main(
    preset: str = "s128",
    gpu: str = DEFAULT_GPU,
    steps: int = 200_000,
    run_name: str = "",
    dataset: str = "oxford",
    classifier_gpu: str = "A10G",
    backbone: str = "efficientnet_b0",
    classifier_epochs: int = 15,
    per_breed: int = 50,
    push: bool = False,
    repo_id: str = "",
    dry_run: bool = False,
):
    """data -> train_dit + train_classifier -> export -> evaluate -> (optional) push, all on Modal."""
    parse_gpu(gpu)
    parse_gpu(classifier_gpu)
    run_name = run_name or f"{preset}-{dataset}"
    run_paths(RUNS_DIR, run_name)  # validates the name
    if (push or dry_run) and not repo_id:
        sys.exit("--push/--dry-run need --repo-id your-name/cats-dit")
    if push and not dry_run:
        hub_secret_or_exit()
    kwargs = dict(run_name=run_name, preset=preset, gpu=gpu, steps=steps, dataset=dataset,
                  classifier_gpu=classifier_gpu, backbone=backbone, classifier_epochs=classifier_epochs,
                  per_breed=per_breed, push=push, repo_id=repo_id, dry_run=dry_run)  # fmt: skip
    # spawn, not remote: with `modal run --detach` the job must not be tied to this terminal's connection.
    call = run_all.spawn(**kwargs)
    print(f"Run {run_name!r} started (call {call.object_id}). Outputs: volume {RUNS_VOLUME_NAME}, folder /{run_name}/")
    print(f"Logs: `modal app logs {APP_NAME}`; files: `modal volume ls {RUNS_VOLUME_NAME} /{run_name}`")
    print(json.dumps(call.get(), indent=2, default=str))
