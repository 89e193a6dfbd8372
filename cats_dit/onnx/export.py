"""Export a CatsDiT pipeline and a breed classifier to ONNX (fp32, fp16, int8) + models.json.

Everything is written into a temporary folder next to the output (``OUT.tmp-xxxx``), checked,
and only then moved in; ``models.json`` is removed first and written last, so the output never
holds a models.json that lists missing or different files (even if the export dies half way).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import onnx
from optimum.exporters.onnx import export as optimum_export
from tqdm.auto import tqdm

from cats_dit.onnx_pipeline import OnnxCatsDiTPipeline
from cats_dit.pipeline_cats_dit import CatsDiTPipeline

from . import models_json
from .configs import OPSET, ClassifierForExport, ClassifierOnnxConfig, TinyDiTOnnxConfig
from .inputs import ExportError, load_classifier, load_pipeline
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

DEFAULT_STEPS, DEFAULT_GUIDANCE = 20, 3.0
PSNR_THRESHOLD_DB, AGREEMENT_THRESHOLD = 35.0, 0.99


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
    """Steps 20 / guidance 3.0 unless the pipeline folder's model_index.json or the caller say otherwise;
    the guidance interval is the pipeline's own (its config, saved in model_index.json)."""
    index = {}
    index_file = Path(source) / "model_index.json"
    if index_file.is_file():
        index = json.loads(index_file.read_text())
    return {
        "num_inference_steps": int(steps or index.get("num_inference_steps", DEFAULT_STEPS)),
        "guidance_scale": float(guidance if guidance is not None else index.get("guidance_scale", DEFAULT_GUIDANCE)),
        "solver": str(pipe.scheduler.config.get("solver", "euler")),
        "guidance_interval": [float(v) for v in pipe.config.get("guidance_interval", (0.0, 1.0))],
    }


@dataclass
class ExportOptions:
    """What ``run_export`` writes and how strictly it checks it.

    ``only_default``: after measuring every precision, keep only each model's default
    precision (what the static page loads) in the output and in models.json."""

    precisions: tuple[str, ...] | list[str] = PRECISIONS
    opset: int = OPSET
    steps: int | None = None  # default sampling steps for models.json (else model_index.json, else 20)
    guidance: float | None = None  # default guidance scale for models.json (else model_index.json, else 3.0)
    quality_seed: int = 0
    max_file_bytes: int = MAX_FILE_BYTES
    tolerances: dict | None = None  # overrides of validate.TOLERANCES, {kind: {precision: tol}}
    only_default: bool = False

    def checked_precisions(self) -> list[str]:
        requested = [str(p).strip() for p in self.precisions]
        unknown = sorted(set(requested) - set(PRECISIONS))
        precisions = [p for p in PRECISIONS if p in requested]
        if not precisions or unknown:
            raise ExportError(
                f"precisions must be a non-empty subset of {', '.join(PRECISIONS)}; got {', '.join(requested)}"
            )
        return precisions

    def merged_tolerances(self) -> dict:
        return {kind: {**TOLERANCES[kind], **(self.tolerances or {}).get(kind, {})} for kind in TOLERANCES}


@dataclass
class _Job:
    """One export run's state shared by the generator and classifier stages."""

    tmp: Path
    work: Path
    options: ExportOptions
    precisions: list[str]
    tol: dict
    bar: tqdm
    log: Callable = print


def run_export(
    pipeline: str | Path | None,
    classifier: str | Path | None,
    output: str | Path,
    options: ExportOptions | None = None,
    log=print,
    **overrides,
) -> dict:
    """Export, validate, measure quality, write models.json; returns the models.json document.

    ``overrides`` are ExportOptions fields (``run_export(p, c, out, precisions=["fp32"])``)."""
    options = replace(options or ExportOptions(), **overrides)
    precisions = options.checked_precisions()
    if pipeline is None and classifier is None:
        raise ExportError("Nothing to export: give a pipeline folder, a classifier folder, or both")

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
        job = _Job(tmp, work, options, precisions, options.merged_tolerances(), bar, log)
        if pipe is not None:
            document["generator"] = _export_generator(pipe, pipeline, job, document)
        if clf is not None:
            document["classifier"] = _export_classifier(clf, job)
        bar.close()
        shutil.rmtree(work)
        log(summary_table(document))
        if options.only_default:
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


def _export_generator(pipe, source, job: _Job, document: dict) -> dict:
    o, tmp, bar = job.options, job.tmp, job.bar
    transformer = pipe.transformer
    config = TinyDiTOnnxConfig(transformer.config)
    fp32_path = job.work / "generator.onnx"
    bar.set_postfix_str("generator: torch -> onnx")
    _torch_export(transformer, config, fp32_path, o.opset)
    bar.update()
    section = models_json.generator_section(
        transformer.config, dict(pipe.scheduler.config), _pipeline_defaults(source, pipe, o.steps, o.guidance)
    )
    bar.set_postfix_str("generator: variants + validation")
    files = _write_variants(fp32_path, "generator", tmp, job.precisions, o.max_file_bytes)
    errors = {
        p: validate_file("generator", config, transformer, paths[0], p, job.tol["generator"][p])
        for p, paths in files.items()
    }
    bar.update()
    bar.set_postfix_str("generator: sampling quality")
    d = section["defaults"]
    reference = torch_reference_images(pipe, d["num_inference_steps"], d["guidance_scale"], o.quality_seed)
    for precision, paths in files.items():
        section["files"][precision] = models_json.file_entry(paths, precision)
    doc = {**document, "generator": section}
    for precision in files:
        onnx_pipe = OnnxCatsDiTPipeline.from_config(doc, tmp, precision)
        pooled, worst = generator_psnr(
            onnx_pipe, reference, d["num_inference_steps"], d["guidance_scale"], o.quality_seed
        )
        section["files"][precision]["quality"] = {
            "psnr_db": round(pooled, 2),
            "psnr_db_min": round(worst, 2),
            "max_error": errors[precision],
            "tolerance": job.tol["generator"][precision],
            "images": len(reference),
        }
    section["default_precision"] = models_json.pick_default_precision(section["files"], "psnr_db", PSNR_THRESHOLD_DB)
    bar.update()
    return section


def _export_classifier(clf, job: _Job) -> dict:
    o, bar = job.options, job.bar
    wrapper = ClassifierForExport(clf).eval()
    config = ClassifierOnnxConfig(wrapper.config)
    fp32_path = job.work / "classifier.onnx"
    bar.set_postfix_str("classifier: torch -> onnx")
    _torch_export(wrapper, config, fp32_path, o.opset)
    bar.update()
    bar.set_postfix_str("classifier: variants + validation")
    files = _write_variants(fp32_path, "classifier", job.tmp, job.precisions, o.max_file_bytes)
    errors = {
        p: validate_file("classifier", config, wrapper, paths[0], p, job.tol["classifier"][p])
        for p, paths in files.items()
    }
    bar.update()
    bar.set_postfix_str("classifier: top-1 agreement")
    section = models_json.classifier_section(clf.config)
    images, described = quality_images(seed=o.quality_seed)
    for precision, paths in files.items():
        agreement = classifier_agreement(clf, paths[0], images)
        section["files"][precision] = models_json.file_entry(
            paths,
            precision,
            {
                "top1_agreement": round(agreement, 4),
                "max_error": errors[precision],
                "tolerance": job.tol["classifier"][precision],
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


__all__ = ["ExportError", "ExportOptions", "ExportValidationError", "run_export", "summary_table"]
