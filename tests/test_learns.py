"""The model learns: a tiny DiT trained with flow matching reproduces each class's image.

This is the test the seed project's generator (trained on a zero target) would fail.
Five 16x16 images with distinct colours and shapes, one per class; after a few hundred
steps, sampling class k from any seed must land close to image k (mean absolute error
below 0.08 in [0, 1] pixels, i.e. ~20/255) and nearer to image k than to any other.
"""

import numpy as np
import pytest
import torch

from cats_dit import build_pipeline

MAE_THRESHOLD = 0.08


def target_images() -> torch.Tensor:
    """[5, 3, 16, 16] in [-1, 1]: flat colours with different shapes on top."""
    imgs = torch.zeros(5, 3, 16, 16)
    colours = [(0.9, 0.1, 0.1), (0.1, 0.2, 0.9), (0.1, 0.8, 0.2), (0.95, 0.85, 0.1), (0.6, 0.1, 0.7)]
    for k, c in enumerate(colours):
        imgs[k] = torch.tensor(c).view(3, 1, 1)
    imgs[0, :, 4:12, 4:12] = 1.0  # white square
    imgs[1, :, ::4, :] = 1.0  # stripes
    imgs[2, :, :, :8] = 0.0  # half black
    yy, xx = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    imgs[3, :, ((yy - 8) ** 2 + (xx - 8) ** 2) < 20] = 0.0  # black disc
    imgs[4, :, yy > xx] = 1.0  # white triangle
    return imgs * 2 - 1


@pytest.mark.slow
@pytest.mark.parametrize("prediction_type", ["velocity", "sample"])
def test_tiny_model_learns_each_class(prediction_type):
    torch.manual_seed(0)
    pipe = build_pipeline("tiny", prediction_type=prediction_type)
    model, sched = pipe.transformer, pipe.scheduler
    data = target_images()
    labels = torch.arange(5)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.0)
    losses = []
    for _ in range(800):
        idx = torch.randint(0, 5, (40,))
        x0, y = data[idx], labels[idx].clone()
        y[torch.rand(40) < 0.1] = 13  # class dropout for guidance
        noise = torch.randn_like(x0)
        s = torch.sigmoid(torch.randn(40))  # logit-normal noise levels, as train_dit samples them
        xs = sched.scale_noise(x0, s * 1000, noise)
        pred = model(xs, s * 1000, y).sample
        loss = sched.training_loss(pred, x0, noise, s)  # x-prediction: the velocity loss, as train_dit
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-50:]) < 0.5 * np.mean(losses[:50])

    model.eval()
    pipe.set_progress_bar_config(disable=True)
    samples = pipe(
        list(range(5)), num_images_per_prompt=2, num_inference_steps=20, guidance_scale=2.0, seed=1234, output_type="pt"
    ).images  # [10, 3, 16, 16] in [0, 1]
    targets = (data + 1) / 2
    mae = (samples[:, None] - targets[None]).abs().mean(dim=(2, 3, 4))  # [10, 5]
    for i in range(10):
        k = i // 2
        assert mae[i, k] < MAE_THRESHOLD, f"class {k} sample {i}: MAE {mae[i, k]:.3f} to its own image"
        assert int(mae[i].argmin()) == k, f"class {k} sample looks like class {int(mae[i].argmin())}"
