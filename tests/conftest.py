"""Shared pytest fixtures.

Data fixtures are prefixed ``cartoon_``: small cartoon-cat trees in the
exact Oxford-IIIT Pet layout, drawn once per test session.
"""

import pytest


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
