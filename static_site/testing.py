"""Helpers shared by the static page's browser tests and benchmark: small ONNX models,
the Python onnxruntime references, the dev server in a thread, and Chromium via Playwright.

Models: ``make_models(folder)`` runs the project's exporter (``python -m export``) on a
tiny randomly initialised pipeline and classifier when the exporter is available, and
otherwise exports them itself with ``torch.onnx.export`` following the ONNX contract and
writes models.json by the same schema.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
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
def _randomise(module, seed: int, std: float = 0.05) -> None:
    """Zero-initialised layers (adaLN-zero, heads) make all-zero outputs; give them values."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.ndim >= 1 and not torch.count_nonzero(p):
                p.copy_(torch.randn(p.shape, generator=gen) * std)


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

    torch.manual_seed(seed)
    pipe = build_pipeline(preset)
    _randomise(pipe.transformer, seed)
    pipe.save_pretrained(work / "pipeline")
    clf = BreedClassifier("mobilenet_v3_small", image_size=classifier_size)
    _calibrate(clf, seed)
    clf.eval().save_pretrained(work / "classifier")
    return work / "pipeline", work / "classifier"


def _file_entry(path: Path, precision: str, quality: dict) -> dict:
    data = path.read_bytes()
    return {
        "name": path.name,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "precision": precision,
        "quality": quality,
    }


