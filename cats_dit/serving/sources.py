"""Where the weights come from: a local folder or a Hub repo id, from the CLI, env vars or the default.

Precedence: command line (``--model`` / ``--classifier``) > environment (``CATS_DIT_MODEL`` /
``CATS_DIT_CLASSIFIER``) > the default weights folder the caller passes (``app.py`` passes the
committed demo weights, ``weights/``: trained on synthetic cartoon cats, not photos). The library
never guesses where a checkout is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..repo_id import looks_like_repo_id

ENV_MODEL = "CATS_DIT_MODEL"
ENV_CLASSIFIER = "CATS_DIT_CLASSIFIER"
ENV_ONNX_DIR = "CATS_DIT_ONNX_DIR"
ENV_BACKEND = "CATS_DIT_BACKEND"


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
        return not Path(self.spec).exists() and not self.is_default and looks_like_repo_id(self.spec)

    def describe(self) -> str:
        where = f"Hub repo `{self.spec}`" if self.is_hub else f"folder `{self.spec}`"
        return f"{where} ({self.origin})"


def choose_source(cli_value: str | None, env_name: str, default: Path | None) -> ModelSource:
    """``default`` None: the caller has no default weights, so leaving both unset is an error."""
    if cli_value:
        return ModelSource(str(cli_value), "command line")
    if os.environ.get(env_name):
        return ModelSource(os.environ[env_name], f"env {env_name}")
    if default is None:
        return ModelSource("", "no default weights given", is_default=True)
    return ModelSource(str(default), "default: committed demo weights", is_default=True)


def resolve_folder(source: ModelSource, what: str, marker: str, subfolder: str = "classifier") -> Path:
    """Local folder for ``source`` (downloading a Hub repo), checked to contain ``marker``.

    A repo written by ``python -m cats_dit.hub push`` keeps the classifier in ``classifier/``,
    so ``--classifier USER/NAME`` finds it there."""
    if not source.spec:
        raise ModelLoadError(f"No {what} given: pass --model / --classifier (a folder or a Hub repo id).")
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
