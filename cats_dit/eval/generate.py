"""Draw images per breed from a torch pipeline folder or an ONNX models folder."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm


@dataclass
class Generator:
    """A loaded generator for evaluation: ``kind`` "torch" or "onnx" and ``backend``, the serving
    backend (``TorchGenerator`` / ``OnnxGenerator``: the one generator interface of the package)."""

    kind: str
    backend: object
    source: str
    sample_size: int
    precision: str | None = None

    @property
    def pipe(self):
        """The pipeline object behind the backend (CatsDiTPipeline or OnnxCatsDiTPipeline)."""
        return self.backend.pipe

    def describe(self) -> dict:
        info = {"source": self.source, "kind": self.kind, "sample_size": self.sample_size}
        weights = weights_file(self.source, self.kind, self.precision)
        info["weights_file"] = weights.name
        info["weights_sha256"] = sha256_file(weights)
        if self.kind == "torch":
            cfg = dict(self.pipe.transformer.config)
            info["transformer"] = {k: v for k, v in cfg.items() if not k.startswith("_")}
            info["parameters"] = int(sum(p.numel() for p in self.pipe.transformer.parameters()))
            info["scheduler"] = {k: v for k, v in dict(self.pipe.scheduler.config).items() if not k.startswith("_")}
        else:
            info["precision"] = self.precision
        return info

    def __call__(
        self,
        breed_id: int,
        n: int,
        seed: int,
        steps: int,
        guidance: float,
        solver: str | None = None,
        guidance_interval: tuple[float, float] | None = None,
    ):
        """``n`` images of one breed as float32 [n, 3, H, W] in [0, 1]; image k uses seed ``seed + k``.
        ``solver`` / ``guidance_interval`` None: the generator's own."""
        sampler = solver or self.backend.defaults["sampler"]
        arr = self.backend.generate([breed_id] * n, seed, steps, guidance, sampler, guidance_interval=guidance_interval)
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(0, 3, 1, 2)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file: eval.json records it so a model card can prove which weights it describes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_file(folder: str | Path, kind: str, precision: str | None = None) -> Path:
    """The generator weights a folder holds: the transformer safetensors, or the chosen ONNX file."""
    folder = Path(folder)
    if kind == "torch":
        found = sorted((folder / "transformer").glob("*.safetensors"))
        if not found:
            raise FileNotFoundError(f"{folder / 'transformer'} holds no .safetensors weights")
        return found[0]
    gen = json.loads((folder / "models.json").read_text())["generator"]
    return folder / gen["files"][precision or gen.get("default_precision", "fp32")]["name"]


def load_generator(path: str | Path, precision: str | None = None) -> Generator:
    """A pipeline folder (model_index.json) or an ONNX models folder (models.json) -> Generator."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"Generator folder {folder} does not exist")
    if (folder / "model_index.json").is_file():
        from ..serving.backends import TorchGenerator

        backend = TorchGenerator(folder, device="cpu")
        return Generator("torch", backend, str(folder), backend.sample_size)
    if (folder / "models.json").is_file():
        try:
            from ..serving.onnx_backend import OnnxGenerator
        except ImportError as exc:
            raise RuntimeError(
                f"{folder} is an ONNX models folder but cats_dit.onnx_pipeline is unavailable: {exc}"
            ) from exc
        meta = json.loads((folder / "models.json").read_text())
        chosen = precision or meta["generator"].get("default_precision", "fp32")
        backend = OnnxGenerator(folder, precision=chosen)
        return Generator("onnx", backend, str(folder), backend.sample_size, precision=backend.precision)
    raise ValueError(
        f"{folder} is neither a pipeline folder (model_index.json) nor an ONNX models folder (models.json)"
    )


def generate_per_breed(
    generator: Generator,
    breed_ids: list[int],
    per_breed: int,
    steps: int,
    guidance: float,
    seed: int = 0,
    batch_size: int = 32,
    solver: str | None = None,
    desc: str = "generating",
    guidance_interval: tuple[float, float] | None = None,
) -> tuple[torch.Tensor, np.ndarray]:
    """``per_breed`` images for each breed -> (images [N,3,H,W] in [0,1], labels [N]).

    Seeds are distinct across the whole set: the i-th image overall uses ``seed + i``.
    """
    images, labels = [], []
    offset = seed
    with tqdm(total=len(breed_ids) * per_breed, desc=desc, unit="img") as bar:
        for breed_id in breed_ids:
            done = 0
            while done < per_breed:
                n = min(batch_size, per_breed - done)
                images.append(generator(breed_id, n, offset, steps, guidance, solver, guidance_interval))
                labels.extend([breed_id] * n)
                offset, done = offset + n, done + n
                bar.update(n)
    return torch.cat(images), np.asarray(labels, dtype=np.int64)
