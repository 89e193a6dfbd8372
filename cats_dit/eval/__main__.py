"""``python -m cats_dit.eval``: measure a generator against real images with the breed classifier."""

from __future__ import annotations

import argparse
import json
import sys

from ..guidance import check_guidance_interval
from .evaluate import EvalSettings, run_eval


def _floats(text: str) -> list[float]:
    if text.strip().lower() in ("", "none", "off"):
        return []
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 1,2,3,5; got {text!r}") from None


def parse_interval(text: str) -> list[float]:
    """``LOW,HIGH`` -> [low, high] with 0 <= low <= high <= 1 (argparse names the problem otherwise)."""
    try:
        return list(check_guidance_interval(_floats(text)))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cats_dit.eval",
        description="Generate N images per breed and measure them: breed fidelity (does the classifier agree?), "
        "Fréchet distance, KID and k-NN precision/recall in the classifier's penultimate feature space, next to "
        "the real-test-vs-real-train floor; optional Inception FID/KID from local weights. Writes eval.json, "
        "confusion_matrix.png, samples.png and guidance_sweep.png to --out.",
    )
    p.add_argument(
        "--generator", required=True, help="pipeline folder (model_index.json) or ONNX models folder (models.json)"
    )
    p.add_argument("--classifier", required=True, help="BreedClassifier folder (config.json + model.safetensors)")
    p.add_argument(
        "--real", required=True, help="real images: Oxford-IIIT Pet root, cartoon-cats root, or an image folder"
    )
    p.add_argument("--out", default="eval_out", help="output folder (default: eval_out)")
    p.add_argument("--per-breed", type=int, default=50, help="generated images per breed (default: 50)")
    p.add_argument("--steps", type=int, default=20, help="sampling steps (default: 20)")
    p.add_argument(
        "--guidance",
        type=float,
        default=None,
        help="guidance scale for the main numbers (default: the generator's own, from model_index.json or models.json; else 3)",
    )
    p.add_argument("--solver", choices=["euler", "heun"], default=None, help="sampler (default: the generator's)")
    p.add_argument(
        "--guidance-interval",
        type=parse_interval,
        default=None,
        metavar="LOW,HIGH",
        help="noise levels (1 = pure noise) at which guidance applies, e.g. 0.2,1 (default: the generator's own)",
    )
    p.add_argument("--seed", type=int, default=0, help="first noise seed; image i uses seed + i (default: 0)")
    p.add_argument(
        "--breeds", default=None, help="comma-separated breeds (default: every label in the real train split)"
    )
    p.add_argument("--cats-only", action="store_true", help="use only cat images of the real set")
    p.add_argument("--max-real-per-breed", type=int, default=200, help="real training images per breed (default: 200)")
    p.add_argument(
        "--guidance-sweep",
        type=_floats,
        default=[1.0, 2.0, 3.0, 5.0],
        help="guidance scales for the sweep plot, comma-separated, or 'none' (default: 1,2,3,5)",
    )
    p.add_argument(
        "--sweep-per-breed", type=int, default=None, help="images per breed in the sweep (default: --per-breed)"
    )
    p.add_argument(
        "--inception-weights",
        default=None,
        help="local torch-fidelity InceptionV3 weights (.pth or .safetensors) to add FID/KID; never downloaded",
    )
    p.add_argument(
        "--onnx-precision",
        choices=["fp32", "fp16", "int8"],
        default=None,
        help="ONNX generator variant (default: models.json's default_precision)",
    )
    p.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default: 100)")
    p.add_argument("--kid-subset-size", type=int, default=1000, help="KID subset size, capped by the set sizes")
    p.add_argument("--pr-k", type=int, default=3, help="k of the k-NN precision/recall (default: 3)")
    p.add_argument("--batch-size", type=int, default=32, help="generation batch size (default: 32)")
    p.add_argument(
        "--judge",
        default=None,
        help="independent judge folder (python -m cats_dit.eval.train_judge): adds fidelity and FD in its space",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.per_breed < 4:
        print(
            f"error: --per-breed must be at least 4 (precision/recall needs k+1 samples), got {args.per_breed}",
            file=sys.stderr,
        )
        return 2
    settings = EvalSettings(
        generator=args.generator,
        classifier=args.classifier,
        real=args.real,
        out=args.out,
        per_breed=args.per_breed,
        steps=args.steps,
        guidance=args.guidance,
        solver=args.solver,
        guidance_interval=args.guidance_interval,
        seed=args.seed,
        breeds=[b.strip() for b in args.breeds.split(",") if b.strip()] if args.breeds else None,
        cats_only=args.cats_only,
        max_real_per_breed=args.max_real_per_breed,
        guidance_sweep=args.guidance_sweep,
        sweep_per_breed=args.sweep_per_breed,
        inception_weights=args.inception_weights,
        onnx_precision=args.onnx_precision,
        kid_subsets=args.kid_subsets,
        kid_subset_size=args.kid_subset_size,
        pr_k=args.pr_k,
        batch_size=args.batch_size,
        judge=args.judge,
    )
    try:
        result = run_eval(settings)
    except (FileNotFoundError, ValueError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result["summary"], indent=2))
    print(f"wrote {args.out}/eval.json and {', '.join(result['files'].values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
