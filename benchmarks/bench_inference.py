"""Inference latency on this CPU: PyTorch eager vs onnxruntime fp32 / fp16 / int8.

For each preset (random weights: speed does not depend on training), per-step latency of one
guided step (one model call on the batch [cond, uncond]) and full-image latency (one image,
default steps and guidance, noise + sampler included), with file sizes, as a markdown table.
Repeats are interleaved (one call of every backend per round), so a change in machine load
moves all backends alike; the median of the rounds is reported.

    python benchmarks/bench_inference.py                   # demo and s128, 2 threads
    python benchmarks/bench_inference.py --quick           # fewer repeats, 4-step images
    python benchmarks/bench_inference.py --presets demo --threads 1 --out bench.md

Target: onnxruntime fp32 >= 1.5x faster per step than PyTorch eager on 2 threads at s128.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

from benchmarks._load import load_average, load_line, ratio  # noqa: E402
from cats_dit.onnx.export import export_generator_files  # noqa: E402
from cats_dit.onnx.variants import PRECISIONS  # noqa: E402
from cats_dit.onnx_pipeline import OnnxCatsDiTPipeline, make_session  # noqa: E402
from cats_dit.testing import build_tiny_pipeline  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--presets", default="demo,s128", help="comma-separated TinyDiT presets (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads for torch and onnxruntime (default: 2)")
    p.add_argument("--steps", type=int, default=20, help="sampling steps of the full-image run (default: 20)")
    p.add_argument("--guidance", type=float, default=3.0, help="guidance scale (default: 3.0)")
    p.add_argument("--repeats", type=int, default=20, help="timed model calls per backend (default: 20)")
    p.add_argument("--image-repeats", type=int, default=2, help="timed full images per backend (default: 2)")
    p.add_argument("--quick", action="store_true", help="5 repeats, 1 image of 4 steps")
    p.add_argument("--out", type=Path, default=None, help="also write the table to this markdown file")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats, args.image_repeats, args.steps = 5, 1, 4
    return args


def interleaved_medians(fns: dict, repeats: int, warmup: int = 2) -> dict:
    """Median seconds of each callable, timed round by round (one call of each per round)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def bench_preset(preset: str, args, workdir: Path) -> list[dict]:
    pipe = build_tiny_pipeline(preset)
    pipe.set_progress_bar_config(disable=True)
    cfg = pipe.transformer.config
    size = cfg.sample_size
    files = export_generator_files(pipe.transformer, workdir / preset, PRECISIONS)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, size, size)).astype(np.float32)
    t = np.full(2, 500.0, np.float32)
    c = np.array([1, cfg.num_classes], np.int64)
    xt, tt, ct = torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(c)

    def torch_step():
        with torch.inference_mode():
            pipe.transformer(xt, tt, ct)

    def torch_image():
        pipe("Bengal", num_inference_steps=args.steps, guidance_scale=args.guidance, seed=0, output_type="np")

    meta = {
        "labels": list(pipe.labels),
        "null_class_id": cfg.num_classes,
        "generator": {
            "sample_size": size,
            "in_channels": cfg.in_channels,
            "scheduler": dict(pipe.scheduler.config),
            "defaults": {"num_inference_steps": args.steps, "guidance_scale": args.guidance, "solver": "euler"},
            "files": {p: {"name": paths[0].name} for p, paths in files.items()},
        },
    }
    feeds = {"sample": x, "timestep": t, "class_labels": c}
    param_bytes = sum(p.numel() * p.element_size() for p in pipe.transformer.parameters())
    sizes, steps, images = {"PyTorch eager": param_bytes}, {"PyTorch eager": torch_step}, {"PyTorch eager": torch_image}
    for precision, paths in files.items():
        name = f"onnxruntime {precision}"
        session = make_session(paths[0], intra_op_num_threads=args.threads)
        onnx_pipe = OnnxCatsDiTPipeline.from_config(
            meta, workdir / preset, precision, intra_op_num_threads=args.threads
        )
        sizes[name] = sum(p.stat().st_size for p in paths)
        steps[name] = lambda s=session: s.run(None, feeds)
        images[name] = lambda p=onnx_pipe: p("Bengal", seed=0)
    step_s = interleaved_medians(steps, args.repeats)
    image_s = interleaved_medians(images, args.image_repeats, warmup=1)
    rows = [dict(preset=preset, backend=n, size=sizes[n], step=step_s[n], image=image_s[n]) for n in steps]
    return rows


def table(rows: list[dict], args, load: float) -> str:
    lines = [
        f"Threads: {args.threads}; per step = one guided model call (batch 2); full image = 1 image, "
        f"{args.steps} steps, guidance {args.guidance}; torch {torch.__version__}, onnxruntime {ort.__version__}.",
        "",
        "| preset | backend | weights (MB) | per step (ms) | full image (s) | step speed-up vs torch |",
        "|---|---|---:|---:|---:|---:|",
    ]
    base = {r["preset"]: r["step"] for r in rows if r["backend"] == "PyTorch eager"}
    for r in rows:
        lines.append(
            f"| {r['preset']} | {r['backend']} | {r['size'] / 1e6:.1f} | {1000 * r['step']:.1f} | {r['image']:.2f} "
            f"| {ratio(base[r['preset']] / r['step'], load)} |"
        )
    return "\n".join([*lines, "", load_line(load)])


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    load = load_average()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in [p.strip() for p in args.presets.split(",") if p.strip()]:
            print(f"benchmarking {preset} ...", file=sys.stderr)
            rows += bench_preset(preset, args, Path(tmp))
    text = table(rows, args, load)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
