"""One evaluation run: generate per breed, read real images, measure, draw, write eval.json."""

from __future__ import annotations

import datetime as _dt
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..breeds import to_id
from ..classifier import WEIGHTS_NAME, BreedClassifier
from . import metrics as M
from .features import ClassifierFeatures
from .generate import generate_per_breed, load_generator, sha256_file
from .judge import Judge
from .plots import confusion_matrix_png, guidance_sweep_png, sample_grid_png
from .real import load_images, load_split, subsample_per_class

FORMAT_VERSION = 1
# Keys of eval.json["summary"]; the model card and the tests read these.
SUMMARY_KEYS = (
    "breed_fidelity",
    "chance",
    "real_test_accuracy",
    "fd",
    "fd_floor",
    "kid",
    "kid_floor",
    "precision",
    "recall",
    "precision_floor",
    "recall_floor",
    "density",
    "coverage",
    "density_floor",
    "coverage_floor",
    "class_precision",
    "class_recall",
    "class_precision_floor",
    "class_recall_floor",
)


@dataclass
class EvalSettings:
    generator: str
    classifier: str
    real: str
    out: str = "eval_out"
    per_breed: int = 50
    steps: int = 20
    guidance: float | None = None  # None: the generator's own (its pipeline config / models.json; else 3)
    solver: str | None = None
    guidance_interval: list[float] | None = None  # None: the generator's own (its pipeline config / models.json)
    seed: int = 0
    breeds: list | None = None
    cats_only: bool = False
    max_real_per_breed: int | None = 200
    guidance_sweep: list[float] = field(default_factory=lambda: [1.0, 2.0, 3.0, 5.0])
    sweep_per_breed: int | None = None
    inception_weights: str | None = None
    onnx_precision: str | None = None
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3
    batch_size: int = 32
    judge: str | None = None


def _fd_kid(a: np.ndarray, b: np.ndarray, s: EvalSettings) -> dict:
    kid_mean, kid_std = M.kernel_inception_distance(a, b, s.kid_subsets, s.kid_subset_size, seed=s.seed)
    return {"fd": M.frechet_distance(a, b), "kid": kid_mean, "kid_std": kid_std, "n": [len(a), len(b)]}


def _compare(fake, fake_y, ref, ref_y, breeds, names, s: EvalSettings) -> dict:
    """One set against the real reference: FD / KID, k-NN precision / recall, density / coverage,
    overall and per breed; ``class_precision`` / ``class_recall`` average the per-breed values
    (does a "Bengal" sample land among real Bengals, not just among real images)."""
    out = _fd_kid(fake, ref, s)
    out["precision"], out["recall"] = M.precision_recall(ref, fake, k=s.pr_k)
    out["density"], out["coverage"] = M.density_coverage(ref, fake, k=s.pr_k)
    per_breed = {}
    for b in breeds:
        fa, rb = fake[fake_y == b], ref[ref_y == b]
        entry = _fd_kid(fa, rb, s) if len(fa) >= 2 and len(rb) >= 2 else None
        if entry is not None and len(fa) > s.pr_k and len(rb) > s.pr_k:
            entry["precision"], entry["recall"] = M.precision_recall(rb, fa, k=s.pr_k)
        per_breed[names[b]] = entry
    pr = [v for v in per_breed.values() if v and "precision" in v]
    out["class_precision"] = float(np.mean([v["precision"] for v in pr])) if pr else None
    out["class_recall"] = float(np.mean([v["recall"] for v in pr])) if pr else None
    out["per_breed"] = per_breed
    return out


def _fidelity(probs: np.ndarray, labels: np.ndarray, breeds: list[int], names: list[str]) -> dict:
    pred = probs.argmax(1)
    per_breed = {names[b]: float((pred[labels == b] == b).mean()) for b in breeds if (labels == b).any()}
    return {"overall": float((pred == labels).mean()), "per_breed": per_breed}


def _judge_metrics(judge, real_train, real_test, real_test_y, fake, fake_y, breeds, names) -> dict | None:
    """Fidelity and FD in the independent judge's space (see ``judge.py``), next to its real floor."""
    if judge is None:
        return None
    f_train, _ = judge.features(real_train)
    f_test, p_test = judge.features(real_test)
    f_fake, p_fake = judge.features(fake)
    return {
        "fidelity": _fidelity(p_fake, fake_y, breeds, names),
        "real_test_accuracy": float((p_test.argmax(1) == real_test_y).mean()),
        "fd": M.frechet_distance(f_fake, f_train),
        "fd_floor": M.frechet_distance(f_test, f_train),
        "train_features": f_train,
        "predicted": p_fake.argmax(1),
        **({"metrics": judge.metrics} if getattr(judge, "metrics", None) else {}),
    }


def _confusion(labels: np.ndarray, pred: np.ndarray, breeds: list[int], num_labels: int) -> np.ndarray:
    matrix = np.zeros((len(breeds), num_labels), dtype=np.int64)
    for row, b in enumerate(breeds):
        for p in pred[labels == b]:
            matrix[row, int(p)] += 1
    return matrix


