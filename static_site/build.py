"""Build the static page: ``npm ci`` (when node_modules is missing) then ``npm run build``.

    python -m static_site.build [--models DIR]

Copies onnxruntime-web's files into static_site/vendor/. With ``--models DIR`` it also
copies an exported models folder (models.json + ONNX files) to static_site/models/.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

SITE = Path(__file__).resolve().parent


def build(models: Path | None = None) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("error: npm is not installed (Node.js >= 20 is needed to build the static page)")
    if not (SITE / "node_modules" / "onnxruntime-web").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=SITE, check=True)
    subprocess.run([npm, "run", "--silent", "build"], cwd=SITE, check=True)
    if models is not None:
        if not (models / "models.json").is_file():
            raise SystemExit(f"error: {models} has no models.json; export the models first (python -m export)")
        target = SITE / "models"
        if target.resolve() != models.resolve():
            shutil.copytree(models, target, dirs_exist_ok=True)
    return SITE / "vendor"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models", type=Path, default=None, help="exported models folder to copy to static_site/models/"
    )
    args = parser.parse_args(argv)
    print(f"built {build(args.models)}", file=sys.stderr)


if __name__ == "__main__":
    main()
