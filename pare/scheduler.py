"""What every scheduler shares: its config, how it loads, and the checks on what it is given.

A scheduler is the arithmetic around the UNet. `set_timesteps(n)` picks the noise levels to visit;
`step(model_output, t, x)` moves the latent from one to the next and returns (x_next, predicted
x_0); `add_noise(x_0, noise, t)` jumps straight to a noise level, as training and image-to-image
do. Each reads the fields of diffusers' scheduler_config.json of the same name, so a diffusers
model folder's scheduler loads as it is, and one scheduler's config builds another:

    pipe.scheduler = pare.Euler.from_config(pipe.scheduler.config)

The samplers of models trained on DDPM's noise schedule share the rest of this file: the timestep spacings, the noise
levels sigma of Karras et al. 2022 (`sigmas_of`), their spacing (`karras_sigmas`), and the x_0 guess.
"""

import operator
from dataclasses import asdict, dataclass, is_dataclass

import numpy as np
import torch

from .loading import config_fields, read_config, resolve


@dataclass
class ScheduleConfig:  # DDPM's noise schedule: the config fields every sampler of a DDPM-trained model reads
    num_train_timesteps: int = 1000
    beta_start: float = 0.0001
    beta_end: float = 0.02
    beta_schedule: str = "linear"
    prediction_type: str = "epsilon"  # what the UNet predicts: "epsilon", "v_prediction" or "sample"
    timestep_spacing: str = "leading"
    steps_offset: int = 0


SCHEDULE_SUPPORTED = {
    "beta_schedule": ["linear", "scaled_linear"],
    "prediction_type": ["epsilon", "v_prediction", "sample"],
    "timestep_spacing": ["leading", "trailing", "linspace"],
    "trained_betas": [None],
    "rescale_betas_zero_snr": [False],
}


class Scheduler:
    Config: type  # the dataclass of the config fields this scheduler reads
    SUPPORTED: dict = {}  # settings implemented one way only: {field: [allowed values]}
    REASONS: dict = {}  # {field: why pare refuses its other values}, where the reason is not obvious
    order = 1  # UNet calls a step (Heun: 2)
    init_noise_sigma = 1.0  # the std of the starting latent x_T
    stochastic = False  # True: step() adds fresh noise, drawn from the `generator` it takes
    step_index = 0  # where in `timesteps` the next step is, for the samplers that count their steps

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

    def set_begin_index(self, begin_index=0):
        """Start the walk at `timesteps[begin_index]`, as image-to-image does. Samplers that count their steps
        (Euler's family, DPM-Solver, DDPM) read their noise levels by this count, not by the timestep."""
        self.step_index = begin_index

    def index(self, timestep):
        """The count of the step at hand, checked against the timestep the caller is at."""
        i = self.step_index
        if i >= len(self.timesteps) or abs(float(self.timesteps[i]) - float(timestep)) > 1e-3:
            raise ValueError(
                f"This sampler is at step {i} of {len(self.timesteps)}, not at timestep {float(timestep):g}: walk "
                "`timesteps` in order after set_timesteps(), or call set_begin_index() to start part-way."
            )
        return i

    def predict_x0(self, model_output, x_t, alpha, sigma):
        """The UNet's guess of the clean latent, read off x_t = alpha x_0 + sigma eps (Ho et al. eq. 4: alpha =
        sqrt(abar_t), sigma = sqrt(1 - abar_t)) by what the UNet predicts, `prediction_type`."""
        kind = self.config.prediction_type
        if kind == "epsilon":
            return (x_t - sigma * model_output) / alpha
        if kind == "v_prediction":  # v = alpha eps - sigma x_0 (Salimans & Ho 2022, sec. 4)
            return alpha * x_t - sigma * model_output
        return model_output  # "sample": the model predicts x_0 itself

    def sigma_at(self, t):
        """The noise level of each timestep in `t`, looked up in this sampler's schedule (`timesteps`, `sigmas`)."""
        i = (self.timesteps[None].float() - t.reshape(-1, 1).float().cpu()).abs().argmin(1)
        return self.sigmas[i].to(t.device)

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
        """(how much x_0, how much noise) there is in the latent at timestep `t`: for DDPM's schedule
        sqrt(abar_t) and sqrt(1 - abar_t), the forward process q(x_t | x_0) (Ho et al. eq. 4)."""
        a = self.alphas_cumprod[t.long().cpu()].to(t.device)
        return a**0.5, (1 - a) ** 0.5


def betas_for(config):
    """The noise added at each of the T training steps. DDPM's schedule (Ho et al. 2020) is linear in
    beta; Stable Diffusion's ("scaled_linear") is linear in sqrt(beta), from 0.00085 to 0.012."""
    T = config.num_train_timesteps
    if config.beta_schedule == "linear":
        return torch.linspace(config.beta_start, config.beta_end, T, dtype=torch.float32)
    return torch.linspace(config.beta_start**0.5, config.beta_end**0.5, T, dtype=torch.float32) ** 2


def spaced_timesteps(config, n):
    """n of the T training timesteps, noisy to clean, spaced as `timestep_spacing` says (floats; DDIM rounds them)."""
    T = config.num_train_timesteps
    if config.timestep_spacing == "leading":  # 0, T/n, 2T/n, ... shifted up by steps_offset
        return np.arange(n)[::-1] * (T // n) + config.steps_offset
    if config.timestep_spacing == "trailing":  # T - 1, T - 1 - T/n, ...: starts at the noisiest step
        return np.round(np.arange(T, 0, -T / n)) - 1
    return np.linspace(0, T - 1, n)[::-1]  # "linspace": evenly from T - 1 to 0


def sigmas_of(alphas_cumprod):
    """The noise level of each training timestep, sigma_t = sqrt((1 - abar_t) / abar_t): dividing x_t by
    sqrt(abar_t) gives x = x_0 + sigma_t eps, the form of Karras et al. 2022 ("sigma-space"). A numpy array."""
    return (((1 - alphas_cumprod) / alphas_cumprod) ** 0.5).numpy()


def alpha_sigma(sigma):
    """Back from sigma-space: DDPM's (alpha, sigma) = (sqrt(abar), sqrt(1 - abar)) at noise level sigma."""
    alpha = 1 / (sigma**2 + 1) ** 0.5
    return alpha, sigma * alpha


def karras_sigmas(sigma_max, sigma_min, n, rho=7.0):
    """n noise levels evenly spaced in sigma^(1/rho) (Karras et al. eq. 5, rho = 7): the steps crowd towards low
    noise, where Karras et al. found a step's error costs the picture most."""
    ramp = np.linspace(0, 1, n)
    return (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho


def noise_levels(config, train_sigmas, timesteps, karras_range=None):
    """The sampler's noise levels: sigma at each timestep (linear between training steps), or with
    `use_karras_sigmas` Karras's levels over `karras_range` (default: the timesteps' own), each at the
    fractional timestep of its sigma (linear in log sigma); then the last level, 0 or the smallest training one.
    Returns (sigmas, one more than the steps, as float32; timesteps)."""
    sigmas = np.interp(timesteps, np.arange(len(train_sigmas)), train_sigmas)
    if config.use_karras_sigmas:
        sigmas = karras_sigmas(*(karras_range or (sigmas[0], sigmas[-1])), len(timesteps))
        log = np.log(train_sigmas)
        timesteps = np.interp(np.log(np.maximum(sigmas, 1e-10)), log, np.arange(len(log)))
    last = train_sigmas[0] if config.final_sigmas_type == "sigma_min" else 0.0
    return torch.from_numpy(np.append(sigmas, last).astype(np.float32)), timesteps
