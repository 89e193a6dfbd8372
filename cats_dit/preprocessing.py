"""The classifier's preprocessing, in numpy only (the torch classifier and the ONNX path both call it).

Written into the saved config (and from there into ``models.json``) so the browser's
``static_site/src/preprocess.js`` reproduces it bit for bit:

1. any image -> float32 [3, H, W] in [0, 1] (transparent pixels over white);
2. the shorter side is resized to ``resize_size`` (bilinear, ``align_corners=False``, no antialias;
   the longer side becomes ``round(long * resize_size / short)``), with torch's source-index and
   weight formulas;
3. centre crop ``image_size`` x ``image_size`` (top = round((h - size) / 2), same for left);
4. ``(x - mean) / std`` per channel.

Steps 2 and 3 are computed together, for the crop window only: a 40000x1 strip costs the same
as a 224 px photo instead of a 73 x 2.9 million intermediate image.
"""

from __future__ import annotations

import numpy as np

# The classifier sees a centre square: beyond this the crop is a sliver of the picture, and such
# strips are a cheap way to make a server allocate. Mirrored in static_site/src/preprocess.js.
MAX_ASPECT_RATIO = 20


def check_image_shape(height: int, width: int) -> None:
    """ValueError unless the image has pixels and an aspect ratio of at most ``MAX_ASPECT_RATIO``."""
    if height < 1 or width < 1:
        raise ValueError(f"Image is {width}x{height} pixels: it has no pixels to classify")
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_ASPECT_RATIO:
        raise ValueError(
            f"Image is {width}x{height} pixels (aspect ratio {ratio:.0f}:1); the classifier looks at a centre "
            f"square, so images more than {MAX_ASPECT_RATIO} times wider than tall (or taller than wide) are "
            "refused. Crop it first."
        )


def image_to_array(image) -> np.ndarray:
    """PIL image (any mode) or HxW[xC] array (uint8, uint16 or float in [0, 1]) -> float32 [3, H, W] in [0, 1]."""
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[-1] not in (3, 4):
            return np.clip(arr.astype(np.float32), 0, 1)  # already CHW
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, axis=-1)
        if arr.shape[-1] == 4:
            arr = arr[..., :3]
        if arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        elif arr.dtype == np.uint16:
            arr = arr.astype(np.float32) / 65535.0
        return np.clip(np.ascontiguousarray(arr, dtype=np.float32).transpose(2, 0, 1), 0, 1)
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float32)
        arr = arr / (65535.0 if arr.max() > 255 else 255.0)
        return np.clip(np.stack([arr] * 3), 0, 1)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    out = np.asarray(image.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1).astype(np.float32)
    out /= np.float32(255.0)  # in place: a big photo needs one float copy, not two
    return out


def preprocess_image(image, config: dict) -> np.ndarray:
    """One PIL image or array -> normalised float32 [1, 3, S, S] for ``config`` (``resize_size``,
    ``image_size``, ``mean``, ``std``). A PIL image's shape is checked before any pixel is converted."""
    if not isinstance(image, np.ndarray):
        check_image_shape(image.height, image.width)
    x = image_to_array(image)
    return preprocess_array(x, config["resize_size"], config["image_size"], config["mean"], config["std"])


def resized_size(height: int, width: int, resize_size: int) -> tuple[int, int]:
    """(h, w) after resizing the shorter side to ``resize_size`` (never materialised)."""
    short = min(height, width)
    new_h = resize_size if height == short else round(height * resize_size / short)
    new_w = resize_size if width == short else round(width * resize_size / short)
    return new_h, new_w


def _axis(in_size: int, out_size: int, start: int, count: int):
    """Source indices and weights of output positions ``start .. start+count`` (torch's formulas)."""
    scale = np.float32(in_size / out_size)
    o = np.arange(start, start + count, dtype=np.float64)
    # scale * (o + 0.5) - 0.5 is exact in float64, so one cast rounds once (torch's fused multiply-add).
    src = np.maximum((np.float64(scale) * (o + 0.5) - 0.5).astype(np.float32), np.float32(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    lam = np.clip(src - i0.astype(np.float32), 0, 1).astype(np.float32)
    i1 = i0 + (i0 < in_size - 1)
    return i0, i1, (np.float32(1) - lam).astype(np.float32), lam


def preprocess_array(x: np.ndarray, resize_size: int, image_size: int, mean, std) -> np.ndarray:
    """[3, H, W] or [B, 3, H, W] float in [0, 1] -> normalised float32 [B, 3, S, S] (see the module docstring)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected an image array [3, H, W] or [B, 3, H, W], got shape {x.shape}")
    if resize_size < image_size:
        raise ValueError(f"preprocess: resize_size ({resize_size}) must be >= image_size ({image_size})")
    h, w = x.shape[-2:]
    check_image_shape(h, w)
    new_h, new_w = resized_size(h, w, resize_size)
    top = int(round((new_h - image_size) / 2.0))
    left = int(round((new_w - image_size) / 2.0))
    r0, r1, wy0, wy1 = _axis(h, new_h, top, image_size)
    c0, c1, wx0, wx1 = _axis(w, new_w, left, image_size)
    r0, r1, wy0, wy1 = r0[:, None], r1[:, None], wy0[:, None], wy1[:, None]
    # Corner weights, then a chain of multiply-adds each rounded once to float32 (as preprocess.js).
    d = np.float64
    v = np.zeros((x.shape[0], 3, image_size, image_size), np.float32)
    for rows, wy in ((r0, wy0), (r1, wy1)):
        for cols, wx in ((c0, wx0), (c1, wx1)):
            v = (d(x[:, :, rows, cols]) * d(wy * wx) + d(v)).astype(np.float32)
    mean_a = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std_a = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    return ((v - mean_a) / std_a).astype(np.float32)
