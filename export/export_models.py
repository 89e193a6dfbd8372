"""Export a CatsDiT pipeline and a breed classifier to ONNX (fp32, fp16, int8) + models.json.

Everything is written into a temporary folder next to the output (``OUT.tmp-xxxx``), checked,
and only then moved in; ``models.json`` is removed first and written last, so the output never
holds a models.json that lists missing or different files (even if the export dies half way).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import onnx
import torch
from optimum.exporters.onnx import export as optimum_export
from tqdm.auto import tqdm

from cats_dit.classifier import BreedClassifier
from cats_dit.onnx_pipeline import OnnxCatsDiTPipeline
from cats_dit.pipeline_cats_dit import CatsDiTPipeline

from . import models_json
from .onnx_configs import OPSET, ClassifierForExport, ClassifierOnnxConfig, TinyDiTOnnxConfig
from .validate import (
    TOLERANCES,
    ExportValidationError,
    classifier_agreement,
    generator_psnr,
    quality_images,
    torch_reference_images,
    validate_file,
)
from .variants import MAX_FILE_BYTES, PRECISIONS, check_standard_ops, save_onnx, to_fp16_weights, to_int8

DEFAULT_OUTPUT = Path("static_site/models")
DEFAULT_STEPS, DEFAULT_GUIDANCE = 20, 3.0
PSNR_THRESHOLD_DB, AGREEMENT_THRESHOLD = 35.0, 0.99
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def _is_hub_id(source) -> bool:
    """``owner/name`` that is not a local path (its first part is not a local folder either)."""
    return bool(HUB_ID.match(str(source))) and not Path(source).parent.exists()


class ExportError(RuntimeError):
    """Bad input for the export (names the problem)."""


# -- inputs -----------------------------------------------------------------------------------------
def check_weights_match_config(folder: Path) -> None:
    """Raise ExportError when a TinyDiT folder's safetensors do not fit its config.json."""
    from safetensors import safe_open

    from cats_dit.modeling_tinydit import WEIGHTS_NAME, TinyDiTModel, check_weights_file

    try:
        check_weights_file(folder)
    except OSError as exc:
        raise ExportError(str(exc)) from exc
    config = {k: v for k, v in json.loads((folder / "config.json").read_text()).items() if not k.startswith("_")}
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in TinyDiTModel.from_config(config).state_dict().items()}
    except Exception as exc:
        raise ExportError(f"{folder / 'config.json'} is not a valid TinyDiT config: {exc}") from exc
    with safe_open(str(folder / WEIGHTS_NAME), framework="pt") as f:
        found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    shapes = [
        f"{k}: weights {list(found[k])} vs config {list(expected[k])}"
        for k in expected
        if k in found and found[k] != expected[k]
    ]
    if missing or extra or shapes:
        parts = []
        if shapes:
            parts.append(f"{len(shapes)} tensors with other shapes (e.g. {shapes[0]})")
        if missing:
            parts.append(f"{len(missing)} tensors missing (e.g. {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected tensors (e.g. {extra[0]})")
        raise ExportError(
            f"The weights in {folder / WEIGHTS_NAME} do not match {folder / 'config.json'}: " + "; ".join(parts)
        )


def load_pipeline(source: str | Path) -> CatsDiTPipeline:
    """A saved pipeline folder (or a Hub id) -> CatsDiTPipeline, with errors that name the problem."""
    path = Path(source)
    if path.exists():
        if not path.is_dir():
            raise ExportError(f"Pipeline {path} is a file; give the pipeline folder (with model_index.json)")
        if not (path / "model_index.json").is_file():
            raise ExportError(
                f"{path} is not a pipeline folder: model_index.json is missing "
                "(expected a CatsDiTPipeline.save_pretrained folder such as weights/pipeline)"
            )
        if not (path / "transformer" / "config.json").is_file():
            raise ExportError(f"{path} is not a CatsDiT pipeline folder: transformer/config.json is missing")
        check_weights_match_config(path / "transformer")
    elif not _is_hub_id(source):
        raise ExportError(f"Pipeline folder {path} does not exist")
    try:
        pipe = CatsDiTPipeline.from_pretrained(str(source))
    except Exception as exc:
        raise ExportError(f"Could not load the pipeline {source}: {exc}") from exc
    pipe.transformer.eval().float()
    return pipe


