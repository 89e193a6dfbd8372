"""Small models for tests and benchmarks: a tiny pipeline with non-zero weights and a small
classifier, saved like the real ones, and one export of them shared by a whole test session.

AdaLN-Zero starts every residual branch and the output at exactly zero, so an untrained
pipeline outputs zeros and any comparison would pass; ``randomize`` fills the zero
tensors so the exported graph is exercised for real.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import torch


def randomize(module: torch.nn.Module, seed: int = 0, std: float = 0.05) -> torch.nn.Module:
    """Fill all-zero parameters with N(0, std) (seeded)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.abs().max() == 0:
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    return module


def build_tiny_pipeline(preset: str = "tiny", seed: int = 0, **kwargs):
    from cats_dit import build_pipeline

    torch.manual_seed(seed)
    pipe = build_pipeline(preset, **kwargs)
    randomize(pipe.transformer, seed)
    pipe.transformer.eval()
    return pipe


def build_small_classifier(seed: int = 0, image_size: int = 32):
    """Untrained mobilenet_v3_small whose logits differ between images: an untrained backbone
    in eval mode collapses every image to nearly the same features (std ~1e-9), so the
    BatchNorm statistics are calibrated on random images and the head is scaled up."""
    from cats_dit.classifier import BreedClassifier

    torch.manual_seed(seed)
    clf = BreedClassifier("mobilenet_v3_small", image_size=image_size)
    for m in clf.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
            m.reset_running_stats()
    clf.train()
    with torch.no_grad():
        for _ in range(4):
            clf(torch.rand(16, 3, image_size, image_size) * 4 - 2)
        clf.model.classifier[-1].weight.normal_(0, 1.0)
    return clf.eval()


def save_tiny_models(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """Save a tiny pipeline and a small classifier under ``folder``; returns their folders."""
    folder = Path(folder)
    pipe_dir, clf_dir = folder / "pipeline", folder / "classifier"
    build_tiny_pipeline(seed=seed).save_pretrained(pipe_dir)
    build_small_classifier(seed=seed).save_pretrained(clf_dir)
    return pipe_dir, clf_dir


@functools.cache
def exported_tiny_models() -> tuple[Path, Path, Path]:
    """One full export (fp32, fp16, int8) of the tiny models per process:
    (pipeline folder, classifier folder, models folder). Treat as read-only."""
    from .export_models import run_export

    root = Path(tempfile.mkdtemp(prefix="cats_dit_export_test_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    pipe_dir, clf_dir = save_tiny_models(root)
    run_export(pipe_dir, clf_dir, root / "models", log=lambda *_: None)
    return pipe_dir, clf_dir, root / "models"
