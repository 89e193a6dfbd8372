"""The Hub custom-code copies (``weights/pipeline/**.py`` and any other committed copy of the three
Hub files) must equal the package's files: ``CatsDiTPipeline.from_pretrained`` uses the package's
classes, so a drifted copy would only break ``trust_remote_code`` users, silently."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HUB_FILES = ("modeling_tinydit.py", "scheduling_flow_match.py", "pipeline_cats_dit.py")
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", "cats_dit"}


def _python_files(root: Path) -> list[Path]:
    """The tracked .py files of a git checkout (not runs/ or data/ a user trained into), else all."""
    if (root / ".git").exists():
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "*.py"], capture_output=True, text=True)
        if listed.returncode == 0:
            return sorted(root / line for line in listed.stdout.splitlines())
    return sorted(root.rglob("*.py"))


def hub_code_copies(root: Path) -> list[Path]:
    """Every file named like a Hub file outside ``root/cats_dit`` (and outside tool folders)."""
    found = []
    for path in _python_files(root):
        rel = path.relative_to(root)
        if path.name in HUB_FILES and not SKIP_DIRS.intersection(rel.parts[:-1]):
            found.append(path)
    return found


def drifted(root: Path) -> list[str]:
    """Copies whose bytes differ from ``root/cats_dit/<name>``."""
    return [
        str(p.relative_to(root))
        for p in hub_code_copies(root)
        if p.read_bytes() != (root / "cats_dit" / p.name).read_bytes()
    ]


def test_committed_hub_code_copies_equal_the_package():
    copies = [str(p.relative_to(REPO)) for p in hub_code_copies(REPO)]
    # the published layout: the pipeline file at the root, the model and scheduler in their subfolders
    for expected in (
        "weights/pipeline/pipeline_cats_dit.py",
        "weights/pipeline/transformer/modeling_tinydit.py",
        "weights/pipeline/scheduler/scheduling_flow_match.py",
    ):
        assert expected in copies
    assert drifted(REPO) == [], "re-save the pipeline (save_pretrained copies the package files) or copy them over"


def test_a_drifted_copy_is_caught(tmp_path):
    (tmp_path / "cats_dit").mkdir()
    for name in HUB_FILES:
        (tmp_path / "cats_dit" / name).write_bytes((REPO / "cats_dit" / name).read_bytes())
    copy = tmp_path / "weights" / "pipeline" / "transformer" / "modeling_tinydit.py"
    copy.parent.mkdir(parents=True)
    copy.write_bytes((REPO / "cats_dit" / "modeling_tinydit.py").read_bytes())
    assert drifted(tmp_path) == []
    copy.write_text(copy.read_text() + "\n# edited on the Hub only\n")
    assert drifted(tmp_path) == ["weights/pipeline/transformer/modeling_tinydit.py"]


@pytest.mark.parametrize("name", HUB_FILES)
def test_save_pretrained_writes_the_package_file(tmp_path, name):
    """The copies come from save_pretrained: a fresh save must produce byte-equal files too."""
    from cats_dit import build_pipeline

    out = tmp_path / "pipe"
    build_pipeline("tiny").save_pretrained(out)
    copies = [p for p in hub_code_copies(out.parent) if p.name == name]
    assert copies and all(p.read_bytes() == (REPO / "cats_dit" / name).read_bytes() for p in copies)
