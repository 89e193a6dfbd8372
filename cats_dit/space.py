"""Build a lean, torch-free Hugging Face Space folder, and optionally upload it.

``python -m cats_dit.hub space --out DIR [--pipeline DIR] [--classifier DIR] [--onnx DIR] [--push USER/SPACE]``

Folder layout::

    README.md            Space front matter (sdk: gradio, app_file: app.py) and what the folder holds
    requirements.txt     gradio, onnxruntime, numpy, pillow: the versions this folder was built with
    app.py, examples/    the app, unchanged, and its example pictures
    cats_dit/            the library modules the onnxruntime serving path imports (no torch code)
    weights/pipeline/    model_index.json, README.md (model card), onnx/ (models.json + *.onnx)
    weights/classifier/  config.json (labels, preprocessing, training metrics)

``app.py``'s default weights are ``weights/``; its ``auto`` backend finds the export in
``weights/pipeline/onnx/`` and, with no CUDA torch there, serves it with onnxruntime. The torch
weights (``*.safetensors``) stay out: nothing in the Space could load them.

By default the ONNX models are a fresh fp32 export of ``--pipeline`` / ``--classifier`` (what
``--backend onnx`` serves: the same images as the torch pipeline). ``static_site/models/`` is not
the default: it holds only the browser's smaller fp16 files, and it is re-exported by hand.
``--onnx DIR`` ships a ready export instead.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

from .onnx.models_json import NAME as MODELS_JSON
from .onnx.models_json import check_folder
from .repo_id import looks_like_repo_id

PACKAGE = Path(__file__).resolve().parent
# What `import app` and the onnxruntime backend load; the torch backend's modules stay out.
LIBRARY_FILES = (
    "__init__.py",
    "breeds.py",
    "guidance.py",
    "noise.py",
    "preprocessing.py",
    "repo_id.py",
    "onnx_pipeline.py",
    "onnx/__init__.py",
    "onnx/models_json.py",
    "serving/*.py",
)
REQUIREMENTS = ("gradio", "onnxruntime", "numpy", "pillow")
CLASSIFIER_FILES = ("config.json", "README.md")
PIPELINE_FILES = ("model_index.json", "README.md")


class SpaceError(RuntimeError):
    """A problem with the inputs, the output folder or the login, reported before anything is uploaded."""


def check_onnx_folder(onnx: Path) -> None:
    """A ready export must hold models.json and every file it lists, for both models."""
    if not (onnx / MODELS_JSON).is_file():
        raise SpaceError(f"--onnx {onnx} has no {MODELS_JSON} (write one with `python -m export`)")
    try:
        document = check_folder(onnx)
    except (OSError, ValueError) as exc:
        raise SpaceError(f"--onnx {onnx}: {exc}") from exc
    missing = [part for part in ("generator", "classifier") if not document.get(part, {}).get("files")]
    if missing:
        raise SpaceError(f"--onnx {onnx}: {MODELS_JSON} lists no {' and no '.join(missing)} model")


def check_weights(pipeline: Path, classifier: Path, export: bool) -> None:
    if not (pipeline / "model_index.json").is_file():
        raise SpaceError(f"--pipeline {pipeline} is not a pipeline folder (model_index.json is missing)")
    if not (classifier / "config.json").is_file():
        raise SpaceError(f"--classifier {classifier} is not a BreedClassifier folder (config.json is missing)")
    if export and not (classifier / "model.safetensors").is_file():
        raise SpaceError(f"--classifier {classifier} has no model.safetensors to export (or pass --onnx DIR)")


def export_onnx(pipeline: Path, classifier: Path, output: Path) -> None:
    try:
        from .onnx import run_export

        run_export(pipeline, classifier, output, precisions=["fp32"], log=lambda *a, **k: None)
    except ImportError as exc:
        raise SpaceError(
            f"exporting to ONNX needs the package's `export` extra ({exc}); install it or pass --onnx DIR"
        ) from exc
    except Exception as exc:  # ExportError, ExportValidationError, a torch/onnx failure
        raise SpaceError(f"the ONNX export of {pipeline} and {classifier} failed: {type(exc).__name__}: {exc}") from exc


def requirements_txt() -> str:
    pins = "\n".join(f"{name}=={version(name)}" for name in REQUIREMENTS)
    return (
        "# The lean Space: onnxruntime serves the ONNX models, so no torch, diffusers or transformers.\n"
        "# Pinned to the versions this folder was built and tested with.\n" + pins + "\n"
    )


def readme_md(onnx_origin: str) -> str:
    from huggingface_hub import SpaceCardData

    data = SpaceCardData(
        title="Cats DiT",
        emoji="🐈",
        colorFrom="yellow",
        colorTo="purple",
        sdk="gradio",
        sdk_version=version("gradio"),
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        app_file="app.py",
        suggested_hardware="cpu-basic",
        pinned=False,
        license="mit",
        short_description="A tiny Diffusion Transformer that draws cat breeds",
    )
    return f"""---
{data.to_yaml()}
---

# Cats DiT (lean Space)

A tiny Diffusion Transformer that draws 12 cat breeds, and a classifier that names them. This Space
runs both models with **onnxruntime alone**: `requirements.txt` holds gradio, onnxruntime, numpy and
pillow, and no torch.

