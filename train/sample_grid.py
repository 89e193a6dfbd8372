"""A labelled per-breed sample grid (one row per class, fixed seeds) as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from cats_dit import CatsDiTPipeline, FlowMatchScheduler
from cats_dit.breeds import DISPLAY_NAMES, NUM_CLASSES


def draw_grid(images: np.ndarray, row_labels: list[str], scale: int = 2, label_width: int = 130) -> Image.Image:
    """``images`` [rows * cols, H, W, 3] float in [0, 1], row-major -> one PIL image with a label column."""
    n, h, w, _ = images.shape
    rows = len(row_labels)
    cols = n // rows
    cell_h, cell_w = h * scale, w * scale
    grid = Image.new("RGB", (label_width + cols * (cell_w + 2), rows * (cell_h + 2)), "white")
    draw = ImageDraw.Draw(grid)
    pix = (np.clip(images, 0, 1) * 255).round().astype(np.uint8)
    for r, label in enumerate(row_labels):
        y = r * (cell_h + 2)
        draw.text((4, y + cell_h // 2 - 6), label, fill="black")
        for c in range(cols):
            tile = Image.fromarray(pix[r * cols + c]).resize((cell_w, cell_h), Image.NEAREST)
            grid.paste(tile, (label_width + c * (cell_w + 2), y))
    return grid


@torch.no_grad()
def save_sample_grid(
    model, scheduler_config: dict, path: Path, per_class: int = 6, steps: int = 20, guidance: float = 3.0, seed: int = 0
) -> Path:
    """Sample ``per_class`` images for every class with seeded noise and save the labelled grid."""
    was_training = model.training
    model.eval()
    pipe = CatsDiTPipeline(transformer=model, scheduler=FlowMatchScheduler.from_config(scheduler_config))
    pipe.set_progress_bar_config(disable=True)
    images = pipe(
        list(range(NUM_CLASSES)),
        num_images_per_prompt=per_class,
        num_inference_steps=steps,
        guidance_scale=guidance,
        seed=seed,
        output_type="np",
    ).images
    model.train(was_training)
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_grid(images, [DISPLAY_NAMES[i] for i in range(NUM_CLASSES)]).save(path)
    return path
