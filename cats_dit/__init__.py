"""cats_dit: a cat-breed generator (TinyDiT + flow matching) and classifier.

The torch classes load on first use, so onnxruntime-only code (a lean Space, the ONNX pipeline)
can import the package without torch installed.
"""

import importlib

from .breeds import LABELS, NUM_CLASSES, display_name, to_id, to_name

_LAZY = {
    "PRESETS": "modeling_tinydit",
    "TinyDiTModel": "modeling_tinydit",
    "CatsDiTPipeline": "pipeline_cats_dit",
    "seeded_noise": "pipeline_cats_dit",
    "seeded_normal": "pipeline_cats_dit",
    "FlowMatchScheduler": "scheduling_flow_match",
}

__version__ = "0.1.0"

__all__ = [
    "LABELS",
    "NUM_CLASSES",
    "PRESETS",
    "CatsDiTPipeline",
    "FlowMatchScheduler",
    "TinyDiTModel",
    "display_name",
    "seeded_noise",
    "seeded_normal",
    "to_id",
    "to_name",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_pipeline(preset: str = "tiny", prediction_type: str = "velocity", solver: str = "euler", **overrides):
    """A fresh (untrained) pipeline of a named size, wired with the project's scheduler."""
    from .modeling_tinydit import TinyDiTModel
    from .pipeline_cats_dit import CatsDiTPipeline
    from .scheduling_flow_match import FlowMatchScheduler

    transformer = TinyDiTModel.from_preset(preset, num_classes=NUM_CLASSES, **overrides)
    scheduler = FlowMatchScheduler(prediction_type=prediction_type, solver=solver)
    return CatsDiTPipeline(transformer=transformer, scheduler=scheduler)
