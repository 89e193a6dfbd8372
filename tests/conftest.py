"""Shared pytest fixtures: data trees, and Chromium pages on the static page or the app.

Data fixtures are prefixed ``cartoon_``: small cartoon-cat trees in the
exact Oxford-IIIT Pet layout, drawn once per test session.
"""

import sys
from pathlib import Path

import pytest

# The checkout's programs (static_site/, train/, export/, app.py) are folders, not part of the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture(scope="session")
def cartoon_root(tmp_path_factory):
    """13 classes x 6 images (seed 0, test_fraction 0.3), clean files. Treat as read-only."""
    from cats_dit.data import make_cartoon_dataset

    return make_cartoon_dataset(tmp_path_factory.mktemp("cartoon") / "pets", per_class=6, seed=0)


@pytest.fixture(scope="session")
def cartoon_odd_root(tmp_path_factory):
    """Like ``cartoon_root`` but with the awkward files of ``cats_dit.data.cartoon.ODD_FILES``
    (grayscale, CMYK, RGBA PNG named .jpg, zero-byte, truncated JPEG) in trainval. Read-only."""
    from cats_dit.data import make_cartoon_dataset

    return make_cartoon_dataset(tmp_path_factory.mktemp("cartoon_odd") / "pets", per_class=6, seed=0, odd_files=True)


# ---- the static page and the app in Chromium ----------------------------------------------------
# A static-page module defines a ``models`` fixture (an export folder); these serve and open it.
def _serve(models, isolation: bool):
    from static_site import testing as st

    st.ensure_vendor()
    with st.serve(models, isolation=isolation) as url:
        yield url


@pytest.fixture(scope="module")
def isolated_url(models):
    """The dev server with the cross-origin isolation headers (threads), serving ``models``."""
    yield from _serve(models, isolation=True)


@pytest.fixture(scope="module")
def plain_url(models):
    """The dev server as a plain static host (no isolation headers), serving ``models``."""
    yield from _serve(models, isolation=False)


@pytest.fixture(scope="module")
def browser():
    """Debian's /usr/bin/chromium driven by Playwright, one per module."""
    from static_site import testing as st

    with st.chromium() as b:
        yield b


PAGE_DEFAULTS = {"viewport": {"width": 1000, "height": 900}, "timeout_ms": 60_000}


@pytest.fixture
def page_options() -> dict:
    """What ``page`` changes from PAGE_DEFAULTS; a module overrides this fixture to change it."""
    return {}


@pytest.fixture
def page(browser, page_options):
    """A page in a fresh browser context (no cache, no service worker from another test)."""
    options = {**PAGE_DEFAULTS, **page_options}
    context = browser.new_context(viewport=options["viewport"])
    page = context.new_page()
    page.set_default_timeout(options["timeout_ms"])
    yield page
    context.close()
