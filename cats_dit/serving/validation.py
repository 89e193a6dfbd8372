"""Checks on user input for the app and its API: every problem becomes a ValueError that names it.

The app turns these into ``gr.Error`` so the browser and ``gradio_client`` show the same text.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import random
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..breeds import CAT_BREEDS, LABELS, to_name
from ..preprocessing import check_image_shape

RANDOM = "random"
BREED_CHOICES: tuple[str, ...] = LABELS + (RANDOM,)
SAMPLERS = ("euler", "heun")
MAX_SEED = 2**32 - 1
LIMITS = {
    "num_images": (1, 8),
    "steps": (1, 100),
    "guidance": (0.0, 10.0),
    "seed": (0, MAX_SEED),
}
# Decompression-bomb guard: PIL warns above this many pixels and refuses above twice it.
# We refuse above it (a 40 MP photo is far more than a 224 px classifier needs).
MAX_IMAGE_PIXELS = 40_000_000
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # the app's upload limit (Gradio's max_file_size); pasted data: URLs too


def configure_pil(max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """Set PIL's process-wide decompression-bomb limit deliberately (the app calls this at start)."""
    Image.MAX_IMAGE_PIXELS = max_pixels


@dataclass(frozen=True)
class GenerateRequest:
    """Validated generate settings. ``breeds`` has one canonical label per image."""

    breed: str
    breeds: tuple[str, ...]
    num_images: int
    steps: int
    guidance: float
    sampler: str
    seed: int

    def seeds(self) -> list[int]:
        # Image k of a call with seed S uses seed S + k (the pipeline's contract).
        return [(self.seed + k) & MAX_SEED for k in range(self.num_images)]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["breeds"] = list(self.breeds)
        return d


def _number(name: str, value, integer: bool) -> float | int:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{name} is missing; give a number")
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got the boolean {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    lo, hi = LIMITS[name]
    if integer:
        if number != int(number):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        number = int(number)
    if not lo <= number <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {value!r}")
    return number


def random_breed(seed: int) -> str:
    """The breed "random" picks for an image with this seed (so a seed reproduces the breed too)."""
    return CAT_BREEDS[random.Random(int(seed)).randrange(len(CAT_BREEDS))]


def validate_generate(breed, num_images, steps, guidance, sampler, seed) -> GenerateRequest:
    """Raise ValueError naming the first bad setting, else return the normalised request."""
    if breed is None or (isinstance(breed, str) and not breed.strip()):
        raise ValueError(f"breed is missing; choose one of: {', '.join(BREED_CHOICES)}")
    if not isinstance(breed, str):
        raise ValueError(
            f"breed must be a breed name (text), got {type(breed).__name__} {breed!r}; "
            f"choose one of: {', '.join(BREED_CHOICES)}"
        )
    num_images = _number("num_images", num_images, integer=True)
    steps = _number("steps", steps, integer=True)
    guidance = float(_number("guidance", guidance, integer=False))
    seed = _number("seed", seed, integer=True)
    sampler_key = str(sampler).strip().lower() if sampler is not None else ""
    if sampler_key not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(s.capitalize() for s in SAMPLERS)}, got {sampler!r}")
    if breed.strip().lower() == RANDOM:
        name = RANDOM
        breeds = tuple(random_breed((seed + k) & MAX_SEED) for k in range(num_images))
    else:
        try:
            name = to_name(breed)
        except ValueError:
            raise ValueError(f"Unknown breed {breed!r}; choose one of: {', '.join(BREED_CHOICES)}") from None
        breeds = (name,) * num_images
    return GenerateRequest(name, breeds, num_images, steps, guidance, sampler_key, seed)


def load_image(source, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """A file path, PIL image or array -> a fully decoded PIL image (any mode), or ValueError.

    Modes are kept (grayscale, RGBA, palette, 16-bit): the classifier's ``image_to_tensor``
    converts all of them. EXIF rotation is applied so phone photos stand upright.
    """
    if source is None:
        raise ValueError("No image given; upload, paste or take a picture first")
    if isinstance(source, np.ndarray):
        if source.ndim not in (2, 3) or (source.ndim == 3 and source.shape[-1] not in (1, 3, 4)):
            raise ValueError(f"Image array must be HxW or HxWx(1|3|4), got shape {source.shape}")
        if source.shape[0] * source.shape[1] > max_pixels:
            raise ValueError(_too_big(source.shape[1], source.shape[0], max_pixels))
        arr = source[..., 0] if source.ndim == 3 and source.shape[-1] == 1 else source
        if arr.dtype != np.uint8:
            arr = np.clip(arr.astype(np.float64), 0, 1 if arr.dtype.kind == "f" else 65535)
            arr = (arr * 255 if source.dtype.kind == "f" else arr / 257).round().astype(np.uint8)
        return Image.fromarray(arr)
    if isinstance(source, Image.Image):
        if source.width * source.height > max_pixels:
            raise ValueError(_too_big(source.width, source.height, max_pixels))
        return source
    if isinstance(source, dict):  # a Gradio ImageData payload (the app skips Gradio's preprocessing)
        if not source.get("path") and str(source.get("url") or "").startswith("data:"):
            return _open_checked(_data_url_bytes(source["url"]), "pasted image", max_pixels)
        source = source.get("path")
    if not source:
        raise ValueError("No image given; upload, paste or take a picture first")
    path = Path(str(source))
    name = path.name
    if not path.is_file():
        raise ValueError(f"Image file {name!r} was not found")
    if path.stat().st_size == 0:
        raise ValueError(f"{name!r} is empty (0 bytes), not an image")
    return _open_checked(path, repr(name), max_pixels)


def _data_url_bytes(url: str, max_bytes: int = MAX_UPLOAD_BYTES) -> io.BytesIO:
    payload = len(url) - url.find(",") - 1
    if payload * 3 // 4 > max_bytes:  # checked on the text, before decoding it
        raise ValueError(
            f"The pasted image is too large: about {payload * 3 / 4 / 2**20:.0f} MB; "
            f"the upload limit is {max_bytes / 2**20:.0f} MB"
        )
    try:
        return io.BytesIO(base64.b64decode(url.split(",", 1)[1], validate=True))
    except (IndexError, binascii.Error):
        raise ValueError("The pasted image is not valid base64 image data") from None


def _open_checked(file, name: str, max_pixels: int) -> Image.Image:
    """Open and fully decode, refusing decompression bombs before any pixel data is read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValueError(
            f"{name} is too large to decode safely (decompression-bomb protection; the limit is "
            f"{Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels): {exc}"
        ) from None
    except UnidentifiedImageError:
        raise ValueError(
            f"{name} is not an image this app can read; use a PNG, JPEG, WebP, GIF, BMP or TIFF file"
        ) from None
    except (OSError, SyntaxError, EOFError, ValueError) as exc:
        raise ValueError(f"{name} is corrupt and cannot be decoded ({exc})") from None
    if image.width * image.height > max_pixels:  # also when PIL's own limit was switched off
        raise ValueError(_too_big(image.width, image.height, max_pixels))
    check_image_shape(image.height, image.width)  # a 40000x1 strip is refused from its header
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, EOFError, ValueError, Image.DecompressionBombWarning) as exc:
        raise ValueError(f"{name} is corrupt or truncated and cannot be decoded ({exc})") from None
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block should not reject a readable image
        pass
    return image


def _too_big(width: int, height: int, max_pixels: int) -> str:
    return (
        f"Image is too large: {width}x{height} = {width * height / 1e6:.1f} megapixels; "
        f"the limit is {max_pixels / 1e6:.0f} megapixels (decompression-bomb protection). Resize it first."
    )
