"""The UNet: given a noisy latent x_t, the timestep t and the prompt's embedding, predict the
noise in x_t (epsilon) or the velocity v (Ronneberger et al. 2015; Rombach et al. 2022, sec. 3.3).

It is a U: the down path halves the latent's size and adds channels three times, the mid
block works at the smallest size, and the up path doubles back, each level concatenating the
feature map the down path saved at the same size (the skip connections). The timestep enters
every ResnetBlock2D; the prompt enters every Transformer2DModel, through cross-attention.

Stable Diffusion 1.x (512 px, latent 64x64), shapes for a batch of 2 (the negative and the
positive prompt):
    conv_in          [2, 4, 64, 64]  -> [2, 320, 64, 64]
    down_blocks[0-3] -> 320@32 -> 640@16 -> 1280@8 -> 1280@8      (each keeps its skips)
    mid_block        -> [2, 1280, 8, 8]
    up_blocks[0-3]   -> 1280@16 -> 1280@32 -> 640@64 -> 320@64
    conv_out         -> [2, 4, 64, 64]
"""

import math
from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook

from .blocks import Attention, Downsample2D, ResnetBlock2D, Upsample2D
from .loading import Pretrained, config_fields


@dataclass
class UNetConfig:  # the fields of diffusers' unet/config.json that pare reads
    block_out_channels: list
    down_block_types: list
    up_block_types: list
    in_channels: int = 4
    out_channels: int = 4
    layers_per_block: int = 2
    attention_head_dim: int | list = 8  # despite its name, the number of heads (a diffusers quirk)
    num_attention_heads: int | list | None = None  # the better name, where a config uses it
    cross_attention_dim: int = 768  # the text encoder's width: 768 for SD 1, 1024 for SD 2
    norm_num_groups: int = 32
    norm_eps: float = 1e-5
    use_linear_projection: bool = False  # SD 2: Linear instead of 1x1 Conv around attention
    upcast_attention: bool = False
    flip_sin_to_cos: bool = True
    freq_shift: int = 0
    sample_size: int = 64  # the latent size the model was trained at
    transformer_layers_per_block: int = 1


SUPPORTED = {
    "mid_block_type": ["UNetMidBlock2DCrossAttn"],
    "act_fn": ["silu"],
    "class_embed_type": [None],
    "addition_embed_type": [None],
    "time_embedding_type": ["positional"],
    "resnet_time_scale_shift": ["default"],
    "center_input_sample": [False],
    "only_cross_attention": [False],
    "dual_cross_attention": [False],
    "encoder_hid_dim": [None],
    "mid_block_scale_factor": [1],
    "downsample_padding": [1],
}
BLOCKS = {"CrossAttnDownBlock2D": True, "DownBlock2D": False, "CrossAttnUpBlock2D": True, "UpBlock2D": False}


def timestep_embedding(t, dim, flip_sin_to_cos=True, shift=0):
    """Sinusoidal embedding of the timestep (Vaswani et al. 2017, sec. 3.5): `dim/2` frequencies
    from 1 down to 1/10000, then sin and cos of t at each. [B] -> [B, dim]"""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - shift))
    angles = t.float()[:, None] * freqs[None]
    sin, cos = angles.sin(), angles.cos()
    return torch.cat([cos, sin] if flip_sin_to_cos else [sin, cos], dim=-1)


