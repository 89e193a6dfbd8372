"""The breed classifier as a feature extractor: penultimate features and probabilities in one pass."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..classifier import BreedClassifier, preprocess_tensor


def classifier_head(classifier: BreedClassifier) -> nn.Linear:
    """The final Linear layer of the backbone (its input is the penultimate feature vector)."""
    model = classifier.model
    head = getattr(model, "fc", None)
    if head is None and hasattr(model, "classifier"):
        head = model.classifier[-1]
    if not isinstance(head, nn.Linear):
        raise TypeError(f"Cannot find the final Linear layer of backbone {classifier.config.get('backbone')!r}")
    return head


class ClassifierFeatures:
    """``__call__(images [B,3,H,W] in [0,1]) -> (features [B,D], probs [B,13])`` as numpy float32.

    A forward hook on the head reads its input, so features and logits come from the same pass
    and nothing is copied or changed in the classifier.
    """

    def __init__(self, classifier: BreedClassifier, batch_size: int = 64):
        self.classifier = classifier.eval()
        self.head = classifier_head(classifier)
        self.batch_size = int(batch_size)
        self.feature_dim = self.head.in_features

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be [B, 3, H, W] in [0, 1], got shape {tuple(images.shape)}")
        c = self.classifier.config
        captured: list[torch.Tensor] = []
        hook = self.head.register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0].detach()))
        feats, probs = [], []
        try:
            for start in range(0, len(images), self.batch_size):
                x = images[start : start + self.batch_size].float()
                x = preprocess_tensor(x, c["resize_size"], c["image_size"], c["mean"], c["std"])
                logits = self.classifier(x)
                feats.append(captured.pop().flatten(1).float().cpu())
                probs.append(logits.float().softmax(-1).cpu())
        finally:
            hook.remove()
        if not feats:
            return np.zeros((0, self.feature_dim), np.float32), np.zeros((0, len(c["labels"])), np.float32)
        return torch.cat(feats).numpy(), torch.cat(probs).numpy()
