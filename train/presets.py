"""Training hyper-parameters per model preset (the model shapes live in ``cats_dit.PRESETS``).

Every value here is a default: any ``--flag`` given on the command line wins. Every preset trains
x-prediction with the velocity loss: at equal budget it learned faster than velocity prediction on
each data set of ``benchmarks/bench_learning.py`` (``benchmarks/LEARNING.md``).
"""

from __future__ import annotations

TRAIN_PRESETS: dict[str, dict] = {
    # Tests: trains in seconds on one CPU core.
    "tiny": dict(
        prediction_type="sample",
        batch_size=16,
        lr=1e-3,
        lr_warmup_steps=5,
        max_steps=100,
        ema_max_decay=0.99,
        checkpointing_steps=50,
        sample_every=50,
    ),
    # The committed demo weights: 32 px cartoon cats on 2 CPU cores (weights/README.md has the
    # exact command: 2 processes of 16, constant LR after warmup, a time budget).
    "demo": dict(
        prediction_type="sample",
        batch_size=16,
        lr=6e-4,
        lr_warmup_steps=100,
        max_steps=6000,
        ema_max_decay=0.999,
        checkpointing_steps=250,
        sample_every=1500,
    ),
    # The real 128 px model (GPU): Oxford-IIIT Pet cats.
    "s128": dict(
        prediction_type="sample",
        batch_size=64,
        lr=2e-4,
        lr_warmup_steps=1000,
        max_steps=100_000,
        ema_max_decay=0.9999,
        checkpointing_steps=2000,
        sample_every=2000,
    ),
}


def train_defaults(preset: str) -> dict:
    if preset not in TRAIN_PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; choose one of {', '.join(TRAIN_PRESETS)}")
    return dict(TRAIN_PRESETS[preset])
