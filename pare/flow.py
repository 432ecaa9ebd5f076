"""Flow matching, sampled with Euler steps: the scheduler of SD 3 and Flux (Esser et al. 2024).

Rectified flow (Liu et al. 2023; flow matching, Lipman et al. 2023) trains on the straight line from a
clean latent x_0 (noise level sigma = 0) to noise eps (sigma = 1), the model predicting its velocity v;
sampling solves dx/dsigma = v from sigma = 1 down to 0, one Euler step per model call:

    x_sigma = (1 - sigma) * x_0 + sigma * eps           v = d x_sigma / d sigma = eps - x_0
    x_next  = x + (sigma_next - sigma) * v
"""

# If the paths were straight, one step would be exact. They are not quite: the model learns the average
# direction over every picture a noisy latent could become, which is why samplers still take 10-50.
# SD 3 shifts the noise levels towards the noisy end (`shifted`); Flux by an amount set by the image size.
from dataclasses import dataclass

import numpy as np
import torch

from .scheduler import Scheduler


@dataclass
class FlowMatchConfig:  # the fields of diffusers' FlowMatchEulerDiscreteScheduler config that pare reads
    num_train_timesteps: int = 1000  # the UNet was told the timestep sigma * 1000
    shift: float = 1.0  # SD 3: 3.0
    prediction_type: str = "flow_prediction"  # not a diffusers field (always v = eps - x_0); diffusers' name for it


SUPPORTED = {
    "prediction_type": ["flow_prediction"],
    "use_dynamic_shifting": [False],
    "time_shift_type": ["exponential"],
    "invert_sigmas": [False],
    "shift_terminal": [None],
    "use_karras_sigmas": [False],
    "use_exponential_sigmas": [False],
    "use_beta_sigmas": [False],
    "stochastic_sampling": [False],
}


def shifted(sigma, shift):  # SD 3's timestep shift; 0 and 1 stay put
    # Esser et al. 2024 ("resolution-dependent shifting of timestep schedules"): a bigger image has
    # more pixels that each carry the same picture, so averaging neighbours undoes more of the noise
    # and a given sigma destroys less. Matching an n-pixel image's sigma on an m-pixel one gives this
    # map with shift = sqrt(m / n); SD 3 uses 3.0 at 1024x1024. It puts more steps at high noise,
    # where the picture's layout is decided. In odds it is a plain scale: sigma/(1-sigma) times shift.
    return shift * sigma / (1 + (shift - 1) * sigma)


class FlowMatchEuler(Scheduler):
    """diffusers' FlowMatchEulerDiscreteScheduler."""

    Config, SUPPORTED = FlowMatchConfig, SUPPORTED
    REASONS = {
        "use_dynamic_shifting": "It is Flux's: the shift is set by the image's size in 2x2 latent patches, and "
        "Flux is a transformer, which pare does not load. For a UNet model, set a fixed `shift` instead."
    }

    def __init__(self, config=None, **overrides):
        super().__init__(config, **overrides)
        # The lowest training noise level, 1/T, shifted: where the sampler's noise levels end, before
        # the final step to 0.
        self.sigma_min = shifted(1 / self.config.num_train_timesteps, self.config.shift)
        self.set_timesteps(50)

    def set_timesteps(self, num_inference_steps: int, sigmas=None):
        """The noise levels to visit, from 1 towards 0: n evenly spaced from 1 to sigma_min, then shifted."""
        # `sigmas` replaces the even spacing: Flux's pipeline gives 1, 1 - 1/n, ..., 1/n (with shift 1
        # and the final 0, exactly n equal steps from 1 to 0: the naive loop with ratio 1).
        T, n = self.config.num_train_timesteps, self.steps_count(num_inference_steps)
        if sigmas is not None and len(sigmas) != n:
            raise ValueError(f"sigmas has {len(sigmas)} noise levels for {n} steps: give one a step.")
        # As diffusers does: sigma_min is already shifted, and the levels are shifted again, so the
        # last one is shift(shift(1/T)), not shift(1/T). Kept, for parity; it changes one small step.
        levels = np.linspace(1.0, self.sigma_min, n) if sigmas is None else np.asarray(sigmas, dtype=np.float64)
        levels = torch.from_numpy(shifted(levels, self.config.shift)).float()
        self.timesteps = levels * T  # what the UNet is told: sigma on the 0..T scale it trained on (a float)
        self.sigmas = torch.cat([levels, torch.zeros(1)])  # one more than the steps: the last lands on 0

    def step(self, model_output: torch.Tensor, timestep, sample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One Euler step, from this noise level to the next. Returns (x_next, predicted x_0)."""
        i = int((self.timesteps - float(timestep)).abs().argmin())  # nearest: a float that lost digits still fits
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        x0 = sample - sigma * model_output  # x = (1 - sigma) x_0 + sigma eps and v = eps - x_0 give x_0
        # Euler's step is also DDIM's (Song et al. 2020): re-noise the x_0 guess to sigma_next with the
        # eps guess x + (1 - sigma) v, (1 - sigma_next) x_0 + sigma_next eps, the same sum.
        return sample + (sigma_next - sigma) * model_output, x0

    def noise_scales(self, t):
        """Training's straight line at sigma = t / T: (1 - sigma) of x_0 and sigma of noise."""
        sigma = t.float() / self.config.num_train_timesteps
        return 1 - sigma, sigma
