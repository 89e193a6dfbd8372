"""The guidance interval, checked once for the numpy code (onnxruntime pipeline, eval, benchmarks).

``pipeline_cats_dit.py`` ships alone as Hub code, so it keeps its own copy of this check;
``tests/test_guidance_interval.py`` keeps the two equal.
"""

from __future__ import annotations

FULL_INTERVAL = (0.0, 1.0)


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
    """Whether a step at noise level ``sigma`` (``timestep / num_train_timesteps``) is guided."""
    return interval[0] <= sigma <= interval[1]
