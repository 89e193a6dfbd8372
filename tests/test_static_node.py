"""The static page's JS modules (noise, scheduler, sampler, preprocessing, breed names) against Python.

Runs ``node --test static_site/tests/`` on reference arrays freshly generated from the
Python code (static_site/tests/make_fixtures.py), and checks that the committed copies of
those arrays (used by ``npm test``) are up to date.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "static_site"
sys.path.insert(0, str(SITE / "tests"))

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(
    NODE is None, reason="node (>= 20) is not installed; the static page's JS tests need it"
)


@pytest.fixture(scope="module")
def fresh_fixtures(tmp_path_factory) -> Path:
    from make_fixtures import write_fixtures

    return write_fixtures(tmp_path_factory.mktemp("fixtures"))


@needs_node
def test_js_noise_scheduler_preprocess_match_python(fresh_fixtures):
    env = {**os.environ, "CATS_DIT_FIXTURES": str(fresh_fixtures)}
    proc = subprocess.run([NODE, "--test", "tests/"], cwd=SITE, env=env, capture_output=True, text=True, timeout=120)
    print(proc.stdout[-4000:])
    assert proc.returncode == 0, f"node tests failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    assert "# fail 0" in proc.stdout
    # The suite really ran the Python-comparison tests (not an empty run).
    assert "noise equals Python" in proc.stdout and "matches Python step by step" in proc.stdout
    assert "breed names resolve as in Python" in proc.stdout


def test_committed_fixtures_are_current(fresh_fixtures):
    for name in ("noise.json", "scheduler.json", "preprocess.json", "breeds.json"):
        committed = json.loads((SITE / "tests" / "fixtures" / name).read_text())
        fresh = json.loads((fresh_fixtures / name).read_text())
        assert committed == fresh, (
            f"static_site/tests/fixtures/{name} is stale: run python static_site/tests/make_fixtures.py"
        )
