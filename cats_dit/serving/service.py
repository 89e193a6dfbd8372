"""The app's handlers as plain Python: ``Service.generate`` (a generator of updates) and ``Service.classify``.

No Gradio here: ``app.py`` wires these to components and turns ``ValueError`` /
``ModelLoadError`` into ``gr.Error``. Tests call them directly or through a real server.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..breeds import DISPLAY_NAMES, LABELS, OTHER_ID, display_name
from .backends import num_evaluations
from .pngs import OutputFolder, png_name, save_png, to_uint8
from .sources import ModelLoadError
from .validation import GenerateRequest, load_image, validate_generate

DEFAULTS = {"breed": "random", "num_images": 4, "steps": 20, "guidance": 3.0, "sampler": "euler", "seed": 0}
PREVIEWS_PER_RUN = 5


@dataclass
class GenerateUpdate:
    """One streamed state of a generate job: ``gallery`` items are (image or PNG path, caption)."""

    gallery: list[tuple[Any, str]]
    status: str
    info: dict | None = None
    done: bool = False


@dataclass
class Service:
    """Loaded backends (either may be None, with the reason in ``errors``) and what they came from."""

    generator: Any = None
    classifier: Any = None
    errors: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=lambda: dict(DEFAULTS))
    outputs: OutputFolder = field(default_factory=OutputFolder)
    about_extra: dict[str, str] = field(default_factory=dict)

    # -- generate ---------------------------------------------------------------------------
    def generate(
        self,
        breed,
        num_images,
        steps,
        guidance,
        sampler,
        seed,
        check: bool = True,
        progress: Callable | None = None,
    ) -> Iterator[GenerateUpdate]:
        """Validate, then yield x0 previews every few steps and finally the PNGs with their settings."""
        req = validate_generate(breed, num_images, steps, guidance, sampler, seed)
        if self.generator is None:
            raise ModelLoadError(f"The generator is not loaded: {self.errors.get('generator', 'no weights')}")
        total = num_evaluations(req.steps, req.sampler)
        preview_every = max(1, math.ceil(total / PREVIEWS_PER_RUN))
        events: queue.Queue = queue.Queue()
        stop = threading.Event()

        def on_step(i, n, preview):
            events.put(("step", i, time.perf_counter(), preview))
            return not stop.is_set()

        def work():
            try:
                images = self.generator.generate(
                    list(req.breeds), req.seed, req.steps, req.guidance, req.sampler, on_step, preview_every
                )
                events.put(("done", images))
            except BaseException as exc:  # handed to the caller's thread
                events.put(("error", exc))

        start = time.perf_counter()
        worker = threading.Thread(target=work, name="cats_dit-generate", daemon=True)
        worker.start()
        last_step_at = start
        try:
            while True:
                kind, *rest = events.get()
                if kind == "error":
                    raise rest[0]
                if kind == "done":
                    images = rest[0]
                    break
                i, last_step_at, preview = rest
                if progress is not None:
                    progress((i + 1, total), desc="sampling")
                if preview is not None:
                    per_step = (last_step_at - start) / (i + 1)
                    status = f"Step {i + 1}/{total} · {per_step * 1000:.0f} ms per step · preview of the final image"
                    yield GenerateUpdate(
                        [(to_uint8(img), f"step {i + 1}/{total}") for img in preview], status, None, False
                    )
        finally:
            stop.set()  # a closed generator (client gone) stops the sampler at its next step
        elapsed = last_step_at - start
        yield self._finish(req, images, total, elapsed, check)

    def _finish(self, req: GenerateRequest, images: np.ndarray, total: int, elapsed: float, check: bool):
        folder = self.outputs.new_request_dir()
        pixels = to_uint8(images)
        verdicts = self._check(pixels) if check else [None] * len(pixels)
        settings = {
            "breed": req.breed,
            "num_images": req.num_images,
            "steps": req.steps,
            "guidance": req.guidance,
            "sampler": req.sampler,
            "seed": req.seed,
            "backend": getattr(self.generator, "backend", "?"),
            "model": self.sources.get("generator", ""),
        }
        gallery, items, checks = [], [], []
        for k, (img, b, s) in enumerate(zip(pixels, req.breeds, req.seeds())):
            text = dict(settings, breed=b, seed=s, num_images=1, index_in_batch=k, batch_seed=req.seed)
            text["parameters"] = (
                f"breed: {b}, seed: {s}, steps: {req.steps}, guidance: {req.guidance:g}, sampler: {req.sampler}"
            )
            path = save_png(img, folder, png_name(b, s, req.steps, req.guidance, req.sampler), text)
            caption = f"{display_name(b)} · seed {s}"
            item = {"file": path.name, "breed": b, "seed": s}
            if verdicts[k] is not None:
                v = verdicts[k]
                caption += f" · {'✓' if v['label'] == b else '✗'} {v['confidence']:.0%}"
                item["classifier"] = v
                checks.append(f"- {display_name(b)}, seed {s}: {v['sentence']}")
            gallery.append((str(path), caption))
            items.append(item)
        info = dict(settings, images=items)
        info["timing"] = {
            "total_s": round(elapsed, 4),
            "model_evaluations": total,
            "ms_per_step": round(1000 * elapsed / total, 2),
        }
        status = (
            f"Done: {req.num_images} image{'s' if req.num_images > 1 else ''}, {req.steps} {req.sampler} steps "
            f"({total} model evaluations) in {elapsed:.2f} s, {1000 * elapsed / total:.0f} ms per step"
        )
        if check and verdicts and verdicts[0] is not None:
            agree = sum(v["label"] == b for v, b in zip(verdicts, req.breeds))
            status += f" · the classifier agrees with the requested breed on {agree} of {len(verdicts)}"
            info["classifier_agreement"] = agree / len(verdicts)
            status += "\n\n" + "\n".join(checks)
        return GenerateUpdate(gallery, status, info, True)

    def _check(self, pixels: np.ndarray) -> list[dict | None]:
        if self.classifier is None:
            return [None] * len(pixels)
        probs = self.classifier.predict_proba([img for img in pixels])
        return [verdict(p) for p in probs]

    # -- classify ---------------------------------------------------------------------------
    def classify(self, image) -> dict[str, float]:
        """Image (path, PIL or array) -> {display name: probability} for all 13 labels."""
        if self.classifier is None:
            raise ModelLoadError(f"The classifier is not loaded: {self.errors.get('classifier', 'no weights')}")
        img = load_image(image)
        probs = self.classifier.predict_proba([img])[0]
        return {DISPLAY_NAMES[i]: float(p) for i, p in enumerate(probs)}


def verdict(probs: np.ndarray) -> dict:
    """Top label of one probability row, and the sentence the UI shows for it."""
    top = int(np.argmax(probs))
    p = float(probs[top])
    if top == OTHER_ID:
        sentence = f"the classifier thinks this is not one of the 12 breeds ({p:.0%})"
    else:
        sentence = f"the classifier thinks this is a {display_name(top)} ({p:.0%})"
    return {"label": LABELS[top], "display": DISPLAY_NAMES[top], "confidence": round(p, 4), "sentence": sentence}
