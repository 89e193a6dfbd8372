"""Serving: model sources, torch / onnxruntime backends, input checks and the app's handlers."""

from .backends import Cancelled, TorchClassifier, TorchGenerator
from .loading import BACKENDS, load_service
from .service import DEFAULTS, GenerateUpdate, Service, verdict
from .sources import ModelLoadError, ModelSource
from .validation import BREED_CHOICES, LIMITS, MAX_IMAGE_PIXELS, configure_pil, load_image, validate_generate

__all__ = [
    "BACKENDS",
    "BREED_CHOICES",
    "DEFAULTS",
    "LIMITS",
    "MAX_IMAGE_PIXELS",
    "Cancelled",
    "GenerateUpdate",
    "ModelLoadError",
    "ModelSource",
    "Service",
    "TorchClassifier",
    "TorchGenerator",
    "configure_pil",
    "load_image",
    "load_service",
    "validate_generate",
    "verdict",
]
