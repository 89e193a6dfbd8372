"""The load-average guard every speed table uses: record the load when the table starts and
claim no ratio measured on a busy machine (other processes skew one side more than the other)."""

from __future__ import annotations

import os

MAX_LOAD = 1.0


def load_average() -> float:
    """The 1-minute load average (0.0 where the OS does not report one)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def load_line(load: float) -> str:
    """One line for under a table: the load it was measured at, and whether ratios count."""
    if load > MAX_LOAD:
        return f"Load average at start: {load:.2f}. load {load:.2f} > {MAX_LOAD:g}: ratio not claimed."
    return f"Load average at start: {load:.2f} (quiet enough to claim ratios)."


def ratio(value: float, load: float, suffix: str = "") -> str:
    """``value`` as a ratio cell ("1.23x"), or "not claimed" when the table started at load > 1."""
    if load > MAX_LOAD:
        return f"not claimed (load {load:.2f} > {MAX_LOAD:g})"
    return f"{value:.2f}x{suffix}"
