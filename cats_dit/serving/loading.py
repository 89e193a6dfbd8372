"""Build a :class:`Service` from model sources and a backend choice; never raises for bad weights.

A missing or broken weights folder is recorded in ``Service.errors`` (shown in the UI banner,
returned by the API as a clear error, printed at start) so the server still starts and says why.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .backends import TorchClassifier, TorchGenerator
from .service import DEFAULTS, Service
from .sources import (
    ENV_BACKEND,
    ENV_CLASSIFIER,
    ENV_MODEL,
    ModelLoadError,
    ModelSource,
    choose_source,
    resolve_folder,
)

BACKENDS = ("auto", "torch", "onnx")


def load_service(
    model: str | None = None,
    classifier: str | None = None,
    backend: str | None = None,
    onnx_dir: str | None = None,
    device: str | None = None,
    log=print,
    threads: int | None = None,
    default_weights: str | Path | None = None,
) -> Service:
    """``threads``: CPU threads per job for onnxruntime (None: its default); see :func:`threads_per_job`.
    ``default_weights``: a folder with ``pipeline/`` and ``classifier/``, used when neither the
    arguments nor the environment name weights (``app.py`` passes its ``weights/``)."""
    backend = (backend or os.environ.get(ENV_BACKEND) or "auto").lower()
    if backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    base = Path(default_weights) if default_weights is not None else None
    gen_src = choose_source(model, ENV_MODEL, base / "pipeline" if base else None)
    cls_src = choose_source(classifier, ENV_CLASSIFIER, base / "classifier" if base else None)
    errors: dict[str, str] = {}
    gen_path = cls_path = None
    try:
        gen_path = resolve_folder(gen_src, "generator (pipeline)", "model_index.json")
    except ModelLoadError as exc:
        errors["generator"] = str(exc)
    if cls_src.is_default and gen_path is not None and (gen_path / "classifier" / "config.json").is_file():
        # a published repo carries its own classifier: prefer it to the demo one
        cls_src = ModelSource(str(gen_path / "classifier"), f"classifier/ of the generator's {gen_src.origin}")
    try:
        cls_path = resolve_folder(cls_src, "classifier", "config.json")
    except ModelLoadError as exc:
        errors["classifier"] = str(exc)

    service = Service(errors=errors, defaults=dict(DEFAULTS))
    service.sources = {"generator": gen_src.describe(), "classifier": cls_src.describe()}
    service.about_extra = {
        "generator_path": str(gen_path or gen_src.spec),
        "classifier_path": str(cls_path or cls_src.spec),
        "generator_is_demo": str(gen_src.is_default),
        "classifier_is_demo": str(cls_src.is_default),
        "requested_backend": backend,
    }

    onnx_folder, why_not_onnx = None, ""
    if backend in ("auto", "onnx"):
        from .onnx_backend import find_onnx_folder

        onnx_folder, why_not_onnx = find_onnx_folder(
            gen_path, cls_path, onnx_dir, export_if_missing=backend == "onnx", log=log
        )
        if backend == "auto" and onnx_folder is not None and _has_cuda():
            onnx_folder, why_not_onnx = None, "a CUDA GPU is available (torch uses it)"
        if onnx_folder is None and backend == "onnx":
            for what in ("generator", "classifier"):
                detail = f" ({errors[what]})" if what in errors else ""
                errors[what] = f"The onnx backend is not available: {why_not_onnx}{detail}"
    if onnx_folder is not None:
        errors.clear()  # the exported folder serves both models; the weight folders are not needed
        _load_onnx(service, onnx_folder, errors, threads)
    elif backend != "onnx":
        if backend == "auto" and why_not_onnx:
            service.about_extra["auto_backend_note"] = f"torch chosen because {why_not_onnx}"
        _load_torch(service, gen_path, cls_path, device, errors)
    if service.generator is not None:
        service.defaults.update(service.generator.defaults)
    for what, message in errors.items():
        log(f"[cats_dit] {what} unavailable: {message}", file=sys.stderr)
    return service


def _load_torch(service: Service, gen_path: Path | None, cls_path: Path | None, device, errors) -> None:
    if gen_path is not None:
        try:
            service.generator = TorchGenerator(gen_path, device=device)
        except ModelLoadError as exc:
            errors["generator"] = str(exc)
    if cls_path is not None:
        try:
            service.classifier = TorchClassifier(cls_path, device=device)
        except ModelLoadError as exc:
            errors["classifier"] = str(exc)


def _load_onnx(service: Service, folder: Path, errors, threads) -> None:
    from .onnx_backend import OnnxClassifier, OnnxGenerator

    service.about_extra["onnx_dir"] = str(folder)
    try:
        service.generator = OnnxGenerator(folder, threads=threads)
    except ModelLoadError as exc:
        errors["generator"] = str(exc)
    try:
        service.classifier = OnnxClassifier(folder, threads=threads)
    except ModelLoadError as exc:
        errors["classifier"] = str(exc)


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def threads_per_job(concurrency: int) -> int:
    """CPU threads for one job when ``concurrency`` jobs run at once: more would only oversubscribe."""
    return max(1, (os.cpu_count() or 1) // max(1, int(concurrency)))
