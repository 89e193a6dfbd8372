"""Learning efficiency: one training loop, several models, the same budget, an independent judge.

    python benchmarks/bench_learning.py --quick        # cartoon16 only, 300 steps: ~8 min on 2 quiet cores
    python benchmarks/bench_learning.py                # 3 data sets x 2 models, 450 steps: ~25 min
    python benchmarks/bench_learning.py --datasets cartoon16 --variants tinydit,tinydit-v1,tinydit+qk_norm=1

Every model gets the same data order, noise, timesteps (logit-normal) and label dropout (10%), the
same AdamW and the same number of steps at the same batch size. At several points of the budget
it samples 20 Euler steps through ``CatsDiTPipeline`` at guidance 1 and 3 and reports:

- the training loss (mean of the last 50 steps);
- class accuracy of the samples, judged by ``cats_dit.eval.judge`` trained on real images of the
  data set at the generator's resolution (never on generated or "generator view" images);
- Fréchet distance in the judge's features, as a ratio to the real-vs-real floor at the same
  sample count (two disjoint real sets).

Data sets (all offline): ``cartoon16`` / ``cartoon32`` (the project's cartoon cats, 13 labels,
freshly drawn: training, judge, reference and floor sets are separate draws) and ``digits16``
(scikit-learn's 8x8 handwritten digits, real scans, upsampled to 16 px, 10 labels).

Variants: ``tinydit`` (the presets' recipe: no QK-norm, x-prediction), ``tinydit-v1`` (the first
release's recipe: QK-norm, N(0, 0.02) class and time embeddings), ``diffusers-dit`` (diffusers' ``DiTTransformer2DModel`` at
the same width, depth, heads and tokens; its internal label dropout is turned off so both see the
loop's 10%), and ablations written ``BASE+key=value+...`` (keys: ``class_std``, ``time_std``,
``qk_norm``, ``final_conv``, ``lr``, ``beta2``, ``warmup``, ``pred`` (velocity|sample; sample is
x-prediction trained with the velocity loss, as ``train_dit.py --prediction-type sample`` does),
``logit_mean``, ``logit_std``, ``patch``, ``block_cond`` (1: every block embeds time and class
itself, as diffusers' DiT does, instead of one embedding shared by all blocks)). Prints a markdown
table and writes ``learning.json`` and ``learning.png`` (curves) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from cats_dit import CatsDiTPipeline, FlowMatchScheduler, TinyDiTModel
from cats_dit.eval.judge import Judge, accuracy, train_judge
from cats_dit.eval.metrics import frechet_distance
from cats_dit.guidance import check_guidance_interval
from cats_dit.modeling_tinydit import TinyDiTOutput, timestep_embedding, unpatchify

WIDTH, DEPTH, HEADS = 128, 4, 4
NULL_CLASS = 13  # every model has 13 label rows + the null row, whatever the data set uses


# ----------------------------------------------------------------------------------------------
# Data: four disjoint real sets per data set (train, judge, reference, floor), cached as uint8.
@dataclass
class RealSets:
    name: str
    size: int
    num_labels: int
    train: tuple[torch.Tensor, np.ndarray]
    judge: tuple[torch.Tensor, np.ndarray]
    ref: tuple[torch.Tensor, np.ndarray]
    floor: tuple[torch.Tensor, np.ndarray]


def _cartoon(size: int, per_class: int, seed: int, cache: Path) -> tuple[torch.Tensor, np.ndarray]:
    from cats_dit.data import make_cartoon_dataset
    from cats_dit.eval.real import load_images, load_split

    root = cache / f"cartoon_seed{seed}_n{per_class}"
    if not (root / "annotations" / "list.txt").is_file():
        make_cartoon_dataset(root, per_class=per_class, seed=seed, progress=False)
    records = load_split(root, "trainval") + load_split(root, "test")
    images, labels = load_images(records, size, desc=f"cartoon seed {seed}")
    return images, np.asarray(labels)


def _digits(size: int) -> list[tuple[torch.Tensor, np.ndarray]]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]  # [N, 1, 8, 8] in [0, 1]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1).repeat(1, 3, 1, 1)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    n = len(y)
    cut = [int(n * 0.7), int(n * 0.85)]
    train = (x[: cut[0]], y[: cut[0]])
    # The judge trains on the generator's training images: it is still never touched by the
    # generator, and the digits set is too small to hold out a fifth split.
    return [train, train, (x[cut[0] : cut[1]], y[cut[0] : cut[1]]), (x[cut[1] :], y[cut[1] :])]


def load_sets(name: str, cache: Path, train_per_class: int, eval_per_class: int) -> RealSets:
    cache.mkdir(parents=True, exist_ok=True)
    if name.startswith("cartoon"):
        size = int(name.removeprefix("cartoon"))
        parts = [
            _cartoon(size, train_per_class, 100, cache),
            _cartoon(size, 150, 101, cache),
            _cartoon(size, eval_per_class, 102, cache),
            _cartoon(size, eval_per_class, 103, cache),
        ]
        return RealSets(name, size, 13, *parts)
    if name == "digits16":
        return RealSets(name, 16, 10, *_digits(16))
    raise ValueError(f"unknown data set {name!r}; choose cartoon16, cartoon32 or digits16")


# ----------------------------------------------------------------------------------------------
# Models
class BlockConditionedTinyDiT(TinyDiTModel):
    """Ablation ``block_cond=1``: blocks 1..N-1 get their own time MLP and class table (diffusers'
    DiT gives every block its own ``CombinedTimestepLabelEmbeddings``); block 0 and the final layer
    keep the model's shared ones. Initialised like the shared ones (Xavier MLP, N(0, 1) rows)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        d, rows = self.config.hidden_size, self.config.num_classes + 1
        extra = len(self.blocks) - 1
        self.block_time_embed = nn.ModuleList(
            nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d)) for _ in range(extra)
        )
        self.block_class_embed = nn.ModuleList(nn.Embedding(rows, d) for _ in range(extra))
        for mlp in self.block_time_embed:
            for layer in (mlp[0], mlp[2]):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
        for table in self.block_class_embed:
            nn.init.normal_(table.weight, std=1.0)

    def forward(self, sample, timestep, class_labels, return_dict: bool = True):
        b, c, h, w = sample.shape
        timestep = torch.as_tensor(timestep, dtype=torch.float32, device=sample.device).reshape(-1).expand(b)
        x = self.pos_embed.to(sample.dtype) + self.patch_embed(sample).flatten(2).transpose(1, 2)
        t_feat = timestep_embedding(timestep, 256).to(sample.dtype)
        shared = self.time_embed(t_feat) + self.class_embed(class_labels)
        conds = [shared] + [t(t_feat) + y(class_labels) for t, y in zip(self.block_time_embed, self.block_class_embed)]
        for block, cond in zip(self.blocks, conds):
            x = block(x, cond)
        out = unpatchify(self.final_layer(x, shared), self.config.patch_size, c, h, w)
        if self.conv_out is not None:
            out = self.conv_out(out)
        return TinyDiTOutput(sample=out) if return_dict else (out,)


