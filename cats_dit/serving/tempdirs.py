"""Temporary folders of one server process, removed when it exits (normally, Ctrl-C or SIGTERM)."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

GRADIO_TEMP_ENV = "GRADIO_TEMP_DIR"


def private_gradio_temp_dir() -> Path | None:
    """Point Gradio's upload and file cache at a fresh folder of this process (call before importing
    gradio, which reads the variable at import). None when the user chose a folder: theirs is kept."""
    if os.environ.get(GRADIO_TEMP_ENV):
        return None
    path = Path(tempfile.mkdtemp(prefix="cats_dit_gradio_"))
    os.environ[GRADIO_TEMP_ENV] = str(path)
    return path


def remove_on_exit(*folders: Path | str | None) -> None:
    """Delete ``folders`` at interpreter exit, and on SIGTERM (first, then exit normally: if the
    shutdown stalls and the process is killed, the folders are already gone)."""
    paths = [Path(f) for f in folders if f]

    def remove():
        for p in paths:
            shutil.rmtree(p, ignore_errors=True)

    def on_sigterm(signum, _frame):
        remove()
        sys.exit(128 + signum)

    atexit.register(remove)
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, on_sigterm)
