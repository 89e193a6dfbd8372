"""Training throughput on this machine, as a markdown table.

1. Generator training images/s (``train/train_dit.py``'s own timing of pure training steps, no
   sampling or saving) at the ``demo`` and ``s128`` presets, 1 process vs 2 processes
   (``accelerate launch --multi_gpu --num_processes 2`` + ``--cpu``), one torch thread per process.
2. Data loading images/s for the 128 px generator transform over a cartoon-cats tree: decoding
   the original JPEGs every time vs the pre-resized cache (``ImageDataset(cache_dir=...)``).

    python benchmarks/bench_train.py --quick      # a few minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._load import load_average, load_line, ratio  # noqa: E402
from cats_dit.accelerate_launch import accelerate_command  # noqa: E402
from cats_dit.testing import free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def train_speed(data: Path, preset: str, processes: int, batch: int, steps: int, work: Path) -> dict:
    out = work / f"{preset}-{processes}p"
    args = [
        str(REPO / "train" / "train_dit.py"),
        "--data-root",
        str(data),
        "--output-dir",
        str(out),
        "--cpu",
        "--preset",
        preset,
        "--batch-size",
        str(batch),
        "--max-steps",
        str(steps),
        "--checkpointing-steps",
        "0",
        "--sample-every",
        "0",
        "--sample-steps",
        "1",
        "--preload",
        "--torch-threads",
        "1",
        "--log-every",
        "1000",
    ]
    if processes == 1:
        cmd = [sys.executable, *args]
    else:
        # --multi_gpu with the script's --cpu: N gloo processes (`launch --cpu` would start one)
        cmd = accelerate_command(args[0], processes, args[1:], mixed_precision="no", main_process_port=free_port())
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    return {"images_per_second": summary["train_images_per_second"], "global_batch": batch * processes}


def loading_speed(data: Path, size: int, n: int, work: Path) -> dict:
    from torch.utils.data import DataLoader

    from cats_dit.data import ImageDataset, generator_transform, load_records

    records = load_records(data, split="trainval")[:n]
    results = {}
    for name, kwargs in (
        ("decode originals", {}),
        ("pre-resized cache", {"cache_dir": work / "cache", "cache_size": size}),
    ):
        ds = ImageDataset(records, generator_transform(size), **kwargs)
        loader = DataLoader(ds, batch_size=32, num_workers=0)
        if kwargs:  # the first pass fills the cache; time the second
            for _ in loader:
                pass
        t0 = time.perf_counter()
        count = sum(x.shape[0] for x, _ in loader)
        results[name] = count / (time.perf_counter() - t0)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few steps and images (a few minutes on 2 cores)")
    p.add_argument("--data-root", default=None, help="an existing data set (default: draw cartoon cats)")
    args = p.parse_args()
    steps = {"demo": 6, "s128": 4} if args.quick else {"demo": 30, "s128": 12}
    batch = {"demo": 16, "s128": 4} if args.quick else {"demo": 32, "s128": 8}
    n_load = 200 if args.quick else 1000

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        load_at_start = load_average()
        data = Path(args.data_root) if args.data_root else None
        if data is None:
            from cats_dit.data import make_cartoon_dataset

            per_class = 12 if args.quick else 80
            data = make_cartoon_dataset(work / "cartoon", per_class=per_class, seed=0, progress=False)
        rows = []
        for preset in ("demo", "s128"):
            for procs in (1, 2):
                r = train_speed(data, preset, procs, batch[preset], steps[preset], work)
                rows.append((preset, procs, r["global_batch"], r["images_per_second"]))
                print(f"{preset} x{procs}: {r['images_per_second']} img/s", file=sys.stderr)
        load = loading_speed(data, 128, n_load, work)

    print(
        f"\nGenerator training, {os.cpu_count()} CPU cores, 1 torch thread per process"
        f"{' (--quick)' if args.quick else ''}\n"
    )
    print("| preset | processes | global batch | train images/s | speed-up |")
    print("|---|---|---|---|---|")
    base = {}
    for preset, procs, gb, ips in rows:
        base.setdefault(preset, ips)
        print(f"| {preset} | {procs} | {gb} | {ips:.1f} | {ratio(ips / base[preset], load_at_start)} |")
    print(f"\n{load_line(load_at_start)}")
    print("\nData loading (128 px generator transform, 1 process, batch 32)\n")
    print("| source | images/s |")
    print("|---|---|")
    for name, ips in load.items():
        print(f"| {name} | {ips:.0f} |")


if __name__ == "__main__":
    main()
