"""Throughput and latency of the app's ``/generate`` endpoint, torch vs onnxruntime backend.

Starts the real Gradio app in this process for each backend, then 1, 4 and 8 gradio_client
users each send ``--requests`` generate calls back to back at the default settings (breed
"random", 4 images, and the model's own steps, guidance and guidance interval, classifier check on). Prints a markdown table:
requests per minute, median and p95 latency.

    python benchmarks/bench_app.py                 # committed demo weights (weights/)
    python benchmarks/bench_app.py --quick         # fewer requests
    python benchmarks/bench_app.py --model DIR --classifier DIR --backends torch
    python benchmarks/bench_app.py --random demo   # untrained demo-size models, no weights needed
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from gradio_client import Client  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

import app  # noqa: E402
from benchmarks._load import load_average, load_line  # noqa: E402
from cats_dit.serving import DEFAULTS, load_service  # noqa: E402
from cats_dit.serving.loading import threads_per_job  # noqa: E402
from cats_dit.testing import free_port, make_tiny_models  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run_users(url: str, users: int, requests: int, settings: tuple, bar) -> tuple[float, list[float], int]:
    """(wall seconds, per-request latencies, errors) for ``users`` clients sending ``requests`` each."""
    clients = [Client(url, verbose=False) for _ in range(users)]
    latencies, errors = [], []
    lock = threading.Lock()

    def user(client, u):
        for r in range(requests):
            seed = 1000 * u + r
            start = time.perf_counter()
            try:
                client.predict(*settings[:5], seed, settings[6], api_name="/generate")
                with lock:
                    latencies.append(time.perf_counter() - start)
            except Exception as exc:  # counted and reported
                errors.append(exc)
            bar.update()

    # one warm-up request so model/session start-up is not measured
    clients[0].predict(*settings, api_name="/generate")
    threads = [threading.Thread(target=user, args=(c, u)) for u, c in enumerate(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, len(errors)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="pipeline folder or Hub id (default: weights/pipeline)")
    p.add_argument("--classifier", default=None, help="classifier folder or Hub id (default: weights/classifier)")
    p.add_argument("--backends", default="torch,onnx", help="comma-separated: torch, onnx")
    p.add_argument("--users", default="1,4,8", help="comma-separated numbers of concurrent clients")
    p.add_argument("--requests", type=int, default=4, help="requests per client")
    p.add_argument("--concurrency", type=int, default=2, help="the app's queue concurrency limit")
    p.add_argument("--quick", action="store_true", help="2 requests per client")
    p.add_argument(
        "--random",
        choices=["tiny", "demo", "s128"],
        default=None,
        help="untrained models of this preset instead of weights/ (same speed as trained ones)",
    )
    args = p.parse_args()
    requests = 2 if args.quick else args.requests
    model, classifier = args.model, args.classifier
    if args.random or (model is None and not (ROOT / "weights" / "pipeline").is_dir()):
        preset = args.random or "demo"
        model, tiny_classifier = map(str, make_tiny_models(tempfile.mkdtemp(prefix="bench_app_"), preset=preset))
        classifier = classifier or tiny_classifier
        print(f"using untrained '{preset}' models (weights/ not found or --random)", file=sys.stderr)
    d = DEFAULTS  # replaced by the loaded model's own defaults (steps, guidance, sampler) below
    user_counts = [int(u) for u in args.users.split(",")]
    rows = []
    load_at_start = load_average()
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        threads = threads_per_job(args.concurrency)  # as app.py's main() does
        torch.set_num_threads(threads)
        service = load_service(model, classifier, backend=backend, threads=threads, default_weights=ROOT / "weights")
        if service.errors:
            print(f"skipping {backend}: {service.errors}", file=sys.stderr)
            continue
        d = service.defaults  # what the app's form starts with: the model's saved sampling defaults
        settings = (d["breed"], d["num_images"], d["steps"], d["guidance"], d["sampler"], 0, True)
        demo = app.build_demo(service)
        _, url, _ = app.launch(
            demo, "127.0.0.1", free_port(), concurrency=args.concurrency, prevent_thread_lock=True, quiet=True
        )
        try:
            total = sum(user_counts) * requests
            with tqdm(total=total, desc=f"{backend}", unit="req") as bar:
                for users in user_counts:
                    wall, lat, errors = run_users(url, users, requests, settings, bar)
                    rows.append(
                        (
                            service.generator.backend,
                            users,
                            len(lat),
                            60 * len(lat) / wall,
                            statistics.median(lat),
                            percentile(lat, 0.95),
                            errors,
                        )
                    )
        finally:
            demo.close()
    size = service.generator.sample_size if service.generator else "?"
    low, high = d.get("guidance_interval", (0.0, 1.0))
    interval = f"{low:g}-{high:g}"
    print(
        f"\n/generate at default settings ({d['num_images']} images of {size} px, {d['steps']} {d['sampler']} steps, "
        f"guidance {d['guidance']} at noise levels {interval}, classifier check on); app concurrency limit {args.concurrency}; "
        f"{os.cpu_count()} CPUs\n"
    )
    print("| backend | clients | requests | requests/min | median latency (s) | p95 latency (s) | errors |")
    print("|---|---|---|---|---|---|---|")
    for backend, users, n, rpm, med, p95, errors in rows:
        print(f"| {backend} | {users} | {n} | {rpm:.1f} | {med:.2f} | {p95:.2f} | {errors} |")
    print(f"\n{load_line(load_at_start)}")


if __name__ == "__main__":
    main()
