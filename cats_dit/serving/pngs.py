"""Generated images as PNG files whose name and text chunks carry everything needed to redo them."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

OUTPUT_TTL_S = 3600  # request folders older than this are removed on the next request


def to_uint8(images: np.ndarray) -> np.ndarray:
    """float [B, H, W, 3] in [0, 1] -> uint8, rounded like the browser's canvas."""
    return (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def png_name(breed: str, seed: int, steps: int, guidance: float, sampler: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", breed)
    return f"cats_dit_{safe}_seed{seed}_steps{steps}_cfg{guidance:g}_{sampler}.png"


def save_png(image: np.ndarray, folder: Path, name: str, text: dict[str, str]) -> Path:
    """Write a uint8 [H, W, 3] image as PNG with ``text`` as tEXt chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, str(value))
    path = folder / name
    Image.fromarray(image).save(path, format="PNG", pnginfo=info)
    return path


class OutputFolder:
    """One temporary folder per server; one sub-folder per request, pruned after an hour."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="cats_dit_outputs_"))
        self.root.mkdir(parents=True, exist_ok=True)

    def new_request_dir(self) -> Path:
        self.prune()
        return Path(tempfile.mkdtemp(dir=self.root))

    def prune(self, ttl_s: float = OUTPUT_TTL_S) -> None:
        cutoff = time.time() - ttl_s
        for child in self.root.iterdir():
            try:
                if child.is_dir() and child.stat().st_mtime < cutoff:
                    shutil.rmtree(child, ignore_errors=True)
            except FileNotFoundError:
                pass
