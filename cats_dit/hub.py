"""Publish to the Hugging Face Hub: pipeline + classifier + ONNX + eval, with a model card built from measurements.

``python -m cats_dit.hub push --repo-id USER/NAME --pipeline DIR --classifier DIR --onnx DIR --eval-json FILE``
``python -m cats_dit.hub space --out DIR [--push USER/SPACE]``: a lean, torch-free Space (``cats_dit/space.py``).

Repo layout (the pipeline sits at the root so ``DiffusionPipeline.from_pretrained(repo_id,
trust_remote_code=True)`` works; diffusers loads only the components model_index.json names
and leaves the other folders alone)::

    README.md                  model card (ModelCard / ModelCardData, numbers from eval.json)
    model_index.json           pipeline index with custom-code pointers
    pipeline_cats_dit.py       pipeline code (Hub custom code)
    transformer/  scheduler/   components with their code files
    classifier/                BreedClassifier: config.json + model.safetensors
    onnx/                      models.json + generator/classifier .onnx variants (the browser reads these)
    eval/                      eval.json + confusion_matrix.png, samples.png, guidance_sweep.png

The token comes from ``HF_TOKEN`` or the cached login (``huggingface_hub.get_token()``); it is
passed to HfApi calls only, never printed or written.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData, get_token

from . import space
from .breeds import display_name
from .repo_id import looks_like_repo_id

CARD_TEMPLATE = Path(__file__).with_name("model_card.md.jinja")  # Jinja2, rendered by ModelCard.from_template
EVAL_FILES = ("eval.json", "confusion_matrix.png", "samples.png", "guidance_sweep.png")


class PublishError(RuntimeError):
    """A problem with the inputs or the login, reported before anything is uploaded."""


# -- reading inputs ----------------------------------------------------------------------------
def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise PublishError(f"{what} {path} does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PublishError(f"{what} {path} is not valid JSON: {exc}") from exc


def check_inputs(pipeline: Path, classifier: Path, onnx: Path | None, eval_json: Path) -> dict:
    """Fail early, naming the problem, when a folder is not what it claims to be. Returns eval.json."""
    if not (pipeline / "model_index.json").is_file():
        raise PublishError(f"--pipeline {pipeline} is not a pipeline folder (model_index.json is missing)")
    if not (pipeline / "pipeline_cats_dit.py").is_file():
        raise PublishError(
            f"--pipeline {pipeline} has no pipeline_cats_dit.py; save it with CatsDiTPipeline.save_pretrained "
            "so the custom code travels with the weights"
        )
    for name in ("config.json", "model.safetensors"):
        if not (classifier / name).is_file():
            raise PublishError(f"--classifier {classifier} is not a BreedClassifier folder ({name} is missing)")
    if onnx is not None:
        meta = _read_json(onnx / "models.json", "--onnx models.json")
        for part in ("generator", "classifier"):
            for variant in meta.get(part, {}).get("files", {}).values():
                if not (onnx / variant["name"]).is_file():
                    raise PublishError(f"--onnx {onnx}: models.json lists {variant['name']} but the file is missing")
    result = _read_json(eval_json, "--eval-json")
    if "summary" not in result or "metrics" not in result:
        raise PublishError(f"--eval-json {eval_json} is not a cats_dit.eval result (no 'summary'/'metrics')")
    _check_measured_these_models(result, pipeline, classifier, onnx, eval_json)
    return result


def _check_measured_these_models(ev: dict, pipeline: Path, classifier: Path, onnx: Path | None, eval_json: Path):
    """The card must describe the uploaded weights: compare eval.json's sha256s with the files."""
    from .eval.generate import sha256_file, weights_file

    gen = ev.get("generator", {})
    checks = [("classifier", classifier / "model.safetensors", ev.get("classifier", {}).get("weights_sha256"))]
    if gen.get("kind") == "onnx" and onnx is not None:
        checks.append(("ONNX generator", onnx / gen.get("weights_file", ""), gen.get("weights_sha256")))
    elif gen.get("kind") == "torch":
        checks.append(("generator", weights_file(pipeline, "torch"), gen.get("weights_sha256")))
    for what, file, measured in checks:
        if not measured:
            raise PublishError(
                f"--eval-json {eval_json} does not record the {what}'s sha256; re-run python -m cats_dit.eval"
            )
        if not file.is_file() or sha256_file(file) != measured:
            raise PublishError(
                f"--eval-json {eval_json} was measured on a different {what} than {file} (sha256 differs); "
                "re-run python -m cats_dit.eval on the weights you publish"
            )