def load_classifier(source: str | Path) -> BreedClassifier:
    path = Path(source)
    if path.exists() and not (path.is_dir() and (path / "config.json").is_file()):
        raise ExportError(
            f"{path} is not a classifier folder: config.json is missing (expected a BreedClassifier folder)"
        )
    if not path.exists() and not _is_hub_id(source):
        raise ExportError(f"Classifier folder {path} does not exist")
    try:
        return BreedClassifier.from_pretrained(source).eval()
    except Exception as exc:
        raise ExportError(f"Could not load the classifier {source}: {exc}") from exc


def make_temp_folder(output: Path) -> Path:
    """``OUT.tmp-xxxx`` next to the output (same file system, so the final moves are renames)."""
    output = Path(output).absolute()
    if output.exists() and not output.is_dir():
        raise ExportError(f"Output {output} exists and is not a folder")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if output.exists() and not os.access(output, os.W_OK | os.X_OK):
            raise PermissionError(f"no write permission on {output}")
        tmp = Path(tempfile.mkdtemp(prefix=output.name + ".tmp-", dir=output.parent))
        output.mkdir(exist_ok=True)
    except OSError as exc:
        raise ExportError(f"Output folder {output} is not writable: {exc}") from exc
    return tmp


def publish(tmp: Path, output: Path) -> None:
    """Move the checked files of ``tmp`` into ``output``; models.json goes last."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    old_json = output / models_json.NAME
    old_names: set[str] = set()
    if old_json.is_file():
        try:
            old_doc = json.loads(old_json.read_text())
            for section in ("generator", "classifier"):
                for entry in old_doc.get(section, {}).get("files", {}).values():
                    old_names.add(entry["name"])
                    old_names.update(x["name"] for x in entry.get("external_data", []))
        except (OSError, ValueError, KeyError, AttributeError):
            pass
        old_json.unlink()  # from here until the end, no models.json can point at half-replaced files
    new_names = set()
    for item in tmp.iterdir():
        if item.name != models_json.NAME:
            os.replace(item, output / item.name)
            new_names.add(item.name)
    for name in old_names - new_names:
        (output / name).unlink(missing_ok=True)
    os.replace(tmp / models_json.NAME, old_json)
    tmp.rmdir()


# -- export -----------------------------------------------------------------------------------------
def _torch_export(model, config, path: Path, opset: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about python ifs on shapes: batch stays dynamic
        optimum_export(model, config, path, opset=opset)


def export_generator_files(
    transformer, out: Path, precisions=PRECISIONS, opset: int = OPSET, max_file_bytes: int = MAX_FILE_BYTES
) -> dict[str, list[Path]]:
    """Unvalidated generator files (for benchmarks): precision -> files written in ``out``."""
    work = Path(out) / ".work"
    work.mkdir(parents=True, exist_ok=True)
    _torch_export(transformer.eval(), TinyDiTOnnxConfig(transformer.config), work / "generator.onnx", opset)
    files = _write_variants(work / "generator.onnx", "generator", Path(out), precisions, max_file_bytes)
    shutil.rmtree(work)
    return files


def _write_variants(fp32_path: Path, stem: str, out: Path, precisions, max_file_bytes: int) -> dict[str, list[Path]]:
    """fp32 / fp16 / int8 files of one model in ``out``; returns precision -> files written."""
    work = fp32_path.parent
    written = {}
    model = onnx.load(str(fp32_path))
    for precision in precisions:
        if precision == "fp32":
            variant = model
        elif precision == "fp16":
            variant = to_fp16_weights(model)
        else:
            int8_path = work / f"{stem}_int8.onnx"
            to_int8(fp32_path, int8_path)
            variant = onnx.load(str(int8_path))
        check_standard_ops(variant, f"{stem} {precision}")
        name = f"{stem}.onnx" if precision == "fp32" else f"{stem}_{precision}.onnx"
        written[precision] = save_onnx(variant, out / name, max_file_bytes=max_file_bytes)
    return written


def _pipeline_defaults(source, pipe: CatsDiTPipeline, steps, guidance) -> dict:
    """Steps 20 / guidance 3.0 unless the pipeline folder's model_index.json or the caller say otherwise."""
    index = {}
    index_file = Path(source) / "model_index.json"
    if index_file.is_file():
        index = json.loads(index_file.read_text())
    return {
        "num_inference_steps": int(steps or index.get("num_inference_steps", DEFAULT_STEPS)),
        "guidance_scale": float(guidance if guidance is not None else index.get("guidance_scale", DEFAULT_GUIDANCE)),
        "solver": str(pipe.scheduler.config.get("solver", "euler")),
    }


