"""The static page's speed in headless Chromium next to native onnxruntime, as a markdown table.

    python benchmarks/bench_browser.py [--models DIR | --preset s128] [--threads 1 2]
                                       [--precisions fp32 fp16 int8] [--steps N] [--quick] [--output FILE.md]

For each precision and WASM thread count (the page is served cross-origin isolated, with
``?threads=N``): generator load time cold (download + sha256 + session) and cached (Cache
API + session), per-step latency (median of the steps, one model call on the [cond, uncond]
batch + CFG + scheduler; with a guidance interval, the median of the guided steps) and full-image
time at the models.json defaults (steps, guidance, sampler, guidance interval); next to it native
onnxruntime in Python with the same thread count (per-step median and full image). Target:
WASM per-step within 2x of native at the same thread count.

Models: ``--models DIR``; ``--preset NAME`` exports that preset with random weights on the fly
(speed does not depend on training, so the real size is always measured: ``--preset s128``) and
the sampling defaults of static_site/models/ (the demo weights' measured defaults) when it has them;
else static_site/models/ when it holds models.json, else a "demo" preset pipeline with random
weights. ``--quick``: the default precision only, 8 steps.

The load average at the start of the table is printed with it; at load > 1 the WASM / native
ratio is not claimed (other processes skew one side more than the other).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._load import load_average, load_line, ratio  # noqa: E402
from static_site import testing as st  # noqa: E402


def export_random_preset(preset: str, out: Path, precisions: list[str]) -> Path:
    """``preset`` with random weights, exported (unvalidated: speed only) into ``out`` with a
    models.json the page reads. The classifier is the committed one (the page loads one too)
    when static_site/models/ has it, else a small random one through ``python -m export``."""
    from cats_dit.onnx import models_json
    from cats_dit.onnx.export import export_generator_files
    from cats_dit.testing import build_tiny_pipeline

    pipe = build_tiny_pipeline(preset)
    files = export_generator_files(pipe.transformer, out, precisions)
    cfg = pipe.transformer.config
    committed = st.SITE / "models" / "models.json"
    defaults = {"num_inference_steps": 20, "guidance_scale": 3.0, "solver": "euler"}
    if committed.is_file():  # time the real size at the settings the page ships with
        defaults = json.loads(committed.read_text())["generator"]["defaults"]
    document = models_json.base_document(pipe.labels, pipe.null_class_id)
    document["generator"] = models_json.generator_section(cfg, dict(pipe.scheduler.config), defaults)
    for precision, paths in files.items():
        entry = models_json.file_entry(paths, precision, {"note": f"random {preset} weights: speed only"})
        document["generator"]["files"][precision] = entry
    document["generator"]["default_precision"] = next(iter(files))
    if committed.is_file():
        clf = json.loads(committed.read_text())["classifier"]
        for entry in clf["files"].values():
            for item in [entry, *entry.get("external_data", [])]:
                shutil.copy(committed.parent / item["name"], out / item["name"])
    else:
        work = out / ".classifier"
        _, clf_dir = st.build_tiny_models(work)
        from cats_dit.onnx.export import run_export

        clf = run_export(None, clf_dir, work / "out", precisions=["fp32"], log=lambda *a: None)["classifier"]
        for entry in clf["files"].values():
            for item in [entry, *entry.get("external_data", [])]:
                shutil.copy(work / "out" / item["name"], out / item["name"])
        shutil.rmtree(work)
    document["classifier"] = clf
    models_json.write(document, out)
    models_json.check_folder(out)
    return out


def guided_steps(config: dict, steps: int, guidance: float, solver: str) -> list[bool]:
    """Which of the page's steps run the [cond, uncond] batch (the rest run the conditional half)."""
    from cats_dit.guidance import check_guidance_interval, guided_at
    from cats_dit.onnx_pipeline import NumpyFlowMatchScheduler

    g = config["generator"]
    sched = NumpyFlowMatchScheduler(**{**g.get("scheduler", {}), "solver": solver})
    sched.set_timesteps(steps)
    interval = check_guidance_interval(g.get("defaults", {}).get("guidance_interval"))
    return [guidance != 1.0 and guided_at(float(t) / sched.num_train_timesteps, interval) for t in sched.timesteps]


def browser_run(browser, url: str, threads: int, precision: str, steps: int, guidance: float, solver: str) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(300_000)
    try:
        page.goto(f"{url}?threads={threads}&precision={precision}")
        st.wait_ready(page, "generator", timeout_ms=300_000)
        runtime = page.evaluate("window.catsDit.runtime")
        cold = page.evaluate("window.catsDit.state.ready.generator")
        page.reload()
        st.wait_ready(page, "generator", timeout_ms=300_000)
        cached = page.evaluate("window.catsDit.state.ready.generator")
        st.generate_in_page(page, breed=1, steps=2, guidance=guidance, solver=solver, seed=0)  # warm-up
        result = st.generate_in_page(page, breed=1, steps=steps, guidance=guidance, solver=solver, seed=1)
        config = page.evaluate("window.catsDit.state.config")
    finally:
        context.close()
    guided = guided_steps(config, steps, guidance, solver)
    batch2 = [ms for ms, g in zip(result["stepMs"], guided) if g] or result["stepMs"]
    return {
        "backend": runtime["backend"],
        "threads": runtime["threads"],
        "cold_ms": cold["loadMs"],
        "cached_ms": cached["loadMs"],
        "step_ms": statistics.median(batch2),
        "full_s": result["totalMs"] / 1000,
    }


