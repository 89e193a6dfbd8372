"""Train the 13-way breed classifier (a torchvision backbone) with accelerate.

    python train/train_classifier.py --data-root data/cartoon --output-dir runs/clf --backbone resnet18
    accelerate launch --multi_gpu --num_processes 2 train/train_classifier.py ...   # 2 processes (CPU-only machine: gloo)

(accelerate 1.x's `launch --cpu --num_processes 2` starts ONE process unless it is given an MPI
hostfile; on a machine without CUDA the script picks the CPU itself, so use --multi_gpu or torchrun.)

Trains on the `train` split (class-weighted cross-entropy, AdamW + cosine), reports the `val`
split every epoch and evaluates the `test` split at the end. Outputs (main process only):
OUTPUT/classifier/ (BreedClassifier.save_pretrained: model.safetensors + config.json with the
preprocessing and metrics), OUTPUT/metrics.json, OUTPUT/confusion_matrix.png, OUTPUT/logs/.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, broadcast, set_seed
from diffusers.optimization import get_scheduler
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF
from tqdm.auto import tqdm

from cats_dit.breeds import DISPLAY_NAMES, LABELS, NUM_CLASSES
from cats_dit.classifier import BACKBONES, WEIGHTS_NAME, BreedClassifier


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", required=True, help="Oxford-IIIT Pet layout or an image folder root/<label>/*.jpg")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--backbone", default="resnet18", choices=BACKBONES)
    p.add_argument("--pretrained", action="store_true", help="start from ImageNet weights (downloads once)")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--resize-size", type=int, default=None, help="default round(image_size * 256 / 224)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--max-steps", type=int, default=None, help="overrides --epochs")
    p.add_argument("--max-train-seconds", type=float, default=None, help="stop early after this much wall time")
    p.add_argument("--batch-size", type=int, default=32, help="per process")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--lr-warmup-steps", type=int, default=50)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--no-class-weights", action="store_true", help="plain (unweighted) cross-entropy")
    p.add_argument(
        "--gen-view-prob",
        type=float,
        default=0.0,
        help="probability of first shrinking a training image the way the generator sees its data "
        "(shorter side to --gen-view-size, centre crop), so generated samples are in-distribution",
    )
    p.add_argument("--gen-view-size", type=int, default=32)
    p.add_argument(
        "--bn-recalibration-batches",
        type=int,
        default=20,
        help="re-estimate BatchNorm statistics on this many training batches before the test (0: off)",
    )
    p.add_argument("--cats-only", action="store_true")
    p.add_argument("--mixed-precision", default=None, choices=["no", "fp16", "bf16"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--cache-dir", default=None, help="pre-resized image cache for the training split")
    p.add_argument("--save-fp16", action="store_true", help="store the weights as float16 (half the size)")
    p.add_argument("--cpu", action="store_true", help="train on CPU even where CUDA is available")
    p.add_argument("--torch-threads", type=int, default=None)
    return p.parse_args(argv)


class ShrinkTo(torch.nn.Module):
    """Shorter side to ``size`` with antialiasing, then a centre square: how the generator sees its data."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return TF.center_crop(TF.resize(x, self.size, antialias=True), [self.size, self.size])


