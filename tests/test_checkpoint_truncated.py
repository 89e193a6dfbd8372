"""A checkpoint cut short after it was written (full disk, partial copy) is caught before loading.

``--resume latest`` falls back to the previous complete checkpoint with a warning naming the bad
one; an explicit ``--resume PATH`` gets an error naming the file and the newest loadable checkpoint.
The checkpoints are real ``accelerator.save_state`` folders.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))

from checkpointing import TRAINER_STATE, resolve_resume, save_checkpoint  # noqa: E402


@pytest.fixture
def checkpoints(tmp_path):
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(64, 64)
    optimizer = torch.optim.AdamW(model.parameters())
    model, optimizer = accelerator.prepare(model, optimizer)
    model(torch.randn(2, 64)).sum().backward()
    optimizer.step()
    root = tmp_path / "checkpoints"
    for step in (10, 20):
        save_checkpoint(accelerator, root, step, {"lr": 1e-3}, {"step": step}, limit=None)
    return root, accelerator, model


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("victim", ["model.safetensors", "optimizer.bin"])
def test_latest_falls_back_to_the_previous_complete_checkpoint(checkpoints, victim):
    root, accelerator, model = checkpoints
    assert resolve_resume("latest", root) == root / "checkpoint-20"
    truncate(root / "checkpoint-20" / victim)
    with pytest.warns(UserWarning) as caught:
        chosen = resolve_resume("latest", root)
    assert chosen == root / "checkpoint-10"
    message = str(caught[0].message)
    assert "checkpoint-20" in message and victim in message and "resuming from checkpoint-10" in message
    accelerator.load_state(str(chosen))  # the fallback really loads
    assert json.loads((chosen / TRAINER_STATE).read_text())["step"] == 10


def test_an_explicit_truncated_checkpoint_names_the_file_and_the_fallback(checkpoints):
    root, _, _ = checkpoints
    truncate(root / "checkpoint-20" / "model.safetensors", keep=0.1)
    with pytest.raises(ValueError) as info:
        resolve_resume(str(root / "checkpoint-20"), root)
    text = str(info.value)
    assert "model.safetensors is truncated or corrupt" in text and "checkpoint-20" in text
    assert f"The newest loadable one is {root / 'checkpoint-10'}" in text


def test_all_truncated_starts_fresh_with_warnings(checkpoints):
    root, _, _ = checkpoints
    for step in (10, 20):
        truncate(root / f"checkpoint-{step}" / "model.safetensors")
    with pytest.warns(UserWarning, match="no older checkpoint: starting fresh"):
        assert resolve_resume("latest", root) is None
