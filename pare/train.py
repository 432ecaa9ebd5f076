"""Training the offline model: a Stable Diffusion small enough to learn on a laptop's CPU.

Same parts as the real one (CLIP text encoder, UNet with cross-attention, AutoencoderKL, DDIM),
trained on pictures of one coloured shape (`pare.shapes`), in two stages as in the paper
(Rombach et al. 2022): first the VAE learns to squeeze 64x64 pictures into 8x8x4 latents, then
the UNet and the text encoder learn to denoise those latents given the caption:

    L_LDM = E_{x_0, eps ~ N(0, I), t} || eps - eps_theta(x_t, t, tau(y)) ||^2       (eq. 2)

    python -m pare.train pare/models    # both models: about 45 minutes on two CPU cores
"""
import argparse
import copy
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from . import shapes
from .ddim import DDIM
from .unet import UNet
from .vae import VAE

# 4 norm groups, not 8: with 8, each of the top level's 8 channels is a group of its own, whose
# mean is normalised away in every picture (an instance norm); that VAE did not learn at all in
# 800 steps with the loss below (tools/vae_experiment.py; pare/models/README.md has the numbers).
VAE_CONFIG = {"_class_name": "AutoencoderKL", "block_out_channels": [8, 16, 32, 64], "layers_per_block": 1,
              "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4,
              "latent_channels": 4, "norm_num_groups": 4, "sample_size": 64, "scaling_factor": 1.0}
TEXT_CONFIG = dict(vocab_size=49408, hidden_size=32, intermediate_size=128, num_hidden_layers=2,
                   num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
                   bos_token_id=49406, eos_token_id=49407)
SCHEDULER_CONFIG = {"_class_name": "DDIMScheduler", "num_train_timesteps": 1000, "beta_schedule": "scaled_linear",
                    "beta_start": 0.00085, "beta_end": 0.012, "clip_sample": False, "set_alpha_to_one": False,
                    "steps_offset": 1, "timestep_spacing": "leading"}


def unet_config(sd2):
    """SD 2 style: a head count per level and Linear projections; SD 1 style: one count, 1x1 convs."""
    return {"_class_name": "UNet2DConditionModel", "sample_size": 8, "block_out_channels": [48, 96],
            "layers_per_block": 1, "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
            "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "cross_attention_dim": TEXT_CONFIG["hidden_size"],
            "norm_num_groups": 16, "attention_head_dim": [2, 4] if sd2 else 4, "use_linear_projection": sd2}


def to_model_input(images):  # uint8 [B, 64, 64, 3] -> float [B, 3, 64, 64] in [-1, 1]
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


def update(opt, sched, loss, bar, clip=None):
    """One optimiser step: gradients, clipped to norm 1 when `clip` lists the parameters, then
    the learning-rate schedule, and the loss on the progress bar."""
    opt.zero_grad()
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(clip, 1.0)
    opt.step()
    sched.step()
    bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)  # the bar redraws on its own schedule


def reconstruction_loss(recon, x, shape_weight=10):
    """L1 keeps edges sharp and MSE gets colours right. The shape covers only 5-50% of a picture,
    so its pixels (the saturated ones: white and black have none) weigh 1 + shape_weight times
    as much: unweighted, the VAE spent itself on the background and red came back ochre."""
    error = recon - x
    weight = 1 + shape_weight * (x.amax(1, keepdim=True) - x.amin(1, keepdim=True)) / 2  # saturation in [0, 1]
    return (weight * (error.abs() + error ** 2)).mean() / weight.mean()


def train_vae(images, steps=3000, batch=16, lr=1e-3, seed=0, device="cpu", config=VAE_CONFIG, shape_weight=10):
    """Stage 1: reconstruct pictures through the 8x8x4 bottleneck, with a tiny KL term that keeps
    the latents near N(0, I)."""
    torch.manual_seed(seed)
    vae = VAE.from_config(config).to(device).train()
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.05)
    rng = np.random.default_rng(seed)
    for step in (bar := tqdm(range(steps), desc="VAE")):
        x = to_model_input(images[rng.integers(0, len(images), batch)]).to(device)
        posterior = vae.encode(x)
        loss = reconstruction_loss(vae.decode(posterior.sample()), x, shape_weight) + 1e-6 * posterior.kl().mean()
        update(opt, sched, loss, bar)
    return vae.cpu().eval()


