"""CatsDiTPipeline: class-conditional cat generation with TinyDiT + flow matching.

Copied next to the weights by ``save_pretrained`` as Hub custom code, so it imports only
torch/numpy/diffusers and carries its own copy of the seeded noise and labels.

Seeded noise (a cross-language contract; docs/design.md in the cats_dit repository): image
``k`` of a call with ``seed=S`` uses seed ``(S + k) mod 2**32``; each seed drives xoshiro128** whose state is four
outputs of splitmix32; pairs of uint32 ``(a, b)`` become uniforms ``u = (a + 0.5) / 2**32``,
``v = (b + 0.5) / 2**32`` and Box-Muller in float64 gives ``sqrt(-2 ln u) * cos(2 pi v)`` and
``... * sin(2 pi v)``, written in row-major CHW order and cast to float32. The same seed
gives the same image here and in the browser.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from diffusers import DiffusionPipeline
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.utils.torch_utils import randn_tensor

MASK32 = 0xFFFFFFFF
DEFAULT_ID2LABEL = {
    0: "Abyssinian",
    1: "Bengal",
    2: "Birman",
    3: "Bombay",
    4: "British_Shorthair",
    5: "Egyptian_Mau",
    6: "Maine_Coon",
    7: "Persian",
    8: "Ragdoll",
    9: "Russian_Blue",
    10: "Siamese",
    11: "Sphynx",
    12: "other",
}


def _splitmix32(state: int) -> tuple[int, int]:
    state = (state + 0x9E3779B9) & MASK32
    z = state
    z = ((z ^ (z >> 16)) * 0x85EBCA6B) & MASK32
    z = ((z ^ (z >> 13)) * 0xC2B2AE35) & MASK32
    return state, z ^ (z >> 16)


def xoshiro128ss_uint32(seed: int, count: int) -> np.ndarray:
    """``count`` uint32 outputs of xoshiro128** seeded by splitmix32(seed)."""
    state = seed & MASK32
    s = []
    for _ in range(4):
        state, z = _splitmix32(state)
        s.append(z)
    s0, s1, s2, s3 = s
    out = np.empty(count, dtype=np.uint32)
    for i in range(count):
        r = (s1 * 5) & MASK32
        r = ((r << 7) | (r >> 25)) & MASK32
        out[i] = (r * 9) & MASK32
        t = (s1 << 9) & MASK32
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = ((s3 << 11) | (s3 >> 21)) & MASK32
    return out


def seeded_normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal float32 array of ``shape`` from ``seed`` (the cross-language contract)."""
    n = int(np.prod(shape))
    raw = xoshiro128ss_uint32(seed, n + (n & 1)).astype(np.float64)
    u = (raw[0::2] + 0.5) / 4294967296.0
    v = (raw[1::2] + 0.5) / 4294967296.0
    r = np.sqrt(-2.0 * np.log(u))
    z = np.empty(raw.shape[0], dtype=np.float64)
    z[0::2] = r * np.cos(2.0 * math.pi * v)
    z[1::2] = r * np.sin(2.0 * math.pi * v)
    return z[:n].astype(np.float32).reshape(shape)


def seeded_noise(seeds: list[int], channels: int, height: int, width: int) -> np.ndarray:
    """[len(seeds), C, H, W] float32: one seeded normal image per seed."""
    return np.stack([seeded_normal(int(s), (channels, height, width)) for s in seeds])


