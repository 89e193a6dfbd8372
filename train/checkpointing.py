"""Crash-safe checkpoints around ``accelerator.save_state`` / ``load_state``.

A checkpoint is written to ``checkpoint-<step>.tmp`` and renamed to ``checkpoint-<step>``
only when complete, so a kill during saving leaves at worst a ``.tmp`` folder that
``--resume latest`` ignores. Each checkpoint carries ``run_config.json`` (what must not change
between the saving and the resuming run) and ``trainer_state.json`` (step, elapsed time, loss).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

RUN_CONFIG = "run_config.json"
TRAINER_STATE = "trainer_state.json"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints (no ``.tmp``), oldest first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found) if (p / TRAINER_STATE).is_file()]


def remove_stale_tmp(root: Path) -> list[Path]:
    """Delete ``checkpoint-*.tmp`` folders left by a run killed while saving."""
    stale = sorted(root.glob("checkpoint-*.tmp")) if root.is_dir() else []
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


def resolve_resume(resume: str | None, root: Path) -> Path | None:
    """``latest`` -> newest complete checkpoint (or None to start fresh); a path -> that folder."""
    if not resume:
        return None
    if resume == "latest":
        ckpts = list_checkpoints(root)
        return ckpts[-1] if ckpts else None
    path = Path(resume)
    if not path.is_dir():
        raise FileNotFoundError(f"--resume {resume}: no such checkpoint folder")
    if not (path / TRAINER_STATE).is_file():
        raise FileNotFoundError(f"--resume {resume}: {TRAINER_STATE} is missing, so the checkpoint is incomplete")
    return path


def config_differences(saved: dict, current: dict) -> list[str]:
    """Human-readable ``field: checkpoint X, now Y`` for every field that differs."""
    diffs = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [f"{key}.{d}" for d in config_differences(a, b)]
        elif a != b:
            diffs.append(f"{key}: checkpoint {a!r}, now {b!r}")
    return diffs


def check_run_config(checkpoint: Path, current: dict) -> None:
    """Refuse to resume a checkpoint written with different settings (a clear error naming them)."""
    file = checkpoint / RUN_CONFIG
    if not file.is_file():
        raise ValueError(f"Checkpoint {checkpoint} has no {RUN_CONFIG}; it was not written by this script")
    saved = json.loads(file.read_text())
    diffs = config_differences(saved, json.loads(json.dumps(current)))
    if diffs:
        raise ValueError(
            f"Checkpoint {checkpoint} was written with a different configuration, so it cannot be resumed "
            f"exactly. Differing fields:\n  " + "\n  ".join(diffs) + "\nRun with the original settings, or use a "
            "new --output-dir (or drop --resume) to start a fresh run."
        )


def save_checkpoint(accelerator, root: Path, step: int, run_config: dict, trainer_state: dict, limit: int | None):
    """All processes call this. Writes ``<root>/checkpoint-<step>`` atomically, keeps the newest ``limit``."""
    final, tmp = root / f"checkpoint-{step}", root / f"checkpoint-{step}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        root.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / RUN_CONFIG).write_text(json.dumps(run_config, indent=2, sort_keys=True) + "\n")
        (tmp / TRAINER_STATE).write_text(json.dumps(trainer_state, indent=2) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)  # atomic on one file system: the checkpoint appears complete or not at all
        if limit:
            for old in list_checkpoints(root)[:-limit]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final