def finetune_decoder(vae, images, steps=1200, batch=16, lr=2e-3, noise=0.5, seed=1, device="cpu"):
    """Stage 1b: teach the decoder to forgive. The UNet's latents are never exactly a picture's;
    decoded as they are, squares came out with bowed sides (the shape was right in 71-74% of
    pictures). So the decoder alone trains on latents with extra noise (half their std), and
    learns to settle a slightly-off latent on a clean shape. The encoder is frozen: the latents,
    and the UNets that learn from them, do not change."""
    vae = vae.to(device).train()
    decoder = list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())
    opt = torch.optim.AdamW(decoder, lr=lr, weight_decay=0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.05)
    rng, g = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    for step in (bar := tqdm(range(steps), desc="VAE decoder")):
        x = to_model_input(images[rng.integers(0, len(images), batch)]).to(device)
        with torch.no_grad():
            z = vae.encode(x).sample(g)
            z = z + noise * z.std() * torch.randn(z.shape, generator=g).to(device)
        update(opt, sched, reconstruction_loss(vae.decode(z), x), bar)
    return vae.cpu().eval()


@torch.no_grad()
def encode_all(vae, images, batch=500):
    """The latent distribution (mean, std) of every picture, computed once for stage 2."""
    w = vae.post_quant_conv.weight  # for the VAE's device and dtype
    out = [vae.encode(to_model_input(images[i:i + batch]).to(w.device, w.dtype)) for i in range(0, len(images), batch)]
    return torch.cat([p.mean for p in out]).float().cpu(), torch.cat([p.std for p in out]).float().cpu()


def latent_std(mean, std):
    """The std of latents drawn from posteriors N(mean, std^2): spread of the means plus each draw's own."""
    return torch.sqrt(mean.var() + (std ** 2).mean()).item()


def psnr(recon, images):
    """Peak signal-to-noise ratio in dB of decoded pictures (in [-1, 1]) against the uint8 originals."""
    return -10 * math.log10(F.mse_loss(recon.clamp(-1, 1) / 2, to_model_input(images) / 2).item())


def training_loss(unet, text_encoder, scheduler, x0, ids, generator=None):
    """Noise each clean latent to a random timestep and score the UNet's prediction: the loss
    of eq. 2, with min-SNR-5 weights (Hang et al. 2023) so no noise level dominates."""
    t = torch.randint(0, scheduler.config.num_train_timesteps, (len(x0),), generator=generator)
    eps = torch.randn(x0.shape, generator=generator).to(x0.device)
    abar = scheduler.alphas_cumprod[t][:, None, None, None].to(x0.device)
    t = t.to(x0.device)
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps  # q(x_t | x_0), Ho et al. eq. 4
    pred = unet(x_t, t, text_encoder(ids).last_hidden_state)
    snr = (abar / (1 - abar)).flatten()
    if scheduler.config.prediction_type == "v_prediction":
        target, weight = abar.sqrt() * eps - (1 - abar).sqrt() * x0, snr.clamp(max=5) / (snr + 1)
    else:
        target, weight = eps, snr.clamp(max=5) / snr
    return (weight * ((pred - target) ** 2).mean(dim=(1, 2, 3))).mean()


def train_unet(latents, captions, tokenizer, prediction_type, steps=4000, batch=64, lr=5e-4, seed=0, device="cpu"):
    """Stage 2: the UNet and the text encoder learn together to denoise the latents. 10% of
    the captions are dropped to "" so the model also learns the unconditioned prediction that
    classifier-free guidance needs. Returns exponential moving averages of both (smoother), and
    the loss at every step."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    mean, std = latents
    unet = UNet.from_config(unet_config(prediction_type == "v_prediction")).to(device).train()
    text_encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG)).to(device).train()
    scheduler = DDIM(SCHEDULER_CONFIG, prediction_type=prediction_type)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.03)
    ema, losses = [copy.deepcopy(unet).eval(), copy.deepcopy(text_encoder).eval()], []
    ids = tokenizer(captions + [""], padding="max_length", max_length=77, return_tensors="pt").input_ids.to(device)
    for step in (bar := tqdm(range(steps), desc=f"UNet ({prediction_type})", mininterval=10)):
        pick = torch.randint(0, len(captions), (batch,), generator=g)
        x0 = (mean[pick] + std[pick] * torch.randn(mean[pick].shape, generator=g)).to(device)  # a sample of q(z | x)
        drop = torch.rand(batch, generator=g) < 0.1
        loss = training_loss(unet, text_encoder, scheduler, x0, ids[torch.where(drop, len(captions), pick).to(device)], g)
        update(opt, sched, loss, bar, clip=params)
        with torch.no_grad():
            for avg, model in zip(ema, (unet, text_encoder)):
                for a, p in zip(avg.parameters(), model.parameters()):
                    a.lerp_(p, 1 - min(0.999, (1 + step) / (10 + step)))
        losses.append(loss.item())
    return [model.cpu() for model in ema] + [losses]


def save_weights(folder, model):
    """One part's weights, named as diffusers names them, in fp16 (half the size, and plenty here)."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in model.state_dict().items()}, folder / "diffusion_pytorch_model.safetensors")


