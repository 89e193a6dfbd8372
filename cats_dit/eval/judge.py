"""An independent quality judge: a small CNN trained on real images at the generator's resolution.

The served classifier is trained with a "generator view" (shrunk, blurred images) so it can
classify generated samples; a judge trained that way also calls colour blobs breeds. This judge
never sees such views: it trains on real images at exactly the generator's size with only
flips and one-pixel shifts, so a sample scores only if it looks like a real image of its class.
Its penultimate features (global-average-pooled, 128-d) are the space for Fréchet distance.

    judge = train_judge(images, labels, num_classes=13)   # images [N, 3, S, S] in [0, 1]
    feats, probs = judge.features(samples)                # numpy [N, 128], [N, num_classes]
    judge.save_pretrained("runs/judge"); Judge.from_pretrained("runs/judge")
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

CONFIG_NAME = "judge_config.json"
WEIGHTS_NAME = "judge.safetensors"


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Judge(nn.Module):
    """``forward(images [B,3,S,S] in [0,1]) -> logits``; ``features`` adds the pooled features."""

    def __init__(self, num_classes: int = 13, image_size: int = 32, width: int = 32):
        super().__init__()
        self.config = {"num_classes": int(num_classes), "image_size": int(image_size), "width": int(width)}
        w = width
        self.body = nn.Sequential(
            _block(3, w, 1), _block(w, w, 1), _block(w, 2 * w, 2), _block(2 * w, 2 * w, 1), _block(2 * w, 4 * w, 2)
        )
        self.head = nn.Linear(4 * w, num_classes)

    @property
    def feature_dim(self) -> int:
        return self.head.in_features

    def _check(self, images: torch.Tensor) -> torch.Tensor:
        size = self.config["image_size"]
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[-2:]) != (size, size):
            raise ValueError(f"the judge takes [B, 3, {size}, {size}] images in [0, 1], got {tuple(images.shape)}")
        return images.float() * 2 - 1

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(self._check(images)).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(images))

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """(features [N, D], class probabilities [N, num_classes]) as float32 numpy."""
        self.eval()
        feats, probs = [], []
        for start in range(0, len(images), batch_size):
            f = self.embed(images[start : start + batch_size])
            feats.append(f)
            probs.append(self.head(f).softmax(-1))
        if not feats:
            return np.zeros((0, self.feature_dim), np.float32), np.zeros((0, self.config["num_classes"]), np.float32)
        return torch.cat(feats).numpy(), torch.cat(probs).numpy()

    def save_pretrained(self, folder: str | Path, metrics: dict | None = None) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(folder / WEIGHTS_NAME))
        (folder / CONFIG_NAME).write_text(json.dumps({**self.config, "metrics": metrics or {}}, indent=2) + "\n")

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> Judge:
        folder = Path(folder)
        if not (folder / CONFIG_NAME).is_file() or not (folder / WEIGHTS_NAME).is_file():
            raise FileNotFoundError(f"{folder} is not a judge folder: it needs {CONFIG_NAME} and {WEIGHTS_NAME}")
        config = json.loads((folder / CONFIG_NAME).read_text())
        judge = cls(config["num_classes"], config["image_size"], config["width"])
        judge.load_state_dict(load_file(str(folder / WEIGHTS_NAME)))
        judge.metrics = config.get("metrics", {})
        return judge.eval()


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Real-image augmentation only: horizontal flips and shifts of up to one pixel (reflect pad)."""
    flip = torch.rand(len(x), generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    s = x.shape[-1]
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    dy, dx = (int(v) for v in torch.randint(0, 3, (2,), generator=g))
    return padded[..., dy : dy + s, dx : dx + s]


def train_judge(
    images: torch.Tensor,
    labels,
    num_classes: int = 13,
    epochs: int = 15,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
) -> Judge:
    """Train a :class:`Judge` on real ``images`` [N, 3, S, S] in [0, 1] with integer ``labels``."""
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if len(images) != len(labels) or len(images) < batch_size:
        raise ValueError(f"need at least {batch_size} labelled images, got {len(images)} images / {len(labels)} labels")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    judge = Judge(num_classes, images.shape[-1])
    opt = torch.optim.AdamW(judge.parameters(), lr=lr, weight_decay=5e-4)
    steps = epochs * (len(images) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    judge.train()
    bar = tqdm(total=steps, desc="training judge", disable=not progress, leave=False)
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=g)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(judge(_augment(images[idx], g)), labels[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    return judge.eval()


def accuracy(judge: Judge, images: torch.Tensor, labels) -> float:
    _, probs = judge.features(images)
    return float((probs.argmax(1) == np.asarray(labels)).mean()) if len(probs) else float("nan")
