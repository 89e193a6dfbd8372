"""Write the Python reference arrays the node tests compare the JS modules against.

    python static_site/tests/make_fixtures.py [--output static_site/tests/fixtures]

noise.json: seeded_normal for a few seeds (odd and even lengths, seed 2**32-1);
scheduler.json: FlowMatchScheduler runs (Euler/Heun x velocity/sample x shift) on fixed
model outputs, with the sample after every step and the CFG combination;
and interval runs: which model calls of CatsDiTPipeline are guided (their batch, timestep and labels)
for a guidance interval;
preprocess.json: image_to_tensor + preprocess_tensor on small RGBA/RGB images;
breeds.json: cats_dit.breeds.to_id on names in many spellings (null where it raises).
All values are float32 written as exact decimal doubles.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cats_dit.breeds import DISPLAY_NAMES, LABELS, to_id
from cats_dit.classifier import image_to_tensor, preprocess_tensor
from cats_dit.modeling_tinydit import TinyDiTModel
from cats_dit.pipeline_cats_dit import CatsDiTPipeline, combine_guidance, seeded_normal
from cats_dit.scheduling_flow_match import FlowMatchScheduler

HERE = Path(__file__).resolve().parent


def floats(a) -> list[float]:
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def noise_cases() -> list[dict]:
    cases = []
    for seed, n in [(0, 192), (1, 7), (42, 3 * 16 * 16), (123456789, 64), (2**32 - 1, 33)]:
        cases.append({"seed": seed, "n": n, "values": floats(seeded_normal(seed, (n,)))})
    return cases


def scheduler_cases() -> list[dict]:
    rng = np.random.default_rng(0)
    shape = (2, 3, 4, 4)
    cases = []
    for solver in ("euler", "heun"):
        for prediction_type in ("velocity", "sample"):
            for shift, steps in ((1.0, 5), (3.0, 4), (1.0, 1)):
                sched = FlowMatchScheduler(shift=shift, solver=solver, prediction_type=prediction_type)
                sched.set_timesteps(steps)
                sample = torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
                case = {
                    "config": {"shift": shift, "solver": solver, "prediction_type": prediction_type},
                    "steps": steps,
                    "timesteps": floats(sched.timesteps),
                    "sigmas": floats(sched.sigmas),
                    "initial": floats(sample),
                    "model_outputs": [],
                    "samples": [],
                }
                for t in sched.timesteps:
                    out = torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
                    sample = sched.step(out, t, sample, return_dict=False)[0]
                    case["model_outputs"].append(floats(out))
                    case["samples"].append(floats(sample))
                cases.append(case)
    return cases


def guidance_cases() -> list[dict]:
    rng = np.random.default_rng(1)
    cases = []
    for g in (0.0, 1.5, 3.0, 7.3):
        vc = torch.from_numpy(rng.standard_normal(48).astype(np.float32))
        vu = torch.from_numpy(rng.standard_normal(48).astype(np.float32))
        cases.append(
            {"guidance": g, "cond": floats(vc), "uncond": floats(vu), "out": floats(combine_guidance(vc, vu, g))}
        )
    return cases


def interval_cases() -> list[dict]:
    """The model calls CatsDiTPipeline makes for a guidance interval (boundaries included: 0.001 is
    exactly the last step's noise level at shift 1)."""
    torch.manual_seed(0)
    model = TinyDiTModel(sample_size=4, patch_size=2, hidden_size=8, depth=1, num_heads=2, qk_norm=False).eval()
    calls: list[dict] = []

    def record(_module, args, kwargs):
        sample, timestep, labels = args[:3]
        calls.append({"batch": int(sample.shape[0]), "t": float(timestep[0]), "labels": labels.tolist()})

    model.register_forward_pre_hook(record, with_kwargs=True)
    cases = []
    for solver, steps, shift, interval in [
        ("euler", 8, 1.0, [0.2, 0.7]),
        ("heun", 5, 1.0, [0.3, 1.0]),
        ("euler", 6, 3.0, [0.0, 0.5]),
        ("euler", 5, 1.0, [0.001, 1.0]),
        ("euler", 5, 1.0, [0.0011, 1.0]),
    ]:
        pipe = CatsDiTPipeline(model, FlowMatchScheduler(shift=shift, solver=solver))
        pipe.set_progress_bar_config(disable=True)
        calls.clear()
        pipe(
            [2, 7], num_inference_steps=steps, guidance_scale=2.5, guidance_interval=interval, seed=1, output_type="np"
        )
        config = {"shift": shift, "solver": solver}
        cases.append({"config": config, "steps": steps, "interval": interval, "calls": list(calls)})
    return cases


def preprocess_cases() -> list[dict]:
    rng = np.random.default_rng(2)
    cases = []
    cfg = {"resize_size": 20, "image_size": 16, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    for h, w, mode in [(37, 50, "RGBA"), (50, 37, "RGB"), (20, 31, "RGB"), (9, 12, "RGBA")]:
        rgba = rng.integers(0, 256, size=(h, w, 4), dtype=np.uint8)
        if mode == "RGB":
            rgba[..., 3] = 255
        else:
            rgba[0, :, 3] = 0  # fully transparent row
        img = Image.fromarray(rgba, "RGBA") if mode == "RGBA" else Image.fromarray(rgba[..., :3], "RGB")
        x = image_to_tensor(img)
        y = preprocess_tensor(x, cfg["resize_size"], cfg["image_size"], cfg["mean"], cfg["std"])
        cases.append(
            {"height": h, "width": w, "rgba": rgba.ravel().tolist(), "tensor": floats(x), "out": floats(y), **cfg}
        )
    return cases


def breed_cases() -> dict:
    names = [*LABELS, *DISPLAY_NAMES, *(n.upper() for n in LABELS), *(n.replace("_", "-").lower() for n in LABELS)]
    names += [" persian ", "British  Shorthair", "maine_coon", "Egyptian-Mau", "OTHER", "dog", "", "  "]
    names += ["0", "7", "12", "13", "-1", "07", "7.0", "1e1", "0x7", " 3 "]

    def answer(name: str):
        try:
            return to_id(name)
        except ValueError:
            return None

    return {"labels": list(LABELS), "display_names": list(DISPLAY_NAMES), "cases": [[n, answer(n)] for n in names]}


def write_fixtures(output: Path) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    (output / "noise.json").write_text(json.dumps(noise_cases()))
    (output / "scheduler.json").write_text(
        json.dumps({"runs": scheduler_cases(), "guidance": guidance_cases(), "intervals": interval_cases()})
    )
    (output / "preprocess.json").write_text(json.dumps(preprocess_cases()))
    (output / "breeds.json").write_text(json.dumps(breed_cases()))
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=HERE / "fixtures", help="folder for the JSON files")
    args = parser.parse_args()
    print(f"wrote {write_fixtures(args.output)}")


if __name__ == "__main__":
    main()
