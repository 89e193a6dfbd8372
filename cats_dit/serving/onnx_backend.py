"""The onnxruntime backend: the exported models run with numpy + onnxruntime (the fast path on a CPU).

Which exported folder (``models.json`` + ``*.onnx``) serves a pair of weights, in order:

1. ``--onnx-dir`` / ``CATS_DIT_ONNX_DIR``: used as given;
2. ``<pipeline folder>/onnx/``: a Hub repo or folder that ships its own export;
3. the cache ``$CATS_DIT_CACHE`` (default ``~/.cache/cats_dit``) ``/onnx/<fingerprint>``, where the
   fingerprint is a hash of both weight folders, so re-trained weights never meet a stale export.

With ``--backend onnx`` and none of these, the app exports fp32 once into the cache with
:func:`cats_dit.onnx.run_export` (about a minute on a small CPU; needs the ``export`` extra) and starts; ``auto`` does not export, it
uses torch and says so in the About tab.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np

from ..onnx.models_json import NAME as MODELS_JSON
from .backends import Cancelled, _label_order, _wants_preview
from .sources import ENV_ONNX_DIR, ModelLoadError

ENV_CACHE = "CATS_DIT_CACHE"
PRECISION = "fp32"  # what the torch backend computes; fp16/int8 files are for the browser's download size


def cache_root() -> Path:
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "cats_dit")


def fingerprint(*folders: Path) -> str:
    """sha256 over the weights and configs of the given folders (names and bytes)."""
    h = hashlib.sha256()
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and path.suffix in (".safetensors", ".json", ".bin"):
                h.update(str(path.relative_to(folder)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


def onnx_available() -> str:
    """Empty string when onnxruntime and the onnx pipeline import, else the reason they don't."""
    try:
        import onnxruntime  # noqa: F401

        from .. import onnx_pipeline  # noqa: F401
    except ImportError as exc:
        return f"onnxruntime is not installed ({exc})"
    return ""


def find_onnx_folder(gen_path, cls_path, onnx_dir=None, export_if_missing=False, log=print):
    """(folder, "") for the exported models serving these weights, or (None, why not)."""
    missing = onnx_available()
    if missing:
        return None, missing
    explicit = onnx_dir or os.environ.get(ENV_ONNX_DIR)
    if explicit:
        if not (Path(explicit) / MODELS_JSON).is_file():
            return None, f"the ONNX folder {explicit} has no {MODELS_JSON} (write one with `python -m export`)"
        return Path(explicit), ""
    if gen_path is None or cls_path is None:
        return None, "the weights it would be exported from are not available"
    shipped = Path(gen_path) / "onnx"
    if (shipped / MODELS_JSON).is_file():
        return shipped, ""
    cached = cache_root() / "onnx" / fingerprint(Path(gen_path), Path(cls_path))
    if (cached / MODELS_JSON).is_file():
        return cached, ""
    if not export_if_missing:
        return None, (
            "no exported ONNX models for these weights yet (start once with --backend onnx to export them "
            f"into {cache_root()}, or pass --onnx-dir)"
        )
    try:
        export_models(gen_path, cls_path, cached, log=log)
    except ModelLoadError as exc:
        return None, str(exc)
    return cached, ""


def export_models(gen_path, cls_path, output: Path, log=print) -> None:
    """Export the weights (fp32 only) into ``output`` with the library's exporter."""
    try:
        from ..onnx import run_export
    except ImportError as exc:
        raise ModelLoadError(f"cannot export to ONNX: {exc} (install the package's `export` extra)") from exc
    output.parent.mkdir(parents=True, exist_ok=True)
    log(f"[cats_dit] exporting ONNX models once into {output} (this takes a minute) ...", file=sys.stderr)
    try:
        run_export(gen_path, cls_path, output, precisions=[PRECISION], log=lambda *a, **k: None)
    except Exception as exc:  # ExportError, ExportValidationError or a torch/onnx failure: all mean "no ONNX"
        raise ModelLoadError(f"the ONNX export failed: {type(exc).__name__}: {exc}") from exc


def _precision(section: dict, precision: str) -> str | None:
    """``precision`` when the folder has it, else None (its default precision)."""
    return precision if precision in section.get("files", {}) else None


class OnnxGenerator:
    backend = "onnxruntime"
    device = "cpu"

    def __init__(self, folder: str | Path, precision: str = PRECISION, threads: int | None = None):
        from ..onnx_pipeline import OnnxCatsDiTPipeline, read_models_json

        try:
            meta = read_models_json(folder)
            chosen = _precision(meta["generator"], precision)
            self.pipe = OnnxCatsDiTPipeline.from_config(meta, folder, chosen, threads, server=True)
        except Exception as exc:
            raise ModelLoadError(
                f"Could not load the ONNX generator from {folder}: {type(exc).__name__}: {exc}"
            ) from exc
        self.folder = Path(folder)
        self.sample_size = self.pipe.sample_size
        self.precision = self.pipe.precision
        d = self.pipe.defaults
        self.defaults = {
            "steps": d["num_inference_steps"],
            "guidance": d["guidance_scale"],
            "sampler": d["solver"],
            "guidance_interval": list(d["guidance_interval"]),
        }

    def generate(
        self, breeds, seed, steps, guidance, sampler="euler", callback=None, preview_every=0, guidance_interval=None
    ) -> np.ndarray:
        def on_step(i, total, x0):
            if callback is None:
                return
            preview = x0 if _wants_preview(i, total, preview_every) else None
            if callback(i, total, preview) is False:
                raise Cancelled(f"stopped after {i + 1} of {total} steps")

        images = self.pipe(
            list(breeds), 1, steps, guidance, sampler, seed, callback=on_step, guidance_interval=guidance_interval
        )
        return np.asarray(images, dtype=np.float32)


class OnnxClassifier:
    backend = "onnxruntime"
    device = "cpu"

    def __init__(self, folder: str | Path, precision: str = PRECISION, threads: int | None = None):
        from ..onnx_pipeline import OnnxBreedClassifier, read_models_json

        try:
            meta = read_models_json(folder)
            if "classifier" not in meta:
                raise ValueError(f"{Path(folder) / MODELS_JSON} has no classifier entry")
            chosen = _precision(meta["classifier"], precision)
            self.model = OnnxBreedClassifier.from_config(meta, folder, chosen, threads, server=True)
        except Exception as exc:
            raise ModelLoadError(
                f"Could not load the ONNX classifier from {folder}: {type(exc).__name__}: {exc}"
            ) from exc
        self.folder = Path(folder)
        self.config = dict(self.model.preprocess_config, labels=self.model.labels)
        self._order = _label_order(self.model.labels)

    def predict_proba(self, images: list) -> np.ndarray:
        return self.model.predict_proba(list(images))[:, self._order].astype(np.float32)
