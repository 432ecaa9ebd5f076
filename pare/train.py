"""Training the offline models: Stable Diffusions small enough to learn on a laptop's CPU.

Same parts as the real one, trained on `pare.world` in two steps (Rombach et al. 2022): the VAE
squeezes 64x64 pictures into 16x16x4 latents, then the UNet and text encoder learn to denoise them:

    L_LDM = E_{x_0, eps ~ N(0, I), t} || eps - eps_theta(x_t, t, tau(y)) ||^2       (eq. 2)

with each model's target: v (tiny-sd2, as SD 2), eps (tiny-sd1) or the flow velocity eps - x_0
(tiny-flow, as SD 3). `STAGES` is the recipe, one `Stage` a row: the v-model learns from scratch,
with min-SNR weights, then without them, then with offset noise; the other two start from it (as
SD 2's 768-v model started from its eps one). Every stage checkpoints and resumes.

    python -m pare.train out/train
"""

import argparse
import copy
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm import tqdm  # text bars: a committed notebook shows them finished (widget bars show a frozen 0% on GitHub)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from . import world
from .pipeline import SCHEDULERS
from .unet import UNet
from .vae import VAE

MODELS = Path(__file__).parent / "models"
# Three levels, two halvings: f = 4, 64x64x3 -> 16x16x4. f = 8 (SD's) reached only 19.7 dB here and
# lost the objects' details; f = 4 kept them at 25 dB (the model card, pare/models/README.md, says how).
VAE_CONFIG = {
    "_class_name": "AutoencoderKL",
    "block_out_channels": [32, 64, 64],
    "layers_per_block": 1,
    "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3,
    "latent_channels": 4,
    "norm_num_groups": 8,
    "sample_size": 64,
    "scaling_factor": 1.0,
}
TEXT_CONFIG = dict(
    vocab_size=49408,
    hidden_size=32,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=77,
    hidden_act="quick_gelu",
    bos_token_id=49406,
    eos_token_id=49407,
)
DDIM_CONFIG = {
    "_class_name": "DDIMScheduler",
    "num_train_timesteps": 1000,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "timestep_spacing": "leading",
}
FLOW_CONFIG = {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 1.0}
OFFSET_NOISE = 0.1  # the std of the offset noise of every shipped model's last stage (training_loss)
TARGETS = ("v_prediction", "epsilon", "flow_prediction")  # flow: the name pare.FlowMatchEuler gives it, as diffusers


@dataclass(frozen=True)
class Stage:
    """One stage of the recipe: a UNet and text encoder that learn `target` for `steps` steps."""

    name: str  # of its model folder, out/<name>/
    target: str  # what the UNet predicts: one of TARGETS
    steps: int
    lr: float  # the peak of the one-cycle learning rate
    start_from: str | None = None  # the earlier stage whose weights it starts from; None: from scratch
    min_snr: bool = False  # min-SNR-5 weights, else "SNR+1" (training_loss); the flow loss is unweighted
    offset_noise: float = 0.0  # the std of the offset noise (training_loss)
    shipped: bool = False  # one of the models in pare/models (`--install` copies it there)
    batch: int = 32  # latents a step

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(f"Stage {self.name!r}: target {self.target!r} is not one of {', '.join(TARGETS)}.")


# The shipped recipe (training_log.json has what each stage measured). The v-model first, alone on every
# core. Min-SNR weights learn the objects fast, but they all but drop the noisiest steps, where the
# background's colour is settled (a weight of 0.005 at t = 999); then SD 2's plain v loss ("SNR+1") gives
# those steps their weight back; last, offset noise stops the model taking the background's colour from
# the seed. The eps and flow models are fine-tuned from it side by side, with "SNR+1" and offset noise too.
STAGES = (  # name, target, steps, lr, start_from; then the loss's options
    Stage("tiny-sd2-min-snr", "v_prediction", 6000, 7e-4, None, min_snr=True),
    Stage("tiny-sd2-plain", "v_prediction", 600, 3e-4, "tiny-sd2-min-snr"),
    Stage("tiny-sd2", "v_prediction", 600, 3e-4, "tiny-sd2-plain", offset_noise=OFFSET_NOISE, shipped=True),
    Stage("tiny-sd1", "epsilon", 500, 7e-4, "tiny-sd2", offset_noise=OFFSET_NOISE, shipped=True),
    Stage("tiny-flow", "flow_prediction", 500, 7e-4, "tiny-sd2", offset_noise=OFFSET_NOISE, shipped=True),
)


