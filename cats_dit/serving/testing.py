"""For tests and benchmarks: tiny random models, and the app as a real server in a child process."""

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


def make_tiny_models(folder: str | Path, seed: int = 0, preset: str = "tiny") -> tuple[Path, Path]:
    """Write a CatsDiTPipeline of ``preset`` (random, non-zero weights) and a tiny BreedClassifier into
    ``folder/pipeline`` and ``folder/classifier``; return the two paths."""
    import torch

    from .. import build_pipeline
    from ..classifier import BreedClassifier

    folder = Path(folder)
    torch.manual_seed(seed)
    pipe = build_pipeline(preset)
    with torch.no_grad():  # the zero-initialised output layer would make every image identical
        for p in pipe.transformer.parameters():
            p.add_(0.05 * torch.randn_like(p))
    pipe.save_pretrained(folder / "pipeline")
    BreedClassifier("mobilenet_v3_small", image_size=32).save_pretrained(folder / "classifier", metrics={"note": 1.0})
    return folder / "pipeline", folder / "classifier"


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def app_server(*args: str, tmpdir: str | Path, timeout_s: float = 600):
    """``python app.py ARGS`` on a free localhost port with its own TMPDIR; yields (url, Popen).

    Stopped with SIGTERM (then SIGKILL) on exit. The repo root is the working directory."""
    repo = Path(__file__).resolve().parents[2]
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmpdir), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    env.pop("GRADIO_TEMP_DIR", None)
    log = open(Path(tmpdir) / "server.log", "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), *args],
        cwd=repo,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"app.py exited with {proc.returncode}:\n{(Path(tmpdir) / 'server.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(url + "config", timeout=2):
                    break
            except OSError:
                if time.time() > deadline:
                    raise TimeoutError(f"app.py did not answer on {url} within {timeout_s} s") from None
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
