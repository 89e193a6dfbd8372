"""Bounded load test of the app on localhost: clients x requests, with submit-and-cancel churn.

Starts ``python app.py`` in a child process (the committed demo weights unless ``--model``), lets
``--clients`` gradio_client users each send ``--requests`` requests: every ``--cancel-every``-th one
is a large generate (8 images, 100 steps) cancelled shortly after it starts, the others are normal
generates. Prints a markdown table: latency p50/p95 of the normal requests, errors, server threads
and RSS before/after, the server's CPU in the second after the load, and the load average at start.

Fails (exit 1) when anything grows without bound: an error, more threads than before plus a few,
RSS growth over ``--max-rss-growth-mb``, or CPU still busy after the load (cancelled work left
running). It stops by itself: every request has a timeout and the whole run ``--max-seconds``.

    python benchmarks/bench_load.py                       # 16 clients x 3 requests, churn every 3rd
    python benchmarks/bench_load.py --quick               # 4 clients x 2 requests, small settings
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

from gradio_client import Client  # noqa: E402

from cats_dit.testing import app_server, process_stats  # noqa: E402

THREAD_SLACK = 4  # idle worker threads a server may keep after a burst


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=3, help="requests per client")
    p.add_argument("--cancel-every", type=int, default=3, help="every N-th request is submit-and-cancel (0: none)")
    p.add_argument("--steps", type=int, default=20, help="steps of a normal request")
    p.add_argument("--num-images", type=int, default=4, help="images of a normal request")
    p.add_argument("--concurrency", type=int, default=2, help="the server's --concurrency")
    p.add_argument("--model", help="generator folder (default: the committed demo weights)")
    p.add_argument("--classifier", help="classifier folder")
    p.add_argument("--max-seconds", type=float, default=900, help="the whole run stops after this")
    p.add_argument("--max-rss-growth-mb", type=float, default=300)
    p.add_argument("--quick", action="store_true", help="4 clients x 2 requests, 4 steps, 1 image")
    args = p.parse_args(argv)
    if args.quick:
        args.clients, args.requests, args.steps, args.num_images, args.cancel_every = 4, 2, 4, 1, 2
    return args


def wait_until_sent(job, deadline: float) -> None:
    """Until the server has the job (its event id is known): gradio_client's cancel of a job it has not
    sent yet only cancels it locally and the server runs it anyway; a browser's Stop never races so."""
    while job.communicator is not None and job.communicator.event_id is None and time.time() < deadline:
        time.sleep(0.01)


def client_loop(url: str, k: int, args, deadline: float, out: dict, lock: threading.Lock) -> None:
    try:
        client = Client(url, verbose=False)
    except Exception as exc:
        with lock:
            out["errors"].append(f"client {k}: could not connect ({exc})")
        return
    for r in range(args.requests):
        if time.time() > deadline:
            with lock:
                out["errors"].append(f"client {k}: request {r} not sent, --max-seconds reached")
            return
        seed = 1000 * k + r
        churn = args.cancel_every and (r + k) % args.cancel_every == args.cancel_every - 1
        start = time.perf_counter()
        try:
            if churn:  # a big job, cancelled once queued or running (often before its first preview)
                job = client.submit("random", 8, 100, 3.0, "euler", seed, False, api_name="/generate")
                wait_until_sent(job, deadline)
                time.sleep(0.3)
                job.cancel()
                with lock:
                    out["cancelled"] += 1
                continue
            job = client.submit("random", args.num_images, args.steps, 3.0, "euler", seed, True, api_name="/generate")
            gallery, _, _ = job.result(timeout=max(1.0, deadline - time.time()))
            if len(gallery) != args.num_images:
                raise RuntimeError(f"{len(gallery)} images instead of {args.num_images}")
            with lock:
                out["latencies"].append(time.perf_counter() - start)
        except Exception as exc:
            with lock:
                out["errors"].append(f"client {k} request {r}: {type(exc).__name__}: {exc}")


def cpu_in_next_second(pid: int) -> float:
    a = process_stats(pid)["cpu_s"]
    time.sleep(1.0)
    return process_stats(pid)["cpu_s"] - a


def main(argv=None) -> int:
    args = parse_args(argv)
    load_at_start = os.getloadavg()[0]
    server_args = ["--backend", "torch", "--concurrency", str(args.concurrency), "--max-queue", "256"]
    if args.model:
        server_args += ["--model", args.model]
    if args.classifier:
        server_args += ["--classifier", args.classifier]
    started = time.time()
    deadline = started + args.max_seconds
    with (
        tempfile.TemporaryDirectory(prefix="bench_load_") as tmp,
        app_server(ROOT / "app.py", *server_args, tmpdir=tmp) as (url, proc),
    ):
        warm = Client(url, verbose=False)
        warm.predict("random", 1, 1, 3.0, "euler", 0, True, api_name="/generate")
        before = process_stats(proc.pid)
        out = {"latencies": [], "errors": [], "cancelled": 0}
        lock = threading.Lock()
        threads = [
            threading.Thread(target=client_loop, args=(url, k, args, deadline, out, lock), daemon=True)
            for k in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.time()))
        if any(t.is_alive() for t in threads):
            out["errors"].append("some clients were still waiting at --max-seconds")
        time.sleep(2.0)  # let cancelled jobs reach their next step
        after = process_stats(proc.pid)
        idle_cpu = cpu_in_next_second(proc.pid)
    wall = time.time() - started

    lat = out["latencies"]
    p50 = statistics.median(lat) if lat else float("nan")
    p95 = percentile(lat, 0.95) if lat else float("nan")
    print(
        f"### Load: {args.clients} clients x {args.requests} requests, submit-and-cancel every "
        f"{args.cancel_every or 'never'}-th (server --concurrency {args.concurrency})\n"
    )
    print("| normal requests | cancelled | errors | p50 s | p95 s | threads before -> after | "
          "RSS MB before -> after | server CPU 2 s after | load avg at start | wall s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {len(lat)} | {out['cancelled']} | {len(out['errors'])} | {p50:.2f} | {p95:.2f} | "
        f"{before['threads']} -> {after['threads']} | {before['rss_mb']:.0f} -> {after['rss_mb']:.0f} | "
        f"{idle_cpu:.2f} s/s | {load_at_start:.2f} | {wall:.0f} |"
    )
    print(
        f"\nNormal request: breed random, {args.num_images} image(s), {args.steps} Euler steps, classifier check; "
        "churn: 8 images x 100 steps, cancelled 0.3 s after the server has it."
    )
    if load_at_start > 1:
        print(f"Load average {load_at_start:.2f} at start: the latencies are not results on this machine.")

    problems = list(out["errors"][:10])
    if after["threads"] > before["threads"] + THREAD_SLACK:
        problems.append(f"server threads grew from {before['threads']} to {after['threads']}")
    if after["rss_mb"] - before["rss_mb"] > args.max_rss_growth_mb:
        problems.append(f"server RSS grew by {after['rss_mb'] - before['rss_mb']:.0f} MB")
    if idle_cpu > 0.2:
        problems.append(f"the server still used {idle_cpu:.2f} s of CPU per second after the load (work left running)")
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
