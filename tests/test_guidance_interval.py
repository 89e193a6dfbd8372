"""Guidance limited to an interval of noise levels: which steps are guided, what the others compute,
that the interval travels with a saved pipeline and its ONNX export, and that bad values are refused."""

import json

import numpy as np
import pytest
import torch

from cats_dit import guidance
from cats_dit import pipeline_cats_dit as hub_copy
from cats_dit.pipeline_cats_dit import CatsDiTPipeline, combine_guidance, seeded_noise
from cats_dit.testing import build_tiny_pipeline


@pytest.fixture(scope="module")
def pipe():
    pipe = build_tiny_pipeline(seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def record_batches(pipe):
    calls = []
    handle = pipe.transformer.register_forward_hook(
        lambda m, args, out: calls.append((float(args[1][0]) / 1000, args[2].tolist()))
    )
    return calls, handle


def test_only_steps_inside_the_interval_are_guided(pipe):
    calls, handle = record_batches(pipe)
    try:
        pipe(["Bengal", "Sphynx"], num_inference_steps=8, guidance_scale=3.0, guidance_interval=(0.2, 0.7), seed=1)
    finally:
        handle.remove()
    assert len(calls) == 8
    for sigma, labels in calls:
        inside = 0.2 <= sigma <= 0.7
        assert labels == ([1, 11, 13, 13] if inside else [1, 11]), (sigma, labels)
    assert {len(labels) for _, labels in calls} == {2, 4}  # the interval cut the schedule somewhere


def test_interval_matches_a_hand_written_loop(pipe):
    """Inside: v_u + g (v_c - v_u); outside: the conditional velocity alone."""
    interval, g, steps = (0.3, 0.9), 2.5, 6
    x = torch.from_numpy(seeded_noise([7], 3, 16, 16))
    label, null = torch.tensor([4]), torch.tensor([13])
    pipe.scheduler.set_timesteps(steps)
    with torch.no_grad():
        for t in pipe.scheduler.timesteps:
            v_c = pipe.transformer(x, t.expand(1), label).sample
            if interval[0] <= float(t) / 1000 <= interval[1]:
                v_c = combine_guidance(v_c, pipe.transformer(x, t.expand(1), null).sample, g)
            x = pipe.scheduler.step(v_c, t, x).prev_sample
    expected = ((x.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    got = pipe(4, num_inference_steps=steps, guidance_scale=g, guidance_interval=interval, seed=7, output_type="np")
    np.testing.assert_allclose(got.images, expected, atol=1e-5)


def test_full_interval_is_classic_cfg_and_an_empty_one_is_guidance_one(pipe):
    kw = dict(num_inference_steps=5, seed=3, output_type="np")
    classic = pipe("Persian", guidance_scale=3.0, **kw).images  # the tiny pipeline's config: (0, 1)
    assert np.array_equal(pipe("Persian", guidance_scale=3.0, guidance_interval=(0, 1), **kw).images, classic)
    unguided = pipe("Persian", guidance_scale=1.0, **kw).images
    none_inside = pipe("Persian", guidance_scale=3.0, guidance_interval=(0.5, 0.5), **kw).images
    assert np.array_equal(none_inside, unguided)  # 5 steps at shift 1 never land on s = 0.5
    assert np.abs(classic - unguided).max() > 0.01


def test_the_interval_is_saved_with_the_pipeline_and_is_the_default(tmp_path, pipe):
    kw = dict(num_inference_steps=6, guidance_scale=3.0, seed=2, output_type="np")
    saved = CatsDiTPipeline(pipe.transformer, pipe.scheduler, guidance_interval=[0.25, 1.0])
    saved.save_pretrained(tmp_path / "p")
    assert json.loads((tmp_path / "p" / "model_index.json").read_text())["guidance_interval"] == [0.25, 1.0]
    loaded = CatsDiTPipeline.from_pretrained(tmp_path / "p")
    loaded.set_progress_bar_config(disable=True)
    assert list(loaded.config.guidance_interval) == [0.25, 1.0]
    explicit = pipe("Bombay", guidance_interval=(0.25, 1.0), **kw).images
    assert np.array_equal(loaded("Bombay", **kw).images, explicit)
    assert not np.array_equal(pipe("Bombay", **kw).images, explicit)


def test_the_guidance_scale_is_saved_with_the_pipeline_and_is_the_default(tmp_path, pipe):
    from diffusers import DiffusionPipeline

    kw = dict(num_inference_steps=5, seed=4, output_type="np")
    assert pipe.config.guidance_scale == 3.0  # a pipeline saved without one keeps the old default
    CatsDiTPipeline(pipe.transformer, pipe.scheduler, guidance_scale=2.5).save_pretrained(tmp_path / "p")
    assert json.loads((tmp_path / "p" / "model_index.json").read_text())["guidance_scale"] == 2.5
    explicit = pipe("Birman", guidance_scale=2.5, **kw).images
    assert not np.array_equal(pipe("Birman", **kw).images, explicit)
    for loaded in (
        CatsDiTPipeline.from_pretrained(tmp_path / "p"),
        DiffusionPipeline.from_pretrained(tmp_path / "p", trust_remote_code=True),  # the Hub copy of the class
    ):
        loaded.set_progress_bar_config(disable=True)
        assert loaded.config.guidance_scale == 2.5
        assert np.array_equal(loaded("Birman", **kw).images, explicit)
    for bad in (-1, float("inf"), "lots"):
        with pytest.raises(ValueError, match="guidance_scale must"):
            pipe(0, num_inference_steps=2, guidance_scale=bad)
        with pytest.raises(ValueError, match="guidance_scale must"):
            CatsDiTPipeline(pipe.transformer, pipe.scheduler, guidance_scale=bad)


@pytest.mark.parametrize("bad", [(0.7, 0.2), (-0.1, 1.0), (0.0, 1.5), (0.5,), "x", (float("nan"), 1.0)])
def test_bad_intervals_are_refused_by_every_copy(pipe, bad):
    for check in (guidance.check_guidance_interval, hub_copy.check_guidance_interval):
        with pytest.raises(ValueError, match="guidance_interval must"):
            check(bad)
    with pytest.raises(ValueError, match="guidance_interval must"):
        pipe(0, num_inference_steps=2, guidance_interval=bad)
    with pytest.raises(ValueError, match="guidance_interval must"):
        CatsDiTPipeline(pipe.transformer, pipe.scheduler, guidance_interval=bad)


def test_the_hub_copy_agrees_with_the_package():
    for interval in [None, (0, 1), [0.2, 0.7], (0.5, 0.5), ("0.1", 1)]:
        assert hub_copy.check_guidance_interval(interval) == guidance.check_guidance_interval(interval)
    for sigma in [0.0, 0.001, 0.2, 0.2000001, 0.7, 1.0]:
        for interval in [(0.0, 1.0), (0.2, 0.7), (0.001, 0.2)]:
            assert hub_copy.guided_at(sigma, interval) == guidance.guided_at(sigma, interval)


@pytest.mark.slow  # shares one full export of the tiny models
def test_onnx_pipeline_and_export_carry_the_interval(tmp_path):
    from cats_dit.onnx import run_export
    from cats_dit.onnx_pipeline import OnnxCatsDiTPipeline
    from cats_dit.testing import build_small_classifier

    pipe = build_tiny_pipeline(seed=0)
    pipe = CatsDiTPipeline(pipe.transformer, pipe.scheduler, guidance_interval=[0.3, 0.9], guidance_scale=2.0)
    pipe.save_pretrained(tmp_path / "gen")
    build_small_classifier().save_pretrained(tmp_path / "clf")
    run_export(tmp_path / "gen", tmp_path / "clf", tmp_path / "onnx", precisions=["fp32"], log=lambda *a, **k: None)
    meta = json.loads((tmp_path / "onnx" / "models.json").read_text())
    assert meta["generator"]["defaults"]["guidance_interval"] == [0.3, 0.9]
    assert meta["generator"]["defaults"]["guidance_scale"] == 2.0
    onnx_pipe = OnnxCatsDiTPipeline.from_folder(tmp_path / "onnx")
    pipe.set_progress_bar_config(disable=True)
    for interval in (None, (0.0, 1.0), (0.1, 0.5)):
        kw = dict(num_inference_steps=8, guidance_scale=3.0, guidance_interval=interval, seed=9)
        ref = pipe(["Siamese", 12], output_type="np", **kw).images
        got = onnx_pipe(["Siamese", 12], **kw)
        assert np.abs(got - ref).max() < 2 / 255
