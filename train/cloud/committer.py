"""Commits the runs volume as soon as each training checkpoint appears, so a preempted attempt loses little."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path


class CheckpointCommitter:
    """Calls ``commit()`` whenever a new ``checkpoint-<step>`` folder appears, and once at the end.

    The training script renames a checkpoint into place only when it is complete, so a folder
    named ``checkpoint-<step>`` is safe to persist the moment it is seen.
    """

    def __init__(self, checkpoints_dir: Path, commit: Callable[[], None], poll_seconds: float = 30.0):
        self.dir, self.commit, self.poll = Path(checkpoints_dir), commit, poll_seconds
        self.seen: set[str] = set(self._names())
        self.committed: list[str] = []  # checkpoint names, in the order they were committed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="checkpoint-committer", daemon=True)

    def _names(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.name for p in self.dir.iterdir() if re.fullmatch(r"checkpoint-\d+", p.name) and p.is_dir())

    def check(self) -> list[str]:
        """Commit if new checkpoints appeared since the last look; returns their names."""
        new = [n for n in self._names() if n not in self.seen]
        if new:
            self.seen.update(new)
            self.commit()
            self.committed += new
            print(f"[modal_app] committed the runs volume after {', '.join(new)}", flush=True)
        return new

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.check()
            except Exception as exc:  # a failed commit must not kill training; the next one retries
                print(f"[modal_app] volume commit failed, will retry: {exc}", flush=True)

    def __enter__(self) -> CheckpointCommitter:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.check()
        self.commit()  # samples, logs, the final pipeline
