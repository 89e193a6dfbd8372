"""``--init-from``: start training from another model's weights (fine-tune, or continue a run whose
checkpoints are gone) instead of from scratch.

The source is a pipeline folder (its ``transformer/``), a TinyDiT folder, or a Hub id. Its tensors
must fit the new model exactly, with one exception: modules whose initialisation leaves the output
unchanged (the identity-initialised ``conv_out`` of ``final_conv=True``) may be new, so a model can gain them and carry
on from exactly where it was.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from cats_dit.modeling_tinydit import WEIGHTS_NAME, check_weights_file

# Missing from the source is fine for these: their init is the identity.
NEUTRAL_NEW_MODULES = ("conv_out.",)


def resolve_transformer_folder(source: str) -> Path:
    """A pipeline folder, a TinyDiT folder or a Hub id -> the folder holding config + weights."""
    path = Path(source)
    if not path.exists():
        if path.is_absolute() or source.startswith((".", "~")) or source.count("/") != 1:
            raise FileNotFoundError(f"--init-from {source}: no such folder (nor a Hub id of the form user/repo)")
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(source, allow_patterns=["transformer/*", "config.json", "*.safetensors"]))
    folder = path / "transformer" if (path / "transformer").is_dir() else path
    check_weights_file(folder)
    return folder


def load_initial_weights(model: torch.nn.Module, source: str) -> dict:
    """Copy ``source``'s weights into ``model``; raise naming every tensor that does not fit.

    Returns what happened: the folder read and the new modules left at their identity init."""
    folder = resolve_transformer_folder(source)
    state = load_file(str(folder / WEIGHTS_NAME))
    own = model.state_dict()
    unexpected = sorted(set(state) - set(own))
    missing = sorted(set(own) - set(state))
    bad_missing = [k for k in missing if not k.startswith(NEUTRAL_NEW_MODULES)]
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in state
        if k in own and state[k].shape != own[k].shape
    ]
    problems = []
    if unexpected:
        problems.append(f"tensors the new model does not have: {', '.join(unexpected[:8])}")
    if bad_missing:
        problems.append(f"tensors the source lacks: {', '.join(bad_missing[:8])}")
    if mismatched:
        problems.append(f"shapes that differ (source vs new): {'; '.join(mismatched[:8])}")
    if problems:
        raise ValueError(
            f"--init-from {source}: its weights ({folder}) do not fit this model ({'; '.join(problems)}). "
            "Use the same preset and --model-override values the source was trained with."
        )
    model.load_state_dict(state, strict=False)
    return {"folder": str(folder), "new_modules": sorted({k.rsplit(".", 1)[0] for k in missing})}