def save(folder, tokenizer_folder, unet, text_encoder, configs):
    """Write a diffusers-layout folder, all but the VAE's weights (the main process adds them)."""
    folder = Path(folder)
    save_weights(folder / "unet", unet)
    copy.deepcopy(text_encoder).half().save_pretrained(folder / "text_encoder")
    if Path(tokenizer_folder).resolve() != (folder / "tokenizer").resolve():
        shutil.copytree(tokenizer_folder, folder / "tokenizer", dirs_exist_ok=True)
    for part in ("vae", "scheduler"):
        (folder / part).mkdir(exist_ok=True)
    configs = {**configs, "model_index.json": {
        "_class_name": "StableDiffusionPipeline", "requires_safety_checker": False,
        "feature_extractor": [None, None], "safety_checker": [None, None],
        "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"]}}
    for name, config in configs.items():
        (folder / name).write_text(json.dumps(config, indent=1) + "\n")


def stage2(name, prediction_type, latents, captions, vae_config, steps, out, log, device):
    """Train and save one model; run in its own process with one thread (two models at once)."""
    torch.set_num_threads(1)
    start = time.time()
    tokenizer_folder = Path(__file__).parent / "models" / name / "tokenizer"  # the real CLIP vocabulary
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_folder)
    unet, text_encoder, losses = train_unet(latents, captions, tokenizer, prediction_type, steps, device=device)
    save(Path(out) / name, tokenizer_folder, unet, text_encoder,
         {"vae/config.json": vae_config, "unet/config.json": unet_config(prediction_type == "v_prediction"),
          "scheduler/scheduler_config.json": {**SCHEDULER_CONFIG, "prediction_type": prediction_type}})
    log[name] = {"prediction_type": prediction_type, "unet_steps": steps, "unet_minutes": round((time.time() - start) / 60, 1),
                 "loss_every_100_steps": [round(float(np.mean(losses[i:i + 100])), 4) for i in range(0, steps, 100)]}


def main():
    parser = argparse.ArgumentParser(description="Train the offline models (tiny-sd2, tiny-sd1) from scratch.")
    parser.add_argument("out", nargs="?", default=str(Path(__file__).parent / "models"))
    parser.add_argument("--images", type=int, default=40_000)
    parser.add_argument("--vae-steps", type=int, default=3000)
    parser.add_argument("--decoder-steps", type=int, default=1200)
    parser.add_argument("--unet-steps", type=int, default=3500)
    parser.add_argument("--device", default="cpu", help="cuda trains the same models in minutes")
    parser.add_argument("--vae", help="an earlier run's vae-stage1.safetensors: skip stage 1")
    args = parser.parse_args()
    start = time.time()
    torch.set_num_threads(1)  # one thread per process: two on a busy core ran 50-100x slower here
    images, captions = shapes.make_dataset(args.images, seed=0)
    if args.vae:
        vae = VAE.from_config(VAE_CONFIG).eval()
        vae.load_state_dict(load_file(args.vae))
    else:
        vae = train_vae(images, args.vae_steps, device=args.device)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        save_file(vae.state_dict(), Path(args.out) / "vae-stage1.safetensors")
    mean, std = encode_all(vae, images)
    # Scale the latents to unit variance, as SD's 0.18215 does for its VAE (Rombach et al. sec. 4.3.2).
    scaling = 1 / latent_std(mean, std)
    vae_config = {**VAE_CONFIG, "scaling_factor": round(scaling, 5)}
    vae_minutes = (time.time() - start) / 60
    ctx = torch.multiprocessing.get_context("spawn")
    log = ctx.Manager().dict()
    jobs = [ctx.Process(target=stage2, args=(name, kind, (mean * scaling, std * scaling), captions, vae_config,
                                             args.unet_steps, args.out, log, args.device))
            for name, kind in [("tiny-sd2", "v_prediction"), ("tiny-sd1", "epsilon")]]
    for job in jobs:
        job.start()
    # Meanwhile, in this process: the decoder's fine-tune leaves the encoder, so the UNets' latents, alone.
    vae = finetune_decoder(vae, images, args.decoder_steps, device=args.device)
    with torch.no_grad():
        vae_psnr = psnr(vae.decode(mean[:500]), images[:500])
    print(f"VAE: PSNR {vae_psnr:.1f} dB on 500 pictures, scaling_factor {scaling:.4f}")
    for job in jobs:
        job.join()
        assert job.exitcode == 0, "a training process failed"
    for name in ("tiny-sd2", "tiny-sd1"):
        save_weights(Path(args.out) / name / "vae", vae)
    summary = {"device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu", "images": args.images, "vae_steps": args.vae_steps, "vae_minutes": round(vae_minutes, 1), "decoder_steps": args.decoder_steps, "vae_psnr_db": round(vae_psnr, 2),
               "scaling_factor": round(scaling, 5), "total_minutes": round((time.time() - start) / 60, 1), **log}
    print(json.dumps(summary, indent=1))
    (Path(args.out) / "training_log.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