- `app.py`: the Gradio app (`/generate` and `/classify` API endpoints for `gradio_client`).
- `cats_dit/`: the library modules the onnxruntime path needs.
- `weights/pipeline/onnx/`: the ONNX generator and classifier with their `models.json` ({onnx_origin}).
- `weights/pipeline/README.md`: the generator's model card (shown in the About tab).

Built with `python -m cats_dit.hub space`.
"""


def copy_library(dest: Path) -> None:
    for pattern in LIBRARY_FILES:
        for src in sorted(PACKAGE.glob(pattern)):
            target = dest / "cats_dit" / src.relative_to(PACKAGE)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def copy_named(src: Path, dest: Path, names: tuple[str, ...]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (src / name).is_file():
            shutil.copy2(src / name, dest / name)


def write_folder(dest: Path, app: Path, pipeline: Path, classifier: Path, onnx: Path | None) -> None:
    shutil.copy2(app, dest / "app.py")
    examples = sorted((app.parent / "examples").glob("*.png"))
    if examples:
        (dest / "examples").mkdir()
        for png in examples:
            shutil.copy2(png, dest / "examples" / png.name)
    copy_library(dest)
    copy_named(pipeline, dest / "weights" / "pipeline", PIPELINE_FILES)
    copy_named(classifier, dest / "weights" / "classifier", CLASSIFIER_FILES)
    onnx_dest = dest / "weights" / "pipeline" / "onnx"
    if onnx is None:
        export_onnx(pipeline, classifier, onnx_dest)
        origin = "a fresh fp32 export of the weights"
    else:
        onnx_dest.mkdir()
        document = check_folder(onnx)
        for part in ("generator", "classifier"):
            for entry in document[part]["files"].values():
                for item in [entry, *entry.get("external_data", [])]:
                    shutil.copy2(onnx / item["name"], onnx_dest / item["name"])
        shutil.copy2(onnx / MODELS_JSON, onnx_dest / MODELS_JSON)
        origin = "copied from a ready export"
    check_folder(onnx_dest)
    (dest / "requirements.txt").write_text(requirements_txt())
    (dest / "README.md").write_text(readme_md(origin))


def build_space(out: Path, app: Path, pipeline: Path, classifier: Path, onnx: Path | None = None) -> Path:
    """Write the Space folder to ``out`` (new or empty). A failure leaves no half-written folder."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SpaceError(f"--out {out} exists and is not an empty folder; choose a new one")
    if not app.is_file():
        raise SpaceError(f"--app {app} does not exist (run from the checkout, or pass --app PATH/app.py)")
    if onnx is not None:
        check_onnx_folder(onnx)
    check_weights(pipeline, classifier, export=onnx is None)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_folder(tmp, app.resolve(), pipeline, classifier, onnx)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def push_space(folder: Path, repo_id: str, token: str, private: bool = False) -> str:
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id, repo_type="space", folder_path=folder, commit_message="Upload the lean cats_dit Space"
        )
    except Exception as exc:  # HTTP errors: say what failed, never echo headers (they hold the token)
        raise SpaceError(
            f"Upload to Space {repo_id} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    return str(url)


def run(args: argparse.Namespace) -> Path:
    token = None
    if args.push:  # fail before the export, not after it
        from huggingface_hub import get_token

        if not looks_like_repo_id(args.push):
            raise SpaceError(f"--push {args.push!r} must look like 'user/name'")
        token = get_token()
        if not token:
            raise SpaceError("No Hugging Face token: set HF_TOKEN or run `hf auth login`. Nothing was built.")
    onnx = Path(args.onnx) if args.onnx else None
    folder = build_space(Path(args.out), Path(args.app), Path(args.pipeline), Path(args.classifier), onnx)
    print(f"wrote the Space folder {folder}")
    if args.push:
        print(f"uploaded to {push_space(folder, args.push, token, args.private)}")
    return folder


def add_parser(sub) -> argparse.ArgumentParser:
    q = sub.add_parser(
        "space",
        help="write (and optionally upload) a lean, torch-free Gradio Space folder",
        description="Write a Hugging Face Space folder that serves the app with onnxruntime alone: app.py, the "
        "library modules it needs, the ONNX generator + classifier (a fresh fp32 export of --pipeline/--classifier, "
        "or --onnx DIR), a README with Space front matter and a requirements.txt of gradio, onnxruntime, numpy and "
        "pillow. Defaults are relative to the current folder: run it from the checkout. --push uploads the folder "
        "(needs the internet and HF_TOKEN or a cached login).",
    )
    q.add_argument("--out", required=True, help="folder to write (must be new or empty)")
    q.add_argument("--pipeline", default="weights/pipeline", help="CatsDiTPipeline folder (default: %(default)s)")
    q.add_argument("--classifier", default="weights/classifier", help="BreedClassifier folder (default: %(default)s)")
    q.add_argument(
        "--onnx",
        default=None,
        help="ship this ready export (models.json + *.onnx, e.g. a python -m export output) instead of exporting "
        "fp32 (a folder without fp32 is served at its default precision)",
    )
    q.add_argument(
        "--app", default="app.py", help="the Gradio app to ship; its examples/*.png go too (default: app.py)"
    )
    q.add_argument("--push", default=None, metavar="USER/SPACE", help="then upload the folder to this Space")
    q.add_argument("--private", action="store_true", help="with --push: create the Space as private")
    return q
