"""Estimate time and Modal cost of training a preset on A10G / A100 / H100 from its FLOP count.

    python benchmarks/modal_cost.py [--preset s128] [--steps 200000] [--batch-size 64]

Counts the training FLOPs per image on CPU with ``torch.utils.flop_counter`` (forward + backward,
attention included by running SDPA's math kernel), then divides by an assumed fraction (MFU) of
each GPU's dense bf16 peak. An ESTIMATE, not a measurement: the peaks are datasheet numbers, the
MFU values are assumptions, and the prices are Modal's list prices as of the date below.
"""

from __future__ import annotations

import argparse

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from cats_dit.modeling_tinydit import PRESETS, TinyDiTModel

# name: (dense bf16 peak TFLOP/s, assumed MFU, Modal $ per GPU-hour, where the peak comes from)
GPUS = {
    "A10G": (70.0, 0.35, 1.10, "AWS A10G; below the A10 datasheet's 125 (assumed)"),
    "A100-80GB": (312.0, 0.30, 2.50, "NVIDIA A100 datasheet"),
    "H100": (989.0, 0.20, 3.95, "NVIDIA H100 SXM datasheet"),
}
PRICES_AS_OF = "Modal list prices, May 2026 (H100 $3.9492/h, A100-80GB $2.4984/h, A10 $1.10/h)"


def training_flops_per_image(preset: str, batch: int = 2) -> tuple[float, float, int]:
    """(forward FLOPs, forward+backward FLOPs) per image, and the parameter count."""
    model = TinyDiTModel.from_preset(preset)
    size = model.config.sample_size
    x = torch.randn(batch, 3, size, size)
    t = torch.rand(batch) * 1000
    y = torch.randint(0, 13, (batch,))
    with sdpa_kernel(SDPBackend.MATH):
        with FlopCounterMode(display=False) as fwd, torch.no_grad():
            model(x, t, y)
        with FlopCounterMode(display=False) as train:
            model(x, t, y).sample.float().pow(2).mean().backward()
    params = sum(p.numel() for p in model.parameters())
    return fwd.get_total_flops() / batch, train.get_total_flops() / batch, params


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="s128", choices=sorted(PRESETS))
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--batch-size", type=int, default=64, help="images per GPU per step (the s128 default)")
    args = p.parse_args()
    fwd, train, params = training_flops_per_image(args.preset)
    images = args.steps * args.batch_size
    print(f"{args.preset}: {params / 1e6:.1f} M parameters; {fwd / 1e9:.2f} GFLOP forward, "
          f"{train / 1e9:.2f} GFLOP forward+backward per training image; "
          f"{args.steps:,} steps x {args.batch_size} = {images / 1e6:.1f} M images per GPU\n")  # fmt: skip
    print("| GPU | bf16 dense peak | assumed MFU | est. images/s per GPU | est. hours (1 GPU) | $/GPU-h | est. cost |")
    print("|---|---|---|---|---|---|---|")
    for name, (peak, mfu, price, source) in GPUS.items():
        rate = peak * 1e12 * mfu / train
        hours = images / rate / 3600
        print(f"| {name} | {peak:g} TFLOP/s ({source}) | {mfu:.0%} | {rate:,.0f} | {hours:.1f} | ${price:.2f} | "
              f"${hours * price:,.1f} |")  # fmt: skip
    print(f"\nEstimate, not a measurement. Prices: {PRICES_AS_OF}.")


if __name__ == "__main__":
    main()
