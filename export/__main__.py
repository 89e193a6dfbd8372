"""``python -m export``: command line of :func:`cats_dit.onnx.run_export` (the export itself lives in the library)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from cats_dit.onnx.configs import OPSET
from cats_dit.onnx.export import ExportError, ExportOptions, run_export
from cats_dit.onnx.validate import ExportValidationError
from cats_dit.onnx.variants import MAX_FILE_BYTES, PRECISIONS

DEFAULT_OUTPUT = Path("static_site/models")  # what the static page serves


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m export",
        description="Export a CatsDiT pipeline and a breed classifier to ONNX (fp32, fp16 weights, int8 dynamic), "
        "validate every file against PyTorch, measure the quality users see (generator PSNR of full sampling runs, "
        "classifier top-1 agreement) and write models.json for the browser page and the onnxruntime pipeline.",
    )
    p.add_argument(
        "--pipeline", default="weights/pipeline", help="pipeline folder (save_pretrained) or Hub id; 'none' to skip"
    )
    p.add_argument(
        "--classifier", default="weights/classifier", help="BreedClassifier folder or Hub id; 'none' to skip"
    )
    p.add_argument("--output", default=str(DEFAULT_OUTPUT), help="output folder (default: %(default)s)")
    p.add_argument("--precisions", default=",".join(PRECISIONS), help="comma-separated subset of fp32,fp16,int8")
    p.add_argument(
        "--only-default",
        action="store_true",
        help="measure every precision, then keep only each model's default one (what the static page loads)",
    )
    p.add_argument("--opset", type=int, default=OPSET, help="ONNX opset (default: %(default)s)")
    p.add_argument("--steps", type=int, default=None, help="default sampling steps written to models.json (default 20)")
    p.add_argument("--guidance", type=float, default=None, help="default guidance scale for models.json (default 3.0)")
    p.add_argument("--quality-seed", type=int, default=0, help="seed of the quality runs (default: %(default)s)")
    p.add_argument(
        "--max-file-mb",
        type=float,
        default=MAX_FILE_BYTES / 1e6,
        help="split weights into external data files above this size (default: %(default)s)",
    )
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # A kill (e.g. `timeout`) becomes SystemExit, so the temporary folder is removed on the way out.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    none = {"none", ""}
    try:
        run_export(
            None if args.pipeline.lower() in none else args.pipeline,
            None if args.classifier.lower() in none else args.classifier,
            args.output,
            ExportOptions(
                precisions=[s for s in args.precisions.split(",") if s.strip()],
                opset=args.opset,
                steps=args.steps,
                guidance=args.guidance,
                quality_seed=args.quality_seed,
                max_file_bytes=int(args.max_file_mb * 1e6),
                only_default=args.only_default,
            ),
        )
    except (ExportError, ExportValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
