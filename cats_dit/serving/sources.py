"""Where the weights come from: a local folder or a Hub repo id, from the CLI, env vars or the default.

Precedence: command line (``--model`` / ``--classifier``) > environment (``CATS_DIT_MODEL`` /
``CATS_DIT_CLASSIFIER``) > the committed demo weights in ``weights/pipeline`` and
``weights/classifier`` (trained on synthetic cartoon cats, not photos).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PIPELINE = REPO_ROOT / "weights" / "pipeline"
DEFAULT_CLASSIFIER = REPO_ROOT / "weights" / "classifier"
ENV_MODEL = "CATS_DIT_MODEL"
ENV_CLASSIFIER = "CATS_DIT_CLASSIFIER"
ENV_ONNX_DIR = "CATS_DIT_ONNX_DIR"
ENV_BACKEND = "CATS_DIT_BACKEND"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelLoadError(RuntimeError):
    """Weights could not be found or loaded; the message says which folder and why."""


@dataclass(frozen=True)
class ModelSource:
    """What the user asked for (``spec``), where it was set (``origin``), and whether it is the demo."""

    spec: str
    origin: str
    is_default: bool = False

    @property
    def is_hub(self) -> bool:
        return not Path(self.spec).exists() and not self.is_default and bool(_REPO_ID.match(self.spec))

    def describe(self) -> str:
        where = f"Hub repo `{self.spec}`" if self.is_hub else f"folder `{self.spec}`"
        return f"{where} ({self.origin})"


def choose_source(cli_value: str | None, env_name: str, default: Path) -> ModelSource:
    if cli_value:
        return ModelSource(str(cli_value), "command line")
    if os.environ.get(env_name):
        return ModelSource(os.environ[env_name], f"env {env_name}")
    return ModelSource(str(default), "default: committed demo weights", is_default=True)


def resolve_folder(source: ModelSource, what: str, marker: str, subfolder: str = "classifier") -> Path:
    """Local folder for ``source`` (downloading a Hub repo), checked to contain ``marker``.

    A repo written by ``python -m cats_dit.hub push`` keeps the classifier in ``classifier/``,
    so ``--classifier USER/NAME`` finds it there."""
    path = Path(source.spec).expanduser()
    if path.is_dir():
        if not (path / marker).is_file() and (path / subfolder / marker).is_file():
            return path / subfolder  # a published repo: pipeline at the root, classifier/ beside it
        if not (path / marker).is_file():
            raise ModelLoadError(f"The {what} folder {path} is broken: {marker} is missing")
        return path
    if source.is_hub:
        from huggingface_hub import snapshot_download

        try:
            path = Path(snapshot_download(source.spec))
        except Exception as exc:
            raise ModelLoadError(
                f"The {what} {source.spec!r} is not a local folder and could not be downloaded from the "
                f"Hugging Face Hub ({type(exc).__name__}: {exc}). Offline? Give a local folder instead."
            ) from exc
        if not (path / marker).is_file() and (path / subfolder / marker).is_file():
            return path / subfolder
        if not (path / marker).is_file():
            raise ModelLoadError(f"Hub repo {source.spec!r} has no {marker}; is it a {what}?")
        return path
    hint = ""
    if source.is_default:
        hint = (
            " The demo weights should be committed in weights/; train your own with train/ "
            "or pass --model / --classifier (a folder or a Hub repo id)."
        )
    raise ModelLoadError(f"The {what} folder {path} does not exist.{hint}")
