"""Small models and helpers for tests and benchmarks (like diffusers' ``testing_utils``).

AdaLN-Zero starts every residual branch and the output at exactly zero, so an untrained pipeline
outputs zeros and any comparison would pass; ``randomize`` fills the zero tensors so the models
are exercised for real.
"""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def randomize(module, seed: int = 0, std: float = 0.05):
    """Fill all-zero parameters with N(0, std) (seeded); returns ``module``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.abs().max() == 0:
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    return module


def build_tiny_pipeline(preset: str = "tiny", seed: int = 0, **kwargs):
    """A CatsDiTPipeline of ``preset`` with non-zero weights, in eval mode."""
    import torch

    from . import build_pipeline

    torch.manual_seed(seed)
    pipe = build_pipeline(preset, **kwargs)
    randomize(pipe.transformer, seed)
    pipe.transformer.eval()
    return pipe


def build_small_classifier(seed: int = 0, image_size: int = 32):
    """Untrained mobilenet_v3_small whose logits differ between images: an untrained backbone
    in eval mode collapses every image to nearly the same features (std ~1e-9), so the
    BatchNorm statistics are calibrated on random images and the head is scaled up."""
    import torch

    from .classifier import BreedClassifier

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


def make_tiny_models(folder: str | Path, seed: int = 0, preset: str = "tiny") -> tuple[Path, Path]:
    """Save a pipeline of ``preset`` and a small classifier into ``folder/pipeline`` and
    ``folder/classifier``; returns the two folders."""
    folder = Path(folder)
    pipe_dir, clf_dir = folder / "pipeline", folder / "classifier"
    build_tiny_pipeline(preset, seed=seed).save_pretrained(pipe_dir)
    build_small_classifier(seed=seed).save_pretrained(clf_dir, metrics={"note": 1.0})
    return pipe_dir, clf_dir
