"""``--gpu TYPE[:COUNT]`` as Modal spells it, and the GPUs a container really has."""

from __future__ import annotations

import re


def parse_gpu(spec: str) -> tuple[str, int]:
    """'H100:4' -> ('H100', 4); 'A10G' -> ('A10G', 1). Raises ValueError naming the bad spec."""
    m = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9\-!+]*)(?::(\d+))?\s*", spec or "")
    if not m:
        raise ValueError(f"--gpu {spec!r} is not a Modal GPU spec such as 'A10G', 'A100-80GB:2' or 'H100:4'")
    count = int(m.group(2) or 1)
    if not 1 <= count <= 8:
        raise ValueError(f"--gpu {spec!r}: Modal attaches 1 to 8 GPUs to a container, not {count}")
    return m.group(1), count


def gpu_count() -> int:
    """CUDA devices in this container: one training process is started per device."""
    import torch

    count = torch.cuda.device_count()
    if count < 1:
        raise RuntimeError("No CUDA device in this container: call the GPU functions through train_dit/main")
    return count