def rounds(stages):
    """The stages in rounds, in order: each starts from stages of earlier rounds only, so the stages
    of one round can train side by side."""
    order, done, left = [], set(), list(stages)
    while left:
        ready = [stage for stage in left if stage.start_from is None or stage.start_from in done]
        if not ready:
            stage = left[0]
            raise ValueError(
                f"Stage {stage.name!r} starts from {stage.start_from!r}, which no stage it can follow trains: "
                "name another stage of the list, or None to start from scratch."
            )
        order.append(ready)
        done |= {stage.name for stage in ready}
        left = [stage for stage in left if stage not in ready]
    return order


PARTS = [
    ("text_encoder", "transformers", "CLIPTextModel"),
    ("tokenizer", "transformers", "CLIPTokenizer"),
    ("unet", "diffusers", "UNet2DConditionModel"),
    ("vae", "diffusers", "AutoencoderKL"),
]


def unet_config(sd1=False):
    """SD 2 style: a head count per level and Linear projections; SD 1 style: one count, 1x1 convs."""
    return {
        "_class_name": "UNet2DConditionModel",
        "sample_size": 16,
        "block_out_channels": [48, 96, 96],
        "layers_per_block": 1,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "cross_attention_dim": TEXT_CONFIG["hidden_size"],
        "norm_num_groups": 16,
        "attention_head_dim": 4 if sd1 else [2, 4, 4],
        "use_linear_projection": not sd1,
    }


def configs(target):
    """What a target decides, all of it here: the UNet's config, the scheduler's, and the tokenizer to
    copy. The eps model is built like SD 1 (and its tokenizer pads with the end token, as SD 1's), the
    v and flow models like SD 2 (padding with "!")."""
    sd1 = target == "epsilon"
    scheduler = FLOW_CONFIG if target == "flow_prediction" else {**DDIM_CONFIG, "prediction_type": target}
    return unet_config(sd1=sd1), scheduler, MODELS / ("tiny-sd1" if sd1 else "tiny-sd2") / "tokenizer"


def scheduler_for(target):
    """The scheduler of `target`'s model folder, the class its config names, as the pipeline loads it."""
    config = configs(target)[1]
    return SCHEDULERS[config["_class_name"]](config)


def to_model_input(images):  # uint8 [B, 64, 64, 3] -> float [B, 3, 64, 64] in [-1, 1]
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


