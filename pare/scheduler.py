"""What every scheduler shares: its config, how it loads, and the checks on what it is given.

A scheduler is the arithmetic around the UNet. `set_timesteps(n)` picks the noise levels to visit;
`step(model_output, t, x)` moves the latent from one to the next and returns (x_next, predicted
x_0); `add_noise(x_0, noise, t)` jumps straight to a noise level, as training and image-to-image
do. Each reads the fields of diffusers' scheduler_config.json of the same name, so a diffusers
model folder's scheduler loads as it is, and one scheduler's config builds another:

    pipe.scheduler = pare.EulerDiscreteScheduler.from_config(pipe.scheduler.config)
"""

import operator
from dataclasses import asdict, is_dataclass

import torch

from .loading import config_fields, read_config, resolve


class Scheduler:
    Config: type  # the dataclass of the config fields this scheduler reads
    SUPPORTED: dict = {}  # settings implemented one way only: {field: [allowed values]}
    REASONS: dict = {}  # {field: why pare refuses its other values}, where the reason is not obvious
    order = 1  # UNet calls a step (Heun: 2)
    init_noise_sigma = 1.0  # the std of the starting latent x_T

    def __init__(self, config=None, **overrides):
        config = asdict(config) if is_dataclass(config) else dict(config or {})
        self.config = config_fields(self.Config, {**config, **overrides}, self.SUPPORTED, self.REASONS)

    @classmethod
    def from_config(cls, config, **overrides):
        """Another scheduler's config (or a config.json dict): the fields this one reads are taken."""
        return cls(config, **overrides)

    @classmethod
    def from_pretrained(cls, model, subfolder: str | None = None, **overrides) -> "Scheduler":
        """`model/subfolder/scheduler_config.json` (a folder or a Hub repo id), as diffusers reads it:
        `DDIMScheduler.from_pretrained(model, subfolder="scheduler")`."""
        folder = resolve(str(model), ["scheduler"]) / (subfolder or "")
        return cls(read_config(folder, "scheduler_config.json"), **overrides)

    def steps_count(self, num_inference_steps):
        """A whole number of steps from 1 to T (a Python, numpy or torch integer), or a clear error."""
        T = self.config.num_train_timesteps
        try:
            n = operator.index(num_inference_steps)
        except TypeError:
            n = None
        if n is None or not 1 <= n <= T:
            raise ValueError(f"num_inference_steps must be a whole number from 1 to {T}, got {num_inference_steps!r}.")
        return n

    def scale_model_input(self, sample, timestep):
        """What the UNet is fed at `timestep`: the latent itself, except in sigma-space samplers."""
        return sample

    def add_noise(self, x0, noise, timestep):
        """The forward process: x_0 noised to `timestep` (a number, or one per batch row)."""
        if x0.shape != noise.shape:
            raise ValueError(f"x0 {tuple(x0.shape)} and noise {tuple(noise.shape)} must have the same shape.")
        t = torch.as_tensor(timestep, device=x0.device)
        if t.dim() > 1 or (t.dim() == 1 and len(t) not in (1, len(x0))):
            raise ValueError(f"timestep must be one number or one a batch row ({len(x0)}), got shape {tuple(t.shape)}.")
        if not 0 <= t.min() <= t.max() <= self.config.num_train_timesteps:
            raise ValueError(f"timestep must lie in 0..{self.config.num_train_timesteps}, got {timestep}.")
        signal, sigma = (s.reshape(-1, *[1] * (x0.dim() - 1)) for s in self.noise_scales(t))  # [1 or B, 1, 1, 1]
        return (signal * x0 + sigma * noise).to(x0.dtype)

    def noise_scales(self, t):
        """(how much x_0, how much noise) there is in the latent at timestep `t`."""
        raise NotImplementedError


def betas_for(config):
    """The noise added at each of the T training steps. DDPM's schedule (Ho et al. 2020) is linear in
    beta; Stable Diffusion's ("scaled_linear") is linear in sqrt(beta), from 0.00085 to 0.012."""
    T = config.num_train_timesteps
    if config.beta_schedule == "linear":
        return torch.linspace(config.beta_start, config.beta_end, T, dtype=torch.float32)
    return torch.linspace(config.beta_start**0.5, config.beta_end**0.5, T, dtype=torch.float32) ** 2