def _parse_breeds(breeds, names: list[str]) -> list[int]:
    ids = []
    for b in breeds:
        i = to_id(b)
        if i >= len(names):
            raise ValueError(f"Breed {b!r} is not one of the classifier's labels: {', '.join(names)}")
        ids.append(i)
    return sorted(set(ids))


def run_eval(settings: EvalSettings) -> dict:
    """Run the whole evaluation; returns the eval.json dict (also written to ``settings.out``)."""
    s = settings
    out = Path(s.out)
    t0 = time.perf_counter()
    timing = {}
    inception = None
    if s.inception_weights:  # fail on a bad path before any slow work
        from .inception import load_inception

        inception = load_inception(s.inception_weights)
    classifier = BreedClassifier.from_pretrained(s.classifier)
    names = list(classifier.labels)
    extractor = ClassifierFeatures(classifier, batch_size=64)
    generator = load_generator(s.generator, precision=s.onnx_precision)
    size = generator.sample_size
    judge = Judge.from_pretrained(s.judge) if s.judge else None
    if judge is not None and judge.config["image_size"] != size:
        raise ValueError(
            f"The judge in {s.judge} was trained at {judge.config['image_size']} px but the generator draws {size} px"
        )

    train_recs = load_split(s.real, "train", cats_only=s.cats_only, seed=s.seed)
    test_recs = load_split(s.real, "test", cats_only=s.cats_only, seed=s.seed)
    present = sorted({int(r.label) for r in train_recs})
    breeds = _parse_breeds(s.breeds, names) if s.breeds else present
    missing = [names[b] for b in breeds if b not in present]
    if missing:
        raise ValueError(f"The real set {s.real} has no training images of: {', '.join(missing)}")
    train_recs = subsample_per_class([r for r in train_recs if int(r.label) in breeds], s.max_real_per_breed, s.seed)
    test_recs = subsample_per_class([r for r in test_recs if int(r.label) in breeds], s.per_breed, s.seed)
    real_train, real_train_y = load_images(train_recs, size, desc="real train images")
    real_test, real_test_y = load_images(test_recs, size, desc="real test images")
    timing["read_real_s"] = time.perf_counter() - t0

    t = time.perf_counter()
    if s.guidance is None:  # record what was used, not "default"
        s.guidance = float(generator.backend.defaults.get("guidance", 3.0))
    if s.guidance_interval is None:
        s.guidance_interval = [float(v) for v in generator.backend.defaults["guidance_interval"]]
    fake, fake_y = generate_per_breed(
        generator,
        breeds,
        s.per_breed,
        s.steps,
        s.guidance,
        seed=s.seed,
        batch_size=s.batch_size,
        solver=s.solver,
        guidance_interval=s.guidance_interval,
    )
    timing["generate_s"] = time.perf_counter() - t
    timing["seconds_per_image"] = timing["generate_s"] / max(len(fake), 1)

    t = time.perf_counter()
    f_train, _ = extractor(real_train)
    f_test, p_test = extractor(real_test)
    f_fake, p_fake = extractor(fake)
    generated = _compare(f_fake, fake_y, f_train, real_train_y, breeds, names, s)
    floor = _compare(f_test, real_test_y, f_train, real_train_y, breeds, names, s)
    fidelity = _fidelity(p_fake, fake_y, breeds, names)
    real_acc = _fidelity(p_test, real_test_y, breeds, names)
    pred = p_fake.argmax(1)
    matrix = _confusion(fake_y, pred, breeds, len(names))
    judge_result = _judge_metrics(judge, real_train, real_test, real_test_y, fake, fake_y, breeds, names)
    timing["metrics_s"] = time.perf_counter() - t

    inception_result = None
    if inception is not None:
        from .inception import inception_features

        t = time.perf_counter()
        i_train, i_test, i_fake = (inception_features(inception, x) for x in (real_train, real_test, fake))
        gen_i, floor_i = _fd_kid(i_fake, i_train, s), _fd_kid(i_test, i_train, s)
        inception_result = {
            "weights": Path(s.inception_weights).name,
            "fid": gen_i["fd"],
            "kid": gen_i["kid"],
            "kid_std": gen_i["kid_std"],
            "fid_floor": floor_i["fd"],
            "kid_floor": floor_i["kid"],
            "kid_floor_std": floor_i["kid_std"],
        }
        timing["inception_s"] = time.perf_counter() - t

    sweep = []
    if s.guidance_sweep:
        t = time.perf_counter()
        n_sweep = s.sweep_per_breed or s.per_breed
        for g in s.guidance_sweep:
            if math.isclose(g, s.guidance) and n_sweep == s.per_breed:
                f_g, p_g, y_g, imgs = f_fake, p_fake, fake_y, fake
            else:
                imgs, y_g = generate_per_breed(
                    generator,
                    breeds,
                    n_sweep,
                    s.steps,
                    g,
                    seed=s.seed,
                    batch_size=s.batch_size,
                    solver=s.solver,
                    desc=f"guidance {g:g}",
                    guidance_interval=s.guidance_interval,
                )
                f_g, p_g = extractor(imgs)
            kid_g, _ = M.kernel_inception_distance(f_g, f_train, s.kid_subsets, s.kid_subset_size, seed=s.seed)
            row = {
                "guidance_scale": float(g),
                "breed_fidelity": float((p_g.argmax(1) == y_g).mean()),
                "frechet_distance": M.frechet_distance(f_g, f_train),
                "kid": kid_g,
                "images": int(len(y_g)),
            }
            if judge is not None:
                jf, jp = judge.features(imgs)
                row["judge_fidelity"] = float((jp.argmax(1) == y_g).mean())
                row["judge_fd"] = M.frechet_distance(jf, judge_result["train_features"])
            sweep.append(row)
        timing["guidance_sweep_s"] = time.perf_counter() - t

    out.mkdir(parents=True, exist_ok=True)
    files = {
        "confusion_matrix": confusion_matrix_png(
            matrix,
            [names[b] for b in breeds],
            names,
            out / "confusion_matrix.png",
            f"Breed fidelity {fidelity['overall']:.1%} ({len(fake)} generated images)",
        ).name,
        # Frames mark the judge's disagreements when there is a judge: the classifier reads blobs as breeds.
        "samples": sample_grid_png(
            fake,
            fake_y,
            judge_result["predicted"] if judge_result else pred,
            names,
            out / "samples.png",
            grader="judge" if judge_result else "classifier",
        ).name,
    }
    if sweep:
        files["guidance_sweep"] = guidance_sweep_png(sweep, out / "guidance_sweep.png", floor_fd=floor["fd"]).name
    timing["total_s"] = time.perf_counter() - t0

    summary = {
        "breed_fidelity": fidelity["overall"],
        "chance": 1.0 / len(names),
        "real_test_accuracy": real_acc["overall"],
        "fd": generated["fd"],
        "fd_floor": floor["fd"],
        "kid": generated["kid"],
        "kid_floor": floor["kid"],
        "precision": generated["precision"],
        "recall": generated["recall"],
        "precision_floor": floor["precision"],
        "recall_floor": floor["recall"],
        "density": generated["density"],
        "coverage": generated["coverage"],
        "density_floor": floor["density"],
        "coverage_floor": floor["coverage"],
        "class_precision": generated["class_precision"],
        "class_recall": generated["class_recall"],
        "class_precision_floor": floor["class_precision"],
        "class_recall_floor": floor["class_recall"],
    }
    if judge_result:
        summary.update(
            judge_fidelity=judge_result["fidelity"]["overall"],
            judge_min_breed_fidelity=min(judge_result["fidelity"]["per_breed"].values()),
            judge_fd=judge_result["fd"],
            judge_fd_floor=judge_result["fd_floor"],
            judge_real_test_accuracy=judge_result["real_test_accuracy"],
        )
    if inception_result:
        summary.update(
            fid=inception_result["fid"],
            fid_floor=inception_result["fid_floor"],
            inception_kid=inception_result["kid"],
            inception_kid_floor=inception_result["kid_floor"],
        )
    if sweep:
        summary["best_guidance_by_fd"] = min(sweep, key=lambda r: r["frechet_distance"])["guidance_scale"]
        summary["best_guidance_by_fidelity"] = max(sweep, key=lambda r: r["breed_fidelity"])["guidance_scale"]

    result = {
        "format_version": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": {k: v for k, v in asdict(s).items() if k not in ("out",)},
        "generator": generator.describe(),
        "classifier": {
            "source": str(s.classifier),
            "weights_sha256": sha256_file(Path(s.classifier) / WEIGHTS_NAME),
            "feature_dim": extractor.feature_dim,
            **{k: v for k, v in classifier.config.items()},
        },
        "real": {
            "root": str(s.real),
            "train_images": int(len(real_train)),
            "test_images": int(len(real_test)),
            "generator_resolution": size,
        },
        "labels": names,
        "breeds": [names[b] for b in breeds],
        "summary": summary,
        "metrics": {
            "breed_fidelity": {**fidelity, "chance": 1.0 / len(names)},
            "real_test_accuracy": real_acc,
            "generated_vs_train": generated,
            "real_test_vs_train": floor,
            "inception": inception_result,
            "judge": {k: v for k, v in judge_result.items() if k not in ("train_features", "predicted")}
            if judge_result
            else None,
        },
        "confusion_matrix": {"rows": [names[b] for b in breeds], "columns": names, "counts": matrix.tolist()},
        "guidance_sweep": sweep,
        "files": files,
        "timing": {k: round(v, 3) for k, v in timing.items()},
        "torch_threads": torch.get_num_threads(),
    }
    (out / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
