"""Flow-matching scheduler (Euler and Heun) in diffusers' convention.

Convention (shared with the browser sampler; docs/design.md in the cats_dit repository):
``x_s = (1 - s) * x0 + s * noise``; ``s = 1`` is pure noise; the velocity is ``noise - x0``; sampling runs ``s`` from 1 to 0; the model gets
``timestep = 1000 * s``. Timesteps and sigmas are computed exactly as diffusers'
``FlowMatchEulerDiscreteScheduler`` does (for ``shift == 1``), so that scheduler can be
swapped into the pipeline.

Heun follows diffusers' ``HeunDiscreteScheduler`` layout: every interval but the last
appears twice in ``timesteps`` and ``step`` alternates predictor and corrector, so a
pipeline loop stays ``for t in scheduler.timesteps``. The last interval (to ``s = 0``)
is a plain Euler step.

Copied next to the weights by ``save_pretrained``: imports only torch/numpy/diffusers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput


@dataclass
class FlowMatchSchedulerOutput(BaseOutput):
    """``prev_sample``: the sample at the next (smaller) ``s``; ``pred_original_sample``: x0 estimate."""

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor | None = None


def shift_sigmas(sigmas, shift: float):
    """Resolution shift (SD3): spends more steps at high noise when ``shift > 1``."""
    return shift * sigmas / (1 + (shift - 1) * sigmas)


class FlowMatchScheduler(SchedulerMixin, ConfigMixin):
    """Euler / Heun sampler for rectified flow, velocity or x (``sample``) prediction.

    ``prediction_type="sample"``: the model predicts the clean image ``x0_hat``; the
    velocity is ``(x_s - x0_hat) / s`` with ``s`` clamped to ``min_sigma_for_x_pred`` to
    keep the division finite near the end of sampling.
    """

    order = 1

    @register_to_config
    def __init__(
        self,
        num_train_timesteps: int = 1000,
        shift: float = 1.0,
        solver: str = "euler",
        prediction_type: str = "velocity",
        min_sigma_for_x_pred: float = 0.05,
    ):
        if solver not in ("euler", "heun"):
            raise ValueError(f"solver must be 'euler' or 'heun', got {solver!r}")
        if prediction_type not in ("velocity", "sample"):
            raise ValueError(f"prediction_type must be 'velocity' or 'sample', got {prediction_type!r}")
        self.order = 2 if solver == "heun" else 1
        self.num_inference_steps: int | None = None
        self.timesteps = torch.empty(0)
        self.sigmas = torch.empty(0)
        self._step_index: int | None = None
        self._prev_derivative: torch.Tensor | None = None
        self._prev_sample: torch.Tensor | None = None
        self._dt: float | None = None

    # -- schedule ---------------------------------------------------------------------------
    def interval_sigmas(self, num_inference_steps: int) -> np.ndarray:
        """The N+1 noise levels from 1 down to 0 that the N steps connect (float32)."""
        t_max, t_min = 1.0 * self.config.num_train_timesteps, 1.0
        sigmas = np.linspace(t_max, t_min, num_inference_steps) / self.config.num_train_timesteps
        sigmas = shift_sigmas(sigmas, self.config.shift)
        return np.append(sigmas, 0.0).astype(np.float32)

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None) -> None:
        if num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be at least 1, got {num_inference_steps}")
        self.num_inference_steps = num_inference_steps
        sigmas = torch.from_numpy(self.interval_sigmas(num_inference_steps))
        if self.config.solver == "heun":
            # [s0, s1, s1, s2, s2, ..., s_{N-1}]: predictor and corrector share interval ends.
            inner = sigmas[1:-1].repeat_interleave(2)
            sigmas = torch.cat([sigmas[:1], inner, sigmas[-1:]])
        self.sigmas = sigmas.to(device)
        self.timesteps = (sigmas[:-1] * self.config.num_train_timesteps).to(device=device, dtype=torch.float32)
        self._step_index = None
        self._prev_derivative = None
        self._prev_sample = None

    @property
    def step_index(self) -> int | None:
        return self._step_index

    @property
    def state_in_first_order(self) -> bool:
        return self._prev_derivative is None

    def _index_for_timestep(self, timestep) -> int:
        t = float(timestep)
        matches = (self.timesteps - t).abs() < 1e-3
        candidates = torch.nonzero(matches).flatten().tolist()
        if not candidates:
            raise ValueError(f"timestep {t} is not in this scheduler's timesteps")
        # Heun lists each inner timestep twice; the second occurrence is the corrector.
        return candidates[1] if len(candidates) > 1 and not self.state_in_first_order else candidates[0]

    # -- model output -> velocity -------------------------------------------------------------
    def to_velocity(self, model_output: torch.Tensor, sample: torch.Tensor, sigma: float) -> torch.Tensor:
        if self.config.prediction_type == "velocity":
            return model_output
        s = max(float(sigma), self.config.min_sigma_for_x_pred)
        return (sample - model_output) / s

    def step(
        self,
        model_output: torch.Tensor,
        timestep: float | torch.Tensor,
        sample: torch.Tensor,
        return_dict: bool = True,
        **unused,
    ) -> FlowMatchSchedulerOutput | tuple[torch.Tensor]:
        if self.num_inference_steps is None:
            raise RuntimeError("call set_timesteps() before step()")
        if self._step_index is None:
            self._step_index = self._index_for_timestep(timestep)
        i = self._step_index
        sigma, sigma_next = float(self.sigmas[i]), float(self.sigmas[i + 1])
        dtype = sample.dtype
        sample_f = sample.float()
        v = self.to_velocity(model_output.float(), sample_f, sigma)

        if self.config.solver == "euler" or (self.state_in_first_order and sigma_next == 0.0):
            prev = sample_f + (sigma_next - sigma) * v
            x0 = sample_f - sigma * v
        elif self.state_in_first_order:
            # Predictor: Euler to the interval's end, remember slope and start.
            self._prev_derivative, self._prev_sample, self._dt = v, sample_f, sigma_next - sigma
            prev = sample_f + self._dt * v
            x0 = sample_f - sigma * v
        else:
            # Corrector: average the two slopes, restart from the interval's start.
            v_avg = 0.5 * (self._prev_derivative + v)
            prev = self._prev_sample + self._dt * v_avg
            x0 = prev  # best estimate available without another model call
            self._prev_derivative = self._prev_sample = self._dt = None

        self._step_index = i + 1
        prev = prev.to(dtype)
        if not return_dict:
            return (prev,)
        return FlowMatchSchedulerOutput(prev_sample=prev, pred_original_sample=x0.to(dtype))

    # -- training helpers ---------------------------------------------------------------------
    def scale_noise(self, sample: torch.Tensor, timestep: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``x_s = (1 - s) x0 + s noise`` with ``s = timestep / num_train_timesteps`` (per item)."""
        s = timestep.float() / self.config.num_train_timesteps
        s = s.reshape(-1, *([1] * (sample.ndim - 1))).to(sample.device)
        return ((1 - s) * sample.float() + s * noise.float()).to(sample.dtype)

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """diffusers' training-API name for :meth:`scale_noise` (argument order of DDPM)."""
        return self.scale_noise(original_samples, timesteps, noise)

    def training_target(self, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """What the model should output for this ``prediction_type``."""
        return noise - x0 if self.config.prediction_type == "velocity" else x0

    def training_loss(
        self,
        model_output: torch.Tensor,
        x0: torch.Tensor,
        noise: torch.Tensor,
        sigmas: torch.Tensor,
        space: str = "velocity",
    ) -> torch.Tensor:
        """Mean squared error of a training batch (``sigmas`` [B]: each item's noise level ``s``).

        ``space="velocity"``: on the velocity the output implies, which for x-prediction is
        ``(x_s - x0_hat) / s - (x_s - x0) / s = (x0 - x0_hat) / s`` with ``s`` clamped at
        ``min_sigma_for_x_pred``, as the sampler clamps it (the x-prediction recipe for pixel space);
        ``"prediction"``: on the raw output. Both are the same for velocity prediction."""
        if space not in ("velocity", "prediction"):
            raise ValueError(f"space must be 'velocity' or 'prediction', got {space!r}")
        err = model_output.float() - self.training_target(x0, noise).float()
        if self.config.prediction_type == "velocity" or space == "prediction":
            return err.square().mean()
        s = sigmas.float().clamp(min=self.config.min_sigma_for_x_pred).reshape(-1, *([1] * (err.ndim - 1)))
        return (err / s.to(err.device)).square().mean()

    def __len__(self) -> int:
        return self.config.num_train_timesteps
