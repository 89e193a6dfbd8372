"""Sampling settings sweep: solver x steps x shift x guidance, graded by the judge and the classifier.

    python benchmarks/sweep_sampling.py --generator weights/pipeline --classifier weights/classifier \\
        --judge runs/judge32 --real data/cartoon_eval --settings euler:20:1:3,euler:10:1:3,heun:10:1:3

A setting is ``solver:steps:shift:guidance`` or ``solver:steps:shift:guidance:low-high`` (guidance
only at noise levels ``low <= s <= high``; without it, the generator's own interval). Every setting
draws the same seeds. For each it
reports model calls per image, the judge's fidelity (overall and worst breed) and FD / floor,
and the served classifier's fidelity and FD / floor. The floor is the real test split against
the real train split at the same count. Prints a markdown table and writes ``sweep.json``.
"""
# python -m benchmarks: by hand (it needs trained weights, a judge and a real test set)

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from cats_dit.classifier import BreedClassifier
from cats_dit.eval.features import ClassifierFeatures
from cats_dit.eval.generate import generate_per_breed, load_generator
from cats_dit.eval.judge import Judge
from cats_dit.eval.metrics import frechet_distance
from cats_dit.eval.real import load_images, load_split, subsample_per_class
from cats_dit.guidance import check_guidance_interval, guided_at


def parse_setting(text: str) -> dict:
    try:
        solver, steps, shift, guidance, *rest = text.split(":")
        interval = list(check_guidance_interval(rest[0].split("-"))) if rest else None
        if len(rest) > 1:
            raise ValueError("too many fields")
        return {
            "solver": solver,
            "steps": int(steps),
            "shift": float(shift),
            "guidance": float(guidance),
            "interval": interval,
        }
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"a setting is solver:steps:shift:guidance[:low-high], got {text!r} ({exc})"
        ) from None


def model_rows(setting: dict, sigmas) -> tuple[int, int]:
    """(transformer calls, batch rows) per image: a guided call is one call on two rows."""
    calls = len(sigmas) - 1
    if setting["guidance"] == 1.0:
        return calls, calls
    low, high = setting["interval"]
    guided = sum(guided_at(float(s), (low, high)) for s in sigmas[:-1])
    return calls, calls + guided


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generator", required=True)
    p.add_argument("--classifier", required=True)
    p.add_argument("--judge", required=True)
    p.add_argument("--real", required=True)
    p.add_argument("--settings", required=True, help="comma-separated solver:steps:shift:guidance")
    p.add_argument("--per-breed", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/sweep")
    args = p.parse_args(argv)
    settings = [parse_setting(s) for s in args.settings.split(",")]
    load = os.getloadavg()[0]

    gen = load_generator(args.generator)
    size = gen.sample_size
    judge = Judge.from_pretrained(args.judge)
    clf = ClassifierFeatures(BreedClassifier.from_pretrained(args.classifier))
    train = subsample_per_class(load_split(args.real, "train"), 200)
    test = subsample_per_class(load_split(args.real, "test"), args.per_breed)
    real_train, _ = load_images(train, size, "real train")
    real_test, _ = load_images(test, size, "real test")
    breeds = sorted({int(r.label) for r in train})
    spaces = {"judge": judge.features, "classifier": clf}
    ref = {k: fn(real_train)[0] for k, fn in spaces.items()}
    floor = {k: frechet_distance(fn(real_test)[0], ref[k]) for k, fn in spaces.items()}

    rows = []
    sched = gen.pipe.scheduler
    for st in settings:
        scheduler = type(sched).from_config(sched.config, solver=st["solver"], shift=st["shift"])
        gen.pipe.register_modules(scheduler=scheduler)
        st["interval"] = st["interval"] or [float(v) for v in gen.backend.defaults["guidance_interval"]]
        images, labels = generate_per_breed(
            gen,
            breeds,
            args.per_breed,
            st["steps"],
            st["guidance"],
            seed=args.seed,
            desc=str(st),
            solver=st["solver"],
            guidance_interval=st["interval"],
        )
        scheduler.set_timesteps(st["steps"])
        calls, batch_rows = model_rows(st, scheduler.sigmas.tolist())
        row = {**st, "calls": calls, "rows": batch_rows}
        for name, fn in spaces.items():
            feats, probs = fn(images)
            hit = probs.argmax(1) == labels
            row[f"{name}_fidelity"] = float(hit.mean())
            row[f"{name}_min_breed"] = float(min(hit[labels == b].mean() for b in breeds))
            row[f"{name}_fd_ratio"] = frechet_distance(feats, ref[name]) / floor[name]
        rows.append(row)
    gen.pipe.register_modules(scheduler=sched)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps({"load": load, "floor": floor, "rows": rows}, indent=2) + "\n")
    n = len(breeds) * args.per_breed
    print(f"Sampling sweep, {n} images per setting, load average at start {load:.2f}")
    print(f"(fidelity standard error at 95%: about {np.sqrt(0.95 * 0.05 / n):.3f})\n")
    print("(calls: model calls per image; rows: batch rows they compute, 2 per guided call)\n")
    print(
        "| solver | steps | shift | guidance | interval | calls | rows | judge fidelity | judge worst breed "
        "| judge FD/floor | classifier fidelity | classifier FD/floor |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        low, high = r["interval"]
        print(
            f"| {r['solver']} | {r['steps']} | {r['shift']:g} | {r['guidance']:g} | {low:g}-{high:g} | {r['calls']} | "
            f"{r['rows']} | "
            f"{r['judge_fidelity']:.3f} | {r['judge_min_breed']:.2f} | {r['judge_fd_ratio']:.2f} | "
            f"{r['classifier_fidelity']:.3f} | {r['classifier_fd_ratio']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
