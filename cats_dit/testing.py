"""Small models and helpers for tests and benchmarks (like diffusers' ``testing_utils``).

AdaLN-Zero starts every residual branch and the output at exactly zero, so an untrained pipeline
outputs zeros and any comparison would pass; ``randomize`` fills the zero tensors so the models
are exercised for real.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def randomize(module, seed: int = 0, std: float = 0.05):
    """Fill all-zero parameters with N(0, std) (seeded); returns ``module``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.abs().max() == 0:
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    return module


def build_tiny_pipeline(preset: str = "tiny", seed: int = 0, **kwargs):
    """A CatsDiTPipeline of ``preset`` with non-zero weights, in eval mode."""
    import torch

    from . import build_pipeline

    torch.manual_seed(seed)
    pipe = build_pipeline(preset, **kwargs)
    randomize(pipe.transformer, seed)
    pipe.transformer.eval()
    return pipe


def build_small_classifier(seed: int = 0, image_size: int = 32):
    """Untrained mobilenet_v3_small whose logits differ between images: an untrained backbone
    in eval mode collapses every image to nearly the same features (std ~1e-9), so the
    BatchNorm statistics are calibrated on random images and the head is scaled up."""
    import torch

    from .classifier import BreedClassifier

    torch.manual_seed(seed)
    clf = BreedClassifier("mobilenet_v3_small", image_size=image_size)
    for m in clf.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
            m.reset_running_stats()
    clf.train()
    with torch.no_grad():
        for _ in range(4):
            clf(torch.rand(16, 3, image_size, image_size) * 4 - 2)
        clf.model.classifier[-1].weight.normal_(0, 1.0)
    return clf.eval()


def make_tiny_models(folder: str | Path, seed: int = 0, preset: str = "tiny") -> tuple[Path, Path]:
    """Save a pipeline of ``preset`` and a small classifier into ``folder/pipeline`` and
    ``folder/classifier``; returns the two folders."""
    folder = Path(folder)
    pipe_dir, clf_dir = folder / "pipeline", folder / "classifier"
    build_tiny_pipeline(preset, seed=seed).save_pretrained(pipe_dir)
    build_small_classifier(seed=seed).save_pretrained(clf_dir, metrics={"note": 1.0})
    return pipe_dir, clf_dir


# -- a real server in a child process, and what it costs (Linux /proc) -------------------------------
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_stats(pid: int) -> dict:
    """CPU seconds (user + system), RSS and peak RSS in MB, and thread count of a Linux process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {
        "cpu_s": (int(fields[11]) + int(fields[12])) / CLK_TCK,
        "rss_mb": int(status["VmRSS"].split()[0]) / 1024,
        "peak_rss_mb": int(status["VmHWM"].split()[0]) / 1024,
        "threads": int(status["Threads"]),
    }


@contextlib.contextmanager
def app_server(
    app: str | Path,
    *args: str,
    tmpdir: str | Path,
    timeout_s: float = 600,
    python: str | Path = sys.executable,
    env: dict[str, str | None] | None = None,
):
    """``python APP ARGS`` on a free localhost port with its own TMPDIR; yields (url, Popen).

    ``python``: another interpreter (a venv's); ``env``: variables to set, None removes one (e.g.
    ``PYTHONPATH``, so that app runs only what its own folder and venv hold). Stopped with SIGTERM
    (then SIGKILL) on exit. The app's folder is the working directory."""
    app = Path(app).resolve()
    port = free_port()
    child_env = {**os.environ, "TMPDIR": str(tmpdir), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    child_env.pop("GRADIO_TEMP_DIR", None)
    for name, value in (env or {}).items():
        if value is None:
            child_env.pop(name, None)
        else:
            child_env[name] = value
    log = open(Path(tmpdir) / "server.log", "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        [str(python), str(app), "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=app.parent,
        env=child_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{app.name} exited with {proc.returncode}:\n{(Path(tmpdir) / 'server.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(url + "config", timeout=2):
                    break
            except OSError:
                if time.time() > deadline:
                    raise TimeoutError(f"{app.name} did not answer on {url} within {timeout_s} s") from None
                time.sleep(0.5)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
