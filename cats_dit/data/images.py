"""Opening any image file as RGB, and telling unusable files apart before training starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

JPEG_EOI = b"\xff\xd9"


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB: 16-bit and 32-bit grey are rescaled, transparency is put on white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float32)
        top = 65535.0 if arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def open_rgb(path: str | Path) -> Image.Image:
    """Decode a file fully (EXIF rotation applied) and return an RGB image; raises on unusable files."""
    with Image.open(path) as im:
        im.load()
        im = ImageOps.exif_transpose(im)
        return to_rgb(im)


def check_image(path: str | Path) -> str | None:
    """Why ``path`` cannot be used, or None if it looks fine.

    Cheap: header parse + ``verify()``; a JPEG that lacks its end marker (the usual sign of a
    truncated download) is fully decoded to decide, so a normal dataset costs no decoding."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        return "missing"
    if size == 0:
        return "zero bytes"
    try:
        with Image.open(path) as im:
            fmt = im.format
            im.verify()
        if fmt == "JPEG":
            with open(path, "rb") as f:
                f.seek(max(0, size - 64))
                tail = f.read().rstrip(b"\x00")
            if not tail.endswith(JPEG_EOI):
                open_rgb(path)
    except Exception as exc:  # PIL raises many types for bad files
        return f"unreadable ({type(exc).__name__}: {exc})"
    return None
