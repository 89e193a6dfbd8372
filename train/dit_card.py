"""The README model card that ``train_dit.py`` writes next to the pipeline it saves."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import ModelCard

from cats_dit import TinyDiTModel
from cats_dit.breeds import LABELS


def write_model_card(folder: Path, args, run_config: dict, counts: list[int], summary: dict) -> None:
    m = run_config["model"]
    params = sum(p.numel() for p in TinyDiTModel(**m).parameters())
    per_class = ", ".join(f"{LABELS[i]} {c}" for i, c in enumerate(counts))
    content = f"""---
library_name: diffusers
pipeline_tag: unconditional-image-generation
tags: [cats_dit, diffusion-transformer, flow-matching, class-conditional, cats]
---

# CatsDiT `{args.preset}` ({m["sample_size"]} px)

A class-conditional pixel-space Diffusion Transformer (TinyDiT, {params / 1e6:.1f} M parameters:
{m["depth"]} blocks, width {m["hidden_size"]}, patch {m["patch_size"]}) trained with rectified flow
(`prediction_type={args.prediction_type}`). Weights are the EMA of training.

- steps: {summary["step"]} (global batch {args.batch_size * run_config["num_processes"] * args.gradient_accumulation_steps},
  {summary["images_seen"]:,} images seen, {summary["elapsed_seconds"] / 60:.1f} min)
- final training loss: {summary["loss"]:.4f} (smoothed {summary["loss_smooth"]:.4f})
- data: `{Path(args.data_root).name}` split `{args.split}`, {run_config["data"]["num_images"]} images ({per_class})
- optimiser: AdamW lr {args.lr}, {args.lr_scheduler} schedule with {args.lr_warmup_steps} warmup steps,
  class dropout {args.class_dropout}, {args.timestep_sampling} timesteps, mixed precision {run_config["mixed_precision"]}

```python
from diffusers import DiffusionPipeline
pipe = DiffusionPipeline.from_pretrained("path/to/this/folder", trust_remote_code=True)
image = pipe("Siamese", seed=0).images[0]  # the sampling defaults saved in model_index.json
```
"""
    ModelCard(content).save(folder / "README.md")
