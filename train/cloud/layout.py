"""Names and places of a Modal run: the Modal objects' names, the volume mount points, a run's folders."""

from __future__ import annotations

import re
from pathlib import Path

APP_NAME = "cats-dit"
DATA_VOLUME_NAME = "cats-dit-data"
RUNS_VOLUME_NAME = "cats-dit-runs"
HF_SECRET_NAME = "huggingface-secret"
DATA_DIR = Path("/data")  # mount point of the data volume: datasets + pre-resized cache
RUNS_DIR = Path("/runs")  # mount point of the runs volume: one folder per --run-name
PROJECT_DIR = Path("/root")  # train/ and export/ live here in the container; cats_dit is importable from here

DATASETS = {"oxford": "oxford-iiit-pet", "cartoon": "cartoon-cats"}  # --dataset -> folder in the data volume


def run_paths(runs_dir: Path, run_name: str) -> dict[str, Path]:
    """Where each stage of run ``run_name`` writes, inside the runs volume."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", run_name or ""):
        raise ValueError(f"--run-name {run_name!r}: use letters, digits, '.', '_' and '-' only")
    root = Path(runs_dir) / run_name
    return {
        "root": root,
        "generator": root / "generator",  # train_dit.py --output-dir: checkpoints/, logs/, samples/, pipeline/
        "pipeline": root / "generator" / "pipeline",
        "classifier_run": root / "classifier",  # train_classifier.py --output-dir
        "classifier": root / "classifier" / "classifier",
        "onnx": root / "onnx",
        "eval": root / "eval",
        "hub": root / "hub-upload",  # the exact folder a push uploads (written by dry runs)
        "calls": root / "modal-calls",  # ids of running GPU calls, for re-attaching after a restart
    }


def dataset_root(data_dir: Path, dataset: str) -> Path:
    if dataset not in DATASETS:
        raise ValueError(f"--dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    return Path(data_dir) / DATASETS[dataset]
