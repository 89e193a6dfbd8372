"""optimum ``OnnxConfig`` classes for the TinyDiT generator and the breed classifier.

optimum's task-based exporters only know transformers/diffusers architectures, so these
configs plug our models into its low-level ``export`` / ``validate_model_outputs``. They
fix the ONNX contract (docs/design.md): generator ``sample`` [B,3,H,W] float32, ``timestep``
[B] float32 (1000*s), ``class_labels`` [B] int64 -> ``out_sample`` [B,3,H,W]; classifier
``pixel_values`` [B,3,S,S] -> ``logits`` [B,13]; only the batch axis is dynamic.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from optimum.exporters.onnx import OnnxConfig
from optimum.utils import NormalizedConfig
from optimum.utils.input_generators import DummyInputGenerator
from torch import nn

OPSET = 17  # the hand-written RMSNorm exports with the TorchScript exporter at 17


def _normal(shape, framework: str):
    if framework == "pt":
        return torch.randn(*shape, dtype=torch.float32)
    return np.random.standard_normal(shape).astype(np.float32)


class TinyDiTDummyInputGenerator(DummyInputGenerator):
    """Fresh random generator inputs: noisy images, timesteps in [0, 1000], labels incl. the null class."""

    SUPPORTED_INPUT_NAMES = ("sample", "timestep", "class_labels")

    def __init__(self, task: str, normalized_config: NormalizedConfig, batch_size: int = 2, **kwargs):
        self.batch_size = int(batch_size)
        self.channels = int(normalized_config.in_channels)
        self.size = int(normalized_config.sample_size)
        self.num_classes = int(normalized_config.num_classes)

    def generate(self, input_name: str, framework: str = "pt", int_dtype: str = "int64", float_dtype: str = "fp32"):
        b = self.batch_size
        if input_name == "sample":
            return _normal((b, self.channels, self.size, self.size), framework)
        if input_name == "timestep":
            t = self.random_float_tensor([b], min_value=0.0, max_value=1000.0, framework=framework, dtype=float_dtype)
            return t
        # class_labels: 0..num_classes inclusive, so the guidance null class is exercised too
        return self.random_int_tensor([b], max_value=self.num_classes + 1, framework=framework, dtype=int_dtype)


class ImageDummyInputGenerator(DummyInputGenerator):
    """Fresh random normalised images for the classifier."""

    SUPPORTED_INPUT_NAMES = ("pixel_values",)

    def __init__(self, task: str, normalized_config: NormalizedConfig, batch_size: int = 2, **kwargs):
        self.batch_size = int(batch_size)
        self.size = int(normalized_config.image_size)

    def generate(self, input_name: str, framework: str = "pt", int_dtype: str = "int64", float_dtype: str = "fp32"):
        return _normal((self.batch_size, 3, self.size, self.size), framework)


class TinyDiTOnnxConfig(OnnxConfig):
    """ONNX contract of the generator transformer; guidance stays outside the graph."""

    NORMALIZED_CONFIG_CLASS = NormalizedConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (TinyDiTDummyInputGenerator,)
    DEFAULT_ONNX_OPSET = OPSET
    ATOL_FOR_VALIDATION = 1e-4

    def __init__(self, config, task: str = "image-to-image", **kwargs):
        super().__init__(config, task=task, **kwargs)

    @property
    def inputs(self) -> dict[str, dict[int, str]]:
        return {
            "sample": {0: "batch_size"},
            "timestep": {0: "batch_size"},
            "class_labels": {0: "batch_size"},
        }

    @property
    def outputs(self) -> dict[str, dict[int, str]]:
        return {"out_sample": {0: "batch_size"}}

    @property
    def torch_to_onnx_output_map(self) -> dict[str, str]:
        return {"sample": "out_sample"}


class ClassifierOnnxConfig(OnnxConfig):
    """ONNX contract of the breed classifier: ``pixel_values`` -> ``logits``."""

    NORMALIZED_CONFIG_CLASS = NormalizedConfig
    DUMMY_INPUT_GENERATOR_CLASSES = (ImageDummyInputGenerator,)
    DEFAULT_ONNX_OPSET = OPSET
    ATOL_FOR_VALIDATION = 1e-4

    def __init__(self, config, task: str = "image-classification", **kwargs):
        super().__init__(config, task=task, **kwargs)

    @property
    def inputs(self) -> dict[str, dict[int, str]]:
        return {"pixel_values": {0: "batch_size"}}

    @property
    def outputs(self) -> dict[str, dict[int, str]]:
        return {"logits": {0: "batch_size"}}


class ClassifierForExport(nn.Module):
    """``BreedClassifier`` keeps its config as a plain dict; optimum's exporter wants an
    attribute-style ``model.config`` (it sets ``return_dict`` on it), so give it one."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier
        self.config = SimpleNamespace(**classifier.config)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.classifier(pixel_values)
