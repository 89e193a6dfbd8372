"""The app's handlers as plain Python: ``Service.generate`` (a generator of updates) and ``Service.classify``.

No Gradio here: ``app.py`` wires these to components and turns ``ValueError`` /
``ModelLoadError`` into ``gr.Error``. Tests call them directly or through a real server.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..breeds import DISPLAY_NAMES, LABELS, OTHER_ID, display_name
from .backends import Cancelled, num_evaluations
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


class GenerateJob:
    """One generation on its own worker thread: the one place that starts and stops sampling.

    ``cancel()`` sets an event the sampler checks after every model evaluation, so it takes
    effect within one step whatever the moment (before the first preview too). The worker holds
    one of ``Service.max_jobs`` slots while it computes, so cancelled work still finishing its last
    step never runs beside a full set of new jobs.
    """

    def __init__(self, service: Service, req: GenerateRequest, check: bool, post=None):
        self.service, self.req, self.check = service, req, check
        self.total = num_evaluations(req.steps, req.sampler)
        self.preview_every = max(1, math.ceil(self.total / PREVIEWS_PER_RUN))
        self.events: queue.Queue = queue.Queue()
        self.post = post or self.events.put
        self.stopped = threading.Event()
        self.finished = threading.Event()  # set when the worker thread is done, whatever the outcome
        self.thread = threading.Thread(target=self._work, name="cats_dit-generate", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self.stopped.set()

    def _work(self) -> None:
        slots = self.service.job_slots
        try:
            while not slots.acquire(timeout=0.05):
                if self.stopped.is_set():
                    raise Cancelled("cancelled before sampling started")
            try:
                self.post(("done", self._sample()))
            finally:
                slots.release()
        except BaseException as exc:  # handed to the consumer
            self.post(("error", exc))
        finally:
            self.finished.set()

    def _sample(self) -> GenerateUpdate:
        if self.stopped.is_set():
            raise Cancelled("cancelled before sampling started")
        start = time.perf_counter()
        last = [start]

        def on_step(i, n, preview):
            last[0] = time.perf_counter()
            self.post(("step", i, (last[0] - start) / (i + 1), preview))
            return not self.stopped.is_set()

        req = self.req
        images = self.service.generator.generate(
            list(req.breeds), req.seed, req.steps, req.guidance, req.sampler, on_step, self.preview_every
        )
        return self.service._finish(req, images, self.total, last[0] - start, self.check)

    def handle(self, event, progress=None) -> GenerateUpdate | None:
        """One worker event -> the update to stream (None for a step without preview); raises errors."""
        kind, *rest = event
        if kind == "error":
            raise rest[0]
        if kind == "done":
            return rest[0]
        i, per_step, preview = rest
        if progress is not None:
            progress((i + 1, self.total), desc="sampling")
        if preview is None:
            return None
        status = f"Step {i + 1}/{self.total} · {per_step * 1000:.0f} ms per step · preview of the final image"
        return GenerateUpdate([(to_uint8(img), f"step {i + 1}/{self.total}") for img in preview], status, None, False)


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
    max_jobs: int = 2  # generations computing at once (the app sets its queue's concurrency limit)

    def __post_init__(self):
        self.limit_jobs(self.max_jobs)

    def limit_jobs(self, n: int) -> None:
        """At most ``n`` generations compute at once (set before serving)."""
        self.max_jobs = int(n)
        self.job_slots = threading.BoundedSemaphore(self.max_jobs)

    # -- generate ---------------------------------------------------------------------------
    def start_generate(self, breed, num_images, steps, guidance, sampler, seed, check: bool = True, post=None):
        """Validate and start sampling on a worker thread; returns the :class:`GenerateJob`.

        ``post(event)`` receives the worker's events (thread-safe; default: ``job.events.put``).
        Raises ValueError / ModelLoadError before any work starts."""
        req = validate_generate(breed, num_images, steps, guidance, sampler, seed)
        if self.generator is None:
            raise ModelLoadError(f"The generator is not loaded: {self.errors.get('generator', 'no weights')}")
        job = GenerateJob(self, req, check, post)
        job.start()
        return job

    def generate(self, breed, num_images, steps, guidance, sampler, seed, check=True, progress=None):
        """Validate, then yield x0 previews every few steps and finally the PNGs with their settings.

        Closing the generator (a client gone) cancels the job."""
        job = self.start_generate(breed, num_images, steps, guidance, sampler, seed, check)
        try:
            while True:
                update = job.handle(job.events.get(), progress)
                if update is not None:
                    yield update
                    if update.done:
                        return
        finally:
            job.cancel()

    async def generate_async(self, breed, num_images, steps, guidance, sampler, seed, check=True, progress=None):
        """``generate`` for an event loop: no thread waits on the job, and cancelling the task that
        iterates this (Gradio's Stop / cancel, even before the first preview) cancels the job."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue = asyncio.Queue()

        def post(event):
            try:
                loop.call_soon_threadsafe(events.put_nowait, event)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                pass

        job = self.start_generate(breed, num_images, steps, guidance, sampler, seed, check, post)
        try:
            while True:
                update = job.handle(await events.get(), progress)
                if update is not None:
                    yield update
                    if update.done:
                        return
        finally:
            job.cancel()

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
