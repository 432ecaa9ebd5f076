"""Flow matching, sampled with Euler steps: the scheduler of SD 3 and Flux (Esser et al. 2024).

Rectified flow (Liu et al. 2023; flow matching, Lipman et al. 2023) trains on the straight line from a
clean latent x_0 (noise level sigma = 0) to noise eps (sigma = 1), the model predicting its velocity v;
sampling solves dx/dsigma = v from sigma = 1 down to 0, one Euler step per model call:

    x_sigma = (1 - sigma) * x_0 + sigma * eps           v = d x_sigma / d sigma = eps - x_0
    x_next  = x + (sigma_next - sigma) * v
"""

# If the paths were straight, one step would be exact. They are not quite: the model learns the average
# direction over every picture a noisy latent could become, which is why samplers still take 10-50.
# SD 3 shifts the noise levels towards the noisy end (`shifted`); Flux shifts by the image size (`mu`).
from dataclasses import dataclass

import numpy as np
import torch

from .loading import config_fields, read_config, resolve


@dataclass
class FlowMatchConfig:  # the fields of diffusers' FlowMatchEulerDiscreteScheduler config that pare reads
    num_train_timesteps: int = 1000  # the UNet was told the timestep sigma * 1000
    shift: float = 1.0  # SD 3: 3.0
    use_dynamic_shifting: bool = False  # Flux: the shift depends on the image size, through `mu`
    base_shift: float = 0.5  # mu for an image of base_image_seq_len tokens (Flux: 256, a 256x256 picture) ...
    max_shift: float = 1.15  # ... and for max_image_seq_len (Flux: 4096, 1024x1024); a straight line between
    base_image_seq_len: int = 256
    max_image_seq_len: int = 4096
    prediction_type: str = "flow_prediction"  # not a diffusers field (always v = eps - x_0); diffusers' name for it


SUPPORTED = {
    "prediction_type": ["flow_prediction"],
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


class FlowMatchEuler:
    def __init__(self, config: dict | None = None, **overrides):
        self.config = c = config_fields(FlowMatchConfig, {**(config or {}), **overrides}, SUPPORTED)
        # The lowest training noise level, 1/T, shifted (unless the shift waits for the image size):
        # where the sampler's noise levels end, before the final step to 0.
        self.sigma_min = shifted(1 / c.num_train_timesteps, 1.0 if c.use_dynamic_shifting else c.shift)
        if not c.use_dynamic_shifting:  # with it, set_timesteps needs a mu first
            self.set_timesteps(50)

    @classmethod
    def from_pretrained(cls, model, subfolder="scheduler", **overrides):
        folder = resolve(str(model), ["scheduler"]) / (subfolder or "")
        return cls(read_config(folder, "scheduler_config.json"), **overrides)

    def mu_for(self, image_seq_len):  # Flux's log(shift) for an image of that many tokens (2x2 latent patches)
        # A straight line through (base_image_seq_len, base_shift) and (max_image_seq_len, max_shift). A
        # 1024x1024 Flux image is 4096 tokens: mu = 1.15, shift = e^1.15 = 3.16, about SD 3's 3.0.
        c = self.config
        slope = (c.max_shift - c.base_shift) / (c.max_image_seq_len - c.base_image_seq_len)
        return c.base_shift + slope * (image_seq_len - c.base_image_seq_len)

    def set_timesteps(self, num_inference_steps, mu=None, sigmas=None):
        """The noise levels to visit, from 1 towards 0: n evenly spaced from 1 to sigma_min, then shifted."""
        # `sigmas` replaces the even spacing: Flux's pipeline gives 1, 1 - 1/n, ..., 1/n (with shift 1
        # and the final 0, exactly n equal steps from 1 to 0: the naive loop with ratio 1).
        T, n, c = self.config.num_train_timesteps, num_inference_steps, self.config
        if not isinstance(n, int) or not 1 <= n <= T or (sigmas is not None and len(sigmas) != n):
            raise ValueError(f"num_inference_steps must be a whole number from 1 to {T} (and len(sigmas)), got {n!r}.")
        if c.use_dynamic_shifting and mu is None:
            raise ValueError("use_dynamic_shifting: the shift depends on the image, pass mu=scheduler.mu_for(tokens).")
        # As diffusers does: sigma_min is already shifted, and the levels are shifted again, so the
        # last one is shift(shift(1/T)), not shift(1/T). Kept, for parity; it changes one small step.
        levels = np.linspace(1.0, self.sigma_min, n) if sigmas is None else np.asarray(sigmas, dtype=np.float64)
        # Flux's "exponential" time shift, e^mu / (e^mu + 1/sigma - 1), is this same map with shift = e^mu.
        levels = torch.from_numpy(shifted(levels, np.exp(mu) if c.use_dynamic_shifting else c.shift)).float()
        self.timesteps = levels * T  # what the UNet is told: sigma on the 0..T scale it trained on (a float)
        self.sigmas = torch.cat([levels, torch.zeros(1)])  # one more than the steps: the last lands on 0

    def step(self, model_output, timestep, sample):
        """One Euler step, from this noise level to the next. Returns (x_next, predicted x_0)."""
        i = int((self.timesteps - float(timestep)).abs().argmin())  # nearest: a float that lost digits still fits
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        x0 = sample - sigma * model_output  # x = (1 - sigma) x_0 + sigma eps and v = eps - x_0 give x_0
        # Euler's step is also DDIM's (Song et al. 2020): re-noise the x_0 guess to sigma_next with the
        # eps guess x + (1 - sigma) v, (1 - sigma_next) x_0 + sigma_next eps, the same sum.
        return sample + (sigma_next - sigma) * model_output, x0

    def add_noise(self, x0, noise, timestep):
        """Training's straight line at sigma = t / T: (1 - sigma) x_0 + sigma eps (t a number, or one per row)."""
        t = torch.as_tensor(timestep, dtype=torch.float32, device=x0.device).reshape(-1, *[1] * (x0.dim() - 1))
        sigma = t / self.config.num_train_timesteps  # [1 or B, 1, 1, 1]
        return ((1 - sigma) * x0 + sigma * noise).to(x0.dtype)