class ResizeLikePreprocess(torch.nn.Module):
    """The resize step of ``preprocess_tensor`` (bilinear, no antialias), so training images carry the same
    aliasing as what the classifier sees at inference; otherwise BatchNorm statistics gathered on smooth
    (antialiased) crops do not fit sharp eval images and a from-scratch network collapses in eval mode."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        s = self.size / min(h, w)
        size = [self.size if h <= w else round(h * s), self.size if w < h else round(w * s)]
        return F.interpolate(x[None], size=size, mode="bilinear", align_corners=False, antialias=False)[0]


def train_transform(config: dict, gen_view_prob: float, gen_view_size: int) -> v2.Compose:
    """Augmentations around exactly the inference resize: random small/blurred views (including the
    generator's own 32 px view), a random crop, flip and a mild colour jitter (hue barely moves: coat
    colour is what tells several breeds apart)."""
    return v2.Compose(
        [
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.RandomApply([ShrinkTo(gen_view_size)], p=gen_view_prob),
            v2.RandomApply([v2.GaussianBlur(3, sigma=(0.1, 1.0))], p=0.2),
            ResizeLikePreprocess(config["resize_size"]),
            v2.RandomResizedCrop(config["image_size"], scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3), antialias=False),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.15, hue=0.02),
            v2.Normalize(config["mean"], config["std"]),
        ]
    )


def build_loaders(args, config: dict, num_processes: int):
    from cats_dit.data import ImageDataset, classifier_transform, load_records

    cache = dict(cache_dir=args.cache_dir, cache_size=config["resize_size"]) if args.cache_dir else {}
    splits = {
        s: load_records(args.data_root, split=s, cats_only=args.cats_only, seed=args.seed)
        for s in ("train", "val", "test")
    }
    classes = sorted({r.label for r in splits["train"]})
    train_tf = train_transform(config, args.gen_view_prob, args.gen_view_size)
    train_ds = ImageDataset(splits["train"], train_tf, require_all_classes=classes, **cache)
    # Evaluation reads the original files: exactly what BreedClassifier.predict_proba, ONNX and the browser see.
    eval_tf = classifier_transform(config, train=False)
    val_ds = ImageDataset(splits["val"], eval_tf) if splits["val"] else None
    test_ds = ImageDataset(splits["test"], eval_tf)
    if len(train_ds) < args.batch_size * num_processes:
        raise ValueError(f"{len(train_ds)} training images is fewer than one global batch; lower --batch-size")
    kw = dict(batch_size=args.batch_size, num_workers=args.num_workers, persistent_workers=args.num_workers > 0)
    train = DataLoader(train_ds, shuffle=True, drop_last=True, **kw)
    val = DataLoader(val_ds, **kw) if val_ds is not None else None
    test = DataLoader(test_ds, **kw)
    return train, val, test, train_ds


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, loader, batches: int) -> None:
    """Re-estimate BN running statistics with the current weights (a plain average over ``batches``).

    Without this a from-scratch MobileNetV3 (BN momentum 0.01) scores chance in eval mode after a few
    hundred steps: its running statistics lag far behind the fast-moving weights."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns or batches <= 0:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for i, (x, _) in enumerate(loader):
        if i >= batches:
            break
        model(x.to(next(model.parameters()).device))
    for m, momentum in zip(bns, saved):
        m.momentum = momentum
    model.eval()


def class_weights(labels: list[int], mode_off: bool) -> torch.Tensor:
    """Inverse class frequency, scaled so the average training image weighs 1; absent classes weigh 0."""
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(np.float64)
    if mode_off:
        return torch.tensor((counts > 0).astype(np.float32))
    present = counts > 0
    w = np.zeros(NUM_CLASSES)
    w[present] = counts[present].sum() / (present.sum() * counts[present])
    return torch.tensor(w, dtype=torch.float32)


