"""BreedClassifier: a torchvision backbone with a 13-way head, save/load.

Its preprocessing (config ``resize_size``, ``image_size``, ``mean``, ``std``) is
``cats_dit.preprocessing``, shared with the ONNX path and mirrored by the browser.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from .breeds import LABELS
from .preprocessing import image_to_array, preprocess_array, preprocess_image

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BACKBONES = (
    "resnet18",
    "resnet50",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "convnext_tiny",
)


def build_backbone(name: str, num_classes: int, pretrained: bool = False) -> nn.Module:
    """A torchvision classifier with its last layer replaced by a ``num_classes`` head."""
    import torchvision

    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    weights = "DEFAULT" if pretrained else None
    try:
        model = torchvision.models.get_model(name, weights=weights)
    except Exception as exc:  # urllib / hub errors when offline
        if pretrained:
            raise RuntimeError(
                f"Could not load ImageNet weights for {name} ({exc}). They download from the internet on "
                "first use; run once online, or place the file in the torch hub cache "
                "(~/.cache/torch/hub/checkpoints), or train without --pretrained."
            ) from exc
        raise
    if name.startswith("resnet"):
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    elif name.startswith("mobilenet") or name.startswith("efficientnet") or name.startswith("convnext"):
        last = model.classifier[-1]
        model.classifier[-1] = nn.Linear(last.in_features, num_classes)
    return model


def image_to_tensor(image: Image.Image | np.ndarray) -> torch.Tensor:
    """Any PIL image (L, LA, P, RGBA, I;16, CMYK ...) or HxW[xC] array -> float32 [3, H, W] in [0, 1]."""
    return torch.from_numpy(image_to_array(image))


def preprocess_tensor(x: torch.Tensor, resize_size: int, image_size: int, mean, std) -> torch.Tensor:
    """[3, H, W] or [B, 3, H, W] float in [0, 1] -> normalised [B, 3, S, S] on ``x``'s device
    (``cats_dit.preprocessing.preprocess_array``: only the crop window is computed)."""
    out = preprocess_array(x.detach().float().cpu().numpy(), resize_size, image_size, mean, std)
    return torch.from_numpy(out).to(x.device)


class BreedClassifier(nn.Module):
    """13-way breed classifier. ``forward(pixel_values) -> logits [B, 13]``."""

    def __init__(
        self,
        backbone: str = "resnet18",
        labels: list[str] | tuple[str, ...] = LABELS,
        image_size: int = 224,
        resize_size: int | None = None,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
        pretrained: bool = False,
    ):
        super().__init__()
        self.config = {
            "backbone": backbone,
            "labels": list(labels),
            "image_size": int(image_size),
            "resize_size": int(resize_size or round(image_size * 256 / 224)),
            "mean": [float(m) for m in mean],
            "std": [float(s) for s in std],
            "interpolation": "bilinear",
            "antialias": False,
        }
        self.model = build_backbone(backbone, len(labels), pretrained=pretrained)

    @property
    def labels(self) -> list[str]:
        return self.config["labels"]

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values)

    def preprocess(self, images) -> torch.Tensor:
        """PIL images / arrays / [3,H,W] tensors in [0,1] (one or a list) -> [B, 3, S, S]."""
        if not isinstance(images, (list, tuple)):
            images = [images]
        c = self.config
        batch = []
        for img in images:
            if torch.is_tensor(img):
                batch.append(preprocess_tensor(img, c["resize_size"], c["image_size"], c["mean"], c["std"]))
            else:
                batch.append(torch.from_numpy(preprocess_image(img, c)))
        return torch.cat(batch)

    @torch.no_grad()
    def predict_proba(self, images) -> torch.Tensor:
        """Softmax probabilities [B, 13] for PIL images / arrays / tensors in [0, 1]."""
        was_training = self.training
        self.eval()
        x = self.preprocess(images).to(next(self.parameters()).device)
        probs = self(x).float().softmax(-1)
        self.train(was_training)
        return probs

    def save_pretrained(self, folder: str | Path, metrics: dict | None = None) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, folder / WEIGHTS_NAME)
        config = dict(self.config)
        if metrics:
            config["metrics"] = metrics
        (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, folder: str | Path, map_location: str = "cpu") -> BreedClassifier:
        path = Path(folder)
        if not path.is_dir():
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(str(folder)))
        config_file, weights_file = path / CONFIG_NAME, path / WEIGHTS_NAME
        if not config_file.is_file():
            raise OSError(f"{path} is not a BreedClassifier folder: {CONFIG_NAME} is missing")
        if not weights_file.is_file():
            raise OSError(f"Weights file {weights_file} is missing")
        config = json.loads(config_file.read_text())
        if "backbone" not in config:
            raise OSError(f"{config_file} has no 'backbone' entry; is this a BreedClassifier folder?")
        model = cls(
            backbone=config["backbone"],
            labels=config["labels"],
            image_size=config["image_size"],
            resize_size=config["resize_size"],
            mean=config["mean"],
            std=config["std"],
        )
        if "metrics" in config:
            model.config["metrics"] = config["metrics"]
        try:
            state = load_file(weights_file, device=map_location)
        except Exception as exc:
            raise OSError(f"Weights file {weights_file} is truncated or corrupt: {exc}") from exc
        try:
            model.model.load_state_dict(state)
        except RuntimeError as exc:
            raise OSError(
                f"Weights file {weights_file} does not match its config ({config['backbone']}): {exc}"
            ) from exc
        return model.eval()