def fit(name, modules, loss_fn, steps, lr, out, ema=False, weight_decay=0.0, seed=0, every=180):
    """The one training loop: AdamW, a one-cycle learning rate, gradients clipped to norm 1, and,
    with `ema`, exponential moving averages of the weights (smoother samples). Every `every`
    seconds the whole state goes to out/<name>.ckpt, and a rerun resumes from it exactly.
    Returns the modules (or their averages) and the loss at every step."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.03)
    averages = [copy.deepcopy(m).eval() for m in modules] if ema else []
    g, losses, start = torch.Generator().manual_seed(seed), [], 0
    path = Path(out) / f"{name}.ckpt"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        state = torch.load(path, weights_only=False)
        for m, s in zip(modules + averages, state["modules"]):
            m.load_state_dict(s)
        opt.load_state_dict(state["opt"]), sched.load_state_dict(state["sched"]), g.set_state(state["rng"])
        losses, start = state["losses"], len(state["losses"])
    saved = time.time()
    for step in (bar := tqdm(range(start, steps), desc=name, initial=start, total=steps, mininterval=30)):
        loss = loss_fn(g)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            for avg, m in zip(averages, modules):
                for a, p in zip(avg.parameters(), m.parameters()):
                    a.lerp_(p, 1 - min(0.999, (1 + step) / (10 + step)))
        losses.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        if time.time() - saved > every or step == steps - 1:
            torch.save(
                {
                    "modules": [m.state_dict() for m in modules + averages],
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "rng": g.get_state(),
                    "losses": losses,
                },
                path,
            )
            saved = time.time()
    return [m.cpu().eval() for m in (averages or modules)], losses


def train_vae(images, covers, out, steps=1800, batch=16, crop=32, lr=1e-3, device="cpu"):
    """The VAE first: reconstruct pictures through the bottleneck (L1 for edges, MSE for colours, the
    object's pixels 4x, a tiny KL term), on 32x32 crops (4x cheaper; the VAE is convolutional).
    The decoder sees only latents of real pictures, as SD's: noise decodes as noise."""
    torch.manual_seed(0)
    vae = VAE.from_config(VAE_CONFIG).to(device).train()

    def loss_fn(g):
        pick = torch.randint(0, len(images), (batch,), generator=g).numpy()
        y, x = torch.randint(0, world.SIZE - crop + 1, (2,), generator=g).tolist()
        window = (slice(None), slice(None), slice(y, y + crop), slice(x, x + crop))
        x = to_model_input(images[pick])[window].to(device)
        weight = 1 + 3 * torch.from_numpy(covers[pick].astype("float32"))[:, None][window].to(device)
        posterior = vae.encode(x)
        error = vae.decode(posterior.sample(g)) - x
        return (weight * (error.abs() + error**2)).mean() / weight.mean() + 1e-6 * posterior.kl().mean()

    (vae,), losses = fit("vae", [vae], loss_fn, steps, lr, out)
    return vae, losses


@torch.no_grad()
def encode_all(vae, images, batch=500):
    """The latent distribution (mean, std) of every picture, computed once for every stage."""
    w = vae.post_quant_conv.weight  # for the VAE's device and dtype
    out = [
        vae.encode(to_model_input(images[i : i + batch]).to(w.device, w.dtype)) for i in range(0, len(images), batch)
    ]
    return torch.cat([p.mean for p in out]).float().cpu(), torch.cat([p.std for p in out]).float().cpu()


def latent_std(mean, std):
    """The std of latents drawn from posteriors N(mean, std^2): spread of the means plus each draw's own."""
    return torch.sqrt(mean.var() + (std**2).mean()).item()


def psnr(recon, images):
    """Peak signal-to-noise ratio in dB of decoded pictures (in [-1, 1]) against the uint8 originals."""
    return -10 * math.log10(F.mse_loss(recon.clamp(-1, 1) / 2, to_model_input(images) / 2).item())


def training_loss(unet, text_encoder, scheduler, x0, ids, generator=None, min_snr=True, offset_noise=0.0):
    """Noise clean latents to random levels and score the UNet on its target: eq. 2 for eps, v =
    sqrt(abar) eps - sqrt(1 - abar) x_0 (Salimans & Ho 2022); flow: x_s = (1 - s) x_0 + s eps,
    target eps - x_0, s logit-normal (Esser et al. 2024). An error in the predicted x_0 costs SNR
    times as much in the eps loss, SNR + 1 times in the v loss; the DDIM kinds are weighted so that
    it costs min(SNR, 5) (min-SNR-5, Hang et al. 2023) or, without `min_snr`, SNR + 1 (Salimans &
    Ho's "SNR+1"): the plain v loss, which keeps the noisiest steps in play.
    `offset_noise` adds to each latent's noise one constant per channel, of that std ("offset
    noise", Guttenberg 2023). SD's schedule leaves sqrt(abar) = 0.068 of the picture in the
    noisiest x_t, so a model learns to read the picture's mean colour off it, and at sampling reads
    it off the seed's noise instead of the prompt (Lin et al. 2024); noise whose mean varies more
    than that leak makes the mean worthless to read. Sampling still starts from plain N(0, I)."""
    eps = torch.randn(x0.shape, generator=generator)
    if offset_noise:
        eps = eps + offset_noise * torch.randn(x0.shape[:2] + (1, 1), generator=generator)
    eps = eps.to(x0.device)
    context = text_encoder(ids).last_hidden_state
    kind, T = scheduler.config.prediction_type, scheduler.config.num_train_timesteps
    if kind == "flow_prediction":  # s = sigmoid(n), n ~ N(0, 1), told to the UNet as the timestep s * T
        t = torch.sigmoid(torch.randn(len(x0), generator=generator)) * T
    else:
        t = torch.randint(0, T, (len(x0),), generator=generator)
    x_t = scheduler.add_noise(x0, eps, t)  # one noise level a row: q(x_t | x_0), Ho et al. eq. 4, or flow's line
    pred = unet(x_t, t.to(x0.device), context)
    if kind == "flow_prediction":
        return ((pred - (eps - x0)) ** 2).mean()
    abar = scheduler.alphas_cumprod[t][:, None, None, None].to(x0.device)
    snr = (abar / (1 - abar)).flatten()
    x0_weight = snr.clamp(max=5) if min_snr else snr + 1
    if kind == "v_prediction":
        target, weight = abar.sqrt() * eps - (1 - abar).sqrt() * x0, x0_weight / (snr + 1)
    else:
        target, weight = eps, x0_weight / snr
    return (weight * ((pred - target) ** 2).mean(dim=(1, 2, 3))).mean()


def train_unet(stage, latents, captions, out, device="cpu"):
    """A new UNet and text encoder (or those of the stage it starts from, out/<start_from>/) learn the
    stage's target together. 10% of captions are dropped to "", so the model also learns the
    unconditioned prediction that classifier-free guidance needs."""
    unet_cfg, _, tokenizer_folder = configs(stage.target)
    torch.manual_seed(0)
    unet = UNet.from_config(unet_cfg).to(device).train()
    text_encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG)).to(device).train()
    if stage.start_from:
        start = Path(out) / stage.start_from
        # SD 1's 1x1 conv projections hold the same numbers as SD 2's Linear ones: [C, C] <-> [C, C, 1, 1].
        shapes = {k: v.shape for k, v in unet.state_dict().items()}
        unet.load_state_dict(
            {
                k: v.reshape(shapes[k])
                for k, v in load_file(start / "unet" / "diffusion_pytorch_model.safetensors").items()
            }
        )
        text_encoder.load_state_dict(load_text_encoder(start / "text_encoder"))
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_folder)
    ids = tokenizer(captions + [""], padding="max_length", max_length=77, return_tensors="pt").input_ids.to(device)
    scheduler, (mean, std), batch = scheduler_for(stage.target), latents, stage.batch

    def loss_fn(g):
        pick = torch.randint(0, len(captions), (batch,), generator=g)
        x0 = (mean[pick] + std[pick] * torch.randn(mean[pick].shape, generator=g)).to(device)  # a sample of q(z | x)
        drop = torch.rand(batch, generator=g) < 0.1
        caption_ids = ids[torch.where(drop, len(captions), pick).to(device)]  # row len(captions): ""
        return training_loss(unet, text_encoder, scheduler, x0, caption_ids, g, stage.min_snr, stage.offset_noise)

    (unet, text_encoder), losses = fit(
        stage.name, [unet, text_encoder], loss_fn, stage.steps, stage.lr, out, ema=True, weight_decay=1e-2
    )
    return unet, text_encoder, losses


