"""The VAE (AutoencoderKL): the encoder squeezes an image [B, 3, H, W] into a latent
[B, 4, H/8, W/8] and the decoder draws the image back (Kingma & Welling 2013; Rombach et al. 2022,
sec. 3.1). Stable Diffusion denoises in this small latent space, 48x fewer numbers than pixels,
which is what makes it cheap.

The encoder's output is a distribution, not a point: a mean and a log-variance per latent value.
Training samples from it (with a small KL penalty that keeps it near N(0, 1)); we mostly take
the mean. The scaling factor in the config (0.18215 for SD) makes the latents' std about 1, as
the diffusion model expects; `decode` takes latents without it, as diffusers' does.
"""

from dataclasses import dataclass
from itertools import chain

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Attention, Downsample2D, ResnetBlock2D, Upsample2D
from .loading import Pretrained, config_fields


@dataclass
class VAEConfig:  # the fields of diffusers' vae/config.json that pare reads
    block_out_channels: list
    in_channels: int = 3
    out_channels: int = 3
    latent_channels: int = 4
    layers_per_block: int = 1
    norm_num_groups: int = 32
    scaling_factor: float = 0.18215


SUPPORTED = {
    "act_fn": ["silu"],
    "shift_factor": [None],
    "use_quant_conv": [True],
    "use_post_quant_conv": [True],
    "mid_block_add_attention": [True],
}


class SelfAttention2D(Attention):
    """One-head self-attention over all pixels of a feature map, with its own GroupNorm."""

    def __init__(self, channels, groups):
        super().__init__(channels, heads=1, dim_head=channels, bias=True)
        self.group_norm = nn.GroupNorm(groups, channels, eps=1e-6)

    def forward(self, x):  # [B, C, H, W] -> [B, C, H, W]
        h = self.group_norm(x).flatten(2).transpose(1, 2)  # [B, N, C]
        return x + super().forward(h).transpose(1, 2).reshape(x.shape)


class UNetMidBlock2D(nn.Module):
    """resnet, attention, resnet at the smallest size: the only place the VAE looks globally."""

    def __init__(self, ch, groups):
        super().__init__()
        self.resnets = nn.ModuleList(ResnetBlock2D(ch, ch, groups=groups, eps=1e-6) for _ in range(2))
        self.attentions = nn.ModuleList([SelfAttention2D(ch, groups)])

    def forward(self, x):
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class Level(nn.Module):
    """One resolution of the encoder (DownEncoderBlock2D: resnets, then halve the size) or of
    the decoder (UpDecoderBlock2D: resnets, then double it)."""

    def __init__(self, in_ch, out_ch, n, groups, down=False, up=False):
        super().__init__()
        self.resnets = nn.ModuleList(
            ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, groups=groups, eps=1e-6) for i in range(n)
        )
        if down:
            self.downsamplers = nn.ModuleList([Downsample2D(out_ch, padding=0)])
        if up:
            self.upsamplers = nn.ModuleList([Upsample2D(out_ch)])

    def forward(self, x):
        for layer in chain(*self.children()):  # the resnets, then the down- or upsampler
            x = layer(x)
        return x


class Encoder(nn.Module):
    def __init__(self, c: VAEConfig):
        super().__init__()
        chs, g = c.block_out_channels, c.norm_num_groups
        self.conv_in = nn.Conv2d(c.in_channels, chs[0], 3, padding=1)
        self.down_blocks = nn.ModuleList(
            Level(chs[max(i - 1, 0)], ch, c.layers_per_block, g, down=i < len(chs) - 1) for i, ch in enumerate(chs)
        )
        self.mid_block = UNetMidBlock2D(chs[-1], g)
        self.conv_norm_out = nn.GroupNorm(g, chs[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(chs[-1], 2 * c.latent_channels, 3, padding=1)  # mean and log-variance

    def forward(self, x):  # [B, 3, H, W] -> [B, 8, H/8, W/8]
        x = self.conv_in(x)
        for block in self.down_blocks:
            x = block(x)
        return self.conv_out(F.silu(self.conv_norm_out(self.mid_block(x))))


class Decoder(nn.Module):
    def __init__(self, c: VAEConfig):
        super().__init__()
        chs, g = c.block_out_channels[::-1], c.norm_num_groups
        self.conv_in = nn.Conv2d(c.latent_channels, chs[0], 3, padding=1)
        self.mid_block = UNetMidBlock2D(chs[0], g)
        self.up_blocks = nn.ModuleList(
            Level(chs[max(i - 1, 0)], ch, c.layers_per_block + 1, g, up=i < len(chs) - 1) for i, ch in enumerate(chs)
        )
        self.conv_norm_out = nn.GroupNorm(g, chs[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(chs[-1], c.out_channels, 3, padding=1)

    def forward(self, z):  # [B, 4, h, w] -> [B, 3, 8h, 8w]
        x = self.mid_block(self.conv_in(z))
        for block in self.up_blocks:
            x = block(x)
        x = self.conv_norm_out(x)  # a new name would keep the full-size input alive: +1 map of memory
        return self.conv_out(F.silu(x))


class DiagonalGaussian:
    """The encoder's answer: a normal distribution per latent value."""

    def __init__(self, moments):  # [B, 2 * 4, h, w]
        self.mean, logvar = moments.chunk(2, dim=1)
        self.logvar = logvar.clamp(-30.0, 20.0)
        self.std = torch.exp(0.5 * self.logvar)

    def sample(self, generator=None):
        noise = torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype).to(self.mean.device)
        return self.mean + self.std * noise  # the reparameterisation trick

    def kl(self):
        """KL(q || N(0, 1)) summed over each latent: the VAE's regulariser."""
        return 0.5 * (self.mean**2 + self.logvar.exp() - 1 - self.logvar).sum(dim=(1, 2, 3))


class VAE(Pretrained):
    """diffusers' AutoencoderKL."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = c = config_fields(VAEConfig, config, SUPPORTED)
        self.encoder, self.decoder = Encoder(c), Decoder(c)
        self.quant_conv = nn.Conv2d(2 * c.latent_channels, 2 * c.latent_channels, 1)
        self.post_quant_conv = nn.Conv2d(c.latent_channels, c.latent_channels, 1)

    @property
    def scale_factor(self):
        """How much smaller the latent is than the image: 2 per downsampling level."""
        return 2 ** (len(self.config.block_out_channels) - 1)

    def encode(self, x):  # image in [-1, 1], [B, 3, H, W] -> a distribution over [B, 4, H/8, W/8]
        return DiagonalGaussian(self.quant_conv(self.encoder(x)))

    def decode(self, z):  # unscaled latent [B, 4, h, w] -> image in about [-1, 1], [B, 3, 8h, 8w]
        return self.decoder(self.post_quant_conv(z))
