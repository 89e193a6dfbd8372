"""Seeded Gaussian noise with numpy only (the cross-language contract in docs/design.md).

The same functions as in ``pipeline_cats_dit`` (which keeps its own copy, because that file
is shipped alone as Hub custom code); this module exists so that onnxruntime code can make
the noise without importing torch or diffusers. ``tests/test_onnx_pipeline.py`` checks that
both copies give identical arrays.

Image ``k`` of a call with ``seed=S`` uses seed ``(S + k) mod 2**32``; each seed drives
xoshiro128** whose state is four outputs of splitmix32; pairs of uint32 ``(a, b)`` become
uniforms ``(a + 0.5) / 2**32`` and ``(b + 0.5) / 2**32``, and Box-Muller in float64 gives two
normals, written in row-major CHW order and cast to float32.
"""

from __future__ import annotations

import math

import numpy as np

MASK32 = 0xFFFFFFFF


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
    """Standard normal float32 array of ``shape`` from ``seed``."""
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


def image_seeds(seed: int, count: int) -> list[int]:
    """The per-image seeds of one call: ``(seed + k) mod 2**32``."""
    seed = int(seed)
    if not 0 <= seed <= MASK32:
        raise ValueError(f"seed must be in 0..{MASK32}, got {seed}")
    return [(seed + k) & MASK32 for k in range(count)]
