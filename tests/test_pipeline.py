"""CatsDiTPipeline: guidance, seeded noise, breeds, outputs, callbacks, scheduler swap."""

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from PIL import Image

from cats_dit.pipeline_cats_dit import combine_guidance, seeded_noise, seeded_normal
from cats_dit.testing import build_tiny_pipeline


@pytest.fixture(scope="module")
def pipe():
    pipe = build_tiny_pipeline(seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def record_calls(pipe):
    calls = []
    handle = pipe.transformer.register_forward_hook(lambda m, args, out: calls.append(args[2].clone()))
    return calls, handle


def test_guidance_one_equals_conditional_prediction(pipe):
    v_cond, v_uncond = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(combine_guidance(v_cond, v_uncond, 1.0), v_cond, rtol=0, atol=1e-6)
    assert torch.allclose(combine_guidance(v_cond, v_uncond, 0.0), v_uncond)
    # The whole pipeline at g=1 integrates the conditional field alone.
    noise = torch.from_numpy(seeded_noise([5], 3, 16, 16))
    x = noise.clone()
    pipe.scheduler.set_timesteps(4)
    with torch.no_grad():
        for t in pipe.scheduler.timesteps:
            v = pipe.transformer(x, t.expand(1), torch.tensor([2])).sample
            x = pipe.scheduler.step(v, t, x).prev_sample
    expected = ((x.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    got = pipe("Birman", num_inference_steps=4, guidance_scale=1.0, seed=5, output_type="np").images
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_cfg_batches_cond_and_null_class_in_one_call(pipe):
    calls, handle = record_calls(pipe)
    try:
        pipe(["Bengal", "Sphynx"], num_inference_steps=3, guidance_scale=4.0, seed=1, output_type="np")
    finally:
        handle.remove()
    assert len(calls) == 3  # one model call per step
    assert calls[0].tolist() == [1, 11, 13, 13]  # [cond..., uncond...], uncond = num_classes


def test_same_seed_same_images_different_seed_different(pipe):
    a = pipe("Persian", num_inference_steps=4, seed=123, output_type="np").images
    b = pipe("Persian", num_inference_steps=4, seed=123, output_type="np").images
    c = pipe("Persian", num_inference_steps=4, seed=124, output_type="np").images
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 0.05


def test_image_k_uses_seed_plus_k(pipe):
    batch = pipe("Bombay", num_images_per_prompt=3, num_inference_steps=3, seed=40, output_type="np").images
    single = pipe("Bombay", num_inference_steps=3, seed=42, output_type="np").images
    np.testing.assert_allclose(batch[2], single[0], atol=1e-6)


def test_seeded_normal_is_standard_normal_and_seed_sensitive():
    z = seeded_normal(7, (3, 64, 64))
    assert z.dtype == np.float32 and z.shape == (3, 64, 64)
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    assert not np.array_equal(z, seeded_normal(8, (3, 64, 64)))
    assert np.array_equal(z, seeded_normal(7, (3, 64, 64)))
    assert np.array_equal(seeded_noise([7, 8], 3, 64, 64)[1], seeded_normal(8, (3, 64, 64)))


def test_breed_names_ids_lists_and_errors(pipe):
    assert pipe.get_label_ids("maine coon") == [6]
    assert pipe.get_label_ids(["Bengal", 3, "RAGDOLL"]) == [1, 3, 8]
    with pytest.raises(ValueError) as err:
        pipe("Tabby", num_inference_steps=2, seed=0)
    assert "Unknown breed 'Tabby'" in str(err.value) and "Sphynx" in str(err.value)
    with pytest.raises(ValueError):
        pipe(99, num_inference_steps=2, seed=0)
    with pytest.raises(ValueError, match="seed"):
        pipe("Bengal", num_inference_steps=2, seed=-1)


def test_output_types(pipe):
    pil = pipe("Bengal", num_inference_steps=2, seed=0).images
    assert isinstance(pil[0], Image.Image) and pil[0].size == (16, 16)
    pt = pipe("Bengal", num_inference_steps=2, seed=0, output_type="pt").images
    assert pt.shape == (1, 3, 16, 16) and 0 <= float(pt.min()) and float(pt.max()) <= 1
    arr = pipe("Bengal", num_inference_steps=2, seed=0, output_type="np", return_dict=False)[0]
    assert np.array_equal(np.asarray(pil[0]), (arr[0] * 255).round().astype(np.uint8))


def test_generator_and_latents_paths(pipe):
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a = pipe("Bengal", num_inference_steps=2, generator=g1, output_type="np").images
    b = pipe("Bengal", num_inference_steps=2, generator=g2, output_type="np").images
    assert np.array_equal(a, b)
    latents = torch.from_numpy(seeded_noise([9], 3, 16, 16))
    c = pipe("Bengal", num_inference_steps=2, latents=latents, output_type="np").images
    d = pipe("Bengal", num_inference_steps=2, seed=9, output_type="np").images
    assert np.array_equal(c, d)


def test_callback_sees_every_step_and_can_interrupt(pipe):
    seen = []

    def callback(p, i, t, kwargs):
        seen.append((i, float(t), kwargs["latents"].shape))
        if i == 1:
            p._interrupt = True
        return kwargs

    pipe("Bengal", num_inference_steps=5, seed=0, callback_on_step_end=callback, output_type="np")
    assert [s[0] for s in seen] == [0, 1]
    assert seen[0][1] == pytest.approx(1000.0)


def test_diffusers_flow_match_euler_gives_same_images(pipe):
    ours = pipe("Siamese", num_images_per_prompt=2, num_inference_steps=6, seed=11, output_type="np").images
    swapped = type(pipe)(transformer=pipe.transformer, scheduler=FlowMatchEulerDiscreteScheduler())
    swapped.set_progress_bar_config(disable=True)
    theirs = swapped("Siamese", num_images_per_prompt=2, num_inference_steps=6, seed=11, output_type="np").images
    np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_heun_runs_and_differs_from_euler(pipe):
    from cats_dit import FlowMatchScheduler

    heun = type(pipe)(transformer=pipe.transformer, scheduler=FlowMatchScheduler(solver="heun"))
    heun.set_progress_bar_config(disable=True)
    calls, handle = record_calls(heun)
    try:
        h = heun("Bengal", num_inference_steps=4, seed=0, output_type="np").images
    finally:
        handle.remove()
    e = pipe("Bengal", num_inference_steps=4, seed=0, output_type="np").images
    assert len(calls) == 7 and h.shape == e.shape and not np.array_equal(h, e)
