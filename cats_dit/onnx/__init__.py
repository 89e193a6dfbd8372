"""ONNX export of the generator and the classifier (needs the ``export`` extra: onnx, optimum-onnx).

``run_export(pipeline, classifier, output, ExportOptions(...))`` writes, validates and measures the
files and writes ``models.json``; ``python -m export`` is its command line. Importing this package is
cheap: the submodules load optimum and torch only when used.
"""

from __future__ import annotations

__all__ = ["ExportError", "ExportOptions", "ExportValidationError", "run_export"]


def __getattr__(name: str):
    if name in ("ExportError", "ExportOptions", "run_export"):
        from . import export

        return getattr(export, name)
    if name == "ExportValidationError":
        from .validate import ExportValidationError

        return ExportValidationError
    raise AttributeError(name)