def export_fallback(pipeline_dir: Path, classifier_dir: Path, output: Path) -> Path:
    """fp32 ONNX files + models.json by the contract in notes/HELPERS.md, with plain torch.onnx."""
    import torch

    from cats_dit.breeds import LABELS, NULL_CLASS_ID, display_name
    from cats_dit.classifier import BreedClassifier
    from cats_dit.pipeline_cats_dit import CatsDiTPipeline

    output.mkdir(parents=True, exist_ok=True)
    pipe = CatsDiTPipeline.from_pretrained(pipeline_dir)
    cfg = pipe.transformer.config

    class Gen(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, sample, timestep, class_labels):
            return self.model(sample, timestep, class_labels, return_dict=False)[0]

    hw = cfg.sample_size
    args = (torch.randn(2, cfg.in_channels, hw, hw), torch.tensor([500.0, 500.0]), torch.tensor([0, NULL_CLASS_ID]))
    torch.onnx.export(
        Gen(pipe.transformer.eval()),
        args,
        str(output / "generator.onnx"),
        input_names=["sample", "timestep", "class_labels"],
        output_names=["out_sample"],
        dynamic_axes={
            "sample": {0: "batch"},
            "timestep": {0: "batch"},
            "class_labels": {0: "batch"},
            "out_sample": {0: "batch"},
        },
        opset_version=17,
        dynamo=False,
    )
    clf = BreedClassifier.from_pretrained(classifier_dir)
    c = clf.config
    torch.onnx.export(
        clf.eval(),
        (torch.randn(1, 3, c["image_size"], c["image_size"]),),
        str(output / "classifier.onnx"),
        input_names=["pixel_values"],
        output_names=["logits"],
        dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    sched = pipe.scheduler.config
    models = {
        "format_version": 1,
        "labels": list(LABELS),
        "display_names": [display_name(i) for i in range(len(LABELS))],
        "null_class_id": NULL_CLASS_ID,
        "generator": {
            "sample_size": cfg.sample_size,
            "in_channels": cfg.in_channels,
            "num_classes": cfg.num_classes,
            "scheduler": {
                "num_train_timesteps": sched.num_train_timesteps,
                "shift": sched.shift,
                "prediction_type": sched.prediction_type,
                "min_sigma_for_x_pred": sched.min_sigma_for_x_pred,
            },
            "defaults": {"num_inference_steps": 20, "guidance_scale": 3.0, "solver": "euler"},
            "default_precision": "fp32",
            "files": {"fp32": _file_entry(output / "generator.onnx", "fp32", {"note": "fp32 reference"})},
        },
        "classifier": {
            "preprocess": {k: c[k] for k in ("image_size", "resize_size", "mean", "std", "interpolation", "antialias")},
            "default_precision": "fp32",
            "files": {"fp32": _file_entry(output / "classifier.onnx", "fp32", {"note": "fp32 reference"})},
        },
    }
    (output / "models.json").write_text(json.dumps(models, indent=2) + "\n")
    return output


def exporter_available() -> bool:
    return (REPO / "export" / "__main__.py").is_file()


def make_models(work: Path, prefer_exporter: bool = True, preset: str = "tiny") -> tuple[Path, str]:
    """Small models exported into ``work/models``; returns (folder, how) with how in
    {"python -m export", "torch.onnx fallback"}."""
    work = Path(work)
    pipeline_dir, classifier_dir = build_tiny_models(work, preset=preset)
    output = work / "models"
    if prefer_exporter and exporter_available():
        cmd = [sys.executable, "-m", "export", "--pipeline", str(pipeline_dir), "--classifier", str(classifier_dir)]
        proc = subprocess.run([*cmd, "--output", str(output)], cwd=REPO, capture_output=True, text=True)
        if proc.returncode != 0 or not (output / "models.json").is_file():
            # The exporter is the contract the page must follow: no silent fallback once it exists.
            raise RuntimeError(f"python -m export failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return output, "python -m export"
    return export_fallback(pipeline_dir, classifier_dir, output), "torch.onnx fallback"


# ---- Python references ----------------------------------------------------------------------
def reference_generate(
    models_dir: Path, breed: int, steps: int, guidance: float, solver: str, seed: int, precision=None
):
    """[H, W, 3] float32 in [0, 1] from the Python onnxruntime sampler."""
    try:
        from cats_dit.onnx_pipeline import OnnxCatsDiTPipeline
    except ImportError:
        return _reference_generate_fallback(models_dir, breed, steps, guidance, solver, seed, precision)
    pipe = OnnxCatsDiTPipeline.from_folder(models_dir, precision=precision)
    out = pipe(breed, num_inference_steps=steps, guidance_scale=guidance, solver=solver, seed=seed)
    return np.asarray(out[0], dtype=np.float32)


def _reference_generate_fallback(models_dir, breed, steps, guidance, solver, seed, precision):
    # Until cats_dit.onnx_pipeline exists: the CatsDiTPipeline loop on an onnxruntime session.
    import onnxruntime as ort
    import torch

    from cats_dit.pipeline_cats_dit import combine_guidance, seeded_noise
    from cats_dit.scheduling_flow_match import FlowMatchScheduler

    config = json.loads((Path(models_dir) / "models.json").read_text())
    g = config["generator"]
    entry = g["files"][precision or g["default_precision"]]
    sess = ort.InferenceSession(str(Path(models_dir) / entry["name"]), providers=["CPUExecutionProvider"])
    sched = FlowMatchScheduler(**g["scheduler"], solver=solver)
    sched.set_timesteps(steps)
    x = torch.from_numpy(seeded_noise([seed], g["in_channels"], g["sample_size"], g["sample_size"]))
    labels = np.array([breed, config["null_class_id"]], dtype=np.int64)
    for t in sched.timesteps:
        feeds = {
            "sample": np.concatenate([x.numpy()] * 2),
            "timestep": np.full(2, float(t), np.float32),
            "class_labels": labels,
        }
        out = torch.from_numpy(sess.run(None, feeds)[0])
        v = combine_guidance(out[:1], out[1:], guidance)
        x = sched.step(v, t, x, return_dict=False)[0]
    return ((x.clamp(-1, 1) + 1) / 2)[0].permute(1, 2, 0).numpy()


def reference_classify(models_dir: Path, image, precision=None) -> np.ndarray:
    """[13] probabilities from the Python onnxruntime classifier for a PIL image or path."""
    from PIL import Image

    img = Image.open(image) if isinstance(image, (str, Path)) else image
    try:
        from cats_dit.onnx_pipeline import OnnxBreedClassifier
    except ImportError:
        OnnxBreedClassifier = None
    if OnnxBreedClassifier is not None:
        return np.asarray(OnnxBreedClassifier.from_folder(models_dir).predict_proba([img])[0], dtype=np.float64)
    import onnxruntime as ort

    from cats_dit.classifier import image_to_tensor, preprocess_tensor

    config = json.loads((Path(models_dir) / "models.json").read_text())
    c = config["classifier"]
    entry = c["files"][precision or c["default_precision"]]
    p = c["preprocess"]
    x = preprocess_tensor(image_to_tensor(img), p["resize_size"], p["image_size"], p["mean"], p["std"]).numpy()
    sess = ort.InferenceSession(str(Path(models_dir) / entry["name"]), providers=["CPUExecutionProvider"])
    logits = sess.run(None, {"pixel_values": x})[0][0].astype(np.float64)
    e = np.exp(logits - logits.max())
    return e / e.sum()


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
