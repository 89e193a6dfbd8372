"""Helpers shared by the static page's browser tests and benchmark: small ONNX models,
the Python onnxruntime references, the dev server in a thread, and Chromium via Playwright.

Models: ``make_models(folder)`` runs the library's exporter (``cats_dit.onnx.run_export``, what
``python -m export`` calls) on a tiny randomly initialised pipeline and classifier.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SITE = Path(__file__).resolve().parent
REPO = SITE.parent


# ---- models ---------------------------------------------------------------------------------
def _calibrate(clf, seed: int) -> None:
    """A randomly initialised classifier answers almost the same for every image. Setting its
    BatchNorm statistics on a few pictures and scaling the head makes the answer depend on the
    input, so comparing browser and Python probabilities means something."""
    import torch

    rng = np.random.default_rng(seed)
    try:
        from cats_dit.data.cartoon import draw_class

        images = [draw_class(i % 13, rng, (90, 80)) for i in range(26)]
    except ImportError:
        images = [rng.integers(0, 256, (80, 90, 3), dtype=np.uint8) for _ in range(26)]
    x = clf.preprocess(images)
    # Random normal inputs too: the exporter validates on those, and they must stay in range.
    noise = torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32))
    for m in clf.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # plain average over the calibration batch
    with torch.no_grad():
        clf.train()(torch.cat([x, noise]))
        clf.eval()
        # Logit std 0.3 across images: probabilities clearly input-dependent, while the
        # amplified float32 error stays inside the exporter's fp32 tolerance (1e-4).
        clf.model.classifier[-1].weight.mul_(0.3 / clf(x).std(0).mean())


def build_tiny_models(work: Path, seed: int = 0, classifier_size: int = 32, preset: str = "tiny") -> tuple[Path, Path]:
    """Save a pipeline of ``preset`` (random weights) and a small classifier; returns their folders."""
    import torch

    from cats_dit import build_pipeline
    from cats_dit.classifier import BreedClassifier
    from cats_dit.testing import randomize

    torch.manual_seed(seed)
    pipe = build_pipeline(preset)
    randomize(pipe.transformer, seed)
    pipe.save_pretrained(work / "pipeline")
    clf = BreedClassifier("mobilenet_v3_small", image_size=classifier_size)
    _calibrate(clf, seed)
    clf.eval().save_pretrained(work / "classifier")
    return work / "pipeline", work / "classifier"


def make_models(work: Path, preset: str = "tiny") -> tuple[Path, str]:
    """Small models exported into ``work/models``; returns (folder, how it was made)."""
    from cats_dit.onnx import run_export

    work = Path(work)
    pipeline_dir, classifier_dir = build_tiny_models(work, preset=preset)
    output = work / "models"
    run_export(pipeline_dir, classifier_dir, output, log=lambda *_: None)
    return output, "cats_dit.onnx.run_export"


# ---- Python references ----------------------------------------------------------------------
def reference_generate(
    models_dir: Path, breed: int, steps: int, guidance: float, solver: str, seed: int, precision=None
):
    """[H, W, 3] float32 in [0, 1] from the Python onnxruntime sampler."""
    from cats_dit.onnx_pipeline import OnnxCatsDiTPipeline

    pipe = OnnxCatsDiTPipeline.from_folder(models_dir, precision=precision)
    out = pipe(breed, num_inference_steps=steps, guidance_scale=guidance, solver=solver, seed=seed)
    return np.asarray(out[0], dtype=np.float32)


def reference_classify(models_dir: Path, image, precision=None) -> np.ndarray:
    """[13] probabilities from the Python onnxruntime classifier for a PIL image or path."""
    from PIL import Image

    from cats_dit.onnx_pipeline import OnnxBreedClassifier

    img = Image.open(image) if isinstance(image, (str, Path)) else image
    return np.asarray(OnnxBreedClassifier.from_folder(models_dir).predict_proba([img])[0], dtype=np.float64)


# ---- server and browser ---------------------------------------------------------------------
def ensure_vendor() -> None:
    """Build static_site/vendor/ (onnxruntime-web) when it is missing."""
    if not (SITE / "vendor" / "ort.wasm.min.mjs").is_file():
        from static_site.build import build

        build()


@contextlib.contextmanager
def serve(models: Path | None, isolation: bool = True):
    """The dev server on a free localhost port in a thread; yields its base URL."""
    from static_site.serve import make_server

    server = make_server(port=0, isolation=isolation, models=models, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def chromium():
    """Playwright's Chromium API driving Debian's /usr/bin/chromium (fresh profile)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def wait_ready(page, section: str = "generator", timeout_ms: int = 60_000) -> None:
    page.wait_for_function(
        f"() => (window.catsDit && window.catsDit.state.ready['{section}']) || document.querySelector('#errors .error')",
        timeout=timeout_ms,
    )
    errors = page.locator("#errors .error").all_inner_texts()
    if errors:
        raise AssertionError(f"the page shows errors: {errors}")


def generate_in_page(
    page, breed: int, steps: int, guidance: float, solver: str, seed: int, timeout_ms: int = 120_000
) -> dict:
    """Fill the form, press Generate, wait for the image; returns window.catsDit.lastImage."""
    page.select_option("#breed", str(breed))
    page.fill("#steps", str(steps))
    page.fill("#guidance", str(guidance))
    page.select_option("#sampler", solver)
    page.fill("#seed", str(seed))
    page.click("#generate")
    page.wait_for_function(
        "() => ['done', 'error'].includes(document.querySelector('#gen-status').dataset.state)", timeout=timeout_ms
    )
    if page.get_attribute("#gen-status", "data-state") == "error":
        raise AssertionError(f"generation failed: {page.locator('#errors').inner_text()}")
    return page.evaluate("() => window.catsDit.lastImage")