class TimestepEmbedding(nn.Module):
    """An MLP on the sinusoidal embedding: [B, C] -> [B, 4C], added inside every ResnetBlock2D."""

    def __init__(self, channels, temb_channels):
        super().__init__()
        self.linear_1 = nn.Linear(channels, temb_channels)
        self.linear_2 = nn.Linear(temb_channels, temb_channels)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class GEGLU(nn.Module):
    """A gated GELU (Shazeer 2020): half the projection gates the other half."""

    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        x, gate = self.proj(x).chunk(2, dim=-1)
        return x * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        # The Identity stands where diffusers has a dropout, so the weight keys are net.0 and net.2.
        self.net = nn.Sequential(GEGLU(dim, 4 * dim), nn.Identity(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        return self.net(x)


class BasicTransformerBlock(nn.Module):
    """Self-attention over the pixels, cross-attention to the prompt's tokens, a feed-forward
    layer; each after a LayerNorm and with a residual connection (pre-norm transformer)."""

    def __init__(self, dim, heads, context_dim, upcast):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, dim // heads, upcast=upcast)
        self.attn2 = Attention(dim, heads, dim // heads, context_dim, upcast=upcast)
        self.ff = FeedForward(dim)

    def forward(self, x, context):  # x [B, N, C], context [B, 77, D]
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)  # the only place the prompt enters the UNet
        return x + self.ff(self.norm3(x))


class Transformer2DModel(nn.Module):
    """Attention on a feature map: flatten the H x W pixels into a sequence of N tokens, run the
    transformer blocks, fold them back, add the input."""

    def __init__(self, channels, heads, c: UNetConfig):
        super().__init__()
        self.linear = c.use_linear_projection
        self.norm = nn.GroupNorm(c.norm_num_groups, channels, eps=1e-6)
        proj = nn.Linear if self.linear else (lambda i, o: nn.Conv2d(i, o, 1))  # same maths
        self.proj_in = proj(channels, channels)
        self.transformer_blocks = nn.ModuleList(
            BasicTransformerBlock(channels, heads, c.cross_attention_dim, c.upcast_attention)
            for _ in range(c.transformer_layers_per_block)
        )
        self.proj_out = proj(channels, channels)

    def forward(self, x, context):  # [B, C, H, W] -> [B, C, H, W]
        B, C, H, W = x.shape
        h = self.norm(x)
        if not self.linear:
            h = self.proj_in(h)
        h = h.flatten(2).transpose(1, 2)  # [B, C, H, W] -> [B, N, C]
        if self.linear:
            h = self.proj_in(h)
        for block in self.transformer_blocks:
            h = block(h, context)
        if self.linear:
            h = self.proj_out(h)
        h = h.transpose(1, 2).reshape(B, C, H, W)
        if not self.linear:
            h = self.proj_out(h)
        return x + h


def attentions(channels, heads, n, c, cross):
    return nn.ModuleList(Transformer2DModel(channels, heads, c) for _ in range(n if cross else 0))


class DownBlock(nn.Module):
    """diffusers' CrossAttnDownBlock2D (cross=True) or DownBlock2D: resnets, each followed by
    attention when cross, then a stride-2 downsample (except in the deepest block).
    Every output is saved as a skip for the up path."""

    def __init__(self, in_ch, out_ch, temb_ch, heads, cross, downsample, c: UNetConfig):
        super().__init__()
        n = c.layers_per_block
        self.resnets = nn.ModuleList(
            ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, temb_ch, c.norm_num_groups, c.norm_eps) for i in range(n)
        )
        self.attentions = attentions(out_ch, heads, n, c, cross)
        self.downsamplers = nn.ModuleList([Downsample2D(out_ch)] if downsample else [])

    def forward(self, x, temb, context, skips):
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if self.attentions:
                x = self.attentions[i](x, context)
            skips.append(x)
        for down in self.downsamplers:
            x = down(x)
            skips.append(x)
        return x


class UpBlock(nn.Module):
    """diffusers' CrossAttnUpBlock2D or UpBlock2D: one more resnet than on the way down; each
    first concatenates the skip saved at this level (channels add up), then upsamples."""

    def __init__(self, skip_chs, prev_ch, out_ch, temb_ch, heads, cross, upsample, c: UNetConfig):
        super().__init__()
        self.resnets = nn.ModuleList(
            ResnetBlock2D((prev_ch if i == 0 else out_ch) + skip, out_ch, temb_ch, c.norm_num_groups, c.norm_eps)
            for i, skip in enumerate(skip_chs)
        )
        self.attentions = attentions(out_ch, heads, len(skip_chs), c, cross)
        self.upsamplers = nn.ModuleList([Upsample2D(out_ch)] if upsample else [])

    def forward(self, x, temb, context, skips):
        for i, resnet in enumerate(self.resnets):
            x = resnet(torch.cat([x, skips.pop()], dim=1), temb)  # [B, C + C_skip, H, W]
            if self.attentions:
                x = self.attentions[i](x, context)
        for up in self.upsamplers:
            x = up(x, size=skips[-1].shape[-2:])  # exactly the size of the next skip
        return x


class UNetMidBlock2DCrossAttn(nn.Module):
    def __init__(self, ch, temb_ch, heads, c: UNetConfig):
        super().__init__()
        self.resnets = nn.ModuleList(ResnetBlock2D(ch, ch, temb_ch, c.norm_num_groups, c.norm_eps) for _ in range(2))
        self.attentions = attentions(ch, heads, 1, c, cross=True)

    def forward(self, x, temb, context):
        x = self.resnets[0](x, temb)
        return self.resnets[1](self.attentions[0](x, context), temb)


class UNet(Pretrained):
    """diffusers' UNet2DConditionModel, for the configs of Stable Diffusion 1.x and 2.x."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = c = config_fields(UNetConfig, config, SUPPORTED)
        for t in c.down_block_types + c.up_block_types:
            if t not in BLOCKS:
                raise NotImplementedError(
                    f"UNet block type {t!r} is not supported by pare (supported: {list(BLOCKS)})."
                )
        if not isinstance(c.transformer_layers_per_block, int):
            raise NotImplementedError("pare supports one transformer_layers_per_block for all blocks (an int).")
        chs, levels = c.block_out_channels, len(c.block_out_channels)
        heads = c.num_attention_heads or c.attention_head_dim
        heads = list(heads) if isinstance(heads, (list, tuple)) else [heads] * levels
        temb_ch = 4 * chs[0]

        self.time_embedding = TimestepEmbedding(chs[0], temb_ch)
        self.conv_in = nn.Conv2d(c.in_channels, chs[0], 3, padding=1)

        # Down: level i goes from chs[i-1] to chs[i] channels, then halves the size.
        self.down_blocks = nn.ModuleList(
            DownBlock(
                in_ch=chs[max(i - 1, 0)],
                out_ch=ch,
                temb_ch=temb_ch,
                heads=heads[i],
                cross=BLOCKS[t],
                downsample=i < levels - 1,
                c=c,
            )
            for i, (ch, t) in enumerate(zip(chs, c.down_block_types))
        )
        # The channels of the skips in the order they were saved: conv_in, then each block's.
        skip_chs = [chs[0]] + [ch for i, ch in enumerate(chs) for _ in range(c.layers_per_block + (i < levels - 1))]
        self.mid_block = UNetMidBlock2DCrossAttn(chs[-1], temb_ch, heads[-1], c)
        # Up: the mirror image; each block takes the last layers_per_block + 1 skips.
        self.up_blocks = nn.ModuleList()
        n = c.layers_per_block + 1
        for i, t in enumerate(c.up_block_types):
            level = levels - 1 - i
            skips, skip_chs = skip_chs[-n:][::-1], skip_chs[:-n]
            prev = chs[min(level + 1, levels - 1)]
            self.up_blocks.append(
                UpBlock(
                    skip_chs=skips,
                    prev_ch=prev,
                    out_ch=chs[level],
                    temb_ch=temb_ch,
                    heads=heads[level],
                    cross=BLOCKS[t],
                    upsample=level > 0,
                    c=c,
                )
            )

        self.conv_norm_out = nn.GroupNorm(c.norm_num_groups, chs[0], eps=c.norm_eps)
        self.conv_out = nn.Conv2d(chs[0], c.out_channels, 3, padding=1)

    @property
    def dtype(self):
        return self.conv_in.weight.dtype

    def forward(self, sample, timestep, encoder_hidden_states):
        """sample [B, 4, h, w], timestep an int or a tensor ([] or [B]), encoder_hidden_states
        [B, 77, D] -> the model output (noise or velocity), [B, 4, h, w]."""
        c = self.config
        t = torch.as_tensor(timestep, device=sample.device).reshape(-1).expand(sample.shape[0])
        temb = timestep_embedding(t, c.block_out_channels[0], c.flip_sin_to_cos, c.freq_shift)
        temb = self.time_embedding(temb.to(sample.dtype))  # [B, 4 * C0]

        x = self.conv_in(sample)
        skips = [x]
        for block in self.down_blocks:
            x = block(x, temb, encoder_hidden_states, skips)
        x = self.mid_block(x, temb, encoder_hidden_states)
        for block in self.up_blocks:
            x = block(x, temb, encoder_hidden_states, skips)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class UNetEvaluations(Counter):
    """Counts the latents that pass through any UNet while it is on, by size: {(h, w): n}. One latent
    through the UNet once is one evaluation (a guided step of one picture is two): the unit of the
    README's time estimates. A hook on every module call, so that `UNet.forward` stays only the model.

        with pare.UNetEvaluations() as evaluations:
            pipe("a cat", num_inference_steps=25)
        print(evaluations)  # 50 UNet evaluations: 50 at 16x16
    """

    def start(self):
        self._hook = register_module_forward_pre_hook(self._count)
        return self

    def stop(self):
        self._hook.remove()

    __enter__ = start

    def __exit__(self, *exc):
        self.stop()

    def _count(self, module, args):
        if isinstance(module, UNet) and args and not torch.compiler.is_compiling():  # compiled: would recompile
            self[tuple(args[0].shape[-2:])] += args[0].shape[0]

    def __str__(self):
        sizes = sorted(self.items(), key=lambda item: -item[0][0] * item[0][1])
        return f"{self.total()} UNet evaluations: " + (", ".join(f"{n} at {h}x{w}" for (h, w), n in sizes) or "none")
