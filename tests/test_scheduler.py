"""FlowMatchScheduler: schedule, solvers' accuracy on a known ODE, training helpers."""

import math

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from cats_dit.scheduling_flow_match import FlowMatchScheduler

RATE = 1.3  # dx/ds = RATE * x  =>  x(0) = x(1) * exp(-RATE)


def integrate(solver: str, steps: int, prediction_type: str = "velocity") -> float:
    sched = FlowMatchScheduler(solver=solver, prediction_type=prediction_type)
    sched.set_timesteps(steps)
    x = torch.ones(1, dtype=torch.float64)
    for t in sched.timesteps:
        s = float(t) / 1000.0
        v = RATE * x
        out = v if prediction_type == "velocity" else x - s * v  # x0_hat consistent with v
        x = sched.step(out, t, x).prev_sample
    return abs(float(x) - math.exp(-RATE))


def test_timesteps_decrease_from_1000_towards_0():
    sched = FlowMatchScheduler()
    sched.set_timesteps(10)
    ts = sched.timesteps
    assert len(ts) == 10 and float(ts[0]) == pytest.approx(1000.0)
    assert torch.all(ts[1:] < ts[:-1]) and float(ts[-1]) > 0
    assert float(sched.sigmas[-1]) == 0.0 and len(sched.sigmas) == 11


def test_heun_layout_repeats_inner_timesteps():
    sched = FlowMatchScheduler(solver="heun")
    sched.set_timesteps(5)
    assert len(sched.timesteps) == 2 * 5 - 1
    assert torch.all(sched.timesteps[1:-1:2] == sched.timesteps[2::2])


@pytest.mark.parametrize("prediction_type", ["velocity", "sample"])
def test_euler_is_first_order(prediction_type):
    e10, e20 = integrate("euler", 10, prediction_type), integrate("euler", 20, prediction_type)
    assert e10 < 0.1
    assert 1.6 < e10 / e20 < 2.4  # error halves when steps double


def test_heun_is_second_order_and_beats_euler():
    h10, h20 = integrate("heun", 10), integrate("heun", 20)
    assert h10 < 0.01 and h10 < integrate("euler", 10) / 10
    assert 3.0 < h10 / h20 < 5.0  # error shrinks about 4x when steps double


def test_shift_moves_steps_towards_noise():
    plain, shifted = FlowMatchScheduler(), FlowMatchScheduler(shift=3.0)
    plain.set_timesteps(8)
    shifted.set_timesteps(8)
    assert torch.all(shifted.sigmas[1:-1] > plain.sigmas[1:-1])


def test_add_noise_endpoints_and_middle():
    x0, noise = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    sched = FlowMatchScheduler()
    assert torch.allclose(sched.add_noise(x0, noise, torch.tensor([0.0, 0.0])), x0)
    assert torch.allclose(sched.add_noise(x0, noise, torch.tensor([1000.0, 1000.0])), noise)
    mixed = sched.scale_noise(x0, torch.tensor([250.0, 750.0]), noise)
    assert torch.allclose(mixed[0], 0.75 * x0[0] + 0.25 * noise[0], atol=1e-6)
    assert torch.allclose(mixed[1], 0.25 * x0[1] + 0.75 * noise[1], atol=1e-6)


def test_training_target_per_prediction_type():
    x0, noise = torch.randn(3), torch.randn(3)
    assert torch.equal(FlowMatchScheduler().training_target(x0, noise), noise - x0)
    assert torch.equal(FlowMatchScheduler(prediction_type="sample").training_target(x0, noise), x0)


def test_same_schedule_and_steps_as_diffusers_flow_match_euler():
    ours, theirs = FlowMatchScheduler(), FlowMatchEulerDiscreteScheduler()
    ours.set_timesteps(12)
    theirs.set_timesteps(12)
    torch.testing.assert_close(ours.timesteps, theirs.timesteps.float(), rtol=0, atol=1e-3)
    torch.testing.assert_close(ours.sigmas, theirs.sigmas.float(), rtol=0, atol=1e-6)
    x = torch.randn(1, 3, 4, 4)
    a = b = x
    for t in ours.timesteps:
        v = torch.sin(a)  # any smooth field, evaluated at each solver's own state
        a = ours.step(v, t, a).prev_sample
        b = theirs.step(torch.sin(b), t, b).prev_sample
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_bad_configuration_errors():
    with pytest.raises(ValueError, match="solver"):
        FlowMatchScheduler(solver="rk4")
    with pytest.raises(ValueError, match="prediction_type"):
        FlowMatchScheduler(prediction_type="epsilon")
    with pytest.raises(RuntimeError, match="set_timesteps"):
        FlowMatchScheduler().step(torch.zeros(1), 1000.0, torch.zeros(1))


def test_training_loss_is_taken_on_the_implied_velocity():

    g = torch.Generator().manual_seed(0)
    x0, noise, out = (torch.randn(3, 3, 4, 4, generator=g) for _ in range(3))
    sigmas = torch.tensor([0.9, 0.3, 0.01])
    vel = FlowMatchScheduler(prediction_type="velocity")
    expected = torch.nn.functional.mse_loss(out, noise - x0)
    for space in ("velocity", "prediction"):
        torch.testing.assert_close(vel.training_loss(out, x0, noise, sigmas, space), expected)
    xpred = FlowMatchScheduler(prediction_type="sample", min_sigma_for_x_pred=0.05)
    torch.testing.assert_close(
        xpred.training_loss(out, x0, noise, sigmas, "prediction"), torch.nn.functional.mse_loss(out, x0)
    )
    # velocity space: v_hat - v = (x_s - out) / s - (x_s - x0) / s, with s clamped at 0.05 (the sampler's clamp)
    s = torch.tensor([0.9, 0.3, 0.05]).view(-1, 1, 1, 1)
    x_s = (1 - s) * x0 + s * noise
    v_hat, v = (x_s - out) / s, (x_s - x0) / s
    torch.testing.assert_close(xpred.training_loss(out, x0, noise, sigmas), (v_hat - v).square().mean())
    with pytest.raises(ValueError, match="space must be"):
        xpred.training_loss(out, x0, noise, sigmas, "x")
