"""``python -m benchmarks``: run the benchmark scripts that exist and write benchmarks/RESULTS.md.

Each script prints markdown (a table and a line saying what it measured) on stdout and its
progress on stderr. This runner passes ``--quick`` to scripts that accept it (unless
``--full``), collects their stdout under one heading each, and puts a description of the
machine on top so the numbers can be read in context. A script that fails or times out is
reported as failed with the tail of its output, never dropped.

A script that cannot run without arguments (it needs data or trained models, e.g. the sampling
sweep) says so with a line ``# python -m benchmarks: by hand`` and is only run with ``--only``.
Everything in the old report from the line ``KEEP_MARKER`` on (results measured by hand, with
their commands) is carried over into the new report unchanged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Most informative first; any other script in the folder runs after these, alphabetically.
PREFERRED_ORDER = (
    "bench_model.py",
    "bench_train.py",
    "bench_inference.py",
    "bench_app.py",
    "bench_browser.py",
    "modal_cost.py",
)
BY_HAND = re.compile(r"^# python -m benchmarks: by hand", re.MULTILINE)
KEEP_MARKER = "<!-- measured by hand below this line: python -m benchmarks keeps it -->"
PACKAGES = ("torch", "torchvision", "diffusers", "onnxruntime", "onnx", "gradio", "numpy")


def discover(folder: Path) -> list[Path]:
    """The runnable scripts in ``folder``: *.py files except private ones and this package's own."""
    scripts = [p for p in folder.glob("*.py") if not p.name.startswith("_")]
    rank = {name: i for i, name in enumerate(PREFERRED_ORDER)}
    return sorted(scripts, key=lambda p: (rank.get(p.name, len(rank)), p.name))


def by_hand(script: Path) -> bool:
    """Whether the script needs arguments, so a plain run leaves it out."""
    return BY_HAND.search(script.read_text(errors="replace")) is not None


def kept_tail(report: Path) -> str:
    """The hand-measured part of an existing report (from KEEP_MARKER on), or ''."""
    if not report.is_file():
        return ""
    text = report.read_text()
    return text[text.index(KEEP_MARKER) :] if KEEP_MARKER in text else ""


