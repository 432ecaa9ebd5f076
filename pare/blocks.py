"""The bricks that both the UNet and the VAE are built from.

Attribute names are the keys in diffusers' weight files (`norm1`, `conv1`, `to_q`, ...), so
weights load without renaming. Shapes: B batch, C channels, H x W pixels of a feature map,
N = H*W positions, M context tokens (77 for a CLIP prompt).
"""

import torch.nn.functional as F
from torch import nn


class ResnetBlock2D(nn.Module):
    """Two 3x3 convolutions with a skip connection (He et al. 2015). In the UNet the timestep
    embedding is added between the two convolutions: that is how the UNet knows the noise level."""

    def __init__(self, in_channels, out_channels, temb_channels=None, groups=32, eps=1e-5):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        if temb_channels:
            self.time_emb_proj = nn.Linear(temb_channels, out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels, eps)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        # A 1x1 convolution makes the skip path's channels match when they change.
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x, temb=None):  # [B, C_in, H, W] -> [B, C_out, H, W]
        h = self.conv1(F.silu(self.norm1(x)))
        if temb is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]  # same shift at every pixel
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class Attention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017, eq. 1): softmax(Q K^T / sqrt(d)) V.
    Self-attention when no context is given; cross-attention when the keys and values come
    from the prompt's embedding."""

    def __init__(self, query_dim, heads, dim_head, context_dim=None, bias=False, upcast=False):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.upcast = heads, upcast
        self.to_q = nn.Linear(query_dim, inner, bias=bias)
        self.to_k = nn.Linear(context_dim or query_dim, inner, bias=bias)
        self.to_v = nn.Linear(context_dim or query_dim, inner, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim)])

    def forward(self, x, context=None):  # x [B, N, C], context [B, M, D] -> [B, N, C]
        context = x if context is None else context
        q, k, v = self.to_q(x), self.to_k(context), self.to_v(context)
        # [B, N, heads * d] -> [B, heads, N, d]: each head attends on its own.
        q, k, v = (t.unflatten(-1, (self.heads, -1)).transpose(1, 2) for t in (q, k, v))
        if self.upcast:  # SD 2.1 overflows fp16 inside the softmax; do that part in fp32
            q, k, v = q.float(), k.float(), v.float()
        out = F.scaled_dot_product_attention(q, k, v).to(x.dtype)  # [B, heads, N, d]
        return self.to_out[0](out.transpose(1, 2).flatten(2))


class Downsample2D(nn.Module):
    """Halve H and W with a stride-2 convolution. The VAE pads right and bottom by hand
    (`padding=0`), the UNet pads all sides; the weights are the same shape either way."""

    def __init__(self, channels, padding=1):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample2D(nn.Module):
    """Double H and W (nearest neighbour, then a 3x3 conv to smooth). `size` lets the UNet land
    exactly on the size of the skip connection it is about to meet, even for odd sizes."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x, size=None):
        return self.conv(F.interpolate(x, size=size, scale_factor=None if size else 2.0, mode="nearest"))
