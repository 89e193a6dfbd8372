"""A subprocess whose output goes line by line to the Modal logs and to a log file."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path


def subprocess_env(project_dir: Path) -> dict[str, str]:
    """The environment for training subprocesses: the project importable, output unbuffered."""
    import cats_dit

    package_parent = str(Path(cats_dit.__file__).resolve().parent.parent)
    paths = [str(project_dir), package_parent, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def stream_command(cmd: Sequence[str], cwd: Path, log_file: Path | None = None) -> None:
    """Run ``cmd``, echoing its output line by line (to the Modal logs) and to ``log_file``; raise on failure."""
    header = "$ " + " ".join(cmd)
    print(header, flush=True)
    log = open(log_file, "a") if log_file else None  # noqa: SIM115 (closed below)
    try:
        if log:  # one header per attempt, so a restarted run's log shows where each attempt began
            log.write(header + "\n")
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, env=subprocess_env(cwd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            if log:
                log.write(line)
                log.flush()
        code = proc.wait()
    finally:
        if log:
            log.close()
    if code != 0:
        raise subprocess.CalledProcessError(code, list(cmd))