def native_run(
    models: Path, config: dict, threads: int, precision: str, steps: int, guidance: float, solver: str
) -> dict:
    import onnxruntime as ort

    g = config["generator"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(
        str(models / g["files"][precision]["name"]), options, providers=["CPUExecutionProvider"]
    )
    hw = g["sample_size"]
    feeds = {
        "sample": np.random.default_rng(0).standard_normal((2, g["in_channels"], hw, hw)).astype(np.float32),
        "timestep": np.full(2, 500.0, np.float32),
        "class_labels": np.array([1, config["null_class_id"]], np.int64),
    }
    for _ in range(3):
        session.run(None, feeds)
    times = []
    for _ in range(max(10, steps)):
        t0 = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - t0)
    try:
        from cats_dit.onnx_pipeline import OnnxCatsDiTPipeline

        pipe = OnnxCatsDiTPipeline.from_folder(models, precision=precision, intra_op_num_threads=threads)
        t0 = time.perf_counter()
        pipe(1, num_inference_steps=steps, guidance_scale=guidance, solver=solver, seed=1)
        full = time.perf_counter() - t0
    except ImportError:
        full = statistics.median(times) * steps
    return {"step_ms": statistics.median(times) * 1000, "full_s": full}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=None, help="exported models folder (models.json + ONNX)")
    parser.add_argument("--preset", default=None, help="export this TinyDiT preset with random weights (e.g. s128)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="WASM / native thread counts")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "fp16", "int8"], help="generator precisions")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps (default: models.json defaults)")
    parser.add_argument("--quick", action="store_true", help="the default precision only, 8 steps")
    parser.add_argument("--output", type=Path, default=None, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    if args.models is not None and args.preset is not None:
        parser.error("give --models or --preset, not both")
    if not Path(st.CHROMIUM).exists():
        raise SystemExit(f"error: {st.CHROMIUM} is missing (apt-get install -y chromium)")
    st.ensure_vendor()

    tmp = tempfile.TemporaryDirectory()
    models = args.models
    if args.preset is not None:
        wanted = ["int8"] if args.quick else args.precisions
        print(f"exporting {args.preset} with random weights ({', '.join(wanted)})", file=sys.stderr)
        models = export_random_preset(args.preset, Path(tmp.name), wanted)
    if models is None and (st.SITE / "models" / "models.json").is_file():
        models = st.SITE / "models"
    if models is None:
        print("no models given: exporting a demo-preset pipeline with random weights", file=sys.stderr)
        models, how = st.make_models(Path(tmp.name), preset="demo")
        print(f"models made with {how}", file=sys.stderr)
    config = json.loads((models / "models.json").read_text())
    g = config["generator"]
    d = g.get("defaults", {})
    steps = args.steps or (8 if args.quick else d.get("num_inference_steps", 20))
    guidance, solver = d.get("guidance_scale", 3.0), d.get("solver", "euler")
    low, high = d.get("guidance_interval", [0.0, 1.0])
    precisions = [g["default_precision"]] if args.quick else [p for p in args.precisions if p in g["files"]]
    missing = [p for p in args.precisions if p not in g["files"]]
    if missing and not args.quick:
        print(f"models.json has no generator file for {', '.join(missing)}: skipped", file=sys.stderr)

    rows = []
    load = load_average()
    with st.serve(models, isolation=True) as url, st.chromium() as browser:
        for precision in precisions:
            for threads in args.threads:
                b = browser_run(browser, url, threads, precision, steps, guidance, solver)
                n = native_run(models, config, threads, precision, steps, guidance, solver)
                rows.append((precision, threads, b, n))
                print(
                    f"{precision} {threads} thread(s): browser {b['step_ms']:.1f} ms/step, native {n['step_ms']:.1f}",
                    file=sys.stderr,
                )

    size = g["sample_size"]
    head = (
        f"Generator {size}x{size}px, {steps} steps, guidance {guidance} at noise levels {low:g}-{high:g} "
        f"({sum(guided_steps(config, steps, guidance, solver))} guided steps), {solver}; per step: a guided step, "
        "batch [cond, uncond]; image: the whole sampling loop. "
        f"Chromium (headless, WASM, cross-origin isolated) vs native onnxruntime on the same machine.\n\n"
        "| precision | threads | file MB | load cold (ms) | load cached (ms) | WASM per step (ms) | WASM image (s) "
        "| native per step (ms) | native image (s) | WASM / native |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for precision, _threads, b, n in rows:
        entry = g["files"][precision]
        mb = (entry["size"] + sum(x["size"] for x in entry.get("external_data", []))) / 1e6
        over = "" if b["step_ms"] <= 2 * n["step_ms"] else " (over 2x)"
        lines.append(
            f"| {precision} | {b['threads']} | {mb:.1f} | {b['cold_ms']:.0f} | {b['cached_ms']:.0f} | {b['step_ms']:.1f} "
            f"| {b['full_s']:.2f} | {n['step_ms']:.1f} | {n['full_s']:.2f} | {ratio(b['step_ms'] / n['step_ms'], load, over)} |"
        )
    table = head + "\n".join(lines) + "\n\n" + load_line(load) + "\n"
    print(table)
    if args.output:
        args.output.write_text(table)
    tmp.cleanup()


if __name__ == "__main__":
    main()
