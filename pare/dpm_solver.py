"""DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
Models"), the sampler the UIs call DPM++ 2M.

It solves the same probability-flow ODE as Euler, on DDPM's x_t = alpha_t x_0 + sigma_t eps, in the time
lambda = log(alpha_t / sigma_t) (half the log signal-to-noise ratio). In lambda the ODE's linear part integrates
exactly, and only the UNet's x_0 guess is left to approximate over a step of h = lambda_next - lambda:

    x_next = (sigma_next / sigma) x - alpha_next (e^-h - 1) D

D = x0_pred is DPM-Solver++(1), which is DDIM. 2M draws a line through this step's and the last step's x_0 guesses
and reads it half-way across the step (Algorithm 2): second order, still one UNet call a step.
"""

from dataclasses import dataclass

import numpy as np
import torch

from .euler import SUPPORTED as EULER_SUPPORTED
from .euler import EulerConfig
from .scheduler import Scheduler, alpha_sigma, betas_for, noise_levels, sigmas_of, spaced_timesteps


@dataclass
class DPMSolverConfig(EulerConfig):  # Euler's fields and defaults, and:
    lower_order_final: bool = True  # under 15 steps, a first-order last step: it steadies few-step sampling


SUPPORTED = {
    **EULER_SUPPORTED,
    "algorithm_type": ["dpmsolver++"],
    "solver_order": [2],
    "solver_type": ["midpoint"],
    "euler_at_final": [False],
    "thresholding": [False],
    "use_lu_lambdas": [False],
    "use_flow_sigmas": [False],
    "variance_type": [None],
    "lambda_min_clipped": [-float("inf")],
    "use_dynamic_shifting": [False],
}
REASON = "pare has DPM-Solver++(2M) only, the UIs' DPM++ 2M."


class DPMSolverMultistep(Scheduler):
    """diffusers' DPMSolverMultistepScheduler, as DPM-Solver++(2M)."""

    Config, SUPPORTED = DPMSolverConfig, SUPPORTED
    REASONS = {"algorithm_type": REASON, "solver_order": REASON, "solver_type": REASON}

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        self.alphas_cumprod = torch.cumprod(1.0 - betas_for(self.config), dim=0)  # abar_t
        self.set_timesteps(50)

    def set_timesteps(self, num_inference_steps: int):
        """The timesteps to visit, noisy to clean, and their noise levels sigma (in sigma-space, as Euler's)."""
        n, c = self.steps_count(num_inference_steps), self.config
        # Spaced as n + 1 levels with the cleanest dropped (the last step goes to the final level instead);
        # Karras's levels span all the training levels.
        t = (spaced_timesteps(c, n) if c.timestep_spacing == "trailing" else spaced_timesteps(c, n + 1)[:-1]).round()
        train = sigmas_of(self.alphas_cumprod)
        self.sigmas, t = noise_levels(c, train, t, karras_range=(train[-1], train[0]))
        self.timesteps = torch.from_numpy(np.round(t).astype(np.int64))
        self.x0_last = None  # the last step's x_0 guess
        self.set_begin_index(0)

    def step(self, model_output: torch.Tensor, timestep, sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One DPM-Solver++(2M) step (Lu et al. Algorithm 2). Returns (x_next, predicted x_0)."""
        i, c = self.index(timestep), self.config
        # DDPM's alpha_t and sigma_t (not sigma-space's sigma) at this noise level and the next
        (alpha, sigma), (alpha_next, sigma_next) = alpha_sigma(self.sigmas[i]), alpha_sigma(self.sigmas[i + 1])
        x0 = self.predict_x0(model_output, sample, alpha, sigma)
        lam = torch.log(alpha / sigma)
        h = torch.log(alpha_next / sigma_next) - lam  # infinite for a last step to sigma = 0
        # First order for the first step (no last guess yet), and for the last one if it lands on 0 or, with
        # lower_order_final, in walks of under 15 steps.
        last = i == len(self.timesteps) - 1
        if self.x0_last is None or (
            last and (c.final_sigmas_type == "zero" or (c.lower_order_final and len(self.timesteps) < 15))
        ):
            D = x0
        else:
            alpha_last, sigma_last = alpha_sigma(self.sigmas[i - 1])
            r = (lam - torch.log(alpha_last / sigma_last)) / h  # the last step's size over this one's
            D = x0 + (x0 - self.x0_last) / (2 * r)  # the line through both guesses, half-way across the step
        self.x0_last = x0
        self.step_index += 1
        return (sigma_next / sigma) * sample - alpha_next * (torch.exp(-h) - 1) * D, x0

    def noise_scales(self, t):
        """DDPM's forward process (Ho et al. eq. 4) at the noise level that timestep t has in this schedule."""
        return alpha_sigma(self.sigma_at(t))