@torch.no_grad()
def evaluate(accelerator, model, loader) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, predicted labels) over the whole split, gathered from every process."""
    model.eval()
    ys, ps = [], []
    for x, y in loader:
        pred = model(x).argmax(-1)
        pred, y = accelerator.gather_for_metrics((pred, y))
        ys.append(y.cpu())
        ps.append(pred.cpu())
    model.train()
    return torch.cat(ys).numpy(), torch.cat(ps).numpy()


def metrics_from(y: np.ndarray, p: np.ndarray) -> dict:
    cm = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=int)
    np.add.at(cm, (y, p), 1)
    support = cm.sum(1)
    per_class = {LABELS[i]: round(float(cm[i, i] / support[i]), 4) for i in range(NUM_CLASSES) if support[i]}
    return {
        "accuracy": round(float((y == p).mean()), 4),
        "balanced_accuracy": round(float(np.mean(list(per_class.values()))), 4),
        "per_class_accuracy": per_class,
        "num_images": int(len(y)),
        "confusion_matrix": cm.tolist(),
    }


def plot_confusion(cm: list[list[int]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    rows = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9, 8))
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(NUM_CLASSES), DISPLAY_NAMES, rotation=60, ha="right")
    ax.set_yticks(range(NUM_CLASSES), DISPLAY_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(NUM_CLASSES):
        for j in range(NUM_CLASSES):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if rows[i, j] > 0.5 else "black",
                )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> dict:
    args = parse_args(argv)
    output_dir = Path(args.output_dir)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    accelerator = Accelerator(
        # cpu=True on a machine without CUDA makes a torchrun-style launch (`accelerate launch --multi_gpu
        # --num_processes 2` or `torchrun --nproc_per_node 2`) a 2-process gloo run on CPU.
        cpu=args.cpu or not torch.cuda.is_available(),
        mixed_precision=args.mixed_precision,
        log_with="tensorboard",
        project_config=ProjectConfiguration(project_dir=str(output_dir), logging_dir=str(output_dir / "logs")),
    )
    set_seed(args.seed)  # init, shuffling and augmentation; exact resume is the generator's job

    try:
        model = BreedClassifier(
            args.backbone, image_size=args.image_size, resize_size=args.resize_size, pretrained=args.pretrained
        )
    except RuntimeError as exc:  # --pretrained offline: BreedClassifier says where to put the file
        raise SystemExit(f"error: {exc}") from None
    with accelerator.main_process_first():
        train_loader, val_loader, test_loader, train_ds = build_loaders(args, model.config, accelerator.num_processes)
    weights = class_weights(train_ds.labels, args.no_class_weights)
    steps_per_epoch = len(train_loader) // accelerator.num_processes
    max_steps = args.max_steps or args.epochs * steps_per_epoch

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    lr_scheduler = get_scheduler(
        "cosine",
        optimizer,
        num_warmup_steps=args.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=max_steps * accelerator.num_processes,
    )
    calib_loader = train_loader  # plain loader for BatchNorm re-estimation (no accelerate bookkeeping)
    model, optimizer, train_loader, lr_scheduler = accelerator.prepare(model, optimizer, train_loader, lr_scheduler)
    val_loader = accelerator.prepare(val_loader) if val_loader is not None else None
    test_loader = accelerator.prepare(test_loader)
    weights = weights.to(accelerator.device)
    accelerator.init_trackers(
        "train_classifier", config={k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
    )
    accelerator.print(
        f"{len(train_ds)} training images, class weights {[round(w, 2) for w in weights.tolist()]}, {max_steps} steps"
    )

    step, epoch, t0, history = 0, 0, time.time(), []
    progress = tqdm(total=max_steps, desc=f"train {args.backbone}", disable=not accelerator.is_main_process)
    model.train()
    done = False
    while not done:
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y, weight=weights, label_smoothing=args.label_smoothing)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            progress.update(1)
            if step % 10 == 0:
                loss_value = accelerator.reduce(loss.detach(), "mean").item()
                progress.set_postfix(loss=f"{loss_value:.3f}", epoch=epoch)
                accelerator.log({"loss": loss_value, "lr": lr_scheduler.get_last_lr()[0]}, step=step)
            out_of_time = torch.tensor(
                [int(bool(args.max_train_seconds) and time.time() - t0 > args.max_train_seconds)],
                device=accelerator.device,
            )
            if step >= max_steps or broadcast(out_of_time).item():
                done = True
                break
        epoch += 1
        if val_loader is not None and (done or epoch % 2 == 0):
            recalibrate_batchnorm(model, calib_loader, args.bn_recalibration_batches)
            y, p = evaluate(accelerator, model, val_loader)
            val_acc = float((y == p).mean())
            history.append({"epoch": epoch, "step": step, "val_accuracy": round(val_acc, 4)})
            accelerator.log({"val_accuracy": val_acc}, step=step)
            accelerator.print(f"epoch {epoch} step {step}: val accuracy {val_acc:.3f}")
    progress.close()

    recalibrate_batchnorm(model, calib_loader, args.bn_recalibration_batches)
    y, p = evaluate(accelerator, model, test_loader)
    test = metrics_from(y, p)
    summary = {
        "backbone": args.backbone,
        "pretrained": args.pretrained,
        "image_size": args.image_size,
        "steps": step,
        "epochs": epoch,
        "train_images": len(train_ds),
        "train_seconds": round(time.time() - t0, 1),
        "test_accuracy": test["accuracy"],
        "test_balanced_accuracy": test["balanced_accuracy"],
        "val_history": history,
        "data_root": Path(args.data_root).name,
    }
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        unwrapped = accelerator.unwrap_model(model)
        card_metrics = {k: summary[k] for k in ("test_accuracy", "test_balanced_accuracy", "steps", "train_images")}
        card_metrics["per_class_accuracy"] = test["per_class_accuracy"]
        unwrapped.save_pretrained(output_dir / "classifier", metrics=card_metrics)
        if args.save_fp16:
            to_fp16(output_dir / "classifier" / WEIGHTS_NAME)
        (output_dir / "metrics.json").write_text(json.dumps({**summary, "test": test}, indent=2) + "\n")
        plot_confusion(
            test["confusion_matrix"],
            output_dir / "confusion_matrix.png",
            f"{args.backbone}: test accuracy {test['accuracy']:.3f} ({test['num_images']} images)",
        )
        accelerator.print(
            f"test accuracy {test['accuracy']:.4f} (balanced {test['balanced_accuracy']:.4f}); "
            f"per class {test['per_class_accuracy']}"
        )
    accelerator.end_training()
    return {**summary, "test": test}


def to_fp16(file: Path) -> None:
    """Floating tensors -> float16 in place (loading copies them back into float32 parameters)."""
    state = load_file(file)
    save_file({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, file)


if __name__ == "__main__":
    main()
