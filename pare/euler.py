"""Euler, Euler ancestral and Heun: the samplers of Karras et al. 2022 ("Elucidating the Design Space of
Diffusion-Based Generative Models"), which walk in sigma-space.

Divide DDPM's x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps (Ho et al. eq. 4) by sqrt(abar), and the noise is simply added:

    x = x_0 + sigma * eps,    sigma = sqrt((1 - abar) / abar)

Sampling solves the probability-flow ODE (Karras et al. eq. 1 and 3, with sigma(t) = t) from sigma_max down to 0:

    dx / dsigma = (x - x0_pred) / sigma            (= eps_pred: the noise the UNet sees in x)

The UNet learned on x_t, so it is fed x / sqrt(sigma^2 + 1) (`scale_model_input`: Table 1's input scaling), and its
output gives x0_pred as in DDPM.
"""

from dataclasses import dataclass

import numpy as np
import torch

from .scheduler import (
    SCHEDULE_SUPPORTED,
    ScheduleConfig,
    Scheduler,
    alpha_sigma,
    betas_for,
    noise_levels,
    sigmas_of,
    spaced_timesteps,
)


@dataclass
class EulerConfig(ScheduleConfig):  # the schedule's fields (with diffusers' default spacing for Euler), and:
    timestep_spacing: str = "linspace"
    use_karras_sigmas: bool = False  # Karras et al.'s noise levels instead of the spaced timesteps'
    final_sigmas_type: str = "zero"  # where the last step lands: 0, or "sigma_min", the lowest training level


SUPPORTED = {
    **SCHEDULE_SUPPORTED,
    "final_sigmas_type": ["zero", "sigma_min"],
    "interpolation_type": ["linear"],
    "timestep_type": ["discrete"],
    "sigma_min": [None],
    "sigma_max": [None],
    "use_exponential_sigmas": [False],
    "use_beta_sigmas": [False],
}


