"""cats_dit.preprocessing: only the crop window is computed, absurd shapes are refused, no torch needed."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cats_dit.preprocessing import MAX_ASPECT_RATIO, image_to_array, preprocess_array, preprocess_image

REPO = Path(__file__).resolve().parents[1]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.mark.parametrize("size", [(40000, 1), (1, 40000), (200000, 1), (21, 1)])
def test_thin_images_are_refused_with_the_reason(size):
    x = image_to_array(Image.new("RGB", size, "orange"))
    with pytest.raises(ValueError) as info:
        preprocess_array(x, 73, 64, MEAN, STD)
    w, h = size
    assert f"Image is {w}x{h} pixels (aspect ratio {max(w, h) // min(w, h)}:1)" in str(info.value)
    assert f"more than {MAX_ASPECT_RATIO} times wider than tall" in str(info.value)


def test_a_thin_pil_image_is_refused_before_its_pixels_are_converted():
    img = Image.new("L", (5_000_000, 1))  # 5 MB of pixels, 60 MB as float RGB
    tracemalloc.start()
    with pytest.raises(ValueError, match="aspect ratio 5000000:1"):
        preprocess_image(img, {"resize_size": 73, "image_size": 64, "mean": MEAN, "std": STD})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1e6, f"peak {peak / 1e6:.1f} MB: the image was converted before being refused"


def test_the_widest_allowed_image_costs_only_its_crop():
    # 20:1 at a 256 px short side would be a 256 x 5120 x 3 float image (15.7 MB) if resized whole.
    x = np.random.default_rng(0).random((3, 50, 1000), dtype=np.float32)
    tracemalloc.start()
    out = preprocess_array(x, 256, 224, MEAN, STD)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.shape == (1, 3, 224, 224) and np.isfinite(out).all()
    assert peak < 8e6, f"peak {peak / 1e6:.1f} MB: more than the crop window was computed"


def test_empty_and_malformed_inputs():
    with pytest.raises(ValueError, match="no pixels"):
        preprocess_array(np.zeros((3, 0, 5), np.float32), 20, 16, MEAN, STD)
    with pytest.raises(ValueError, match="expected an image array"):
        preprocess_array(np.zeros((4, 5, 5), np.float32), 20, 16, MEAN, STD)
    with pytest.raises(ValueError, match="resize_size"):
        preprocess_array(np.zeros((3, 5, 5), np.float32), 8, 16, MEAN, STD)


def test_the_js_mirror_has_the_same_limit():
    js = (REPO / "static_site" / "src" / "preprocess.js").read_text()
    assert f"export const MAX_ASPECT_RATIO = {MAX_ASPECT_RATIO};" in js
    from cats_dit.serving.validation import MAX_IMAGE_PIXELS

    assert f"export const MAX_IMAGE_PIXELS = {MAX_IMAGE_PIXELS:_};" in js


def test_onnx_classifier_modules_do_not_import_torch():
    code = (
        "import sys, types; sys.modules['torch'] = None\n"  # any import of torch now fails
        # the package __init__ loads the torch models; these modules must not need it
        "pkg = types.ModuleType('cats_dit'); pkg.__path__ = ['cats_dit']; sys.modules['cats_dit'] = pkg\n"
        "import numpy as np\n"
        "from cats_dit.onnx_pipeline import preprocess_array\n"
        "print(preprocess_array(np.ones((3, 30, 40), np.float32), 20, 16, (0, 0, 0), (1, 1, 1)).shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(1, 3, 16, 16)" in out.stdout
