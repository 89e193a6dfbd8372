"""Crash-safe checkpoints around ``accelerator.save_state`` / ``load_state``.

A checkpoint is written to ``checkpoint-<step>.tmp`` and renamed to ``checkpoint-<step>``
only when complete, so a kill during saving leaves at worst a ``.tmp`` folder that
``--resume latest`` ignores. A checkpoint whose files were cut short afterwards (a full disk, a
partial copy) is detected before loading: ``latest`` falls back to the previous complete one with
a warning, an explicit path gets an error naming the file. Each checkpoint carries ``run_config.json`` (what must not change
between the saving and the resuming run) and ``trainer_state.json`` (step, elapsed time, loss).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
import zipfile
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


def unreadable_file(checkpoint: Path) -> str:
    """Why a checkpoint's files cannot be loaded ("" when they all can): safetensors headers must fit
    the file, and torch-saved files (zip archives) must pass their CRC checks."""
    for path in sorted(checkpoint.rglob("*")):
        if not path.is_file() or path.name in (RUN_CONFIG, TRAINER_STATE):
            continue
        try:
            if path.suffix == ".safetensors":
                from safetensors import safe_open

                with safe_open(str(path), framework="numpy") as f:
                    f.keys()
            elif zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as z:
                    bad = z.testzip()
                if bad:
                    return f"{path.name} is corrupt (member {bad} fails its CRC check)"
            elif path.suffix in (".bin", ".pkl", ".pt"):
                return f"{path.name} is truncated or corrupt (not a complete torch archive)"
        except Exception as exc:
            return f"{path.name} is truncated or corrupt ({type(exc).__name__}: {exc})"
    return ""


def resolve_resume(resume: str | None, root: Path) -> Path | None:
    """``latest`` -> newest loadable checkpoint (or None to start fresh); a path -> that folder."""
    if not resume:
        return None
    if resume == "latest":
        ckpts = list_checkpoints(root)
        while ckpts:
            why = unreadable_file(ckpts[-1])
            if not why:
                return ckpts[-1]
            bad = ckpts.pop()
            fallback = f"resuming from {ckpts[-1].name} instead" if ckpts else "no older checkpoint: starting fresh"
            warnings.warn(f"--resume latest: checkpoint {bad} cannot be loaded: {why}; {fallback}", stacklevel=2)
        return None
    path = Path(resume)
    if not path.is_dir():
        raise FileNotFoundError(f"--resume {resume}: no such checkpoint folder")
    if not (path / TRAINER_STATE).is_file():
        raise FileNotFoundError(f"--resume {resume}: {TRAINER_STATE} is missing, so the checkpoint is incomplete")
    why = unreadable_file(path)
    if why:
        older = [p for p in list_checkpoints(path.parent) if p != path and not unreadable_file(p)]
        hint = f" The newest loadable one is {older[-1]}." if older else ""
        raise ValueError(f"--resume {resume}: checkpoint {path} cannot be loaded: {why}.{hint}")
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
