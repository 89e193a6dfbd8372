"""The one test for "this string names a Hugging Face Hub repo" (``owner/name``)."""

from __future__ import annotations

import re

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def looks_like_repo_id(spec) -> bool:
    """``owner/name`` in the Hub's spelling; callers decide whether a local path of that name wins."""
    return bool(REPO_ID.match(str(spec)))