BASE_RECIPES = {
    # the first release: QK-norm, small class / time embedding init
    "tinydit-v1": dict(qk_norm=1, class_std=0.02, time_std=0.02),
    # this release's recipe: TinyDiTModel's initialisation and the presets' qk_norm=False and
    # x-prediction (train/presets.py); "tinydit+pred=velocity" is the velocity model
    "tinydit": dict(qk_norm=0, pred="sample"),
    "diffusers-dit": dict(),
}
LOOP_DEFAULTS = dict(lr=5e-4, beta2=0.99, warmup=50, pred="velocity", logit_mean=0.0, logit_std=1.0)


def parse_variant(spec: str) -> tuple[str, dict]:
    base, *mods = spec.split("+")
    if base not in BASE_RECIPES:
        raise ValueError(f"unknown variant base {base!r}; choose one of {', '.join(BASE_RECIPES)}")
    opts = dict(BASE_RECIPES[base])
    for mod in mods:
        key, sep, value = mod.partition("=")
        if not sep:
            raise ValueError(f"variant modifier {mod!r} must be key=value")
        opts[key] = value if key == "pred" else float(value)
    return base, opts


def build_model(base: str, opts: dict, size: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    patch = int(opts.get("patch", 2 if size == 16 else 4))
    if base == "diffusers-dit":
        from diffusers import DiTTransformer2DModel

        model = DiTTransformer2DModel(
            num_attention_heads=HEADS,
            attention_head_dim=WIDTH // HEADS,
            in_channels=3,
            num_layers=DEPTH,
            sample_size=size,
            patch_size=patch,
            num_embeds_ada_norm=13,
        )
        for block in model.transformer_blocks:
            block.norm1.emb.class_embedder.dropout_prob = 0.0  # the loop drops labels itself
        model.register_to_config(num_classes=13)  # what CatsDiTPipeline reads for the null class
        return model
    kwargs = dict(sample_size=size, patch_size=patch, hidden_size=WIDTH, depth=DEPTH, num_heads=HEADS, num_classes=13)
    for flag in ("qk_norm", "final_conv"):
        if flag in opts:
            kwargs[flag] = bool(opts[flag])
    model = (BlockConditionedTinyDiT if opts.get("block_cond") else TinyDiTModel)(**kwargs)
    if "class_std" in opts:
        nn.init.normal_(model.class_embed.weight, std=opts["class_std"])
    if "time_std" in opts:
        for layer in (model.time_embed[0], model.time_embed[2]):
            nn.init.normal_(layer.weight, std=opts["time_std"])
    return model


# ----------------------------------------------------------------------------------------------
# Judge, floor, evaluation
JUDGE_THREADS = 2


def get_judge(sets: RealSets, cache: Path, epochs: int = 15) -> Judge:
    folder = cache / f"judge_{sets.name}_e{epochs}"
    if (folder / "judge.safetensors").is_file():
        return Judge.from_pretrained(folder)
    # A fixed thread count: the sums (and so the judge) change with it, and every run, whatever its
    # --threads / --jobs, must grade with the same judge for its numbers to compare with other runs'.
    threads = torch.get_num_threads()
    torch.set_num_threads(JUDGE_THREADS)
    try:
        judge = train_judge(sets.judge[0], sets.judge[1], num_classes=13, epochs=epochs, seed=0)
    finally:
        torch.set_num_threads(threads)
    acc = accuracy(judge, *sets.ref)
    judge.save_pretrained(folder, {"ref_accuracy": acc})
    return Judge.from_pretrained(folder)


@torch.no_grad()
def evaluate(
    model, sets: RealSets, judge: Judge, ref_feats, guidance: float, per_class: int, pred: str, interval=(0.0, 1.0)
) -> dict:
    pipe = CatsDiTPipeline(transformer=model.eval(), scheduler=FlowMatchScheduler(prediction_type=pred))
    pipe.set_progress_bar_config(disable=True)
    labels = list(range(sets.num_labels))
    images = pipe(
        labels,
        num_images_per_prompt=per_class,
        num_inference_steps=20,
        guidance_scale=guidance,
        guidance_interval=interval,
        seed=12345,
        output_type="pt",
    ).images
    model.train()
    feats, probs = judge.features(images)
    want = np.repeat(labels, per_class)
    return {"acc": float((probs.argmax(1) == want).mean()), "fd": frechet_distance(feats, ref_feats)}


# ----------------------------------------------------------------------------------------------
def train_and_measure(spec: str, sets: RealSets, judge: Judge, args, floor: float, ref_feats) -> dict:
    base, opts = parse_variant(spec)
    loop = {**LOOP_DEFAULTS, **{k: v for k, v in opts.items() if k in LOOP_DEFAULTS}}
    model = build_model(base, opts, sets.size, args.seed)
    sched = FlowMatchScheduler(prediction_type=loop["pred"])
    opt = torch.optim.AdamW(model.parameters(), lr=loop["lr"], betas=(0.9, loop["beta2"]), weight_decay=0.0)
    warm = int(loop["warmup"])
    lr_at = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min(1.0, (k + 1) / max(warm, 1)))
    x_all, y_all = sets.train
    y_all = torch.as_tensor(y_all)
    g = torch.Generator().manual_seed(args.seed)  # same stream for every variant
    points = sorted({max(1, round(args.steps * f)) for f in args.eval_at})
    losses, rows, t_train = [], [], 0.0
    model.train()
    for step in tqdm(range(1, args.steps + 1), desc=f"{sets.name} {spec}", leave=False):
        idx = torch.randint(0, len(y_all), (args.batch,), generator=g)
        x0, y = x_all[idx] * 2 - 1, y_all[idx].clone()
        flip = torch.rand(args.batch, generator=g) < 0.5
        x0 = torch.where(flip[:, None, None, None], x0.flip(-1), x0)
        y[torch.rand(args.batch, generator=g) < 0.1] = NULL_CLASS
        noise = torch.randn(x0.shape, generator=g)
        s = torch.sigmoid(torch.randn(args.batch, generator=g) * loop["logit_std"] + loop["logit_mean"])
        t0 = time.perf_counter()
        xt = sched.scale_noise(x0, s * 1000, noise)
        pred = model(xt, s * 1000, y).sample
        loss = sched.training_loss(pred, x0, noise, s)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        lr_at.step()
        t_train += time.perf_counter() - t0
        losses.append(loss.item())
        if step in points:
            row = {"step": step, "loss": float(np.mean(losses[-50:]))}
            for gscale in args.guidance:
                r = evaluate(
                    model, sets, judge, ref_feats, gscale, args.per_class, loop["pred"], args.guidance_interval
                )
                row[f"acc_g{gscale:g}"] = r["acc"]
                row[f"fd_ratio_g{gscale:g}"] = r["fd"] / floor
            rows.append(row)
    params = sum(p.numel() for p in model.parameters())
    return {"variant": spec, "params": params, "train_seconds": t_train, "curve": rows}