def _training_info(pipeline: Path) -> dict:
    """What the training run left next to the pipeline: run_config.json / summary.json, README text."""
    info: dict = {}
    for folder in (pipeline, pipeline.parent):
        for name in ("run_config.json", "summary.json"):
            file = folder / name
            if name not in info and file.is_file():
                try:
                    info[name] = json.loads(file.read_text())
                except json.JSONDecodeError:
                    pass
    readme = pipeline / "README.md"
    if readme.is_file():
        text = ModelCard(readme.read_text()).text
        text = re.sub(r"```.*?```", "", text, flags=re.S)  # its load snippet points at a local path
        text = re.sub(r"^# .*\n", "", text.strip())  # its title
        info["readme"] = text.strip()
    return info


# -- the model card ----------------------------------------------------------------------------
def _f(x, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}" if abs(x) >= 10**-digits or x == 0 else f"{x:.2e}"
    return str(x)


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def build_model_card(repo_id: str, ev: dict, pipeline: Path, classifier: Path, onnx: Path | None) -> ModelCard:
    s, m, st = ev["summary"], ev["metrics"], ev["settings"]
    transformer = json.loads((pipeline / "transformer" / "config.json").read_text())
    scheduler = json.loads((pipeline / "scheduler" / "scheduler_config.json").read_text())
    clf = json.loads((classifier / "config.json").read_text())
    training = _training_info(pipeline)
    real_name = Path(ev["real"]["root"]).name
    params = ev["generator"].get("parameters")
    interval = st.get("guidance_interval") or [0.0, 1.0]  # eval.json files from before the field: every step
    interval_note = "" if list(interval) == [0.0, 1.0] else f" at noise levels {interval[0]:g}-{interval[1]:g}"
    dataset_type = "oxford-iiit-pet" if "oxford" in real_name.lower() or "pet" in real_name.lower() else real_name
    results = [
        EvalResult(
            task_type="unconditional-image-generation",
            task_name="class-conditional cat generation",
            dataset_type=dataset_type,
            dataset_name=real_name,
            dataset_split="test",
            metric_type=metric,
            metric_name=label,
            metric_value=round(float(s[key]), 5),
            metric_config=f"{st['per_breed']} images per breed, {st['steps']} steps, guidance {st['guidance']}"
            f"{interval_note}",
        )
        for key, metric, label in (
            ("breed_fidelity", "accuracy", "breed fidelity (classifier agrees)"),
            ("fd", "frechet_distance", "Fréchet distance, classifier features"),
            ("kid", "kid", "KID, classifier features"),
            ("precision", "precision", "k-NN precision (k=3)"),
            ("recall", "recall", "k-NN recall (k=3)"),
            ("density", "density", "density (k=3)"),
            ("coverage", "coverage", "coverage (k=3)"),
        )
        if s.get(key) is not None
    ]
    if s.get("fid") is not None:
        results.append(
            EvalResult(
                task_type="unconditional-image-generation",
                dataset_type=dataset_type,
                dataset_name=real_name,
                metric_type="fid",
                metric_name="FID (Inception-V3)",
                metric_value=round(float(s["fid"]), 4),
            )
        )
    card_data = ModelCardData(
        library_name="diffusers",
        license="mit",
        pipeline_tag="unconditional-image-generation",
        tags=["cats_dit", "diffusion-transformer", "flow-matching", "class-conditional", "cats", "onnx"],
        model_name=repo_id.split("/")[-1],
        eval_results=results,
    )

    per_breed = m["breed_fidelity"]["per_breed"]
    real_acc = m["real_test_accuracy"]["per_breed"]
    gen_pb, floor_pb = m["generated_vs_train"]["per_breed"], m["real_test_vs_train"]["per_breed"]
    breed_rows = "\n".join(
        f"| {display_name(b)} | {_pct(per_breed.get(b))} | {_pct(real_acc.get(b))} | "
        f"{_f((gen_pb.get(b) or {}).get('fd'), 1)} | {_f((floor_pb.get(b) or {}).get('fd'), 1)} |"
        for b in ev["breeds"]
    )
    sweep_rows = "\n".join(
        f"| {r['guidance_scale']:g} | {_pct(r['breed_fidelity'])} | {_f(r['frechet_distance'], 2)} | {_f(r['kid'], 4)} |"
        for r in ev.get("guidance_sweep", [])
    )
    inception = ""
    if s.get("fid") is not None:
        inception = (
            f"| FID (Inception-V3, torch-fidelity weights) | {_f(s['fid'], 2)} | {_f(s['fid_floor'], 2)} |\n"
            f"| KID (Inception-V3) | {_f(s['inception_kid'], 4)} | {_f(s['inception_kid_floor'], 4)} |\n"
        )
    files = ev.get("files", {})
    best = ""
    if s.get("best_guidance_by_fd") is not None:
        best = (
            f"; the lowest Fréchet distance is at guidance {s['best_guidance_by_fd']:g}, "
            f"the highest breed fidelity at {s['best_guidance_by_fidelity']:g}"
        )
    sweep_arg = ",".join(f"{g:g}" for g in st.get("guidance_sweep") or []) or "none"
    reproduce = (
        f"--per-breed {st['per_breed']} --steps {st['steps']} --guidance {st['guidance']:g} --seed {st['seed']} "
        f"--max-real-per-breed {st['max_real_per_breed']} --guidance-sweep {sweep_arg}"
        f" --guidance-interval {interval[0]:g},{interval[1]:g}"
    )
    images = "".join(f"![{k.replace('_', ' ')}](eval/{v})\n" for k, v in files.items() if k != "samples")

    onnx_section = "This upload has no ONNX folder."
    if onnx is not None:
        meta = json.loads((onnx / "models.json").read_text())
        rows = []
        for part in ("generator", "classifier"):
            for prec, f in meta.get(part, {}).get("files", {}).items():
                q = ", ".join(f"{k} {_f(v, 4)}" for k, v in (f.get("quality") or {}).items())
                default = " (default)" if meta[part].get("default_precision") == prec else ""
                rows.append(f"| {part} | {prec}{default} | `onnx/{f['name']}` | {f['size'] / 1e6:.2f} MB | {q} |")
        onnx_section = "| model | precision | file | size | quality vs fp32 |\n|---|---|---|---|---|\n" + "\n".join(
            rows
        )

    train_lines = []
    if params:
        train_lines.append(f"- generator: TinyDiT, {params / 1e6:.2f} M parameters")
    train_lines.append(
        "- transformer config: `"
        + json.dumps({k: v for k, v in transformer.items() if not k.startswith("_")}, sort_keys=True)
        + "`"
    )
    train_lines.append(
        "- scheduler: `"
        + json.dumps({k: v for k, v in scheduler.items() if not k.startswith("_")}, sort_keys=True)
        + "`"
    )
    if "summary.json" in training:
        train_lines.append("- training run: `" + json.dumps(training["summary.json"], sort_keys=True) + "`")
    clf_metrics = clf.get("metrics") or {}
    train_lines.append(
        f"- classifier: {clf['backbone']} at {clf['image_size']} px (resize {clf['resize_size']}), "
        f"{len(clf['labels'])} labels"
        + (f"; its own measured metrics: `{json.dumps(clf_metrics, sort_keys=True)}`" if clf_metrics else "")
    )
    train_text = "\n".join(train_lines)
    if training.get("readme"):
        train_text += "\n\nFrom the training run's own card:\n\n" + training["readme"]

    data_note = (
        "The Oxford-IIIT Pet dataset (Parkhi et al. 2012, CC BY-SA 4.0): the 12 cat breeds, and its 25 dog breeds "
        "pooled as `other`."
        if dataset_type == "oxford-iiit-pet"
        else f"`{real_name}`: the project's procedurally drawn cartoon cats (same layout as Oxford-IIIT Pet) or a "
        "local image folder. These weights are a small demo, not a model of real cat photographs."
    )
    return ModelCard.from_template(
        card_data,
        template_path=str(CARD_TEMPLATE),
        repo_id=repo_id,
        model_name=repo_id.split("/")[-1],
        ev=ev,
        s=s,
        st=st,
        clf=clf,
        files=files,
        real_name=real_name,
        guidance=f"{st['guidance']:g}{interval_note}",
        solver=st.get("solver") or ev["generator"].get("scheduler", {}).get("solver", ""),
        f=_f,
        pct=_pct,
        best=best,
        breed_rows=breed_rows,
        sweep_rows=sweep_rows,
        inception=inception,
        images=images,
        reproduce=reproduce,
        onnx_section=onnx_section,
        train_text=train_text,
        data_note=data_note,
    )


