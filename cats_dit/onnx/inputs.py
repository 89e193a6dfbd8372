"""Inputs of the export: a saved pipeline and a classifier (folders or Hub ids), checked with errors
that name the problem."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..classifier import BreedClassifier
from ..pipeline_cats_dit import CatsDiTPipeline
from ..repo_id import looks_like_repo_id


def _is_hub_id(source) -> bool:
    """``owner/name`` that is not a local path (its first part is not a local folder either)."""
    return looks_like_repo_id(source) and not Path(source).parent.exists()


class ExportError(RuntimeError):
    """Bad input for the export (names the problem)."""


def check_weights_match_config(folder: Path) -> None:
    """Raise ExportError when a TinyDiT folder's safetensors do not fit its config.json."""
    from safetensors import safe_open

    from ..modeling_tinydit import WEIGHTS_NAME, TinyDiTModel, check_weights_file

    try:
        check_weights_file(folder)
    except OSError as exc:
        raise ExportError(str(exc)) from exc
    config = {k: v for k, v in json.loads((folder / "config.json").read_text()).items() if not k.startswith("_")}
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in TinyDiTModel.from_config(config).state_dict().items()}
    except Exception as exc:
        raise ExportError(f"{folder / 'config.json'} is not a valid TinyDiT config: {exc}") from exc
    with safe_open(str(folder / WEIGHTS_NAME), framework="pt") as f:
        found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    shapes = [
        f"{k}: weights {list(found[k])} vs config {list(expected[k])}"
        for k in expected
        if k in found and found[k] != expected[k]
    ]
    if missing or extra or shapes:
        parts = []
        if shapes:
            parts.append(f"{len(shapes)} tensors with other shapes (e.g. {shapes[0]})")
        if missing:
            parts.append(f"{len(missing)} tensors missing (e.g. {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected tensors (e.g. {extra[0]})")
        raise ExportError(
            f"The weights in {folder / WEIGHTS_NAME} do not match {folder / 'config.json'}: " + "; ".join(parts)
        )


def load_pipeline(source: str | Path) -> CatsDiTPipeline:
    """A saved pipeline folder (or a Hub id) -> CatsDiTPipeline, with errors that name the problem."""
    path = Path(source)
    if path.exists():
        if not path.is_dir():
            raise ExportError(f"Pipeline {path} is a file; give the pipeline folder (with model_index.json)")
        if not (path / "model_index.json").is_file():
            raise ExportError(
                f"{path} is not a pipeline folder: model_index.json is missing "
                "(expected a CatsDiTPipeline.save_pretrained folder such as weights/pipeline)"
            )
        if not (path / "transformer" / "config.json").is_file():
            raise ExportError(f"{path} is not a CatsDiT pipeline folder: transformer/config.json is missing")
        check_weights_match_config(path / "transformer")
    elif not _is_hub_id(source):
        raise ExportError(f"Pipeline folder {path} does not exist")
    try:
        pipe = CatsDiTPipeline.from_pretrained(str(source))
    except Exception as exc:
        raise ExportError(f"Could not load the pipeline {source}: {exc}") from exc
    pipe.transformer.eval().float()
    return pipe


def load_classifier(source: str | Path) -> BreedClassifier:
    path = Path(source)
    if path.exists() and not (path.is_dir() and (path / "config.json").is_file()):
        raise ExportError(
            f"{path} is not a classifier folder: config.json is missing (expected a BreedClassifier folder)"
        )
    if not path.exists() and not _is_hub_id(source):
        raise ExportError(f"Classifier folder {path} does not exist")
    try:
        return BreedClassifier.from_pretrained(source).eval()
    except Exception as exc:
        raise ExportError(f"Could not load the classifier {source}: {exc}") from exc
