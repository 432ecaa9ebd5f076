"""The DDIM scheduler (Song et al. 2020, "Denoising Diffusion Implicit Models").

Training noised a clean latent x_0 with the forward process (Ho et al. 2020, eq. 4):

    x_t = sqrt(abar_t) * x_0 + sqrt(1 - abar_t) * eps,    abar_t = prod_{s<=t} (1 - beta_s)

so abar_t ("alphas_cumprod") is the share of signal left at step t, and 1 - abar_t the noise.
Sampling walks back from pure noise in a few big steps. At each one the UNet's output gives a
guess of the clean latent x_0 and of the noise eps, and DDIM re-noises that x_0 guess to the
lower noise level of the previous timestep (Song et al. eq. 12):

    x_prev = sqrt(abar_prev) * x0_pred + sqrt(1 - abar_prev - sigma^2) * eps_pred + sigma * z

With eta = 0 (sigma = 0) the walk is deterministic: the same latent gives the same picture.
"""

from dataclasses import dataclass

import numpy as np
import torch

from .scheduler import SCHEDULE_SUPPORTED, ScheduleConfig, Scheduler, betas_for, spaced_timesteps


@dataclass
class DDIMConfig(ScheduleConfig):  # the schedule's fields, and DDIM's own
    set_alpha_to_one: bool = True
    clip_sample: bool = True
    clip_sample_range: float = 1.0


SUPPORTED = {**SCHEDULE_SUPPORTED, "thresholding": [False]}


class DDIM(Scheduler):
    """diffusers' DDIMScheduler."""

    Config, SUPPORTED = DDIMConfig, SUPPORTED

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        self.betas = betas_for(self.config)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)  # abar_t
        # abar "before the first step": 1 (all signal) or, as some models were trained, abar_0.
        self.final_alpha_cumprod = torch.tensor(1.0) if self.config.set_alpha_to_one else self.alphas_cumprod[0]
        self.set_timesteps(50)

    def set_timesteps(self, num_inference_steps: int):
        """Pick which of the T training timesteps the sampler visits, from noisy to clean."""
        n = self.steps_count(num_inference_steps)
        self.num_inference_steps = n
        self.timesteps = torch.from_numpy(spaced_timesteps(self.config, n).round().astype(np.int64))

    def previous_timestep(self, t):
        return t - self.config.num_train_timesteps // self.num_inference_steps

    def abar(self, t):
        """abar_t, with the value "before the first step" for t < 0."""
        return self.alphas_cumprod[t] if t >= 0 else self.final_alpha_cumprod

    def predict_x0_eps(self, model_output, t, sample):
        """Turn the UNet's output into guesses of the clean latent x_0 and the noise eps, both
        read off x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps."""
        a, b = self.abar(int(t)) ** 0.5, (1 - self.abar(int(t))) ** 0.5
        x0 = self.predict_x0(model_output, sample, a, b)
        kind = self.config.prediction_type
        if kind == "epsilon":
            eps = model_output
        elif kind == "v_prediction":  # v = sqrt(abar) eps - sqrt(1 - abar) x_0 (Salimans & Ho 2022, sec. 4)
            eps = a * model_output + b * sample
        else:  # "sample": the model predicts x_0 itself
            eps = (sample - a * x0) / b
        return x0, eps

    def step(
        self, model_output: torch.Tensor, timestep, sample: torch.Tensor, eta=0.0, generator=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One DDIM step from x_t to x_prev. Returns (x_prev, predicted x_0)."""
        t = int(timestep)
        prev_t = self.previous_timestep(t)
        a_t, a_prev = self.abar(t), self.abar(prev_t)
        x0, eps = self.predict_x0_eps(model_output, t, sample)
        if self.config.clip_sample:
            x0 = x0.clamp(-self.config.clip_sample_range, self.config.clip_sample_range)
        # Song et al. eq. 16: eta = 1 is DDPM's noise level, eta = 0 adds no noise.
        sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)) ** 0.5
        x_prev = a_prev**0.5 * x0 + (1 - a_prev - sigma**2) ** 0.5 * eps  # eq. 12
        if eta > 0:
            x_prev = x_prev + sigma * torch.randn(sample.shape, generator=generator, dtype=sample.dtype).to(
                sample.device
            )
        return x_prev, x0
