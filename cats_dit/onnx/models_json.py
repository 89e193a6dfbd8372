"""models.json (format_version 1): everything the browser and the onnxruntime pipeline need.

Schema (docs/design.md): labels, display names, null class, generator
(sizes, scheduler config, defaults, default precision, files) and classifier (preprocessing,
default precision, files). Each file entry has name, size, sha256, precision and quality;
a file whose weights were split out also lists ``external_data`` (name, size, sha256 each).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cats_dit.breeds import DISPLAY_NAMES, LABELS, NULL_CLASS_ID

FORMAT_VERSION = 1
NAME = "models.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_entry(paths: list[Path], precision: str, quality: dict | None = None) -> dict:
    """Entry for one model: ``paths[0]`` the .onnx file, the rest its external data files."""
    main, *extra = [Path(p) for p in paths]
    entry = {"name": main.name, "size": main.stat().st_size, "sha256": sha256_file(main), "precision": precision}
    if extra:
        entry["external_data"] = [{"name": p.name, "size": p.stat().st_size, "sha256": sha256_file(p)} for p in extra]
    entry["quality"] = dict(quality or {})
    return entry


def pick_default_precision(files: dict, metric: str, threshold: float) -> str:
    """The smallest variant whose ``quality[metric] >= threshold`` (fp32 when none passes)."""

    def total_size(e: dict) -> int:
        return e["size"] + sum(x["size"] for x in e.get("external_data", []))

    passing = [(total_size(e), p) for p, e in files.items() if e.get("quality", {}).get(metric, -1) >= threshold]
    if passing:
        return min(passing)[1]
    return "fp32" if "fp32" in files else next(iter(files))


def generator_section(transformer_config, scheduler_config: dict, defaults: dict) -> dict:
    return {
        "sample_size": int(transformer_config.sample_size),
        "in_channels": int(transformer_config.in_channels),
        "num_classes": int(transformer_config.num_classes),
        "scheduler": {
            "num_train_timesteps": int(scheduler_config.get("num_train_timesteps", 1000)),
            "shift": float(scheduler_config.get("shift", 1.0)),
            "prediction_type": str(scheduler_config.get("prediction_type", "velocity")),
            "min_sigma_for_x_pred": float(scheduler_config.get("min_sigma_for_x_pred", 0.05)),
        },
        "defaults": dict(defaults),
        "default_precision": "fp32",
        "files": {},
    }


def classifier_section(config: dict) -> dict:
    return {
        "backbone": config.get("backbone"),
        "labels": list(config["labels"]),
        "preprocess": {
            "image_size": int(config["image_size"]),
            "resize_size": int(config["resize_size"]),
            "mean": [float(m) for m in config["mean"]],
            "std": [float(s) for s in config["std"]],
            "interpolation": config.get("interpolation", "bilinear"),
            "antialias": bool(config.get("antialias", False)),
        },
        "default_precision": "fp32",
        "files": {},
    }


def base_document(labels=LABELS, null_class_id: int = NULL_CLASS_ID) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "labels": list(labels),
        "display_names": [DISPLAY_NAMES[LABELS.index(n)] if n in LABELS else n.replace("_", " ") for n in labels],
        "null_class_id": int(null_class_id),
    }


def write(document: dict, folder: Path) -> Path:
    path = Path(folder) / NAME
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def check_folder(folder: Path) -> dict:
    """Re-read ``folder/models.json`` and check every listed file's size and sha256; returns it."""
    folder = Path(folder)
    document = json.loads((folder / NAME).read_text())
    for section in ("generator", "classifier"):
        for precision, entry in document.get(section, {}).get("files", {}).items():
            for item in [entry, *entry.get("external_data", [])]:
                path = folder / item["name"]
                if not path.is_file():
                    raise FileNotFoundError(
                        f"models.json lists {section} {precision} file {item['name']}, which is missing"
                    )
                if path.stat().st_size != item["size"] or sha256_file(path) != item["sha256"]:
                    raise ValueError(f"{item['name']} does not match the size/sha256 in models.json")
    return document