def run_export(
    pipeline: str | Path | None,
    classifier: str | Path | None,
    output: str | Path = DEFAULT_OUTPUT,
    precisions=PRECISIONS,
    opset: int = OPSET,
    steps: int | None = None,
    guidance: float | None = None,
    quality_seed: int = 0,
    max_file_bytes: int = MAX_FILE_BYTES,
    tolerances: dict | None = None,
    only_default: bool = False,
    log=print,
) -> dict:
    """Export, validate, measure quality, write models.json; returns the models.json document.

    ``only_default``: after measuring every precision, keep only each model's default
    precision (what the static page loads) in the output and in models.json."""
    requested = [str(p).strip() for p in precisions]
    unknown = sorted(set(requested) - set(PRECISIONS))
    precisions = [p for p in PRECISIONS if p in requested]
    if not precisions or unknown:
        raise ExportError(
            f"precisions must be a non-empty subset of {', '.join(PRECISIONS)}; got {', '.join(requested)}"
        )
    if pipeline is None and classifier is None:
        raise ExportError("Nothing to export: give a pipeline folder, a classifier folder, or both")
    tol = {kind: {**TOLERANCES[kind], **(tolerances or {}).get(kind, {})} for kind in TOLERANCES}

    pipe = load_pipeline(pipeline) if pipeline is not None else None
    clf = load_classifier(classifier) if classifier is not None else None
    if pipe is not None and clf is not None and list(clf.labels) != list(pipe.labels):
        raise ExportError(f"The classifier's labels {clf.labels} differ from the pipeline's {pipe.labels}")
    labels = pipe.labels if pipe is not None else clf.labels
    null_id = pipe.null_class_id if pipe is not None else len(labels)

    tmp = make_temp_folder(Path(output))
    try:
        work = tmp / ".work"
        work.mkdir()
        document = models_json.base_document(labels, null_id)
        bar = tqdm(total=(pipe is not None) * 3 + (clf is not None) * 3, desc="export", unit="stage")
        if pipe is not None:
            document["generator"] = _export_generator(
                pipe,
                pipeline,
                tmp,
                work,
                precisions,
                opset,
                steps,
                guidance,
                quality_seed,
                max_file_bytes,
                tol,
                document,
                bar,
                log,
            )
        if clf is not None:
            document["classifier"] = _export_classifier(
                clf, tmp, work, precisions, opset, quality_seed, max_file_bytes, tol, bar, log
            )
        bar.close()
        shutil.rmtree(work)
        log(summary_table(document))
        if only_default:
            keep_only_default(document, tmp)
        models_json.write(document, tmp)
        models_json.check_folder(tmp)
        publish(tmp, Path(output))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return document


def keep_only_default(document: dict, folder: Path) -> None:
    """Drop every non-default precision of each model from ``document`` and delete its files."""
    for section in ("generator", "classifier"):
        part = document.get(section)
        if not part:
            continue
        for precision in [p for p in part["files"] if p != part["default_precision"]]:
            entry = part["files"].pop(precision)
            for item in [entry, *entry.get("external_data", [])]:
                (Path(folder) / item["name"]).unlink()


