"""DDPM's ancestral sampling (Ho et al. 2020, "Denoising Diffusion Probabilistic Models", Algorithm 2).

Each step draws x_prev from the forward process's posterior, q(x_prev | x_t, x_0) (eq. 6-7), at the UNet's x_0 guess:

    x_prev = mu + sqrt(beta_tilde) z,    z ~ N(0, I), fresh each step
    mu = sqrt(abar_prev) beta / (1 - abar_t) x0_pred + sqrt(alpha) (1 - abar_prev) / (1 - abar_t) x_t
    beta_tilde = (1 - abar_prev) / (1 - abar_t) beta

where alpha = abar_t / abar_prev = 1 - beta is the signal kept over the whole step. The model was trained for T = 1000
such steps; in fewer, each is a longer stride of the same formula (which is DDIM with eta = 1, Song et al. 2020).
"""

from dataclasses import dataclass

import numpy as np
import torch

from .scheduler import SCHEDULE_SUPPORTED, ScheduleConfig, Scheduler, betas_for, spaced_timesteps


@dataclass
class DDPMConfig(ScheduleConfig):  # the schedule's fields, and DDPM's own
    clip_sample: bool = True
    clip_sample_range: float = 1.0


SUPPORTED = {**SCHEDULE_SUPPORTED, "variance_type": ["fixed_small"], "thresholding": [False]}


class DDPM(Scheduler):
    """diffusers' DDPMScheduler."""

    Config, SUPPORTED, stochastic = DDPMConfig, SUPPORTED, True

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        self.alphas_cumprod = torch.cumprod(1.0 - betas_for(self.config), dim=0)  # abar_t
        self.set_timesteps(50)

    def set_timesteps(self, num_inference_steps: int):
        """Pick which of the T training timesteps the sampler visits, from noisy to clean (as DDIM does)."""
        n = self.steps_count(num_inference_steps)
        self.timesteps = torch.from_numpy(spaced_timesteps(self.config, n).round().astype(np.int64))
        self.set_begin_index(0)

    def step(self, model_output, timestep, sample, generator=None):
        """One ancestral step, to the next timestep down. Returns (x_prev, predicted x_0)."""
        i, t = self.index(timestep), int(timestep)
        abar = self.alphas_cumprod[t]
        abar_prev = self.alphas_cumprod[self.timesteps[i + 1]] if i + 1 < len(self.timesteps) else torch.tensor(1.0)
        alpha = abar / abar_prev
        x0 = self.predict_x0(model_output, sample, abar**0.5, (1 - abar) ** 0.5)
        if self.config.clip_sample:
            x0 = x0.clamp(-self.config.clip_sample_range, self.config.clip_sample_range)
        mean = (abar_prev**0.5 * (1 - alpha) / (1 - abar)) * x0 + (alpha**0.5 * (1 - abar_prev) / (1 - abar)) * sample
        self.step_index += 1
        if t == 0:  # the step to the clean latent adds no noise
            return mean, x0
        beta_tilde = ((1 - abar_prev) / (1 - abar) * (1 - alpha)).clamp(min=1e-20)  # "fixed_small"
        noise = torch.randn(sample.shape, generator=generator, dtype=sample.dtype).to(sample.device)
        return mean + beta_tilde**0.5 * noise, x0
