"""The generator and the classifier, trained by their scripts under ``accelerate launch``.

Training stays a subprocess: ``accelerate launch`` starts one process per GPU. Its argv comes
from ``cats_dit.accelerate_launch`` and the scripts' own parsers (see ``train.cloud.argv``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from cats_dit.accelerate_launch import accelerate_command
from train.cloud.argv import check_argv, to_argv
from train.cloud.committer import CheckpointCommitter
from train.cloud.layout import PROJECT_DIR, dataset_root, run_paths
from train.cloud.stream import stream_command

TRAIN_DIT = "train/train_dit.py"  # relative to the project folder, the subprocess's working directory
TRAIN_CLASSIFIER = "train/train_classifier.py"


def build_train_dit_command(
    preset: str,
    gpus: int,
    steps: int | None,
    data_dir: Path,
    run_dir: Path,
    mixed_precision: str = "bf16",
    checkpointing_steps: int | None = None,
    batch_size: int | None = None,
    cache_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    cpu: bool = False,
    preload: bool = True,
) -> list[str]:
    """The generator's training command; ``--resume latest`` always, so a restarted attempt continues.

    ``preload`` decodes the (small, pre-resized) training set into RAM once, so a fast GPU is not
    left waiting on JPEG decoding: Oxford-IIIT Pet at 128 px is ~180 MB.
    """
    from train.train_dit import parse_args

    args = to_argv(
        data_root=data_dir, output_dir=run_dir, preset=preset, resume="latest", max_steps=steps or None,
        checkpointing_steps=checkpointing_steps or None, batch_size=batch_size or None, cache_dir=cache_dir,
        preload=preload,
    ) + list(extra_args)  # fmt: skip
    check_argv(parse_args, args, TRAIN_DIT)
    return accelerate_command(TRAIN_DIT, gpus, args, mixed_precision, cpu)


def build_train_classifier_command(
    backbone: str,
    gpus: int,
    data_dir: Path,
    run_dir: Path,
    mixed_precision: str = "bf16",
    epochs: int | None = None,
    max_steps: int | None = None,
    pretrained: bool = True,
    cache_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    cpu: bool = False,
) -> list[str]:
    """The classifier's training command (minutes, not hours: it has no resume and restarts on preemption)."""
    from train.train_classifier import parse_args

    args = to_argv(
        data_root=data_dir, output_dir=run_dir, backbone=backbone, pretrained=pretrained, epochs=epochs or None,
        max_steps=max_steps or None, cache_dir=cache_dir,
    ) + list(extra_args)  # fmt: skip
    check_argv(parse_args, args, TRAIN_CLASSIFIER)
    return accelerate_command(TRAIN_CLASSIFIER, gpus, args, mixed_precision, cpu)


def _noop() -> None:
    pass


def run_train_dit(
    data_dir: Path,
    runs_dir: Path,
    run_name: str,
    preset: str = "s128",
    gpus: int = 1,
    steps: int | None = None,
    dataset: str = "oxford",
    mixed_precision: str = "bf16",
    checkpointing_steps: int | None = None,
    batch_size: int | None = None,
    extra_args: Sequence[str] = (),
    cpu: bool = False,
    commit: Callable[[], None] = _noop,
    poll_seconds: float = 30.0,
    project_dir: Path = PROJECT_DIR,
) -> dict:
    """Train (or continue training) the generator of ``run_name``; returns summary.json plus the commit log."""
    paths = run_paths(runs_dir, run_name)
    paths["generator"].mkdir(parents=True, exist_ok=True)
    cmd = build_train_dit_command(
        preset, gpus, steps, dataset_root(data_dir, dataset), paths["generator"], mixed_precision,
        checkpointing_steps, batch_size, Path(data_dir) / "cache", extra_args, cpu,
    )  # fmt: skip
    with CheckpointCommitter(paths["generator"] / "checkpoints", commit, poll_seconds) as committer:
        stream_command(cmd, project_dir, log_file=paths["generator"] / "train_dit.log")
    summary = json.loads((paths["generator"] / "summary.json").read_text())
    return {**summary, "committed_checkpoints": committer.committed, "pipeline": str(paths["pipeline"])}


def run_train_classifier(
    data_dir: Path,
    runs_dir: Path,
    run_name: str,
    backbone: str = "efficientnet_b0",
    gpus: int = 1,
    dataset: str = "oxford",
    mixed_precision: str = "bf16",
    epochs: int | None = 15,
    max_steps: int | None = None,
    pretrained: bool = True,
    extra_args: Sequence[str] = (),
    cpu: bool = False,
    commit: Callable[[], None] = _noop,
    project_dir: Path = PROJECT_DIR,
) -> dict:
    paths = run_paths(runs_dir, run_name)
    paths["classifier_run"].mkdir(parents=True, exist_ok=True)
    cmd = build_train_classifier_command(
        backbone, gpus, dataset_root(data_dir, dataset), paths["classifier_run"], mixed_precision, epochs,
        max_steps, pretrained, Path(data_dir) / "cache", extra_args, cpu,
    )  # fmt: skip
    stream_command(cmd, project_dir, log_file=paths["classifier_run"] / "train_classifier.log")
    commit()
    return json.loads((paths["classifier_run"] / "metrics.json").read_text())
