"""Command line of ``python app.py``."""

from __future__ import annotations

import argparse

from .loading import BACKENDS
from .sources import ENV_BACKEND, ENV_CLASSIFIER, ENV_MODEL, ENV_ONNX_DIR


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python app.py",
        description="Gradio app: generate cats of a breed and classify cat pictures.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--model",
        default=None,
        help=f"generator: a CatsDiTPipeline folder or Hub repo id (env {ENV_MODEL}; default weights/pipeline)",
    )
    p.add_argument(
        "--classifier",
        default=None,
        help=f"classifier: a BreedClassifier folder or Hub repo id (env {ENV_CLASSIFIER}; default weights/classifier)",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help=f"torch, onnx (onnxruntime; exports on first start if needed) or auto (env {ENV_BACKEND}; default auto)",
    )
    p.add_argument(
        "--onnx-dir",
        default=None,
        help=f"exported models folder (models.json + *.onnx) for the onnx backend (env {ENV_ONNX_DIR})",
    )
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1; 0.0.0.0 in a Space)")
    p.add_argument("--port", type=int, default=None, help="port (default 7860 or env GRADIO_SERVER_PORT)")
    p.add_argument("--concurrency", type=int, default=2, help="generate/classify jobs run at once")
    p.add_argument("--max-queue", type=int, default=64, help="requests waiting in line before new ones are refused")
    return p
