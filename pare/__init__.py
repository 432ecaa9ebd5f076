"""pare: Stable Diffusion from scratch, in files you can read top to bottom.

pipe = pare.Pipeline.from_pretrained(pare.TINY_MODEL)   # or a Hub repo id, or a folder
image = pipe("a cat", generator=0)[0]
"""

from . import prompts  # noqa: F401  (pare.prompts.for_model: the notebooks' prompts)
from .clip import CLIP
from .ddim import DDIM
from .ddpm import DDPM
from .dpm_solver import DPMSolverMultistep
from .euler import Euler, EulerAncestral, Heun
from .flow import FlowMatchEuler
from .pipeline import HUB_MODEL, TINY_MODEL, TINY_MODEL_FLOW, TINY_MODEL_SD1, Pipeline, Step, default_model
from .scheduler import Scheduler
from .unet import UNet, UNetEvaluations
from .vae import VAE

__all__ = [
    "CLIP",
    "DDIM",
    "DDPM",
    "DPMSolverMultistep",
    "Euler",
    "EulerAncestral",
    "FlowMatchEuler",
    "HUB_MODEL",
    "Heun",
    "Pipeline",
    "Scheduler",
    "Step",
    "TINY_MODEL",
    "TINY_MODEL_FLOW",
    "TINY_MODEL_SD1",
    "UNet",
    "UNetEvaluations",
    "VAE",
    "default_model",
]
