"""A contact sheet of a data root: one row per class."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from ...breeds import LABELS


def montage(root: str | Path, out: str | Path, per_class: int = 8, cell: int = 96, split: str = "all") -> Path:
    """A PNG grid: one row per class (label name at left), ``per_class`` images each."""
    from ..layouts import load_records

    records = load_records(root, split=split)
    by_label: dict[int, list] = {}
    for r in records:
        by_label.setdefault(r.label, []).append(r)
    rows = sorted(by_label)
    label_w = 120
    sheet = Image.new("RGB", (label_w + per_class * cell, len(rows) * cell), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    from ..images import open_rgb

    for i, label in enumerate(rows):
        draw.text((4, i * cell + cell // 2 - 6), LABELS[label], fill=(0, 0, 0))
        for j, r in enumerate(by_label[label][:per_class]):
            try:
                im = open_rgb(r.path)
            except Exception:
                continue
            im.thumbnail((cell - 4, cell - 4))
            sheet.paste(im, (label_w + j * cell + 2, i * cell + 2))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