def supports_quick(script: Path) -> bool:
    return re.search(r"""["']--quick["']""", script.read_text(errors="replace")) is not None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> list[tuple[str, str]]:
    """(name, value) rows: CPU, cores, RAM, load, OS, Python, package versions, GPU, date, commit."""
    rows = [("CPU", _cpu_model())]
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
        rows.append(("cores", f"{usable} usable ({os.cpu_count()} logical, {physical} physical)"))
        rows.append(("RAM", f"{psutil.virtual_memory().total / 2**30:.1f} GiB"))
    except ImportError:
        rows.append(("cores", f"{usable} usable ({os.cpu_count()} logical)"))
    if hasattr(os, "getloadavg"):
        rows.append(("load average at start", " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"))
    rows.append(("OS", platform.platform()))
    rows.append(("Python", platform.python_version()))
    for pkg in PACKAGES:
        try:
            rows.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            rows.append((pkg, "not installed"))
    gpu = "none"
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
        )
        if out.returncode == 0 and out.stdout.strip():
            gpu = ", ".join(out.stdout.split("\n")[:4]).strip(", ")
    except (OSError, subprocess.TimeoutExpired):
        pass
    rows.append(("GPU", gpu))
    rows.append(("date", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        if commit:
            rows.append(("commit", commit))
    except (OSError, subprocess.TimeoutExpired):
        pass
    return rows


def _tail(text: str, lines: int = 25) -> str:
    kept = [line for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def settle(max_wait: float, below: float = 1.0, poll: float = 5.0) -> float:
    """Wait until the 1-minute load average is below ``below`` (at most ``max_wait`` s): the previous
    script's threads keep it above 1 for a minute after it ends, and every speed table refuses to
    claim a ratio measured at load > 1. Returns the load it stopped waiting at."""
    deadline = time.monotonic() + max_wait
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    while load >= below and time.monotonic() < deadline:
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        load = os.getloadavg()[0]
    return load


def run_script(script: Path, quick: bool, timeout: float, cwd: Path) -> dict:
    """Run one script; returns name, command, status ("ok" / "failed" / "timed out"), seconds, stdout, tail."""
    cmd = [sys.executable, str(script)] + (["--quick"] if quick and supports_quick(script) else [])
    shown = "python " + " ".join(
        [str(script.relative_to(cwd)) if script.is_relative_to(cwd) else str(script)] + cmd[2:]
    )
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        status = "ok" if proc.returncode == 0 else f"failed (exit code {proc.returncode})"
        stdout, stderr = proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        status = f"timed out after {timeout:g} s"
        stdout = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    seconds = time.perf_counter() - start
    return {
        "name": script.stem,
        "command": shown,
        "status": status,
        "seconds": seconds,
        "stdout": stdout.strip(),
        "tail": _tail(stderr + "\n" + stdout),
    }


def render(results: list[dict], machine: list[tuple[str, str]], quick: bool) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks"
        + ("" if quick else " --full")
        + "`; every number below was measured on this machine in this run.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine],
        "",
        "## Summary",
        "",
        "| script | status | wall time (s) |",
        "|---|---|---|",
        *[f"| {r['name']} | {r['status']} | {r['seconds']:.1f} |" for r in results],
        "",
    ]
    for r in results:
        lines += [f"## {r['name']}", "", f"`{r['command']}` ({r['seconds']:.1f} s)", ""]
        if r["status"] == "ok":
            out = r["stdout"].splitlines()
            lines += out[:300] if out else ["(the script printed nothing)"]
            if len(out) > 300:
                lines.append(f"... {len(out) - 300} more lines")
        else:
            lines += [f"**{r['status']}**. Last lines of its output:", "", "```", r["tail"] or "(no output)", "```"]
        lines.append("")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the benchmark scripts in benchmarks/ (with --quick where they support it) and write one "
        "markdown report with a description of the machine: benchmarks/RESULTS.md.",
    )
    p.add_argument("--full", action="store_true", help="do not pass --quick (slower, more samples)")
    p.add_argument("--only", default=None, help="comma-separated script names to run (e.g. bench_model,bench_app)")
    p.add_argument("--skip", default=None, help="comma-separated script names to leave out")
    p.add_argument("--timeout", type=float, default=1200, help="seconds per script before it counts as failed")
    p.add_argument(
        "--max-settle",
        type=float,
        default=180,
        help="before each script, wait up to this many seconds for the 1-minute load average to fall below 1 "
        "(default 180; 0: never wait)",
    )
    p.add_argument(
        "--output", type=Path, default=HERE / "RESULTS.md", help="report file (default: benchmarks/RESULTS.md)"
    )
    p.add_argument("--dir", type=Path, default=HERE, help="folder of scripts (default: this benchmarks folder)")
    p.add_argument("--list", action="store_true", help="only list the scripts that would run")
    return p


def _names(text: str | None) -> set[str]:
    return {n.strip().removesuffix(".py") for n in (text or "").split(",") if n.strip()}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    scripts = discover(args.dir)
    only, skip = _names(args.only), _names(args.skip)
    unknown = (only | skip) - {s.stem for s in scripts}
    if unknown:
        print(f"error: no such benchmark script(s): {', '.join(sorted(unknown))}; "
              f"found {', '.join(s.stem for s in scripts) or 'none'}", file=sys.stderr)  # fmt: skip
        return 2
    if args.list:
        for s in scripts:
            how = "  (by hand: only with --only)" if by_hand(s) else "  (--quick)" if supports_quick(s) else ""
            print(f"{s.name}{how}")
        return 0
    scripts = [s for s in scripts if (s.stem in only if only else not by_hand(s)) and s.stem not in skip]
    if not scripts:
        print(f"error: no benchmark scripts to run in {args.dir}", file=sys.stderr)
        return 2
    machine = machine_description()
    cwd = args.dir.parent if args.dir.resolve() == HERE else Path.cwd()
    results = []
    for i, script in enumerate(scripts, 1):
        load = settle(args.max_settle) if args.max_settle > 0 else os.getloadavg()[0]
        print(f"[{i}/{len(scripts)}] {script.name} (load {load:.2f}) ...", file=sys.stderr, flush=True)
        r = run_script(script, quick=not args.full, timeout=args.timeout, cwd=cwd)
        print(f"[{i}/{len(scripts)}] {script.name}: {r['status']} in {r['seconds']:.1f} s", file=sys.stderr, flush=True)
        results.append(r)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tail = kept_tail(args.output)
    args.output.write_text(render(results, machine, quick=not args.full) + "\n" + (f"\n{tail}" if tail else ""))
    failed = [r["name"] for r in results if r["status"] != "ok"]
    print(f"wrote {args.output}" + (f"; failed: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