def _run(item) -> dict:
    return train_and_measure(*item)


def _save(out: Path, args, results: dict) -> None:
    (out / "learning.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


def plot(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(len(names), 3, figsize=(13, 3.2 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        for run in results[name]["runs"]:
            c = run["curve"]
            steps = [p["step"] for p in c]
            axes[r][0].plot(steps, [p["loss"] for p in c], marker="o", label=run["variant"])
            axes[r][1].plot(steps, [p["acc_g1"] for p in c], marker="o", label=run["variant"])
            axes[r][2].plot(steps, [p["fd_ratio_g1"] for p in c], marker="o", label=run["variant"])
        for ax, title in zip(axes[r], ("training loss", "judge accuracy, guidance 1", "FD / floor, guidance 1")):
            ax.set_title(f"{name}: {title}")
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
        axes[r][2].set_yscale("log")
        axes[r][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def table(results: dict, load: str, guidance: list[float], interval=(0.0, 1.0)) -> str:
    g = [f"g{x:g}" for x in guidance]
    lines = [
        f"Learning at equal budget (load average at start: {load}; quality numbers do not depend on load)",
        f"Guidance applied at noise levels {interval[0]:g}-{interval[1]:g} (1 = pure noise).",
        "",
        "| data | variant | params | step | loss | "
        + " | ".join([f"acc {k}" for k in g] + [f"FD/floor {k}" for k in g])
        + " | train s |",
        "|---|---|---:|---:|---:|" + "---:|" * (2 * len(g)) + "---:|",
    ]
    for name, res in results.items():
        for run in res["runs"]:
            for p in run["curve"]:
                cells = [f"{p[f'acc_{k}']:.3f}" for k in g] + [f"{p[f'fd_ratio_{k}']:.2f}" for k in g]
                lines.append(
                    f"| {name} | {run['variant']} | {run['params'] / 1e6:.2f}M | {p['step']} | {p['loss']:.4f} | "
                    + " | ".join(cells)
                    + f" | {run['train_seconds']:.0f} |"
                )
        lines.append(
            f"| {name} | *floor FD {res['floor_fd']:.3f}, judge acc on real {res['judge_acc']:.3f}* |"
            + "|" * (5 + 2 * len(g))
        )
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default="cartoon16,cartoon32,digits16", help="comma-separated")
    p.add_argument("--variants", default="tinydit,diffusers-dit", help="comma-separated (see above)")
    p.add_argument("--steps", type=int, default=450)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--eval-at", default="0.5,1.0", help="fractions of the budget at which to evaluate")
    p.add_argument("--per-class", type=int, default=20, help="samples per label at each evaluation")
    p.add_argument("--guidance", default="1,3", help="guidance scales to sample at, comma-separated (1 is required)")
    p.add_argument(
        "--guidance-interval",
        default="0,1",
        help="LOW,HIGH: guidance only at noise levels in [LOW, HIGH] (cats_dit.guidance), the same for every model",
    )
    p.add_argument("--train-per-class", type=int, default=300, help="cartoon training images per label")
    p.add_argument("--quick", action="store_true", help="cartoon16 only, 300 steps, evaluations at 50%% and 100%%")
    p.add_argument("--threads", type=int, default=2, help="torch threads (with --jobs 1)")
    p.add_argument("--jobs", type=int, default=2, help="variants trained at once, one 1-thread process each")
    p.add_argument("--judge-epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/bench_learning")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.steps, args.eval_at = "cartoon16", 300, "0.5,1.0"
    args.eval_at = [float(f) for f in args.eval_at.split(",")]
    args.guidance = [float(g) for g in args.guidance.split(",")]
    if 1.0 not in args.guidance:
        p.error("--guidance must include 1 (the plot shows the unguided curves)")
    try:
        args.guidance_interval = list(check_guidance_interval(args.guidance_interval.split(",")))
    except ValueError as exc:
        p.error(f"--guidance-interval: {exc}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds the Pool's context so its workers stop too (they outlived a killed parent).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    torch.set_num_threads(args.threads)
    load = f"{os.getloadavg()[0]:.2f}"
    out = Path(args.out)
    cache = out / "cache"
    results = {}
    for name in args.datasets.split(","):
        sets = load_sets(name, cache, args.train_per_class, args.per_class)
        judge = get_judge(sets, cache, args.judge_epochs)
        ref_feats, _ = judge.features(sets.ref[0])
        floor_feats, _ = judge.features(sets.floor[0][: len(sets.ref[0])])
        floor = frechet_distance(floor_feats, ref_feats)
        res = {"floor_fd": floor, "judge_acc": accuracy(judge, *sets.ref), "runs": []}
        results[name] = res
        specs = args.variants.split(",")
        work = [(spec, sets, judge, args, floor, ref_feats) for spec in specs]
        if args.jobs > 1:  # one single-threaded process per variant: no OpenMP barriers on a shared box
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(args.jobs, initializer=torch.set_num_threads, initargs=(1,), maxtasksperchild=1) as pool:
                for run in pool.imap(_run, work):
                    res["runs"].append(run)
                    _save(out, args, results)
        else:
            for item in work:
                res["runs"].append(_run(item))
                _save(out, args, results)
    text = table(results, load, args.guidance, args.guidance_interval)
    print(text)
    plot(results, out / "learning.png")
    (out / "learning.md").write_text(text + "\n")
    print(f"\nwrote {out / 'learning.json'}, {out / 'learning.md'}, {out / 'learning.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
