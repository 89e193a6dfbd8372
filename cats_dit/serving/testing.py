"""Tiny random models for tests and benchmarks when trained weights are not at hand."""

from __future__ import annotations

from pathlib import Path


def make_tiny_models(folder: str | Path, seed: int = 0, preset: str = "tiny") -> tuple[Path, Path]:
    """Write a CatsDiTPipeline of ``preset`` (random, non-zero weights) and a tiny BreedClassifier into
    ``folder/pipeline`` and ``folder/classifier``; return the two paths."""
    import torch

    from .. import build_pipeline
    from ..classifier import BreedClassifier

    folder = Path(folder)
    torch.manual_seed(seed)
    pipe = build_pipeline(preset)
    with torch.no_grad():  # the zero-initialised output layer would make every image identical
        for p in pipe.transformer.parameters():
            p.add_(0.05 * torch.randn_like(p))
    pipe.save_pretrained(folder / "pipeline")
    BreedClassifier("mobilenet_v3_small", image_size=32).save_pretrained(folder / "classifier", metrics={"note": 1.0})
    return folder / "pipeline", folder / "classifier"