class Euler(Scheduler):
    """diffusers' EulerDiscreteScheduler.

    One step is `x += (sigma_next - sigma) * d`, d the noise the UNet sees in x (for an epsilon model, its output):
    the naive loop `latents -= step * noise_pred`, with the right size at each step, the fall in noise level."""

    Config, SUPPORTED = EulerConfig, SUPPORTED

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        self.alphas_cumprod = torch.cumprod(1.0 - betas_for(self.config), dim=0)  # abar_t
        self.set_timesteps(50)

    def set_timesteps(self, num_inference_steps: int):
        """The noise levels to visit, from noisy to clean: the spaced timesteps' sigmas (or Karras's between the
        same two ends), then the last one. The UNet is told fractional timesteps where a sigma falls between two."""
        n = self.steps_count(num_inference_steps)
        self.sigmas, t = noise_levels(self.config, sigmas_of(self.alphas_cumprod), spaced_timesteps(self.config, n))
        self.timesteps = torch.from_numpy(t.astype(np.float32))
        self.set_begin_index(0)

    @property
    def init_noise_sigma(self):
        """The std of the starting latent: sigma_max, or with leading spacing (as diffusers has it) sqrt(sigma_max^2
        + 1), the std of x_t / sqrt(abar) for x_t ~ N(0, I). Either way it depends on the steps set."""
        sigma_max = self.sigmas.max()
        return sigma_max if self.config.timestep_spacing in ("linspace", "trailing") else (sigma_max**2 + 1) ** 0.5

    def scale_model_input(self, sample, timestep):
        """x / sqrt(sigma^2 + 1): back to the x_t = sqrt(abar) x that the UNet learned on."""
        return sample / (self.sigmas[self.index(timestep)] ** 2 + 1) ** 0.5

    def predict_x0_at(self, model_output, sample, sigma):
        """x0_pred at noise level sigma. An eps (or x_0) prediction reads straight off x = x_0 + sigma eps; v is
        defined on the UNet's input, DDPM's x_t = alpha x = alpha x_0 + s eps, so it is read there."""
        if self.config.prediction_type != "v_prediction":
            return self.predict_x0(model_output, sample, 1.0, sigma)
        alpha, s = alpha_sigma(sigma)
        return self.predict_x0(model_output, alpha * sample, alpha, s)

    def step(self, model_output: torch.Tensor, timestep, sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One Euler step, from this noise level to the next (Karras et al. Algorithm 1 without its correction).
        Returns (x_next, predicted x_0)."""
        i = self.index(timestep)
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        x0 = self.predict_x0_at(model_output, sample, sigma)
        d = (sample - x0) / sigma  # dx/dsigma
        self.step_index += 1
        return sample + d * (sigma_next - sigma), x0

    def noise_scales(self, t):
        """x = x_0 + sigma * noise: all of x_0, and the noise level that timestep t has in this schedule."""
        sigma = self.sigma_at(t)
        return torch.ones_like(sigma), sigma


class EulerAncestral(Euler):
    """diffusers' EulerAncestralDiscreteScheduler."""

    stochastic = True
    SUPPORTED = {
        **SUPPORTED,
        "prediction_type": ["epsilon", "v_prediction"],
        "use_karras_sigmas": [False],
        "final_sigmas_type": ["zero"],
    }
    REASONS = {
        "use_karras_sigmas": "diffusers' EulerAncestralDiscreteScheduler has no Karras spacing; pass "
        "use_karras_sigmas=False to from_config, or use Euler or DPMSolverMultistep.",
        "final_sigmas_type": "diffusers' EulerAncestralDiscreteScheduler always ends at sigma = 0.",
    }

    def step(self, model_output, timestep, sample, generator=None):
        """An Euler step down to sigma_down, then fresh noise back up to sigma_next. Returns (x_next, predicted x_0)."""
        i = self.index(timestep)
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        x0 = self.predict_x0_at(model_output, sample, sigma)
        # Of the noise sigma_next that x_next holds, sigma_up is new and sigma_down carried down by the ODE:
        # sigma_down^2 + sigma_up^2 = sigma_next^2. sigma_up is DDPM's posterior std (Ho et al. eq. 7; DDIM's
        # eta = 1) in sigma-space, so each step forgets some of the last one's noise and draws its own.
        sigma_up = (sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2) ** 0.5
        sigma_down = (sigma_next**2 - sigma_up**2) ** 0.5
        x = sample + (sample - x0) / sigma * (sigma_down - sigma)
        noise = torch.randn(sample.shape, generator=generator, dtype=sample.dtype).to(sample.device)
        self.step_index += 1
        return x + noise * sigma_up, x0


@dataclass
class HeunConfig(EulerConfig):  # diffusers' HeunDiscreteScheduler: SD's betas by default, and x_0 clipping
    beta_start: float = 0.00085
    beta_end: float = 0.012
    clip_sample: bool = False
    clip_sample_range: float = 1.0


class Heun(Euler):
    """diffusers' HeunDiscreteScheduler."""

    Config, order = HeunConfig, 2  # two UNet calls a step: `timesteps` holds each inner one twice
    SUPPORTED = {**SUPPORTED, "final_sigmas_type": ["zero"]}
    REASONS = {"final_sigmas_type": "diffusers' HeunDiscreteScheduler always ends at sigma = 0."}

    def set_timesteps(self, num_inference_steps: int):
        """Euler's noise levels with every inner one twice, one entry a UNet call: the UNet is called at both ends
        of each step, 2n - 1 times in all (the last step, to sigma = 0, is Euler's)."""
        super().set_timesteps(num_inference_steps)
        self.sigmas = torch.cat([self.sigmas[:1], self.sigmas[1:-1].repeat_interleave(2), self.sigmas[-1:]])
        self.timesteps = torch.cat([self.timesteps[:1], self.timesteps[1:].repeat_interleave(2)])
        self.first_call = None  # between a step's two calls: where it started, its slope and its size

    def step(self, model_output: torch.Tensor, timestep, sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The first call of a step is Euler's; the second, at the level Euler reached, redoes the step with the
        mean of the slopes at both ends (Karras et al. Algorithm 1). Returns (x_next, predicted x_0)."""
        i = self.index(timestep)
        sigma = self.sigmas[i]  # first call: where x is; second: where the first call's Euler step landed
        x0 = self.predict_x0_at(model_output, sample, sigma)
        if self.config.clip_sample:
            x0 = x0.clamp(-self.config.clip_sample_range, self.config.clip_sample_range)
        d = (sample - x0) / sigma
        self.step_index += 1
        if self.first_call is None:
            dt = self.sigmas[i + 1] - sigma
            self.first_call = sample, d, dt
            return sample + d * dt, x0
        start, d_start, dt = self.first_call
        self.first_call = None
        return start + (d_start + d) / 2 * dt, x0
