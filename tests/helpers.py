"""What the browser test modules share besides fixtures (those are in conftest.py): their marks,
ready-made model folders, and the comparison of the page's image with Python's."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from static_site import testing as st

REPO = Path(__file__).resolve().parents[1]

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(st.CHROMIUM).exists(), reason=f"{st.CHROMIUM} is missing (apt-get install -y chromium)"
    ),
]


def ready_models(env_var: str, folder: Path) -> Path | None:
    """A copy at ``folder`` of the export folder named by ``$env_var`` (to iterate faster), else None."""
    reuse = os.environ.get(env_var)
    if not (reuse and (Path(reuse) / "models.json").is_file()):
        return None
    shutil.copytree(reuse, folder)
    return folder


def image_from_page(result) -> tuple[np.ndarray, np.ndarray]:
    """(floats [H,W,3], uint8 [H,W,3]) of window.catsDit.lastImage."""
    s = result["size"]
    floats = np.asarray(result["floats"], dtype=np.float32).reshape(3, s, s).transpose(1, 2, 0)
    rgba = np.asarray(result["rgba"], dtype=np.uint8).reshape(s, s, 4)
    return floats, rgba[..., :3]


def assert_matches_python(models, result, breed, steps, guidance, solver, seed, precision=None, gpu=False):
    """``gpu``: the page ran on WebGPU, whose kernels sum in another order and use their own
    exp/erf, so the image is close to the CPU one but not within 2/255 everywhere."""
    ref = st.reference_generate(models, breed, steps, guidance, solver, seed, precision=precision)
    _, pixels = image_from_page(result)
    ref_u8 = np.round(ref * 255).astype(np.int16)
    diff = np.abs(pixels.astype(np.int16) - ref_u8)
    close = (diff <= 2).mean()
    print(
        f"{precision or 'default'} {solver} g={guidance}: {close:.2%} of pixels within 2/255, max diff {diff.max()}/255,"
        f" mean diff {diff.mean():.2f}/255"
    )
    if gpu:
        assert diff.mean() <= 1.5 and diff.max() <= 12, f"WebGPU image off by {diff.mean():.2f}/255 (max {diff.max()})"
    elif precision == "int8":
        # Dynamic int8: onnxruntime-web's WASM kernels and native MLAS quantize activations
        # differently, so int8 is close to Python but not pixel-identical (fp32 / fp16 are).
        assert diff.mean() <= 12, f"int8 image off by {diff.mean():.1f}/255 on average (max diff {diff.max()})"
    else:
        assert close >= 0.99, f"only {close:.2%} of pixels within 2/255 of Python (max diff {diff.max()})"
    # Not a degenerate image: the model actually ran and coloured the pixels.
    assert pixels.std() > 5