def combine_guidance(v_cond: torch.Tensor, v_uncond: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Classifier-free guidance: ``v_uncond + g * (v_cond - v_uncond)``."""
    return v_uncond + guidance_scale * (v_cond - v_uncond)


FULL_INTERVAL = (0.0, 1.0)
# Guidance scale of __call__ when the pipeline config has none (models saved before it was stored).
DEFAULT_GUIDANCE_SCALE = 3.0


def check_guidance_scale(scale) -> float:
    """``scale`` as a float; a clear error unless it is a finite number >= 0."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"guidance_scale must be a number, got {scale!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"guidance_scale must be a finite number >= 0, got {value}")
    return value


def check_guidance_interval(interval) -> tuple[float, float]:
    """``(low, high)`` noise levels with ``0 <= low <= high <= 1`` (``None``: guidance at every step)."""
    if interval is None:
        return FULL_INTERVAL
    try:
        low, high = (float(v) for v in interval)
    except (TypeError, ValueError):
        raise ValueError(f"guidance_interval must be two numbers (low, high), got {interval!r}") from None
    if not (0.0 <= low <= high <= 1.0):
        raise ValueError(f"guidance_interval must satisfy 0 <= low <= high <= 1, got ({low}, {high})")
    return low, high


def guided_at(sigma: float, interval: tuple[float, float]) -> bool:
    """Whether a step at noise level ``sigma`` (1 = pure noise) is guided: ``low <= sigma <= high``.

    Guidance at high noise pulls every sample of a class towards one layout (less variety); at
    low noise it only sharpens detail the image already has. Limiting it to the middle keeps the
    class and the variety, and saves the unconditional half of the batch outside it
    (Kynkäänniemi et al. 2024, "Applying guidance in a limited interval")."""
    return interval[0] <= sigma <= interval[1]


class CatsDiTPipeline(DiffusionPipeline):
    """Generate cats of a given breed.

    Components: ``transformer`` (TinyDiTModel) and ``scheduler`` (FlowMatchScheduler or
    diffusers' FlowMatchEulerDiscreteScheduler). ``id2label``, ``guidance_scale`` and
    ``guidance_interval`` (the guidance, and the noise levels it applies at, that worked best for
    this model when it was published; the defaults of ``__call__``) are saved in the pipeline
    config (``model_index.json``).
    """

    model_cpu_offload_seq = "transformer"
    _callback_tensor_inputs = ["latents", "model_output"]

    def __init__(
        self, transformer, scheduler, id2label: dict | None = None, guidance_interval=None, guidance_scale=None
    ):
        super().__init__()
        self.register_modules(transformer=transformer, scheduler=scheduler)
        id2label = {int(k): v for k, v in (id2label or DEFAULT_ID2LABEL).items()}
        self.register_to_config(
            id2label={str(k): v for k, v in sorted(id2label.items())},
            guidance_interval=list(check_guidance_interval(guidance_interval)),
            guidance_scale=check_guidance_scale(DEFAULT_GUIDANCE_SCALE if guidance_scale is None else guidance_scale),
        )
        self._interrupt = False

    # -- labels ---------------------------------------------------------------------------------
    @property
    def id2label(self) -> dict[int, str]:
        return {int(k): v for k, v in self.config.id2label.items()}

    @property
    def labels(self) -> list[str]:
        return [v for _, v in sorted(self.id2label.items())]

    def get_label_ids(self, breed) -> list[int]:
        """Names (any case, spaces or underscores), ids, or a list of them -> list of ids."""
        items = breed if isinstance(breed, (list, tuple)) else [breed]
        if len(items) == 0:
            raise ValueError("breed is empty; give a breed name or id")
        lookup = {}
        for i, name in self.id2label.items():
            lookup[name.lower().replace(" ", "_").replace("-", "_")] = i
            lookup[name.lower().replace("_", " ")] = i
        ids = []
        for item in items:
            if isinstance(item, str) and item.strip().lower().replace(" ", "_").replace("-", "_") in lookup:
                ids.append(lookup[item.strip().lower().replace(" ", "_").replace("-", "_")])
            elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and int(item) in self.id2label:
                ids.append(int(item))
            elif torch.is_tensor(item) and item.numel() == 1 and int(item) in self.id2label:
                ids.append(int(item))
            else:
                raise ValueError(f"Unknown breed {item!r}. Valid breeds: {', '.join(self.labels)}")
        return ids

    @property
    def null_class_id(self) -> int:
        return self.transformer.config.num_classes

    @property
    def interrupt(self) -> bool:
        return self._interrupt

    # -- saving and loading -------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """diffusers' save (safetensors) plus the Hub custom-code layout: the module files
        next to the weights, so ``DiffusionPipeline.from_pretrained(folder,
        trust_remote_code=True)`` works where ``cats_dit`` is not installed."""
        kwargs.setdefault("safe_serialization", True)
        super().save_pretrained(save_directory, **kwargs)
        root = Path(save_directory)
        index = json.loads((root / "model_index.json").read_text())
        pipe_file = Path(inspect.getfile(type(self)))
        shutil.copyfile(pipe_file, root / pipe_file.name)
        index["_class_name"] = [pipe_file.stem, type(self).__name__]
        for name in ("transformer", "scheduler"):
            component = getattr(self, name)
            module = type(component).__module__
            if module.split(".")[0] in ("diffusers", "transformers"):
                continue
            src = Path(inspect.getfile(type(component)))
            shutil.copyfile(src, root / name / src.name)
            index[name] = [src.stem, type(component).__name__]
        (root / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs):
        """Load with this package's own component classes (no remote code needed).

        ``DiffusionPipeline.from_pretrained(path, trust_remote_code=True)`` is the way to
        load the same folder without this package; it does not come through here.
        """
        package = __name__.rsplit(".", 1)[0] if "." in __name__ else None
        try:
            model_cls = importlib.import_module(f"{package}.modeling_tinydit").TinyDiTModel
            sched_mod = importlib.import_module(f"{package}.scheduling_flow_match")
        except (ImportError, TypeError, ValueError):
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        path = Path(pretrained_model_name_or_path)
        if not path.is_dir():
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(str(pretrained_model_name_or_path), revision=kwargs.pop("revision", None)))
        index_file = path / "model_index.json"
        if not index_file.is_file():
            raise OSError(f"{path} is not a CatsDiT pipeline folder: model_index.json is missing")
        index = json.loads(index_file.read_text())
        torch_dtype = kwargs.pop("torch_dtype", None)
        transformer = kwargs.pop("transformer", None) or model_cls.from_pretrained(path / "transformer")
        if torch_dtype is not None:
            transformer = transformer.to(torch_dtype)
        scheduler = kwargs.pop("scheduler", None)
        if scheduler is None:
            library, class_name = index.get("scheduler", [None, None])
            if library in ("diffusers",):
                scheduler = getattr(importlib.import_module("diffusers"), class_name).from_pretrained(
                    path / "scheduler"
                )
            else:
                scheduler = sched_mod.FlowMatchScheduler.from_pretrained(path / "scheduler")
        return cls(
            transformer=transformer,
            scheduler=scheduler,
            id2label=index.get("id2label"),
            guidance_interval=index.get("guidance_interval"),
            guidance_scale=index.get("guidance_scale"),
        )

    # -- noise ----------------------------------------------------------------------------------
    def prepare_latents(self, batch_size, seed, generator, latents, device, dtype) -> tuple[torch.Tensor, list | None]:
        cfg = self.transformer.config
        shape = (batch_size, cfg.in_channels, cfg.sample_size, cfg.sample_size)
        if latents is not None:
            if tuple(latents.shape) != shape:
                raise ValueError(f"latents have shape {tuple(latents.shape)}, expected {shape}")
            return latents.to(device=device, dtype=dtype), None
        if seed is not None:
            seed = int(seed)
            if not 0 <= seed <= MASK32:
                raise ValueError(f"seed must be in 0..{MASK32}, got {seed}")
            seeds = [(seed + k) & MASK32 for k in range(batch_size)]
            noise = seeded_noise(seeds, cfg.in_channels, cfg.sample_size, cfg.sample_size)
            return torch.from_numpy(noise).to(device=device, dtype=dtype), seeds
        return randn_tensor(shape, generator=generator, device=device, dtype=dtype), None

    @torch.no_grad()
    def __call__(
        self,
        breed: str | int | list = 0,
        num_images_per_prompt: int = 1,
        num_inference_steps: int = 20,
        guidance_scale: float | None = None,
        guidance_interval: tuple[float, float] | None = None,
        seed: int | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        latents: torch.Tensor | None = None,
        output_type: str = "pil",
        callback_on_step_end: Callable | None = None,
        callback_on_step_end_tensor_inputs: list[str] = ("latents",),
        return_dict: bool = True,
    ):
        """Generate ``num_images_per_prompt`` images for each breed in ``breed``.

        ``guidance_scale`` None: the pipeline config's (3 unless the model was saved with another).
        ``guidance_interval=(low, high)``: apply guidance only at steps whose noise level ``s``
        (``timestep / num_train_timesteps``, 1 = pure noise) has ``low <= s <= high``; the other
        steps make one conditional call. ``None`` means the pipeline config's interval
        (``(0, 1)``, every step, unless the model was saved with another).

        ``seed`` (uint32) uses the cross-language seeded noise, image k gets ``seed + k``;
        otherwise ``generator`` / ``latents`` as usual in diffusers. ``output_type`` is
        "pil", "np" (float32 [B, H, W, 3] in [0, 1]) or "pt" (float32 [B, 3, H, W] in [0, 1]).
        """
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}")
        if int(num_inference_steps) < 1:
            raise ValueError(f"num_inference_steps must be >= 1, got {num_inference_steps}")
        if int(num_images_per_prompt) < 1:
            raise ValueError(f"num_images_per_prompt must be >= 1, got {num_images_per_prompt}")
        guidance_scale = check_guidance_scale(
            self.config.get("guidance_scale", DEFAULT_GUIDANCE_SCALE) if guidance_scale is None else guidance_scale
        )
        interval = check_guidance_interval(
            self.config.get("guidance_interval") if guidance_interval is None else guidance_interval
        )
        bad = set(callback_on_step_end_tensor_inputs) - set(self._callback_tensor_inputs)
        if bad:
            raise ValueError(f"callback_on_step_end_tensor_inputs {sorted(bad)} not in {self._callback_tensor_inputs}")

        device = self._execution_device
        dtype = self.transformer.dtype
        class_ids = [i for i in self.get_label_ids(breed) for _ in range(int(num_images_per_prompt))]
        batch = len(class_ids)
        labels = torch.tensor(class_ids, device=device, dtype=torch.long)
        do_cfg = guidance_scale != 1.0
        labels_cfg = torch.cat([labels, torch.full_like(labels, self.null_class_id)])

        latents, _ = self.prepare_latents(batch, seed, generator, latents, device, dtype)
        self.scheduler.set_timesteps(int(num_inference_steps), device=device)
        timesteps = self.scheduler.timesteps
        self._interrupt = False

        with self.progress_bar(total=len(timesteps)) as progress_bar:
            for i, t in enumerate(timesteps):
                if self.interrupt:
                    break
                guided = do_cfg and guided_at(float(t) / self.scheduler.config.num_train_timesteps, interval)
                model_in = torch.cat([latents, latents]) if guided else latents
                t_in = t.to(device=device, dtype=torch.float32).expand(model_in.shape[0])
                model_output = self.transformer(model_in, t_in, labels_cfg if guided else labels, return_dict=False)[0]
                if guided:
                    out_cond, out_uncond = model_output.chunk(2)
                    model_output = combine_guidance(out_cond, out_uncond, guidance_scale)
                latents = self.scheduler.step(model_output, t, latents, return_dict=False)[0]
                if callback_on_step_end is not None:
                    local = {"latents": latents, "model_output": model_output}
                    cb_kwargs = {k: local[k] for k in callback_on_step_end_tensor_inputs}
                    cb_out = callback_on_step_end(self, i, t, cb_kwargs) or {}
                    latents = cb_out.get("latents", latents)
                progress_bar.update()

        images = (latents.float().clamp(-1, 1) + 1) / 2
        self.maybe_free_model_hooks()
        if output_type == "pt":
            result = images
        else:
            result = images.permute(0, 2, 3, 1).cpu().numpy()
            if output_type == "pil":
                result = self.numpy_to_pil(result)
        if not return_dict:
            return (result,)
        return ImagePipelineOutput(images=result)
