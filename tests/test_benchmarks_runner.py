"""python -m benchmarks: runs every script, passes --quick where supported, reports failures, describes the machine."""

import subprocess
import sys
import textwrap
from pathlib import Path

from benchmarks.__main__ import KEEP_MARKER, discover, main

REPO = Path(__file__).resolve().parents[1]

QUICK = """
import argparse
p = argparse.ArgumentParser()
p.add_argument("--quick", action="store_true")
args = p.parse_args()
print("Speed of nothing, measured.")
print()
print("| mode | items/s |")
print("|---|---|")
print(f"| {'quick' if args.quick else 'full'} | 123.4 |")
"""
PLAIN = """
import argparse, sys
argparse.ArgumentParser().parse_args()  # would fail on an unexpected --quick
print("| table | only |")
print("|---|---|")
print("| plain | 7 |")
"""
BROKEN = """
import sys
print("starting", flush=True)
print("Traceback (most recent call last):\\nValueError: the model folder weights/nope is missing", file=sys.stderr)
sys.exit(3)
"""
NEEDS_DATA = """
# python -m benchmarks: by hand (needs a model folder)
import argparse
p = argparse.ArgumentParser()
p.add_argument("--generator", required=True)
print(f"| swept | {p.parse_args().generator} |")
"""
SLOW = """
import time
print("| never | finished |")
time.sleep(60)
"""


def _write(folder: Path, name: str, code: str) -> None:
    (folder / name).write_text(textwrap.dedent(code))


def test_report_has_machine_tables_and_failures(tmp_path, capsys):
    scripts = tmp_path / "benchmarks"
    scripts.mkdir()
    _write(scripts, "bench_model.py", QUICK)
    _write(scripts, "bench_app.py", PLAIN)
    _write(scripts, "bench_inference.py", BROKEN)
    _write(scripts, "zz_slow.py", SLOW)
    _write(scripts, "_helper.py", "raise SystemExit('helpers are not benchmarks')")
    _write(scripts, "sweep_things.py", NEEDS_DATA)
    assert [p.name for p in discover(scripts)] == [
        "bench_model.py", "bench_inference.py", "bench_app.py", "sweep_things.py", "zz_slow.py"
    ]  # fmt: skip

    out = tmp_path / "RESULTS.md"
    hand = f"{KEEP_MARKER}\n\n## Measured by hand\n\n| by | hand |\n"
    out.write_text("# an older report\n\n| stale | 1 |\n\n" + hand)
    code = main(["--dir", str(scripts), "--output", str(out), "--timeout", "5", "--max-settle", "0"])
    assert code == 1  # a failure is not hidden in the exit code either
    report = out.read_text()
    for needle in ("## Machine", "| CPU |", "| cores |", "| RAM |", "| torch |", "| onnxruntime |", "| date |"):
        assert needle in report, needle
    assert "| quick | 123.4 |" in report and "Speed of nothing, measured." in report
    assert "| plain | 7 |" in report
    assert "| bench_inference | failed (exit code 3) |" in report
    assert "ValueError: the model folder weights/nope is missing" in report
    assert "| zz_slow | timed out after 5 s |" in report
    assert "_helper" not in report
    assert "sweep_things" not in report  # it needs arguments: only run by name
    assert "| stale | 1 |" not in report and report.endswith(hand)  # the hand-measured part survives, once
    assert report.index("## bench_model") < report.index("## bench_inference") < report.index("## bench_app")

    assert (
        main(["--dir", str(scripts), "--output", str(out), "--only", "bench_model", "--full", "--max-settle", "0"]) == 0
    )
    assert "| full | 123.4 |" in out.read_text() and "bench_app" not in out.read_text()
    assert out.read_text().count(KEEP_MARKER) == 1
    assert (
        main(["--dir", str(scripts), "--output", str(out), "--only", "sweep_things", "--max-settle", "0"]) == 1
    )  # named: it runs
    assert "the following arguments are required: --generator" in out.read_text()
    assert main(["--dir", str(scripts), "--only", "bench_nope"]) == 2
    assert "no such benchmark script" in capsys.readouterr().err


def test_settle_waits_for_a_quiet_machine_and_gives_up_at_its_limit(monkeypatch):
    from benchmarks import __main__ as runner

    loads = iter([2.5, 1.6, 1.1, 0.7, 0.4])
    monkeypatch.setattr(runner.os, "getloadavg", lambda: (next(loads), 0.0, 0.0))
    monkeypatch.setattr(runner.time, "sleep", lambda s: None)
    assert runner.settle(max_wait=60) == 0.7  # stops at the first reading below 1
    monkeypatch.setattr(runner.os, "getloadavg", lambda: (3.0, 0.0, 0.0))
    assert runner.settle(max_wait=0.05, poll=0.01) == 3.0  # a busy machine: it gives up, never hangs


def test_module_entry_point_lists_the_real_scripts():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--list"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    listed = proc.stdout.split()
    for script in sorted((REPO / "benchmarks").glob("bench_*.py")):
        assert script.name in listed
    assert "sweep_sampling.py  (by hand: only with --only)" in proc.stdout
    help_text = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    ).stdout
    assert "RESULTS.md" in help_text and "--full" in help_text
