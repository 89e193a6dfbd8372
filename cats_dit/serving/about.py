"""The text of the app's banner and About tab: which weights, from where, their numbers, the backend."""

from __future__ import annotations

import json
from pathlib import Path

from .service import Service


def banner_markdown(service: Service) -> str:
    lines = [f"**The {what} is not available.** {msg}" for what, msg in service.errors.items()]
    extra = service.about_extra
    if extra.get("generator_is_demo") == "True" or extra.get("classifier_is_demo") == "True":
        lines.append(
            "Running the **demo weights** committed with the code: tiny models trained on synthetic "
            "*cartoon cats*, not on photos. Point `--model` / `--classifier` at trained weights for real cats."
        )
    return "\n\n".join(lines) or "Weights: " + service.sources.get("generator", "")


def read_model_card(folder: str | Path | None) -> tuple[dict, str]:
    """(front-matter data, markdown body) of a folder's README.md, or ({}, "") when absent."""
    if folder is None or not (Path(folder) / "README.md").is_file():
        return {}, ""
    try:
        from huggingface_hub import ModelCard

        card = ModelCard.load(Path(folder) / "README.md")
        return card.data.to_dict(), card.text
    except Exception:  # a malformed card must not stop the app
        return {}, (Path(folder) / "README.md").read_text(errors="replace")


def classifier_metrics(folder: str | Path | None) -> dict:
    """Scalar metrics saved in a BreedClassifier folder's config.json (by its training run)."""
    path = Path(folder or "") / "config.json"
    try:
        metrics = json.loads(path.read_text()).get("metrics") or {}
    except (OSError, ValueError):
        return {}
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):  # e.g. per-class accuracy: one line "Abyssinian 1, Bengal 0.989, ..."
            value = ", ".join(f"{k} {_fmt(v)}" for k, v in value.items() if isinstance(v, (int, float)))
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            out[key] = value
    return out


def about_markdown(service: Service) -> str:
    gen, cls = service.generator, service.classifier
    extra = service.about_extra
    rows = [
        "| | generator | classifier |",
        "|---|---|---|",
        f"| source | {service.sources.get('generator', '-')} | {service.sources.get('classifier', '-')} |",
        f"| local folder | `{extra.get('generator_path', '-')}` | `{extra.get('classifier_path', '-')}` |",
        f"| backend | {_backend(gen)} | {_backend(cls)} |",
        f"| demo weights (cartoon cats) | {_yes(extra.get('generator_is_demo'))} | "
        f"{_yes(extra.get('classifier_is_demo'))} |",
    ]
    if gen is not None:
        size = cls.config.get("image_size", "-") if cls is not None else "-"
        rows.append(f"| input / output size | {gen.sample_size} px | {size} px |")
    if getattr(gen, "num_parameters", None):
        rows.append(f"| parameters | {gen.num_parameters / 1e6:.2f} M | |")
    if gen is not None and "guidance_interval" in gen.defaults:
        low, high = gen.defaults["guidance_interval"]
        rows.append(f"| guidance applied at noise levels | {low:g} to {high:g} (1 = pure noise) | |")
    parts = ["## Models", "\n".join(rows)]
    if extra.get("onnx_dir"):
        precision = getattr(gen, "precision", "fp32")
        parts.append(f"ONNX models ({precision}) from `{extra['onnx_dir']}`.")
    if extra.get("auto_backend_note"):
        parts.append(f"Backend `auto`: {extra['auto_backend_note']}.")
    if service.errors:
        parts.append("\n".join(f"- **{k} not loaded:** {v}" for k, v in service.errors.items()))
    metrics = classifier_metrics(extra.get("classifier_path"))
    if metrics:
        parts.append("## Classifier numbers (from its training run)")
        parts.append("| metric | value |\n|---|---|\n" + "\n".join(f"| {k} | {_fmt(v)} |" for k, v in metrics.items()))
    _, body = read_model_card(extra.get("generator_path"))
    if body.strip():
        # the card's own headings sit below this section's
        parts.append("## Generator model card\n\n" + demote_headings(body.strip()))
    parts.append(
        "## Reproducing an image\nImage *k* of a batch with seed *S* uses seed *S + k*; the seed, breed, "
        "steps, guidance and sampler are in each PNG's name and text metadata. The same seed gives the "
        "same image with either backend and in the browser page."
    )
    return "\n\n".join(parts)


def demote_headings(markdown: str, levels: int = 2) -> str:
    """Push markdown headings ``levels`` deeper (outside fenced code) so a card nests under ours."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        out.append("#" * levels + line if line.startswith("#") and not fenced else line)
    return "\n".join(out)


def _backend(component) -> str:
    if component is None:
        return "not loaded"
    return f"{component.backend} ({getattr(component, 'device', 'cpu')})"


def _yes(flag) -> str:
    return "yes" if flag == "True" else "no"


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
