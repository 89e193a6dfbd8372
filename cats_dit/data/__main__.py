"""python -m cats_dit.data {cartoon,info,montage,download} --help"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path


def _cartoon(args) -> int:
    from .cartoon import make_cartoon_dataset

    root = make_cartoon_dataset(
        args.root,
        per_class=args.per_class,
        seed=args.seed,
        test_fraction=args.test_fraction,
        odd_files=args.odd_files,
        progress=True,
    )
    n = len((root / "annotations" / "list.txt").read_text().splitlines()) - 6
    print(f"Wrote {n} cartoon images in Oxford-IIIT Pet layout to {root}")
    return 0


def _info(args) -> int:
    from ..breeds import LABELS
    from .layouts import load_records

    splits = ["train", "val", "test"]
    counts = {}
    for split in splits:
        recs = load_records(
            args.root, split=split, cats_only=args.cats_only, val_fraction=args.val_fraction, seed=args.seed
        )
        counts[split] = Counter(r.label for r in recs)
        if args.check:
            from .dataset import ImageDataset

            ds = ImageDataset(recs, progress=True)
            counts[split] = Counter(ds.labels)
    print(f"| class | {' | '.join(splits)} |")
    print(f"|---|{'---:|' * len(splits)}")
    for i, name in enumerate(LABELS):
        print(f"| {name} | " + " | ".join(str(counts[s][i]) for s in splits) + " |")
    print("| **total** | " + " | ".join(str(sum(counts[s].values())) for s in splits) + " |")
    return 0


def _montage(args) -> int:
    from .cartoon import montage

    out = montage(args.root, args.out, per_class=args.per_class, cell=args.cell, split=args.split)
    print(f"Wrote {out}")
    return 0


def _download(args) -> int:
    from .download import DownloadError, download_oxford_pets

    try:
        download_oxford_pets(
            args.root, base_url=args.base_url, from_dir=args.from_dir, keep_archives=args.keep_archives
        )
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m cats_dit.data", description="Datasets for cats_dit.")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser(
        "cartoon",
        help="draw the cartoon-cats dataset in Oxford-IIIT Pet layout",
        description="Draw procedural cartoon cats (12 breeds + dogs as 'other') in the exact "
        "Oxford-IIIT Pet layout: images/, annotations/list.txt, trainval.txt, test.txt.",
    )
    c.add_argument("--root", type=Path, required=True, help="output folder (images/ and annotations/ are replaced)")
    c.add_argument("--per-class", type=int, default=100, help="images per class (13 classes; default 100)")
    c.add_argument("--seed", type=int, default=0, help="random seed; same seed -> identical files (default 0)")
    c.add_argument("--test-fraction", type=float, default=0.3, help="fraction of each class in test.txt (default 0.3)")
    c.add_argument(
        "--odd-files",
        action="store_true",
        help="replace a few trainval files by awkward ones (grayscale, CMYK, RGBA PNG named .jpg, "
        "zero-byte, truncated JPEG) to exercise robustness",
    )
    c.set_defaults(func=_cartoon)

    i = sub.add_parser(
        "info",
        help="per-class image counts per split",
        description="Print a markdown table of per-class counts for the train/val/test splits of an "
        "Oxford-IIIT Pet root or an image folder.",
    )
    i.add_argument("--root", type=Path, required=True, help="Oxford-IIIT Pet root or image folder")
    i.add_argument("--cats-only", action="store_true", help="leave out 'other' (dogs)")
    i.add_argument("--val-fraction", type=float, default=0.1, help="validation share of trainval (default 0.1)")
    i.add_argument("--seed", type=int, default=0, help="seed of the validation split (default 0)")
    i.add_argument("--check", action="store_true", help="also open every file and count only usable images")
    i.set_defaults(func=_info)

    m = sub.add_parser(
        "montage",
        help="save a PNG grid of example images per class",
        description="Save a PNG with one row per class, to look at a dataset.",
    )
    m.add_argument("--root", type=Path, required=True, help="Oxford-IIIT Pet root or image folder")
    m.add_argument("--out", type=Path, required=True, help="PNG file to write")
    m.add_argument("--per-class", type=int, default=8, help="images per row (default 8)")
    m.add_argument("--cell", type=int, default=96, help="cell size in pixels (default 96)")
    m.add_argument("--split", default="all", help="split to show (default all)")
    m.set_defaults(func=_montage)

    d = sub.add_parser(
        "download",
        help="download, verify and extract Oxford-IIIT Pet",
        description="Download images.tar.gz and annotations.tar.gz of Oxford-IIIT Pet (resuming a "
        "partial download), verify their MD5 and extract them into ROOT (ROOT/images, "
        "ROOT/annotations). Offline, put the two archives in a folder and use --from-dir.",
    )
    d.add_argument("--root", type=Path, required=True, help="dataset folder to create")
    d.add_argument("--base-url", default=None, help="download from this base URL instead of the official ones")
    d.add_argument(
        "--from-dir",
        type=Path,
        default=None,
        help="extract images.tar.gz and annotations.tar.gz already downloaded into this folder",
    )
    d.add_argument("--keep-archives", action="store_true", help="keep the .tar.gz files in ROOT after extracting")
    d.set_defaults(func=_download)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
