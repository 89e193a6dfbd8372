"""Inception-V3 features (torch-fidelity's FID network) from a local weights file; never downloads.

The standard FID weights are torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``
(a state dict converted from the TensorFlow graph that FID was defined with). They are read
here with ``torch.load(weights_only=True)`` (or from ``.safetensors``), checked against the
network, and only then handed to torch-fidelity as a freshly written file of plain tensors.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

INCEPTION_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
)


def _read_state_dict(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except Exception as exc:
            raise ValueError(f"--inception-weights {path} is not a readable safetensors file: {exc}") from exc
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"--inception-weights {path} is not a PyTorch state dict of plain tensors "
            f"(expected torch-fidelity's Inception weights, {INCEPTION_URL.rsplit('/', 1)[-1]}): {exc}"
        ) from exc
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"--inception-weights {path} does not hold a state dict of tensors")
    return state


def load_inception(weights_path: str | Path):
    """torch-fidelity's FeatureExtractorInceptionV3 (2048-d pool features) with weights from a local file."""
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError as exc:
        raise RuntimeError("Inception FID/KID needs torch-fidelity: pip install torch-fidelity") from exc
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"--inception-weights {path} does not exist. Download {INCEPTION_URL} once (it is ~92 MB) "
            "and pass its path; this tool never downloads it."
        )
    state = _read_state_dict(path)
    with tempfile.TemporaryDirectory() as tmp:
        # torch-fidelity unpickles its file with weights_only=False, so it only ever sees our own copy.
        safe_copy = Path(tmp) / "inception.pt"
        torch.save({k: v.contiguous() for k, v in state.items()}, safe_copy)
        try:
            return FeatureExtractorInceptionV3(
                "inception-v3-compat", ["2048"], feature_extractor_weights_path=str(safe_copy)
            )
        except RuntimeError as exc:
            raise ValueError(
                f"--inception-weights {path} does not match torch-fidelity's InceptionV3 network: {str(exc)[:400]}"
            ) from exc


@torch.no_grad()
def inception_features(extractor, images: torch.Tensor, batch_size: int = 32) -> np.ndarray:
    """images [N, 3, H, W] in [0, 1] -> [N, 2048] float32 pool features (resized to 299 inside)."""
    feats = []
    for start in range(0, len(images), batch_size):
        x = (images[start : start + batch_size].clamp(0, 1) * 255).round().to(torch.uint8)
        (f,) = extractor(x)
        feats.append(f.float().cpu())
    return torch.cat(feats).numpy()
