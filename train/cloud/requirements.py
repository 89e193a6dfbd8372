"""Which lines of requirements.txt the training image installs."""

from __future__ import annotations

import re
from pathlib import Path

# Packages of requirements.txt the training image does not need (tests, browser, UI).
DEV_ONLY_PACKAGES = {"pytest", "pytest-timeout", "playwright", "ruff", "gradio"}


def image_requirements(requirements_txt: Path) -> list[str]:
    """The lines of requirements.txt the training image installs (comments and dev-only tools dropped)."""
    keep = []
    for line in requirements_txt.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].strip().lower()
        if name not in DEV_ONLY_PACKAGES:
            keep.append(line)
    return keep