# -- the folder and the upload ----------------------------------------------------------------
def build_folder(out: Path, repo_id: str, pipeline: Path, classifier: Path, onnx: Path | None, eval_json: Path) -> Path:
    """Write the exact upload folder (see module docstring) to ``out``."""
    ev = check_inputs(pipeline, classifier, onnx, eval_json)
    if out.exists() and any(out.iterdir()):
        raise PublishError(f"--out {out} exists and is not empty; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    for item in pipeline.iterdir():
        if item.name in ("README.md", "classifier", "onnx", "eval") or item.name.startswith("."):
            continue
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, out / item.name)
    shutil.copytree(classifier, out / "classifier", ignore=shutil.ignore_patterns(".*"))
    if onnx is not None:
        shutil.copytree(onnx, out / "onnx", ignore=shutil.ignore_patterns(".*"))
    (out / "eval").mkdir()
    for name in EVAL_FILES:
        if (eval_json.parent / name).is_file() and (name != "eval.json" or eval_json.name == "eval.json"):
            shutil.copy2(eval_json.parent / name, out / "eval" / name)
    shutil.copy2(eval_json, out / "eval" / "eval.json")
    build_model_card(repo_id, ev, pipeline, classifier, onnx).save(out / "README.md")
    return out


def push(args: argparse.Namespace) -> str:
    repo_id = args.repo_id
    if not looks_like_repo_id(repo_id):
        raise PublishError(f"--repo-id {repo_id!r} must look like 'user/name'")
    pipeline, classifier, eval_json = Path(args.pipeline), Path(args.classifier), Path(args.eval_json)
    onnx = Path(args.onnx) if args.onnx else None
    if args.dry_run:
        if not args.out:
            raise PublishError("--dry-run needs --out DIR to write the folder to")
        folder = build_folder(Path(args.out), repo_id, pipeline, classifier, onnx, eval_json)
        print(f"dry run: wrote the upload folder for {repo_id} to {folder} (nothing uploaded)")
        return str(folder)
    token = get_token()  # HF_TOKEN, else the cached `hf auth login` token
    if not token:
        raise PublishError(
            "No Hugging Face token: set HF_TOKEN or run `hf auth login` (or `huggingface-cli login`). "
            "Nothing was uploaded."
        )
    check_inputs(pipeline, classifier, onnx, eval_json)
    with tempfile.TemporaryDirectory(prefix="cats_dit_hub_") as tmp:
        folder = build_folder(Path(tmp) / "upload", repo_id, pipeline, classifier, onnx, eval_json)
        if args.out:
            shutil.copytree(folder, Path(args.out), dirs_exist_ok=False)
        api = HfApi(token=token)
        try:
            url = api.create_repo(repo_id, private=args.private, exist_ok=True)
            info = api.upload_folder(
                repo_id=repo_id, folder_path=folder, commit_message=args.commit_message or "Upload cats_dit models"
            )
        except Exception as exc:  # HTTP errors: say what failed, never echo headers (they hold the token)
            raise PublishError(
                f"Upload to {repo_id} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            ) from None
    print(f"uploaded to {url} ({getattr(info, 'commit_url', '')})")
    return str(url)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m cats_dit.hub", description="Publish models (push) or a lean Space (space) to the Hub."
    )
    sub = p.add_subparsers(dest="command", required=True)
    q = sub.add_parser(
        "push",
        help="upload pipeline + classifier + ONNX + eval with a model card",
        description="Build the upload folder (pipeline at the root, classifier/, onnx/, eval/, README.md model card "
        "filled from --eval-json) and upload it with HfApi.create_repo + upload_folder. The token comes from "
        "HF_TOKEN or the cached login and is never written anywhere.",
    )
    q.add_argument("--repo-id", required=True, help="Hub repo, user/name")
    q.add_argument("--pipeline", required=True, help="CatsDiTPipeline folder (save_pretrained output)")
    q.add_argument("--classifier", required=True, help="BreedClassifier folder")
    q.add_argument("--onnx", default=None, help="ONNX models folder with models.json (python -m export output)")
    q.add_argument("--eval-json", required=True, help="eval.json from python -m cats_dit.eval (PNGs next to it go too)")
    q.add_argument("--dry-run", action="store_true", help="only write the folder to --out; no token, no network")
    q.add_argument("--out", default=None, help="folder to write the upload folder to (required with --dry-run)")
    q.add_argument("--private", action="store_true", help="create the repo as private")
    q.add_argument("--commit-message", default=None, help="commit message on the Hub")
    space.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        space.run(args) if args.command == "space" else push(args)
    except (PublishError, space.SpaceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
