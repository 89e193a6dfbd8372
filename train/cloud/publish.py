"""ONNX export, evaluation and the Hub upload of a finished run, each by calling the CLI's ``main``."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from train.cloud.argv import call_main, to_argv
from train.cloud.layout import HF_SECRET_NAME, dataset_root, run_paths


class MissingTokenError(RuntimeError):
    pass


def run_export(runs_dir: Path, run_name: str, extra_args: Sequence[str] = ()) -> dict:
    """``python -m export`` of the run's pipeline and classifier into <run>/onnx; returns models.json."""
    from export.__main__ import main as export_main

    paths = run_paths(runs_dir, run_name)
    for key, what in (("pipeline", "train_dit"), ("classifier", "train_classifier")):
        if not paths[key].is_dir():
            raise FileNotFoundError(f"{paths[key]} does not exist: run {what} for run {run_name!r} first")
    argv = to_argv(pipeline=paths["pipeline"], classifier=paths["classifier"], output=paths["onnx"])
    call_main(export_main, [*argv, *extra_args], "python -m export")
    return json.loads((paths["onnx"] / "models.json").read_text())


def run_evaluate(
    data_dir: Path,
    runs_dir: Path,
    run_name: str,
    dataset: str = "oxford",
    per_breed: int = 50,
    extra_args: Sequence[str] = (),
) -> dict:
    """``python -m cats_dit.eval`` of the run against the real test split; returns eval.json's summary."""
    from cats_dit.eval.__main__ import main as eval_main

    paths = run_paths(runs_dir, run_name)
    argv = to_argv(
        generator=paths["pipeline"], classifier=paths["classifier"], real=dataset_root(data_dir, dataset),
        out=paths["eval"], per_breed=per_breed,
    )  # fmt: skip
    call_main(eval_main, [*argv, *extra_args], "python -m cats_dit.eval")
    return json.loads((paths["eval"] / "eval.json").read_text())["summary"]


def run_push_to_hub(runs_dir: Path, run_name: str, repo_id: str, dry_run: bool = False) -> str:
    """Upload the run (pipeline, classifier, ONNX, eval, model card); a dry run writes that folder instead."""
    from cats_dit.hub import main as hub_main

    paths = run_paths(runs_dir, run_name)
    if not dry_run and not os.environ.get("HF_TOKEN"):
        raise MissingTokenError(
            f"HF_TOKEN is not set, so nothing was uploaded to {repo_id}. Create the Modal Secret once with "
            f"`modal secret create {HF_SECRET_NAME} HF_TOKEN=hf_...` (a write token from "
            "https://huggingface.co/settings/tokens), or pass --dry-run to only write the upload folder."
        )
    if dry_run and paths["hub"].exists():  # the folder is rebuilt from the run's current files each time
        shutil.rmtree(paths["hub"])
    argv = to_argv(
        repo_id=repo_id, pipeline=paths["pipeline"], classifier=paths["classifier"], onnx=paths["onnx"],
        eval_json=paths["eval"] / "eval.json", dry_run=dry_run, out=paths["hub"] if dry_run else None,
    )  # fmt: skip
    call_main(hub_main, ["push", *argv], "python -m cats_dit.hub")
    return str(paths["hub"]) if dry_run else f"https://huggingface.co/{repo_id}"