def save_weights(folder, model):
    """One part's weights, named as diffusers names them, in fp16 (half the size, and plenty here)."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.half().contiguous() for k, v in model.state_dict().items()},
        folder / "diffusion_pytorch_model.safetensors",
    )


def save_text_encoder(text_encoder, folder, dtype=torch.float16):
    """As the Hub's SD repositories store it: keys prefixed `text_model.` (4.x can't read 5.x's bare
    ones), and a config saying float32 (diffusers loads it in that dtype, beside an fp32 UNet)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        k if k.startswith("text_model.") else f"text_model.{k}": v.to(dtype).contiguous()
        for k, v in text_encoder.state_dict().items()
    }
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    text_encoder.config.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(dtype="float32", torch_dtype="float32")  # transformers >= 4.56 reads the first, older ones the second
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def load_text_encoder(folder):
    """The state dict save_text_encoder wrote, keyed as this transformers' CLIPTextModel names it."""
    state, own = load_file(folder / "model.safetensors"), CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG)).state_dict()
    return {k: state[k] if k in state else state[f"text_model.{k}"] for k in own}


def save(folder, target, unet, text_encoder, vae, vae_config):
    """A diffusers-layout folder of a `target` model, with world.json: what the model knows to draw."""
    unet_cfg, scheduler, tokenizer = configs(target)
    folder = Path(folder)
    save_weights(folder / "unet", unet)
    save_weights(folder / "vae", vae)
    save_text_encoder(text_encoder, folder / "text_encoder")
    if tokenizer.resolve() != (folder / "tokenizer").resolve():
        shutil.copytree(tokenizer, folder / "tokenizer", dirs_exist_ok=True)
    (folder / "scheduler").mkdir(exist_ok=True)
    files = {
        "vae/config.json": vae_config,
        "unet/config.json": unet_cfg,
        "scheduler/scheduler_config.json": scheduler,
        "world.json": world.world(),
        "model_index.json": {
            "_class_name": "StableDiffusionPipeline",
            "requires_safety_checker": False,
            "feature_extractor": [None, None],
            "safety_checker": [None, None],
            **{part: [lib, cls] for part, lib, cls in PARTS},
            "scheduler": ["diffusers", scheduler["_class_name"]],
        },
    }
    for path, config in files.items():
        (folder / path).write_text(json.dumps(config, indent=1, ensure_ascii=False) + "\n")


def load_vae(out):
    vae = VAE.from_config(VAE_CONFIG).eval()
    vae.load_state_dict(load_file(Path(out) / "vae.safetensors"))
    return vae


