"""Checks of exported files against PyTorch, and the quality users see.

1. ``validate_file``: for fp32, optimum's ``validate_model_outputs`` on fresh random inputs
   (batch 3, not the export's batch 2, so the dynamic axis is exercised); for every precision
   the same comparison on batches 1, 2 and 5 with a scale-relative tolerance per precision
   (the measured error goes into models.json). A failure raises ``ExportValidationError``
   with the measured error.
2. ``generator_psnr``: full sampling runs (several seeds and breeds, default steps and
   guidance) with the onnxruntime pipeline vs the fp32 torch ``CatsDiTPipeline``; PSNR in dB of
   the final images in [0, 1].
3. ``classifier_agreement``: top-1 agreement with the torch classifier on a set of images.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import torch
from optimum.exporters.onnx import validate_model_outputs
from PIL import Image

# Largest error allowed, relative to the output's scale: max|onnx - torch| / max(1, max|torch|)
# on fresh random inputs. Generator outputs are ~N(0, 1) velocities, classifier outputs are
# logits whose scale depends on training, hence relative. fp16 stores weights in float16
# (~5e-4 relative rounding per weight); int8 quantizes every MatMul/Gemm, so its bound only
# catches a broken graph: its real quality bar is the PSNR / agreement of full runs.
# fp32 additionally passes optimum's validate_model_outputs (absolute atol = tolerance * scale).
# Generator int8: the trained demo weights measure 0.09; an untrained tiny TinyDiT with this
# release's unit-scale class rows measures 0.22, so 0.3 still fails a mis-wired graph (~1).
TOLERANCES = {
    "generator": {"fp32": 1e-4, "fp16": 2e-2, "int8": 0.3},
    "classifier": {"fp32": 1e-3, "fp16": 5e-2, "int8": 0.25},
}
PSNR_CAP_DB = 100.0  # identical images would be +inf, which JSON cannot hold
QUALITY_BREEDS = (0, 3, 6, 8, 10, 12)  # several breeds (and "other"), one seed each


class ExportValidationError(RuntimeError):
    """An exported file does not match PyTorch within its tolerance."""


def _session(path: Path):
    from ..onnx_pipeline import make_session

    return make_session(path)


def output_error(got: np.ndarray, ref: np.ndarray) -> float:
    """max|got - ref| / max(1, max|ref|): the error measure the tolerances are stated in."""
    return float(np.abs(got - ref).max() / max(1.0, float(np.abs(ref).max())))


def _reference(config, model, batch: int) -> tuple[dict, np.ndarray]:
    inputs = config.generate_dummy_inputs(framework="pt", batch_size=batch)
    with torch.inference_mode():
        ref = model(**inputs)
    return inputs, (ref.sample if hasattr(ref, "sample") else ref).float().numpy()


def output_scale(config, model) -> float:
    """max(1, max |output|) on a fresh batch: turns the relative tolerance into optimum's atol."""
    return max(1.0, float(np.abs(_reference(config, model, 3)[1]).max()))


def validate_file(kind: str, config, model: torch.nn.Module, path: Path, precision: str, tolerance: float) -> float:
    """Check ``path`` against ``model`` on fresh random inputs; returns the measured error
    (``output_error``, worst of batches 1, 2, 5). Raises ExportValidationError naming it."""
    label = f"{kind} {precision} ({Path(path).name})"
    output_name = list(config.outputs)[0]
    if precision == "fp32":
        atol = tolerance * output_scale(config, model)
        try:
            validate_model_outputs(
                config,
                model,
                Path(path),
                [output_name],
                atol=atol,
                input_shapes={"batch_size": 3},
                use_subprocess=False,
            )
        except Exception as exc:
            raise ExportValidationError(f"{label} failed validation against PyTorch (atol {atol:.3g}): {exc}") from exc
    session = _session(Path(path))
    worst = 0.0
    for batch in (1, 2, 5):
        inputs, ref = _reference(config, model, batch)
        got = session.run([output_name], {k: v.numpy() for k, v in inputs.items()})[0]
        if got.shape != ref.shape:
            raise ExportValidationError(f"{label}: batch {batch} gave shape {got.shape}, PyTorch {ref.shape}")
        err = output_error(got, ref)
        if not err <= tolerance:  # also catches NaN
            raise ExportValidationError(
                f"{label} failed validation against PyTorch: error {err:.3g} (max abs difference / "
                f"max(1, max |output|)) at batch {batch} exceeds the tolerance {tolerance}"
            )
        worst = max(worst, err)
    return worst


def psnr_db(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of images in [0, 1]; capped at PSNR_CAP_DB."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    if mse <= 10 ** (-PSNR_CAP_DB / 10):
        return PSNR_CAP_DB
    return 10.0 * math.log10(1.0 / mse)


def torch_reference_images(pipe, steps: int, guidance: float, seed: int, breeds=QUALITY_BREEDS) -> np.ndarray:
    """The fp32 torch pipeline's images [B, H, W, 3] in [0, 1] for the quality set."""
    pipe.set_progress_bar_config(disable=True)
    return pipe(list(breeds), num_inference_steps=steps, guidance_scale=guidance, seed=seed, output_type="np").images


def generator_psnr(onnx_pipe, reference: np.ndarray, steps: int, guidance: float, seed: int, breeds=QUALITY_BREEDS):
    """(pooled PSNR dB, worst single-image PSNR dB) of the onnxruntime pipeline vs the reference images."""
    images = onnx_pipe(list(breeds), num_inference_steps=steps, guidance_scale=guidance, seed=seed)
    per_image = [psnr_db(a, b) for a, b in zip(images, reference)]
    return psnr_db(images, reference), min(per_image)


def quality_images(count: int = 52, seed: int = 0) -> tuple[list, str]:
    """Images for the classifier agreement: cartoon cats when ``cats_dit.data`` can draw them,
    otherwise seeded random shapes. Returns (PIL images, description)."""
    try:
        from cats_dit.data.cartoon import make_cartoon_dataset
    except ImportError:
        make_cartoon_dataset = None
    if make_cartoon_dataset is not None:
        with tempfile.TemporaryDirectory() as tmp:
            per_class = max(1, math.ceil(count / 13))
            root = make_cartoon_dataset(tmp, per_class=per_class, seed=seed, progress=False)
            files = sorted((Path(root) / "images").glob("*.jpg"))[:count]
            images = [Image.open(f).convert("RGB") for f in files]
        return images, f"{len(images)} cartoon cats (cats_dit.data.cartoon, seed {seed})"
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        h, w = rng.integers(48, 160, size=2)
        base = rng.random(3)
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        arr = base + 0.5 * np.sin(2 * np.pi * (rng.random() * 4 * xx + rng.random() * 4 * yy))[..., None] * rng.random(
            3
        )
        images.append(Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8)))
    return images, f"{count} seeded random pattern images"


def classifier_agreement(classifier, onnx_path: Path, images: list) -> float:
    """Share of images whose top-1 class from the ONNX file equals the torch classifier's."""
    pixel_values = classifier.preprocess(images)
    with torch.inference_mode():
        ref = classifier(pixel_values).argmax(-1).numpy()
    got = _session(Path(onnx_path)).run(["logits"], {"pixel_values": pixel_values.numpy()})[0].argmax(-1)
    return float(np.mean(ref == got))
