"""cats_dit: a cat-breed generator (TinyDiT + flow matching) and classifier."""

from .breeds import LABELS, NUM_CLASSES, display_name, to_id, to_name
from .modeling_tinydit import PRESETS, TinyDiTModel
from .pipeline_cats_dit import CatsDiTPipeline, seeded_noise, seeded_normal
from .scheduling_flow_match import FlowMatchScheduler

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


def build_pipeline(preset: str = "tiny", prediction_type: str = "velocity", solver: str = "euler", **overrides):
    """A fresh (untrained) pipeline of a named size, wired with the project's scheduler."""
    transformer = TinyDiTModel.from_preset(preset, num_classes=NUM_CLASSES, **overrides)
    scheduler = FlowMatchScheduler(prediction_type=prediction_type, solver=solver)
    return CatsDiTPipeline(transformer=transformer, scheduler=scheduler)