def train_stage(stage, latents, captions, out, device, threads):
    """Train one stage on `threads` threads, save its model folder as out/<name>/, and its log as
    out/<name>.json: the mark that it is done."""
    torch.set_num_threads(threads)
    out, start = Path(out), time.time()
    unet, text_encoder, losses = train_unet(stage, latents, captions, out, device)
    save(
        out / stage.name,
        stage.target,
        unet,
        text_encoder,
        load_vae(out),
        json.loads((out / "vae_config.json").read_text()),
    )
    log = {
        "target": stage.target,
        "start_from": stage.start_from,
        "unet_steps": stage.steps,
        "min_snr": stage.min_snr,
        "offset_noise": stage.offset_noise,
        "lr": stage.lr,
        "minutes_this_run": round((time.time() - start) / 60, 1),
        "loss_every_100_steps": [
            round(sum(losses[i : i + 100]) / len(losses[i : i + 100]), 4) for i in range(0, stage.steps, 100)
        ],
    }
    (out / f"{stage.name}.json").write_text(json.dumps(log, indent=1) + "\n")


def train_all(out, device, threads, stages=STAGES, images=16_000, vae_steps=1800):
    """The whole recipe into the work folder `out`: the VAE on `images` pictures, their latents, then
    every stage, round by round (`rounds`). A stage that is done is skipped, one under way resumes
    from its checkpoint. Writes out/training_log.json and returns it."""
    out, start = Path(out), time.time()
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    pictures, captions, covers = world.make_dataset(images, seed=0)
    if not (out / "vae.safetensors").exists():
        vae, _ = train_vae(pictures, covers, out, vae_steps, device=device)
        save_file(vae.state_dict(), out / "vae.safetensors")
    vae = load_vae(out)
    if not (out / "latents.safetensors").exists():  # minutes on a CPU: once
        save_file(
            {k: v.contiguous() for k, v in zip(("mean", "std"), encode_all(vae, pictures))}, out / "latents.safetensors"
        )
    mean, std = (load_file(out / "latents.safetensors")[k] for k in ("mean", "std"))
    # Scale the latents to unit variance, as SD's 0.18215 does for its VAE (Rombach et al. sec. 4.3.2).
    scaling = 1 / latent_std(mean, std)
    with torch.no_grad():
        vae_psnr = psnr(vae.decode(mean[:500]), pictures[:500])
    (out / "vae_config.json").write_text(
        json.dumps({**VAE_CONFIG, "scaling_factor": round(scaling, 5)}, indent=1) + "\n"
    )
    print(f"VAE: PSNR {vae_psnr:.1f} dB on {min(500, images)} pictures, scaling_factor {scaling:.4f}")
    latents = (mean * scaling, std * scaling)
    for together in rounds(stages):
        todo = [stage for stage in together if not (out / f"{stage.name}.json").exists()]
        if len(together) == 1:  # a stage alone: every thread
            for stage in todo:
                train_stage(stage, latents, captions, out, device, threads)
        else:  # side by side, one process and one thread each: two threads on a busy core ran 50-100x slower
            ctx = torch.multiprocessing.get_context("spawn")
            jobs = [ctx.Process(target=train_stage, args=(stage, latents, captions, out, device, 1)) for stage in todo]
            for job in jobs:
                job.start()
            for stage, job in zip(todo, jobs):
                job.join()
                if job.exitcode != 0:
                    raise RuntimeError(
                        f"Stage {stage.name!r} failed in its process (exit code {job.exitcode}; its error is above): "
                        "fix it and run again, the stages done are kept."
                    )
    log = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "images": images,
        "vae_steps": vae_steps,
        "vae_psnr_db": round(vae_psnr, 2),
        "scaling_factor": round(scaling, 5),
        **{stage.name: json.loads((out / f"{stage.name}.json").read_text()) for stage in stages},
        "minutes_last_run": round((time.time() - start) / 60, 1),
    }
    (out / "training_log.json").write_text(json.dumps(log, indent=1) + "\n")
    return log


def main():
    parser = argparse.ArgumentParser(
        description="Train the offline models (tiny-sd2, tiny-sd1, tiny-flow) from scratch, as `STAGES` says."
    )
    parser.add_argument("out", nargs="?", default="out/train", help="work folder: checkpoints, then the model folders")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--install", action="store_true", help="copy the finished folders into pare/models")
    args = parser.parse_args()
    out = Path(args.out)
    print(json.dumps(train_all(out, args.device, os.cpu_count()), indent=1))
    if args.install:
        for stage in STAGES:  # whole folders: no file of an older model stays behind
            if stage.shipped:
                shutil.rmtree(MODELS / stage.name, ignore_errors=True)
                shutil.copytree(out / stage.name, MODELS / stage.name)
        shutil.copy(out / "training_log.json", MODELS / "training_log.json")


if __name__ == "__main__":
    main()
