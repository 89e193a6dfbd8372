"""torchvision.transforms.v2 pipelines for the generator and the classifier (PIL RGB in)."""

from __future__ import annotations

import random

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ..classifier import preprocess_tensor


class RandomDownscale(torch.nn.Module):
    """Shrink so the shorter side is a random size in [low, high], then scale back up.

    Teaches the classifier to read small, soft images such as the generator's 32 px samples."""

    def __init__(self, low: int = 24, high: int = 64):
        super().__init__()
        self.low, self.high = low, high

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        target = random.randint(self.low, self.high)
        if min(h, w) <= target:
            return img
        small = TF.resize(img, target, antialias=True)
        return TF.resize(small, [h, w], antialias=False)


class PreprocessTensor(torch.nn.Module):
    """Exactly ``cats_dit.classifier.preprocess_tensor`` (what ONNX and the browser reproduce)."""

    def __init__(self, resize_size: int, image_size: int, mean, std):
        super().__init__()
        self.resize_size, self.image_size = int(resize_size), int(image_size)
        self.mean, self.std = list(mean), list(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return preprocess_tensor(x, self.resize_size, self.image_size, self.mean, self.std)[0]


def generator_transform(size: int, flip: bool = True) -> v2.Compose:
    """PIL -> float32 [3, size, size] in [-1, 1]: shorter side to ``size`` (antialiased), centre crop."""
    # resize and crop the PIL image before it becomes a tensor: PIL does this fast in one thread
    steps = [v2.Resize(size, antialias=True), v2.CenterCrop(size), v2.ToImage()]
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * 3, [0.5] * 3)]
    return v2.Compose(steps)


def classifier_transform(config: dict, train: bool) -> v2.Compose:
    """PIL -> normalised float32 [3, S, S] for a ``BreedClassifier.config``.

    Eval is exactly ``preprocess_tensor``. Train adds a random resized crop, flip, a mild colour
    jitter (hue barely moves: coat colour is what tells several breeds apart), blur and a random
    downscale so generated 32 px images are in-distribution."""
    size, resize = int(config["image_size"]), int(config["resize_size"])
    mean, std = config["mean"], config["std"]
    if not train:
        return v2.Compose(
            [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), PreprocessTensor(resize, size, mean, std)]
        )
    return v2.Compose(
        [
            v2.RandomResizedCrop(size, scale=(0.6, 1.0), ratio=(3 / 4, 4 / 3), antialias=True),  # on PIL: fast
            v2.RandomHorizontalFlip(),
            v2.ToImage(),
            v2.RandomApply([RandomDownscale(24, 64)], p=0.3),
            v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.15, hue=0.02),
            v2.RandomApply([v2.GaussianBlur(3, sigma=(0.1, 1.0))], p=0.2),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean, std),
        ]
    )
