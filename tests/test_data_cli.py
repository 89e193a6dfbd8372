"""python -m cats_dit.data: --help on every subcommand, cartoon, info, montage."""

import pytest
from PIL import Image

from cats_dit.data.__main__ import main

COMMANDS = ("cartoon", "info", "montage", "download")


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(c in out for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_subcommand_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--root" in out and "usage:" in out


def test_cartoon_info_montage(tmp_path, capsys):
    root = tmp_path / "pets"
    assert main(["cartoon", "--root", str(root), "--per-class", "3", "--seed", "5", "--test-fraction", "0.34"]) == 0
    assert "Wrote 39 cartoon images" in capsys.readouterr().out
    assert main(["info", "--root", str(root), "--val-fraction", "0.4"]) == 0
    table = capsys.readouterr().out
    assert "| Bengal | 1 | 1 | 1 |" in table and "| **total** | 13 | 13 | 13 |" in table
    assert main(["montage", "--root", str(root), "--out", str(tmp_path / "grid.png"), "--per-class", "3"]) == 0
    with Image.open(tmp_path / "grid.png") as im:
        assert im.size == (120 + 3 * 96, 13 * 96)
