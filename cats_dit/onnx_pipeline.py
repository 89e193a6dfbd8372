"""Run the exported models with onnxruntime and numpy only (no torch at run time).

``OnnxCatsDiTPipeline`` is ``CatsDiTPipeline`` re-written for an ONNX generator: the same
flow-matching schedule (Euler or Heun, velocity or sample prediction, shift), the same
seeded noise (``cats_dit.noise``), classifier-free guidance as one session run on the batch
``[cond..., uncond...]`` at the steps inside the guidance interval. For the same seed, breed and settings its fp32 images match the
torch pipeline's within 1/255 per pixel almost everywhere (tests/test_onnx_pipeline.py).

``OnnxBreedClassifier`` runs the exported classifier after ``cats_dit.preprocessing`` (the same
numpy code the torch classifier uses: bilinear, no antialias, centre crop, mean/std).

Both read an export folder written by ``python -m export`` (``models.json`` + ONNX files).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .breeds import normalise_name
from .guidance import check_guidance_interval, guided_at
from .noise import image_seeds, seeded_noise
from .onnx.models_json import NAME as MODELS_JSON
from .preprocessing import image_to_array, preprocess_array, preprocess_image  # noqa: F401  (re-exported)


# -- scheduler (numpy port of cats_dit.scheduling_flow_match.FlowMatchScheduler) ------------------
def shift_sigmas(sigmas, shift: float):
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def interval_sigmas(num_inference_steps: int, num_train_timesteps: int = 1000, shift: float = 1.0) -> np.ndarray:
    """The N+1 noise levels from 1 down to 0 that N steps connect (float32)."""
    t_max, t_min = 1.0 * num_train_timesteps, 1.0
    sigmas = np.linspace(t_max, t_min, num_inference_steps) / num_train_timesteps
    sigmas = shift_sigmas(sigmas, shift)
    return np.append(sigmas, 0.0).astype(np.float32)


class NumpyFlowMatchScheduler:
    """Euler / Heun flow-matching sampler; ``step(i, model_output, sample)`` walks ``timesteps``.

    Heun uses diffusers' layout like the torch scheduler: inner timesteps appear twice
    (predictor, corrector); the last interval, down to ``s = 0``, is a plain Euler step.
    """

    def __init__(
        self,
        num_train_timesteps: int = 1000,
        shift: float = 1.0,
        solver: str = "euler",
        prediction_type: str = "velocity",
        min_sigma_for_x_pred: float = 0.05,
        **unused,
    ):
        if solver not in ("euler", "heun"):
            raise ValueError(f"solver must be 'euler' or 'heun', got {solver!r}")
        if prediction_type not in ("velocity", "sample"):
            raise ValueError(f"prediction_type must be 'velocity' or 'sample', got {prediction_type!r}")
        self.num_train_timesteps = int(num_train_timesteps)
        self.shift = float(shift)
        self.solver = solver
        self.prediction_type = prediction_type
        self.min_sigma_for_x_pred = float(min_sigma_for_x_pred)
        self.sigmas = np.empty(0, np.float32)
        self.timesteps = np.empty(0, np.float32)
        self._reset()

    def _reset(self) -> None:
        self._prev_derivative = None
        self._prev_sample = None
        self._dt = None

    def set_timesteps(self, num_inference_steps: int) -> None:
        if int(num_inference_steps) < 1:
            raise ValueError(f"num_inference_steps must be at least 1, got {num_inference_steps}")
        sigmas = interval_sigmas(int(num_inference_steps), self.num_train_timesteps, self.shift)
        if self.solver == "heun":
            sigmas = np.concatenate([sigmas[:1], np.repeat(sigmas[1:-1], 2), sigmas[-1:]])
        self.sigmas = sigmas
        self.timesteps = (sigmas[:-1] * np.float32(self.num_train_timesteps)).astype(np.float32)
        self._reset()

    def to_velocity(self, model_output: np.ndarray, sample: np.ndarray, sigma: float) -> np.ndarray:
        if self.prediction_type == "velocity":
            return model_output
        s = max(float(sigma), self.min_sigma_for_x_pred)
        return (sample - model_output) / np.float32(s)

    def step(self, index: int, model_output: np.ndarray, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One step from ``timesteps[index]``; returns (next sample, x0 estimate)."""
        sigma, sigma_next = float(self.sigmas[index]), float(self.sigmas[index + 1])
        v = self.to_velocity(model_output.astype(np.float32), sample, sigma)
        first_order = self._prev_derivative is None
        if self.solver == "euler" or (first_order and sigma_next == 0.0):
            prev = sample + np.float32(sigma_next - sigma) * v
            x0 = sample - np.float32(sigma) * v
        elif first_order:
            self._prev_derivative, self._prev_sample, self._dt = v, sample, sigma_next - sigma
            prev = sample + np.float32(self._dt) * v
            x0 = sample - np.float32(sigma) * v
        else:
            v_avg = np.float32(0.5) * (self._prev_derivative + v)
            prev = self._prev_sample + np.float32(self._dt) * v_avg
            x0 = prev
            self._reset()
        return prev.astype(np.float32), x0.astype(np.float32)


