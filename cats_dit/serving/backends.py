"""Generator and classifier backends behind one small interface: torch, or onnxruntime.

``generate(breeds, seed, steps, guidance, sampler, callback, preview_every, guidance_interval)`` returns
float32 ``[B, H, W, 3]`` in [0, 1] (``guidance_interval`` None: the model's own); image k uses seed ``seed + k`` (the pipeline's noise contract), so
both backends give the same image for the same seed. ``callback(i, total, preview)`` is called
after every model evaluation; ``preview`` is the current clean-image estimate (x0) as
``[B, H, W, 3]`` every ``preview_every`` evaluations, else None; returning False stops early.
``predict_proba(images)`` returns ``[B, 13]`` probabilities in ``LABELS`` order.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..breeds import LABELS
from .sources import ModelLoadError

StepCallback = Callable[[int, int, "np.ndarray | None"], "bool | None"]


class Cancelled(RuntimeError):
    """The caller stopped the generation (the browser tab closed or the user pressed stop)."""


def num_evaluations(steps: int, sampler: str) -> int:
    """Model calls for ``steps`` steps: Heun needs two per interval except the last."""
    return 2 * steps - 1 if sampler == "heun" else steps


def _wants_preview(i: int, total: int, preview_every: int) -> bool:
    return preview_every > 0 and (i + 1) % preview_every == 0 and i + 1 < total


def _label_order(labels: list[str]) -> list[int]:
    """Column index in the model's output for each of ``LABELS`` (models may list them differently)."""
    if list(labels) == list(LABELS):
        return list(range(len(LABELS)))
    missing = [name for name in LABELS if name not in labels]
    if missing:
        raise ModelLoadError(f"The classifier's labels {labels} lack {missing}; it was not trained for these breeds")
    return [list(labels).index(name) for name in LABELS]


def _import_torch():
    """torch, or a load error the app shows: an onnxruntime-only install (the lean Space) has no torch."""
    try:
        import torch

        return torch
    except ImportError as exc:
        raise ModelLoadError(
            f"the torch backend needs torch, which is not installed here ({exc}); serve an ONNX export "
            "with --backend onnx / --onnx-dir instead"
        ) from exc


def _pipeline_defaults(folder: Path, pipe) -> dict:
    """Steps / guidance / sampler the pipeline folder recommends (model_index.json), as export does."""
    import json

    index = json.loads((folder / "model_index.json").read_text()) if (folder / "model_index.json").is_file() else {}
    out = {
        "sampler": str(pipe.scheduler.config.get("solver", "euler")),
        "guidance_interval": list(pipe.config.guidance_interval),
        "guidance": float(pipe.config.guidance_scale),  # the pipeline read and checked model_index.json
    }
    if "num_inference_steps" in index:
        out["steps"] = int(index["num_inference_steps"])
    return out


class TorchGenerator:
    backend = "torch"

    def __init__(self, folder: str | Path, device: str | None = None):
        torch = _import_torch()
        from ..pipeline_cats_dit import CatsDiTPipeline

        try:
            pipe = CatsDiTPipeline.from_pretrained(folder)
        except Exception as exc:
            raise ModelLoadError(f"Could not load the generator from {folder}: {type(exc).__name__}: {exc}") from exc
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        pipe.to(self.device)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe
        self.folder = Path(folder)
        self.sample_size = int(pipe.transformer.config.sample_size)
        self.prediction_type = pipe.scheduler.config.get("prediction_type", "velocity")
        self.num_parameters = sum(p.numel() for p in pipe.transformer.parameters())
        self.defaults = _pipeline_defaults(self.folder, pipe)

    def _request_pipeline(self, sampler: str):
        """A pipeline sharing the weights but with its own scheduler: schedulers keep per-run state,
        so concurrent requests must not share one."""
        from ..pipeline_cats_dit import CatsDiTPipeline
        from ..scheduling_flow_match import FlowMatchScheduler

        scheduler = FlowMatchScheduler.from_config(self.pipe.scheduler.config, solver=sampler)
        pipe = CatsDiTPipeline(
            transformer=self.pipe.transformer,
            scheduler=scheduler,
            id2label=self.pipe.id2label,
            guidance_interval=self.pipe.config.guidance_interval,
        )
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def generate(
        self,
        breeds: list[str],
        seed: int,
        steps: int,
        guidance: float,
        sampler: str = "euler",
        callback: StepCallback | None = None,
        preview_every: int = 0,
        guidance_interval: tuple[float, float] | None = None,
    ) -> np.ndarray:
        pipe = self._request_pipeline(sampler)
        total = num_evaluations(steps, sampler)
        sample_prediction = self.prediction_type == "sample"
        stopped = []

        def on_step(p, i, t, tensors):
            preview = None
            if callback is None:
                return {}
            if _wants_preview(i, total, preview_every):
                # x0 estimate at the new noise level s: x0 = x_s - s * v (or the model's x0 directly).
                sigma = float(p.scheduler.sigmas[p.scheduler.step_index])
                out = tensors["model_output"].float()
                x0 = out if sample_prediction else tensors["latents"].float() - sigma * out
                preview = ((x0.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu().numpy()
            if callback(i, total, preview) is False:
                stopped.append(i)
                p._interrupt = True
            return {}

        images = pipe(
            breed=list(breeds),
            num_images_per_prompt=1,
            num_inference_steps=steps,
            guidance_scale=guidance,
            guidance_interval=guidance_interval,
            seed=seed,
            output_type="np",
            callback_on_step_end=on_step,
            callback_on_step_end_tensor_inputs=["latents", "model_output"],
        ).images
        if stopped:
            raise Cancelled(f"stopped after {stopped[0] + 1} of {total} steps")
        return np.asarray(images, dtype=np.float32)


class TorchClassifier:
    backend = "torch"

    def __init__(self, folder: str | Path, device: str | None = None):
        torch = _import_torch()
        from ..classifier import BreedClassifier

        try:
            model = BreedClassifier.from_pretrained(folder)
        except Exception as exc:
            raise ModelLoadError(f"Could not load the classifier from {folder}: {type(exc).__name__}: {exc}") from exc
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device).eval()
        self.folder = Path(folder)
        self.config = dict(model.config)
        self._order = _label_order(model.labels)

    def predict_proba(self, images: list) -> np.ndarray:
        probs = self.model.predict_proba(list(images)).cpu().numpy()
        return probs[:, self._order].astype(np.float32)
