"""TinyDiT vs diffusers' DiTTransformer2DModel on CPU, side by side in one run.

Measures forward+backward images/s, sampling ms per step (batch of 2 = one CFG call), and
achieved FLOP/s as a fraction of this machine's measured fp32 matmul rate. Prints a
markdown table.

    python benchmarks/bench_model.py [--preset s128] [--batch 8] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from diffusers import DiTTransformer2DModel
from torch.utils.flop_counter import FlopCounterMode

from cats_dit.modeling_tinydit import PRESETS, TinyDiTModel


def matmul_rate(n: int = 1024, repeats: int = 10) -> float:
    """Best-of fp32 FLOP/s for an n x n x n matmul on this machine."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def build_models(preset: str) -> dict[str, tuple[torch.nn.Module, callable]]:
    cfg = PRESETS[preset]
    ours = TinyDiTModel(**cfg)
    width, heads = cfg["hidden_size"], cfg["num_heads"]
    theirs = DiTTransformer2DModel(
        num_attention_heads=heads,
        attention_head_dim=width // heads,
        in_channels=3,
        out_channels=3,
        num_layers=cfg["depth"],
        sample_size=cfg["sample_size"],
        patch_size=cfg["patch_size"],
        num_embeds_ada_norm=14,
        norm_type="ada_norm_zero",
    )
    for model in (ours, theirs):  # zero-init outputs would make backward trivially cheap
        for p in model.parameters():
            p.data.normal_(0, 0.02)

    def call_ours(x, t, y):
        return ours(x, t, y).sample

    def call_theirs(x, t, y):
        return theirs(x, timestep=t, class_labels=y).sample

    return {"TinyDiT (ours)": (ours, call_ours), "diffusers DiTTransformer2DModel": (theirs, call_theirs)}


def count_flops(fn, *args, backward: bool) -> int:
    with FlopCounterMode(display=False) as counter:
        out = fn(*args)
        if backward:
            out.square().mean().backward()
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="s128", choices=sorted(PRESETS))
    parser.add_argument("--batch", type=int, default=8, help="training batch size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load_start = os.getloadavg()[0]

    peak = matmul_rate()
    size = PRESETS[args.preset]["sample_size"]
    x = torch.randn(args.batch, 3, size, size)
    t = torch.rand(args.batch) * 1000
    y = torch.randint(0, 13, (args.batch,))
    x2, t2, y2 = x[:2], t[:2], torch.tensor([1, 13])

    # Interleave the two models repeat by repeat and keep each one's best time, so load
    # changes on a shared machine hit both alike.
    entries = []
    for name, (model, call) in build_models(args.preset).items():
        params = sum(p.numel() for p in model.parameters())

        def train_step(model=model, call=call):
            model.zero_grad(set_to_none=True)
            call(x, t, y).square().mean().backward()

        def sample_step(call=call):
            with torch.no_grad():
                call(x2, t2, y2)

        flops = count_flops(call, x, t, y, backward=True)
        model.zero_grad(set_to_none=True)
        train_step()  # warm-up
        sample_step()
        entries.append({"name": name, "params": params, "flops": flops, "train": train_step, "sample": sample_step})
    best = {(e["name"], k): float("inf") for e in entries for k in ("train", "sample")}
    for _ in range(args.repeats):
        for e in entries:
            for kind, reps in (("train", 1), ("sample", 3)):
                for _ in range(reps):
                    start = time.perf_counter()
                    e[kind]()
                    best[e["name"], kind] = min(best[e["name"], kind], time.perf_counter() - start)
    rows = []
    for e in entries:
        t_train, t_sample = best[e["name"], "train"], best[e["name"], "sample"]
        rows.append((e["name"], e["params"], args.batch / t_train, t_sample * 1000, e["flops"] / t_train))

    print(
        f"\n## TinyDiT `{args.preset}` vs diffusers DiT on CPU ({platform.processor() or platform.machine()}, "
        f"{args.threads} threads)\n"
    )
    print(f"Measured fp32 matmul rate (1024^3): **{peak / 1e9:.1f} GFLOP/s**\n")
    print(
        f"| model | params | train img/s (fwd+bwd, batch {args.batch}) | sample ms/step (CFG batch 2) "
        "| train GFLOP/s | % of matmul rate |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, params, ips, ms, flops in rows:
        print(
            f"| {name} | {params / 1e6:.1f} M | {ips:.2f} | {ms:.1f} | {flops / 1e9:.1f} | {100 * flops / peak:.0f}% |"
        )
    ratio = rows[0][2] / rows[1][2]
    load_end = os.getloadavg()[0]
    print(f"\nLoad average (1 min): {load_start:.2f} at start, {load_end:.2f} at end (this run's own threads).")
    if load_start > 1.0:
        print(f"Load above 1 on {os.cpu_count()} cores: ratios not claimed (measured {ratio:.2f}x training).")
        return
    print(
        f"TinyDiT / diffusers training throughput ratio: **{ratio:.2f}x**; "
        f"sampling step ratio (diffusers/ours): **{rows[1][3] / rows[0][3]:.2f}x**"
    )


if __name__ == "__main__":
    main()