def combine_guidance(v_cond: np.ndarray, v_uncond: np.ndarray, guidance_scale: float) -> np.ndarray:
    """Classifier-free guidance: ``v_uncond + g * (v_cond - v_uncond)``."""
    return v_uncond + np.float32(guidance_scale) * (v_cond - v_uncond)


def to_images(x: np.ndarray) -> np.ndarray:
    """[B, 3, H, W] in [-1, 1] -> [B, H, W, 3] float32 in [0, 1] (as CatsDiTPipeline's "np" output)."""
    return ((np.clip(x, -1.0, 1.0) + 1.0) / 2.0).transpose(0, 2, 3, 1).astype(np.float32)


# -- sessions ---------------------------------------------------------------------------------------
def make_session(
    path: str | Path, intra_op_num_threads: int | None = None, providers=None, server: bool = False
) -> ort.InferenceSession:
    """An onnxruntime session with full graph optimisation and an optional thread count.

    ``server``: no busy-waiting worker threads (they steal the CPU from the other requests, the web
    server and PNG encoding; on 2 cores that costs ~1.6x CPU per request)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX file {path} is missing")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if intra_op_num_threads:
        options.intra_op_num_threads = int(intra_op_num_threads)
    if server:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])


def read_models_json(models_dir: str | Path) -> dict:
    folder = Path(models_dir)
    path = folder / MODELS_JSON
    if not path.is_file():
        raise FileNotFoundError(
            f"{folder} is not an ONNX models folder: {MODELS_JSON} is missing "
            "(write one with `python -m export --pipeline DIR --classifier DIR --output DIR`)"
        )
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    if meta.get("format_version") != 1:
        raise ValueError(f"{path} has format_version {meta.get('format_version')!r}; this code reads format_version 1")
    return meta


def pick_file(section: dict, precision: str | None, what: str) -> tuple[str, dict]:
    files = section.get("files", {})
    chosen = precision or section.get("default_precision") or "fp32"
    if chosen not in files:
        raise ValueError(f"No {what} file for precision {chosen!r}; available: {', '.join(files) or 'none'}")
    return chosen, files[chosen]


class OnnxCatsDiTPipeline:
    """Class-conditional cat generation with an ONNX TinyDiT (numpy + onnxruntime only).

    ``__call__(breed, num_images_per_prompt=1, num_inference_steps=None, guidance_scale=None,
    solver=None, seed=0, callback=None, latents=None, guidance_interval=None)`` -> float32
    [B, H, W, 3] in [0, 1]; ``None`` means the exported defaults. ``callback(step_index, total_steps, x0_preview)`` is called after every
    step with the current clean-image estimate as images [B, H, W, 3] in [0, 1].
    """

    def __init__(
        self,
        session: ort.InferenceSession,
        labels: list[str],
        sample_size: int,
        in_channels: int = 3,
        null_class_id: int | None = None,
        scheduler_config: dict | None = None,
        defaults: dict | None = None,
        precision: str = "fp32",
    ):
        self.session = session
        self.labels = list(labels)
        self.sample_size = int(sample_size)
        self.in_channels = int(in_channels)
        self.null_class_id = len(self.labels) if null_class_id is None else int(null_class_id)
        self.scheduler_config = dict(scheduler_config or {})
        self.defaults = {
            "num_inference_steps": 20,
            "guidance_scale": 3.0,
            "solver": "euler",
            "guidance_interval": [0.0, 1.0],
            **(defaults or {}),
        }
        self.precision = precision
        self._lookup = {normalise_name(n): i for i, n in enumerate(self.labels)}

    @classmethod
    def from_config(
        cls,
        meta: dict,
        models_dir: str | Path,
        precision: str | None = None,
        intra_op_num_threads: int | None = None,
        providers=None,
        server: bool = False,
    ) -> OnnxCatsDiTPipeline:
        """From an in-memory models.json dict and the folder its files are in (``server``: see make_session)."""
        g = meta["generator"]
        chosen, entry = pick_file(g, precision, "generator")
        session = make_session(Path(models_dir) / entry["name"], intra_op_num_threads, providers, server)
        return cls(
            session,
            labels=meta["labels"],
            sample_size=g["sample_size"],
            in_channels=g.get("in_channels", 3),
            null_class_id=meta.get("null_class_id"),
            scheduler_config=g.get("scheduler"),
            defaults=g.get("defaults"),
            precision=chosen,
        )

    @classmethod
    def from_folder(
        cls,
        models_dir: str | Path,
        precision: str | None = None,
        intra_op_num_threads: int | None = None,
        providers=None,
    ) -> OnnxCatsDiTPipeline:
        """Load ``models_dir/models.json``; ``precision`` None means its ``default_precision``."""
        meta = read_models_json(models_dir)
        return cls.from_config(meta, models_dir, precision, intra_op_num_threads, providers)

    def get_label_ids(self, breed) -> list[int]:
        """Names (any case, spaces or underscores), ids, or a list of them -> list of ids."""
        items = list(breed) if isinstance(breed, (list, tuple, np.ndarray)) else [breed]
        if not items:
            raise ValueError("breed is empty; give a breed name or id")
        ids = []
        for item in items:
            if isinstance(item, str) and normalise_name(item) in self._lookup:
                ids.append(self._lookup[normalise_name(item)])
            elif (
                isinstance(item, (int, np.integer)) and not isinstance(item, bool) and 0 <= int(item) < len(self.labels)
            ):
                ids.append(int(item))
            else:
                raise ValueError(f"Unknown breed {item!r}. Valid breeds: {', '.join(self.labels)}")
        return ids

    def make_scheduler(self, solver: str | None = None) -> NumpyFlowMatchScheduler:
        config = {k: v for k, v in self.scheduler_config.items() if k != "solver"}
        return NumpyFlowMatchScheduler(**config, solver=solver or self.defaults.get("solver", "euler"))

    def predict(self, sample: np.ndarray, timestep: float, class_labels: np.ndarray) -> np.ndarray:
        """One session run: the model output for a batch at one timestep."""
        feeds = {
            "sample": np.ascontiguousarray(sample, dtype=np.float32),
            "timestep": np.full(sample.shape[0], timestep, dtype=np.float32),
            "class_labels": np.asarray(class_labels, dtype=np.int64),
        }
        return self.session.run(["out_sample"], feeds)[0]

    def __call__(
        self,
        breed: str | int | list = 0,
        num_images_per_prompt: int = 1,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        solver: str | None = None,
        seed: int = 0,
        callback: Callable[[int, int, np.ndarray], None] | None = None,
        latents: np.ndarray | None = None,
        guidance_interval: tuple[float, float] | None = None,
    ) -> np.ndarray:
        steps = int(self.defaults["num_inference_steps"] if num_inference_steps is None else num_inference_steps)
        guidance = float(self.defaults["guidance_scale"] if guidance_scale is None else guidance_scale)
        interval = check_guidance_interval(
            self.defaults["guidance_interval"] if guidance_interval is None else guidance_interval
        )
        if steps < 1:
            raise ValueError(f"num_inference_steps must be >= 1, got {steps}")
        if int(num_images_per_prompt) < 1:
            raise ValueError(f"num_images_per_prompt must be >= 1, got {num_images_per_prompt}")
        if not math.isfinite(guidance) or guidance < 0:
            raise ValueError(f"guidance_scale must be a finite number >= 0, got {guidance}")
        class_ids = [i for i in self.get_label_ids(breed) for _ in range(int(num_images_per_prompt))]
        batch = len(class_ids)
        labels = np.asarray(class_ids, dtype=np.int64)
        do_cfg = guidance != 1.0
        labels_cfg = np.concatenate([labels, np.full_like(labels, self.null_class_id)])

        shape = (batch, self.in_channels, self.sample_size, self.sample_size)
        if latents is not None:
            x = np.asarray(latents, dtype=np.float32)
            if x.shape != shape:
                raise ValueError(f"latents have shape {x.shape}, expected {shape}")
        else:
            x = seeded_noise(image_seeds(seed, batch), *shape[1:])

        scheduler = self.make_scheduler(solver)
        scheduler.set_timesteps(steps)
        total = len(scheduler.timesteps)
        for i, t in enumerate(scheduler.timesteps):
            # The torch pipeline's test in the same float64 arithmetic: low <= t / T <= high.
            guided = do_cfg and guided_at(float(t) / scheduler.num_train_timesteps, interval)
            model_in = np.concatenate([x, x]) if guided else x
            out = self.predict(model_in, float(t), labels_cfg if guided else labels)
            if guided:
                out = combine_guidance(out[:batch], out[batch:], guidance)
            x, x0 = scheduler.step(i, out, x)
            if callback is not None:
                callback(i, total, to_images(x0))
        return to_images(x)


# -- classifier ---------------------------------------------------------------------------------------
def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class OnnxBreedClassifier:
    """The exported breed classifier: ``predict_proba(images) -> [B, 13]`` (numpy + onnxruntime)."""

    def __init__(self, session: ort.InferenceSession, labels: list[str], preprocess: dict, precision: str = "fp32"):
        self.session = session
        self.labels = list(labels)
        self.preprocess_config = dict(preprocess)
        self.precision = precision

    @classmethod
    def from_config(
        cls, meta: dict, models_dir, precision=None, intra_op_num_threads=None, providers=None, server: bool = False
    ):
        c = meta["classifier"]
        chosen, entry = pick_file(c, precision, "classifier")
        session = make_session(Path(models_dir) / entry["name"], intra_op_num_threads, providers, server)
        return cls(session, c.get("labels", meta["labels"]), c["preprocess"], precision=chosen)

    @classmethod
    def from_folder(cls, models_dir, precision=None, intra_op_num_threads=None, providers=None):
        meta = read_models_json(models_dir)
        if "classifier" not in meta:
            raise ValueError(f"{Path(models_dir) / MODELS_JSON} has no classifier entry")
        return cls.from_config(meta, models_dir, precision, intra_op_num_threads, providers)

    def preprocess(self, images) -> np.ndarray:
        """PIL images / arrays (one or a list) -> [B, 3, S, S] float32."""
        if not isinstance(images, (list, tuple)):
            images = [images]
        return np.concatenate([preprocess_image(img, self.preprocess_config) for img in images])

    def logits(self, pixel_values: np.ndarray) -> np.ndarray:
        return self.session.run(["logits"], {"pixel_values": np.ascontiguousarray(pixel_values, dtype=np.float32)})[0]

    def predict_proba(self, images) -> np.ndarray:
        """Softmax probabilities [B, 13] for PIL images or arrays in [0, 1] / uint8."""
        return softmax(self.logits(self.preprocess(images)).astype(np.float64)).astype(np.float32)
