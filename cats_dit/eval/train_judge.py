"""``python -m cats_dit.eval.train_judge``: train the independent judge on real images.

    python -m cats_dit.data cartoon --root data/judge_cartoon --per-class 200 --seed 4242
    python -m cats_dit.eval.train_judge --real data/judge_cartoon --size 32 --out runs/judge32
    python -m cats_dit.eval --generator weights/pipeline --classifier weights/classifier \\
        --real data/cartoon_eval --judge runs/judge32

Use a real set the generator never trained on (a fresh cartoon draw, or Oxford's test split for
an Oxford generator) so the judge owes nothing to the generator's data.
"""

from __future__ import annotations

import argparse
import sys

from .judge import accuracy, train_judge
from .real import load_images, load_split


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cats_dit.eval.train_judge", description=__doc__.split("\n")[0])
    p.add_argument("--real", required=True, help="Oxford-IIIT Pet root, cartoon-cats root, or an image folder")
    p.add_argument("--size", type=int, required=True, help="the generator's resolution in pixels")
    p.add_argument("--out", required=True, help="folder for judge_config.json + judge.safetensors")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        train_x, train_y = load_images(load_split(args.real, "trainval", seed=args.seed), args.size, "train images")
        test_x, test_y = load_images(load_split(args.real, "test", seed=args.seed), args.size, "test images")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    judge = train_judge(train_x, train_y, epochs=args.epochs, seed=args.seed)
    acc = accuracy(judge, test_x, test_y)
    judge.save_pretrained(args.out, {"test_accuracy": acc, "train_images": len(train_y), "real": str(args.real)})
    print(f"judge: {acc:.1%} on {len(test_y)} real test images at {args.size} px; saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
