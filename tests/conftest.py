"""Shared set-up: no network, one torch thread, small configs of SD 1 and SD 2's shapes, and a tolerance."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may silently reach for the Hub
os.environ.setdefault("PARE_MODEL", "")  # tests name their model; no GPU/Hub default

import pytest
import torch

from pare.sd_configs import random_weights as randomize  # noqa: F401  (test_flow and test_loading import it from here)

torch.set_num_threads(1)  # parallel runs on 2 cores: more threads were 50-100x slower here

# Small configs of the shapes SD 1.x and SD 2.x use (diffusers' config.json fields).
SD1_UNET = dict(
    block_out_channels=[32, 64, 64],
    layers_per_block=2,
    norm_num_groups=8,
    cross_attention_dim=32,
    attention_head_dim=4,
    sample_size=16,
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
)
SD2_UNET = dict(
    SD1_UNET, attention_head_dim=[2, 4, 8], cross_attention_dim=48, use_linear_projection=True, upcast_attention=True
)
VAE = dict(
    block_out_channels=[16, 32, 32, 32],
    layers_per_block=2,
    norm_num_groups=8,
    latent_channels=4,
    down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4,
)


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)


def assert_close(got, expected, tol=1e-5):
    """Max-abs-diff within `tol`, relative to the size of the values (fp32 rounding grows with them)."""
    assert got.shape == expected.shape
    scale = max(1.0, expected.abs().max().item())
    assert (got - expected).abs().max().item() <= tol * scale, (got - expected).abs().max().item()
    assert expected.abs().max() > 1e-3  # a real signal, not zeros on both sides
