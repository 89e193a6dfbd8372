"""One export of the tiny test models shared by a whole test session (see ``cats_dit.testing``)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from ..testing import make_tiny_models


@functools.cache
def exported_tiny_models() -> tuple[Path, Path, Path]:
    """One full export (fp32, fp16, int8) of the tiny models per process:
    (pipeline folder, classifier folder, models folder). Treat as read-only."""
    from .export import run_export

    root = Path(tempfile.mkdtemp(prefix="cats_dit_export_test_"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    pipe_dir, clf_dir = make_tiny_models(root)
    run_export(pipe_dir, clf_dir, root / "models", log=lambda *_: None)
    return pipe_dir, clf_dir, root / "models"