def _export_generator(
    pipe, source, tmp, work, precisions, opset, steps, guidance, seed, max_bytes, tol, document, bar, log
):
    transformer = pipe.transformer
    config = TinyDiTOnnxConfig(transformer.config)
    fp32_path = work / "generator.onnx"
    bar.set_postfix_str("generator: torch -> onnx")
    _torch_export(transformer, config, fp32_path, opset)
    bar.update()
    section = models_json.generator_section(
        transformer.config, dict(pipe.scheduler.config), _pipeline_defaults(source, pipe, steps, guidance)
    )
    bar.set_postfix_str("generator: variants + validation")
    files = _write_variants(fp32_path, "generator", tmp, precisions, max_bytes)
    errors = {
        p: validate_file("generator", config, transformer, paths[0], p, tol["generator"][p])
        for p, paths in files.items()
    }
    bar.update()
    bar.set_postfix_str("generator: sampling quality")
    d = section["defaults"]
    reference = torch_reference_images(pipe, d["num_inference_steps"], d["guidance_scale"], seed)
    for precision, paths in files.items():
        section["files"][precision] = models_json.file_entry(paths, precision)
    doc = {**document, "generator": section}
    for precision in files:
        onnx_pipe = OnnxCatsDiTPipeline.from_config(doc, tmp, precision)
        pooled, worst = generator_psnr(onnx_pipe, reference, d["num_inference_steps"], d["guidance_scale"], seed)
        section["files"][precision]["quality"] = {
            "psnr_db": round(pooled, 2),
            "psnr_db_min": round(worst, 2),
            "max_error": errors[precision],
            "tolerance": tol["generator"][precision],
            "images": len(reference),
        }
    section["default_precision"] = models_json.pick_default_precision(section["files"], "psnr_db", PSNR_THRESHOLD_DB)
    bar.update()
    return section


def _export_classifier(clf, tmp, work, precisions, opset, seed, max_bytes, tol, bar, log):
    wrapper = ClassifierForExport(clf).eval()
    config = ClassifierOnnxConfig(wrapper.config)
    fp32_path = work / "classifier.onnx"
    bar.set_postfix_str("classifier: torch -> onnx")
    _torch_export(wrapper, config, fp32_path, opset)
    bar.update()
    bar.set_postfix_str("classifier: variants + validation")
    files = _write_variants(fp32_path, "classifier", tmp, precisions, max_bytes)
    errors = {
        p: validate_file("classifier", config, wrapper, paths[0], p, tol["classifier"][p]) for p, paths in files.items()
    }
    bar.update()
    bar.set_postfix_str("classifier: top-1 agreement")
    section = models_json.classifier_section(clf.config)
    images, described = quality_images(seed=seed)
    for precision, paths in files.items():
        agreement = classifier_agreement(clf, paths[0], images)
        section["files"][precision] = models_json.file_entry(
            paths,
            precision,
            {
                "top1_agreement": round(agreement, 4),
                "max_error": errors[precision],
                "tolerance": tol["classifier"][precision],
                "images": described,
            },
        )
    section["default_precision"] = models_json.pick_default_precision(
        section["files"], "top1_agreement", AGREEMENT_THRESHOLD
    )
    bar.update()
    return section


def summary_table(document: dict) -> str:
    """Markdown table of every exported file: size, validation error, quality, default."""
    rows = [
        "| model | precision | file | size (MB) | error vs torch (tolerance) | quality | default |",
        "|---|---|---|---:|---|---|:-:|",
    ]
    for section in ("generator", "classifier"):
        part = document.get(section)
        if not part:
            continue
        for precision, e in part["files"].items():
            q = e["quality"]
            size = e["size"] + sum(x["size"] for x in e.get("external_data", []))
            quality = (
                f"PSNR {q['psnr_db']:.1f} dB (min {q['psnr_db_min']:.1f})"
                if "psnr_db" in q
                else f"top-1 agreement {100 * q['top1_agreement']:.1f}%"
            )
            rows.append(
                f"| {section} | {precision} | {e['name']} | {size / 1e6:.2f} | {q['max_error']:.1e} ({q['tolerance']:g}) "
                f"| {quality} | {'yes' if part['default_precision'] == precision else ''} |"
            )
    return "\n".join(rows)


__all__ = ["ExportError", "ExportValidationError", "run_export", "summary_table"]
