"""cats_dit.onnx_pipeline: numpy noise/scheduler/preprocessing and onnxruntime == torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from cats_dit import noise
from cats_dit.classifier import BreedClassifier, image_to_tensor, preprocess_tensor
from cats_dit.onnx.testing import exported_tiny_models
from cats_dit.onnx_pipeline import (
    NumpyFlowMatchScheduler,
    OnnxBreedClassifier,
    OnnxCatsDiTPipeline,
    image_to_array,
    preprocess_array,
)
from cats_dit.pipeline_cats_dit import CatsDiTPipeline, seeded_noise
from cats_dit.preprocessing import resized_size
from cats_dit.scheduling_flow_match import FlowMatchScheduler


@pytest.fixture(scope="module")
def exported():
    return exported_tiny_models()


@pytest.fixture(scope="module")
def torch_pipe(exported):
    pipe = CatsDiTPipeline.from_pretrained(exported[0])
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_numpy_noise_is_identical_to_the_pipeline_copy():
    for seeds, shape in [([0, 1, 2**32 - 1], (3, 16, 16)), ([12345], (3, 5, 7)), ([7, 8], (1, 1, 1))]:
        a = noise.seeded_noise(seeds, *shape)
        b = seeded_noise(seeds, *shape)
        assert a.dtype == np.float32 and np.array_equal(a, b)
    assert noise.image_seeds(2**32 - 1, 3) == [2**32 - 1, 0, 1]
    with pytest.raises(ValueError, match="seed must be"):
        noise.image_seeds(-1, 1)


@pytest.mark.parametrize("solver", ["euler", "heun"])
@pytest.mark.parametrize("prediction_type,shift", [("velocity", 1.0), ("sample", 3.0)])
def test_numpy_scheduler_matches_torch_scheduler(solver, prediction_type, shift):
    config = dict(shift=shift, solver=solver, prediction_type=prediction_type)
    ref, ours = FlowMatchScheduler(**config), NumpyFlowMatchScheduler(**config)
    ref.set_timesteps(7)
    ours.set_timesteps(7)
    assert np.array_equal(ref.timesteps.numpy(), ours.timesteps)
    assert np.array_equal(ref.sigmas.numpy(), ours.sigmas)
    rng = np.random.default_rng(0)
    x_ref = x_np = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    x_ref = torch.from_numpy(x_ref)
    for i, t in enumerate(ref.timesteps):
        out = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
        x_ref = ref.step(torch.from_numpy(out), t, x_ref).prev_sample
        x_np, _ = ours.step(i, out, x_np)
        np.testing.assert_allclose(x_np, x_ref.numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "solver,prediction_type,shift", [("euler", "velocity", 1.0), ("heun", "velocity", 1.0), ("heun", "sample", 2.0)]
)
@pytest.mark.slow  # shares one full export of the tiny models (~20-40 s on 2 busy cores)
def test_onnx_pipeline_gives_the_torch_pipeline_images(exported, torch_pipe, solver, prediction_type, shift):
    onnx_pipe = OnnxCatsDiTPipeline.from_folder(exported[2], precision="fp32")
    onnx_pipe.scheduler_config.update(prediction_type=prediction_type, shift=shift)
    torch_pipe.scheduler = FlowMatchScheduler(solver=solver, prediction_type=prediction_type, shift=shift)
    for breeds, seed, guidance in [(["Siamese", "bengal"], 0, 3.0), ([12, 3, 7], 4_000_000_000, 1.0)]:
        ref = torch_pipe(breeds, num_inference_steps=8, guidance_scale=guidance, seed=seed, output_type="np").images
        got = onnx_pipe(breeds, num_inference_steps=8, guidance_scale=guidance, solver=solver, seed=seed)
        assert got.shape == ref.shape == (len(breeds), 16, 16, 3) and got.dtype == np.float32
        assert ref.std() > 0.05  # not a blank image
        diff = np.abs(got - ref)
        assert np.mean(diff > 1 / 255) <= 1e-3, f"{np.mean(diff > 1 / 255):.4f} of pixels differ by > 1/255"
        assert diff.max() < 4 / 255


@pytest.mark.slow  # shares one full export of the tiny models (~20-40 s on 2 busy cores)
def test_defaults_come_from_models_json_and_all_precisions_run(exported, torch_pipe):
    torch_pipe.scheduler = FlowMatchScheduler()
    ref = torch_pipe("Persian", num_inference_steps=20, guidance_scale=3.0, seed=5, output_type="np").images
    for precision in ("fp32", "fp16", "int8"):
        pipe = OnnxCatsDiTPipeline.from_folder(exported[2], precision=precision, intra_op_num_threads=1)
        assert pipe.precision == precision and pipe.defaults["num_inference_steps"] == 20
        got = pipe("Persian", seed=5)
        assert np.abs(got - ref).max() < (2 / 255 if precision == "fp32" else 0.25)


@pytest.mark.slow  # shares one full export of the tiny models (~20-40 s on 2 busy cores)
def test_callback_streams_x0_previews(exported):
    pipe = OnnxCatsDiTPipeline.from_folder(exported[2], precision="fp32")
    calls = []
    images = pipe(
        [0, 1],
        num_images_per_prompt=2,
        num_inference_steps=5,
        seed=1,
        callback=lambda i, n, x0: calls.append((i, n, x0)),
    )
    assert [c[0] for c in calls] == list(range(5)) and {c[1] for c in calls} == {5}
    assert all(c[2].shape == (4, 16, 16, 3) and 0 <= c[2].min() and c[2].max() <= 1 for c in calls)
    np.testing.assert_allclose(calls[-1][2], images, atol=1e-6)  # the last Euler step lands on its x0
    assert not np.allclose(calls[0][2], images, atol=1e-2)


@pytest.mark.slow  # shares one full export of the tiny models (~20-40 s on 2 busy cores)
def test_bad_arguments(exported, tmp_path):
    pipe = OnnxCatsDiTPipeline.from_folder(exported[2])
    with pytest.raises(ValueError, match="Unknown breed 'Poodle'"):
        pipe("Poodle")
    with pytest.raises(ValueError, match="Unknown breed 13"):
        pipe(13)  # the null class is not a breed
    with pytest.raises(ValueError, match="num_inference_steps"):
        pipe(0, num_inference_steps=0)
    with pytest.raises(ValueError, match="No generator file for precision 'fp8'"):
        OnnxCatsDiTPipeline.from_folder(exported[2], precision="fp8")
    with pytest.raises(FileNotFoundError, match="models.json is missing"):
        OnnxCatsDiTPipeline.from_folder(tmp_path)


def test_numpy_preprocessing_matches_torch():
    # The torch classifier calls the same numpy code; the reference is torch's own resize + crop.
    rng = np.random.default_rng(0)
    for h, w, resize, size in [(40, 60, 37, 32), (300, 200, 256, 224), (20, 20, 37, 32), (37, 50, 37, 32)]:
        x = rng.random((3, h, w), dtype=np.float32)
        new_h, new_w = resized_size(h, w, resize)
        full = F.interpolate(torch.from_numpy(x)[None], size=(new_h, new_w), mode="bilinear", align_corners=False)
        top, left = round((new_h - size) / 2), round((new_w - size) / 2)
        ref = (full[..., top : top + size, left : left + size] - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / (
            torch.tensor([0.2, 0.25, 0.3]).view(1, 3, 1, 1)
        )
        got = preprocess_array(x, resize, size, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
        assert got.shape == ref.shape == (1, 3, size, size)
        np.testing.assert_allclose(got, ref.numpy(), rtol=0, atol=2e-6)
        tensor = preprocess_tensor(torch.from_numpy(x), resize, size, (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
        np.testing.assert_array_equal(tensor.numpy(), got)
    for mode in ("RGB", "RGBA", "L", "P", "I;16"):
        img = Image.fromarray((rng.random((9, 11, 3)) * 255).astype(np.uint8)).convert(mode)
        np.testing.assert_allclose(image_to_array(img), image_to_tensor(img).numpy(), atol=1e-6)


@pytest.mark.slow  # shares one full export of the tiny models (~20-40 s on 2 busy cores)
def test_onnx_classifier_matches_torch(exported):
    clf = BreedClassifier.from_pretrained(exported[1])
    rng = np.random.default_rng(1)
    images = [
        Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)) for h, w in [(50, 70), (32, 32), (90, 40)]
    ]
    images.append(images[0].convert("RGBA"))
    ref = clf.predict_proba(images).numpy()
    got = OnnxBreedClassifier.from_folder(exported[2], precision="fp32").predict_proba(images)
    assert got.shape == (4, 13)
    np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    assert (got.argmax(-1) == ref.argmax(-1)).all()
    default = OnnxBreedClassifier.from_folder(exported[2])  # default precision
    assert (default.predict_proba(images).argmax(-1) == ref.argmax(-1)).all()
