"""Train the TinyDiT cat generator with rectified flow, using accelerate.

Read top to bottom: arguments -> data -> model, optimiser, EMA -> resume -> loop -> save.

    python train/train_dit.py --data-root data/cartoon --output-dir runs/demo --preset demo
    accelerate launch --multi_gpu --num_processes 2 train/train_dit.py --data-root ... --output-dir ...   # 2 processes (CPU-only machine: gloo)

(accelerate 1.x's `launch --cpu --num_processes 2` starts ONE process unless it is given an MPI
hostfile; on a machine without CUDA the script picks the CPU itself, so use --multi_gpu or torchrun.)

Outputs (main process only): OUTPUT/checkpoints/checkpoint-<step>/ (accelerate state + run
config), OUTPUT/samples/step-<step>.png, OUTPUT/logs/ (TensorBoard), OUTPUT/pipeline/ (a
CatsDiTPipeline folder with the EMA weights and a README model card).

Exact resume: every random draw of step k (noise, timesteps, flips, label dropout) comes from a
generator seeded by (seed, k, micro-batch, process), and the data order of epoch e is a
permutation seeded by (seed, e); so a resumed run sees exactly what the uninterrupted run saw.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, broadcast, set_seed
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cats_dit import PRESETS, CatsDiTPipeline, FlowMatchScheduler, TinyDiTModel
from cats_dit.breeds import NULL_CLASS_ID, NUM_CLASSES

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules, also under `accelerate launch`
from checkpointing import check_run_config, remove_stale_tmp, resolve_resume, save_checkpoint  # noqa: E402
from dit_card import write_model_card  # noqa: E402
from dit_data import EpochPermutation, batch_stream, build_dataset  # noqa: E402
from init_from import load_initial_weights  # noqa: E402
from presets import train_defaults  # noqa: E402
from sample_grid import save_sample_grid  # noqa: E402


# ----------------------------------------------------------------------------------------------
# Arguments
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", required=True, help="Oxford-IIIT Pet layout or an image folder root/<label>/*.jpg")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--preset", default="demo", choices=sorted(PRESETS), help="model size and training defaults")
    p.add_argument(
        "--model-override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model preset field, e.g. depth=4 (repeatable)",
    )
    p.add_argument(
        "--init-from",
        metavar="FOLDER_OR_HUB_ID",
        help="start from this model's weights (a pipeline folder, its transformer/ or a Hub id) instead of"
        " from scratch: fine-tune, or continue a run whose checkpoints are gone. The shapes must match; new"
        " identity-initialised modules (final_conv) are allowed",
    )
    p.add_argument("--split", default="trainval", choices=["train", "trainval"], help="which split to train on")
    p.add_argument("--cats-only", action="store_true", help="drop the 'other' (dog) images")
    p.add_argument("--max-steps", type=int, help="optimizer steps (also the length of the LR schedule)")
    p.add_argument("--max-train-seconds", type=float, help="stop (and save) after this much wall time")
    p.add_argument("--batch-size", type=int, help="per process, per micro-batch")
    p.add_argument("--gradient-accumulation-steps", type=int, default=1)
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--lr-scheduler", default="cosine", help="any diffusers get_scheduler name")
    p.add_argument("--lr-warmup-steps", type=int)
    p.add_argument("--max-grad-norm", type=float, default=1.0, help="0 disables clipping")
    p.add_argument(
        "--mixed-precision",
        default=None,
        choices=["no", "fp16", "bf16"],
        help="default: whatever `accelerate launch` / its config says, else no",
    )
    p.add_argument(
        "--prediction-type",
        choices=["velocity", "sample"],
        help="what the model outputs: the velocity noise - x0, or the clean image x0 (x-prediction, every"
        " preset's default: it learned faster than velocity in benchmarks/LEARNING.md)",
    )
    p.add_argument(
        "--loss-space",
        default="velocity",
        choices=["velocity", "prediction"],
        help="where the MSE is taken: on the velocity the output implies (for x-prediction: (x_s - x0_hat) / s,"
        " s clamped at min_sigma_for_x_pred, the velocity loss of x-prediction in pixel space) or on the raw"
        " output. Identical for --prediction-type velocity",
    )
    p.add_argument("--timestep-sampling", default="logit-normal", choices=["uniform", "logit-normal"])
    p.add_argument("--logit-mean", type=float, default=0.0)
    p.add_argument("--logit-std", type=float, default=1.0)
    p.add_argument("--class-dropout", type=float, default=0.1, help="probability a label becomes the null class")
    p.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    p.add_argument("--ema-max-decay", type=float)
    p.add_argument("--ema-power", type=float, default=0.75, help="EMA warmup: decay = 1 - (1 + step) ** -power")
    p.add_argument("--checkpointing-steps", type=int)
    p.add_argument("--checkpoints-total-limit", type=int, default=3)
    p.add_argument("--resume", default=None, help="'latest' or a checkpoint folder")
    p.add_argument("--sample-every", type=int, help="write a sample grid every N steps (0: only at the end)")
    p.add_argument("--sample-steps", type=int, default=20)
    p.add_argument("--sample-guidance", type=float, default=3.0)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--cache-dir", default=None, help="pre-resized image cache (decode full-size JPEGs once)")
    p.add_argument("--preload", action="store_true", help="decode every image once into RAM (small data sets)")
    p.add_argument("--cpu", action="store_true", help="train on CPU even where CUDA is available")
    p.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads per process")
    args = p.parse_args(argv)
    for key, value in train_defaults(args.preset).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--model-override {item!r}: expected KEY=VALUE")
        out[key] = json.loads(value)
    return out


def step_generator(seed: int, step: int, micro: int, rank: int) -> torch.Generator:
    """The only source of randomness in a training step: a function of (seed, step, micro, rank)."""
    state = np.random.SeedSequence([seed, step, micro, rank]).generate_state(2, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & ((1 << 63) - 1))


def sample_sigmas(n: int, how: str, g: torch.Generator, mean: float, std: float) -> torch.Tensor:
    """Noise levels s in (0, 1): uniform, or logit-normal (SD3; more weight on the middle)."""
    if how == "uniform":
        return torch.rand(n, generator=g)
    return torch.sigmoid(torch.randn(n, generator=g) * std + mean)


# ----------------------------------------------------------------------------------------------
def main(argv=None) -> dict:
    args = parse_args(argv)
    output_dir = Path(args.output_dir)
    ckpt_root = output_dir / "checkpoints"
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
    is_main = accelerator.is_main_process

    # -- model and scheduler ------------------------------------------------------------------
    model_config = {**PRESETS[args.preset], **parse_overrides(args.model_override), "num_classes": NUM_CLASSES}
    set_seed(args.seed)  # the initial weights; everything later draws from step_generator
    model = TinyDiTModel(**model_config)
    if args.init_from:
        init = load_initial_weights(model, args.init_from)
        new = f"; new modules at identity init: {', '.join(init['new_modules'])}" if init["new_modules"] else ""
        accelerator.print(f"Initial weights from {init['folder']}{new}")
    noise_scheduler = FlowMatchScheduler(prediction_type=args.prediction_type)
    sample_size = model.config.sample_size

    # -- data -----------------------------------------------------------------------------------
    with accelerator.main_process_first():  # the main process fills the resize cache first
        dataset, records = build_dataset(args, sample_size)
    counts = np.bincount([r.label for r in records], minlength=NUM_CLASSES).tolist()
    sampler = EpochPermutation(len(dataset), args.seed)
    loader = DataLoader(
        dataset,
        batch_size=args.batch_size,
        sampler=sampler,
        drop_last=True,
        num_workers=args.num_workers,
        persistent_workers=args.num_workers > 0,
    )
    if len(dataset) < args.batch_size * accelerator.num_processes:
        raise ValueError(
            f"{len(dataset)} images is fewer than one global batch "
            f"({args.batch_size} x {accelerator.num_processes} processes); lower --batch-size"
        )

    # -- optimiser, LR schedule, EMA ------------------------------------------------------------
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=args.weight_decay)
    # accelerate steps a prepared scheduler once per process, hence the factor (as in diffusers' examples).
    lr_scheduler = get_scheduler(
        args.lr_scheduler,
        optimizer,
        num_warmup_steps=args.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=args.max_steps * accelerator.num_processes,
    )
    model, optimizer, loader, lr_scheduler = accelerator.prepare(model, optimizer, loader, lr_scheduler)
    unwrapped = accelerator.unwrap_model(model)
    ema = EMAModel(
        unwrapped.parameters(),
        decay=args.ema_max_decay,
        use_ema_warmup=True,
        inv_gamma=1.0,
        power=args.ema_power,
        model_cls=TinyDiTModel,
        model_config=unwrapped.config,
    )
    accelerator.register_for_checkpointing(ema)

    # What a checkpoint must agree with to be resumed exactly.
    run_config = {
        "preset": args.preset,
        "model": dict(model_config),
        # Only when given, so checkpoints written before the option existed still resume.
        **({"init_from": args.init_from} if args.init_from else {}),
        "prediction_type": args.prediction_type,
        # x-prediction runs from before --loss-space existed trained on the raw output: name the change.
        **({"loss_space": args.loss_space} if args.prediction_type == "sample" else {}),
        "timestep_sampling": args.timestep_sampling,
        "logit_mean": args.logit_mean,
        "logit_std": args.logit_std,
        "class_dropout": args.class_dropout,
        "flip": not args.no_flip,
        "batch_size": args.batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "num_processes": accelerator.num_processes,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "lr_scheduler": args.lr_scheduler,
        "lr_warmup_steps": args.lr_warmup_steps,
        "max_steps": args.max_steps,
        "max_grad_norm": args.max_grad_norm,
        "ema_max_decay": args.ema_max_decay,
        "ema_power": args.ema_power,
        "mixed_precision": accelerator.mixed_precision,
        "seed": args.seed,
        "data": {
            "root": str(Path(args.data_root).resolve()),
            "split": args.split,
            "cats_only": args.cats_only,
            "num_images": len(dataset),
        },
    }

    # -- resume ---------------------------------------------------------------------------------
    global_step, elapsed_before, last_loss, loss_avg = 0, 0.0, float("nan"), None
    if is_main and remove_stale_tmp(ckpt_root):
        accelerator.print("Removed checkpoint-*.tmp folders left by a run killed while saving")
    accelerator.wait_for_everyone()
    checkpoint = resolve_resume(args.resume, ckpt_root)
    if checkpoint is not None:
        check_run_config(checkpoint, run_config)
        accelerator.load_state(str(checkpoint))
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        global_step, elapsed_before, last_loss = state["step"], state["elapsed_seconds"], state["loss"]
        loss_avg = state.get("loss_smooth")
        accelerator.print(f"Resumed from {checkpoint} at step {global_step}")
    elif args.resume:
        accelerator.print(f"--resume {args.resume}: no checkpoint in {ckpt_root}, starting from scratch")

    if is_main:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "run_config.json").write_text(json.dumps(run_config, indent=2, sort_keys=True) + "\n")
    accelerator.init_trackers(
        "train_dit", config={k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
    )
    accelerator.print(
        f"{len(dataset)} images, per class {counts}; {sum(p.numel() for p in unwrapped.parameters()):,}"
        f" parameters; global batch {args.batch_size * accelerator.num_processes * args.gradient_accumulation_steps}"
    )

    def trainer_state() -> dict:
        return {
            "step": global_step,
            "elapsed_seconds": elapsed_before + time.time() - t_start,
            "loss": last_loss,
            "loss_smooth": loss_avg,
        }

    def checkpoint_now() -> None:
        save_checkpoint(accelerator, ckpt_root, global_step, run_config, trainer_state(), args.checkpoints_total_limit)

    def sample_now() -> None:
        if is_main:  # EMA weights in, sample, raw weights back
            ema.store(unwrapped.parameters())
            ema.copy_to(unwrapped.parameters())
            save_sample_grid(
                unwrapped,
                noise_scheduler.config,
                output_dir / "samples" / f"step-{global_step:06d}.png",
                steps=args.sample_steps,
                guidance=args.sample_guidance,
                seed=args.seed,
            )
            ema.restore(unwrapped.parameters())
        accelerator.wait_for_everyone()

    # -- training loop --------------------------------------------------------------------------
    accum = args.gradient_accumulation_steps
    start_step = global_step
    stream = batch_stream(accelerator, loader, sampler, start_batch=global_step * accum)
    progress = tqdm(total=args.max_steps, initial=global_step, desc="train_dit", disable=not is_main)
    t_start = time.time()
    timed_steps, timed_seconds = 0, 0.0  # pure training-step time (no sampling/saving), for images/s
    images_per_step = args.batch_size * accelerator.num_processes * accum
    model.train()
    while global_step < args.max_steps:
        t_step = time.time()
        step_loss = torch.zeros((), device=accelerator.device)
        for micro in range(accum):
            x0, labels = next(stream)
            g = step_generator(args.seed, global_step, micro, accelerator.process_index)
            b = x0.shape[0]
            if not args.no_flip:
                flip = (torch.rand(b, generator=g) < 0.5).to(x0.device)
                x0 = torch.where(flip[:, None, None, None], x0.flip(-1), x0)
            drop = (torch.rand(b, generator=g) < args.class_dropout).to(labels.device)
            labels = torch.where(drop, torch.full_like(labels, NULL_CLASS_ID), labels)
            noise = torch.randn(x0.shape, generator=g).to(x0.device)
            sigmas = sample_sigmas(b, args.timestep_sampling, g, args.logit_mean, args.logit_std).to(x0.device)
            timesteps = sigmas * noise_scheduler.config.num_train_timesteps
            noisy = noise_scheduler.scale_noise(x0, timesteps, noise)
            # Gradients are all-reduced only on the last micro-batch.
            with accelerator.no_sync(model) if micro < accum - 1 else nullcontext():
                pred = model(noisy, timesteps, labels).sample
                loss = noise_scheduler.training_loss(pred, x0, noise, sigmas, args.loss_space)
                accelerator.backward(loss / accum)
            step_loss += loss.detach() / accum
        if args.max_grad_norm > 0:
            accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        ema.step(unwrapped.parameters())
        global_step += 1

        last_loss = accelerator.reduce(step_loss, "mean").item()
        if global_step > start_step + 2:  # the first steps pay one-off costs
            timed_steps, timed_seconds = timed_steps + 1, timed_seconds + time.time() - t_step
        loss_avg = last_loss if loss_avg is None else 0.95 * loss_avg + 0.05 * last_loss
        progress.update(1)
        if global_step % args.log_every == 0 or global_step == 1:
            lr = lr_scheduler.get_last_lr()[0]
            speed = images_per_step * timed_steps / timed_seconds if timed_seconds else 0.0
            accelerator.log(
                {
                    "loss": last_loss,
                    "loss_smooth": loss_avg,
                    "lr": lr,
                    "ema_decay": ema.cur_decay_value,
                    "images_per_second": speed,
                },
                step=global_step,
            )
            progress.set_postfix(loss=f"{loss_avg:.4f}", lr=f"{lr:.2e}")
        if args.sample_every and global_step % args.sample_every == 0:
            sample_now()
        if args.checkpointing_steps and global_step % args.checkpointing_steps == 0:
            checkpoint_now()
        if args.max_train_seconds:  # every process must agree to stop at the same step
            out_of_time = torch.tensor(
                [int(elapsed_before + time.time() - t_start > args.max_train_seconds)], device=accelerator.device
            )
            if broadcast(out_of_time).item():
                accelerator.print(f"--max-train-seconds {args.max_train_seconds} reached at step {global_step}")
                break
    progress.close()

    # -- final checkpoint, samples, pipeline with EMA weights -----------------------------------
    if not (ckpt_root / f"checkpoint-{global_step}").is_dir():
        checkpoint_now()
    if not (output_dir / "samples" / f"step-{global_step:06d}.png").is_file():
        sample_now()
    summary = {
        "step": global_step,
        "loss": last_loss,
        "loss_smooth": loss_avg,
        "elapsed_seconds": round(trainer_state()["elapsed_seconds"], 1),
        "images_seen": global_step * images_per_step,
        "train_images_per_second": round(images_per_step * timed_steps / timed_seconds, 2) if timed_steps else None,
    }
    if is_main:
        ema.copy_to(unwrapped.parameters())
        pipe = CatsDiTPipeline(transformer=unwrapped, scheduler=noise_scheduler)
        pipe.save_pretrained(output_dir / "pipeline")
        write_model_card(output_dir / "pipeline", args, run_config, counts, summary)
        (output_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        accelerator.print(f"Saved {output_dir / 'pipeline'} (EMA weights) after {global_step} steps, loss {loss_avg}")
    accelerator.end_training()
    return summary


if __name__ == "__main__":
    main()
