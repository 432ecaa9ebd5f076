"""Score the offline models on what a learner should see on them as on real Stable Diffusion.

    python tools/eval_offline.py MODEL_FOLDER ... [--seeds 4] [--json out/eval.json]

Every measure reads pictures with `pare.world.score`, which knows nothing of the models:
1. fidelity: each object's prompt x seeds at guidance 5 and 25 DDIM steps -> is that object drawn?
   (goal: >= 80% per model); the background right when the prompt names it (>= 95%); and how
   much the seed's noise decides a named white background (as on SD: Lin et al. 2024);
2. guidance matters: the same at guidance 1 (clearly below), for the object and for the whole
   prompt (object and named background both right);
3. noise decodes as noise: fine detail of decoded x_t at t = 500 against the clean latent's;
4. image-to-image: the distance to the start picture grows with strength, and at 0.2 the result
   is nearer the start than what the prompt alone draws;
5. cross-attention: the object word's attention inside the drawn object against outside (>= 2x);
6. the naive loop `x -= r/N * v` on the v-model is closest to DDIM near the total DDIM angle;
7. one picture in < 0.5 s on one core; each model folder <= 20 MiB.
"""

import argparse
import json
import math
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import pare
from pare import world
from pare.naive import naive_denoise, total_angle
from pare.sd_configs import SCHEDULER
from pare.train import to_model_input

STEPS, GUIDANCE = 25, 5.0


def draw(pipe, prompts, seeds, guidance=GUIDANCE, batch=32):
    """One picture per (prompt, seed), in batches."""
    pictures = []
    for i in range(0, len(prompts), batch):
        latents = torch.cat([pipe.get_latent(generator=s) for s in seeds[i : i + batch]])
        pictures += pipe(prompts[i : i + batch], latents=latents, num_inference_steps=STEPS, guidance_scale=guidance)
    return pictures


def fidelity(pipe, seeds=4, guidance=GUIDANCE, backgrounds=True):
    """Share of pictures showing the prompt's object, per object; and of named backgrounds drawn.
    Every picture has its own seed: the seed's noise sways the background (starting_noise), and a
    few seeds shared by every object would make their sway everyone's."""
    names = world.NAMES
    prompts = [world.PHRASES[i] for i in range(len(names)) for _ in range(seeds)]
    read = [world.score(p)[0] for p in draw(pipe, prompts, list(range(len(prompts))), guidance)]
    per_object = {n: float(np.mean([r == n for r in read[i * seeds : (i + 1) * seeds]])) for i, n in enumerate(names)}
    if not backgrounds:
        return {"object": float(np.mean(list(per_object.values()))), "per_object": per_object}
    # Each object on the backgrounds it is drawn on, in turn (2 x seeds pictures), starting one
    # further along for each object: over all objects every background is asked for about equally often.
    asked = [
        (i, world.ALLOWED[i][(i + s) % len(world.ALLOWED[i])]) for i in range(len(names)) for s in range(2 * seeds)
    ]
    objects, wanted = [names[i] for i, _ in asked], [b for _, b in asked]
    named = [world.WITH_BACKGROUND.format(object=world.PHRASES[i], background=b) for i, b in asked]
    got = [world.score(p) for p in draw(pipe, named, list(range(1000, 1000 + len(named))), guidance)]
    return {
        "object": float(np.mean(list(per_object.values()))),
        "per_object": per_object,
        "background": float(np.mean([g[1] == w for g, w in zip(got, wanted)])),
        "background_pictures": len(got),
        "per_background": {
            b: float(np.mean([g[1] == w for g, w in zip(got, wanted) if w == b])) for b in world.BACKGROUNDS
        },
        "whole_prompt": float(np.mean([g == (n, w) for g, n, w in zip(got, objects, wanted)])),
    }


@torch.no_grad()
def starting_noise(pipe, background="white", seeds=range(200, 208)):
    """How much the starting noise decides a named background. SD's schedule leaves sqrt(abar_T) =
    0.07 of the picture in the noisiest training latents (Lin et al. 2024), so the model learns to
    read the picture's mean colour off x_T, and at sampling reads it off the seed's noise. Every
    object drawn on `background`, asked for it, x seeds: the share right, and the projection of
    x_T's mean (over pixels) on that background's own latent, when right and when wrong."""
    plain = np.full((1, world.SIZE, world.SIZE, 3), world.BACKGROUNDS[background], np.uint8)
    direction = pipe.vae.encode(to_model_input(plain)).mean[0].mean(dim=(1, 2))
    direction = direction / direction.norm()
    objects = [i for i in range(len(world.NAMES)) if background in world.ALLOWED[i]]
    prompts = [
        world.WITH_BACKGROUND.format(object=world.PHRASES[i], background=background) for i in objects for _ in seeds
    ]
    right = np.array([world.score(p)[1] == background for p in draw(pipe, prompts, list(seeds) * len(objects))])
    lean = np.array([float(pipe.get_latent(generator=s)[0].mean(dim=(1, 2)) @ direction) for s in seeds] * len(objects))
    return {
        "background": background,
        "right": float(right.mean()),
        "pictures": len(right),
        "lean_when_right": float(lean[right].mean()),
        "lean_when_wrong": float(lean[~right].mean()) if (~right).any() else None,
        "lean_std": float(lean[: len(seeds)].std()),
    }


def detail(picture):
    """Fine detail: mean squared difference between a picture and its 3x3 blur."""
    x = torch.from_numpy(np.asarray(picture, np.float32) / 255).permute(2, 0, 1)[None]
    return float(((x - F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)) ** 2).mean())


@torch.no_grad()
def noise_as_noise(pipe, n=8, t=500):
    """Detail of decoded x_t (t = 500, DDIM's schedule) against the clean latents it came from,
    for n training pictures. SD's decoder shows noise as noise: the ratio is well above 1."""
    images = world.make_dataset(n, seed=99)[0]
    x0 = pipe.vae.encode(to_model_input(images)).mean * pipe.vae.config.scaling_factor
    abar = pare.DDIM(SCHEDULER).alphas_cumprod[t]  # SD's noise schedule
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    clean, noisy = pipe.vae_decode(x0), pipe.vae_decode(x_t)
    return {"t": t, "detail_ratio": float(np.mean([detail(a) for a in noisy]) / np.mean([detail(b) for b in clean]))}


def rms(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, np.float32) - np.asarray(b, np.float32)) ** 2)))


def image_to_image(pipe, strengths=(0.2, 0.4, 0.6, 0.8, 1.0), pairs=((0, 3), (9, 21), (27, 13), (17, 30))):
    """Start from a training-style picture of one object, prompt another: RMS pixel distance of
    the result to the start picture and to the prompt's own picture, per strength."""
    to_start, to_prompt = {s: [] for s in strengths}, {s: [] for s in strengths}
    for seed, (a, b) in enumerate(pairs):
        start = Image.fromarray(world.draw(a, world.ALLOWED[a][0], 48, 8, 8)[0])
        alone = pipe(world.PHRASES[b], num_inference_steps=STEPS, guidance_scale=GUIDANCE, generator=seed)[0]
        for s in strengths:
            out = pipe(
                world.PHRASES[b],
                image=start,
                strength=s,
                num_inference_steps=STEPS,
                guidance_scale=GUIDANCE,
                generator=seed,
            )[0]
            to_start[s].append(rms(out, start))
            to_prompt[s].append(rms(out, alone))
    return {
        "strength": list(strengths),
        "to_start": [float(np.mean(to_start[s])) for s in strengths],
        "to_prompt_alone": [float(np.mean(to_prompt[s])) for s in strengths],
    }


def object_tokens(pipe, prompt, name):
    """Positions of the object's word pieces among the prompt's 77 tokens (after the start token)."""
    pieces, word = pipe.clip.tokenizer.tokenize(prompt), pipe.clip.tokenizer.tokenize(name)
    at = next(i for i in range(len(pieces)) if pieces[i : i + len(word)] == word)
    return [1 + at + j for j in range(len(word))]


@torch.no_grad()
def cross_attention(pipe, seeds=2):
    """Mean attention of the object's word inside the drawn object, over outside: one ratio per
    picture (all cross-attention layers, heads and steps), averaged."""
    maps, ratios = [], []

    def record(module, args, output):  # softmax(Q K^T / sqrt(d)) of the prompt's half of the batch
        x, context = args[0][-1:], args[1][-1:]
        q = module.to_q(x).unflatten(-1, (module.heads, -1)).transpose(1, 2)
        k = module.to_k(context).unflatten(-1, (module.heads, -1)).transpose(1, 2)
        a = (q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5).softmax(-1).mean(1)[0]  # [pixels, 77]
        side = int(math.isqrt(a.shape[0]))
        maps.append(F.interpolate(a.T.reshape(1, 77, side, side), size=pipe.get_latent().shape[-2:])[0])

    hooks = [m.register_forward_hook(record) for n, m in pipe.unet.named_modules() if n.endswith("attn2")]
    try:
        for i, name in enumerate(world.NAMES):
            for seed in range(seeds):
                maps.clear()
                picture = pipe(world.PHRASES[i], num_inference_steps=STEPS, guidance_scale=GUIDANCE, generator=seed)[0]
                attention = torch.stack(maps).mean(0)[object_tokens(pipe, world.PHRASES[i], name)].mean(0)
                mask = torch.from_numpy(world.object_mask(picture))[None, None]
                inside = F.adaptive_avg_pool2d(mask, attention.shape)[0, 0] > 0.5
                if 0 < inside.sum() < inside.numel():
                    ratios.append(float(attention[inside].mean() / attention[~inside].mean()))
    finally:
        for h in hooks:
            h.remove()
    return {"inside_over_outside": float(np.mean(ratios)), "pictures": len(ratios)}


@torch.no_grad()
def naive_loop(pipe, ratios=(0.5, 0.75, 1.0, 1.25, 1.46, 1.75, 2.0, 2.5, 3.0), seeds=4):
    """Relative distance of the naive loop's final latent (x -= r/N * guided output, at DDIM's
    timesteps) to DDIM's own from the same start, averaged over prompts and seeds."""
    prompts = [world.PHRASES[i] for i in range(0, len(world.NAMES), len(world.NAMES) // seeds)][:seeds]
    embeddings = pipe.encode_prompt(prompts)
    start = torch.cat([pipe.get_latent(generator=s) for s in range(len(prompts))])
    target = pipe.denoise(start, embeddings, STEPS, GUIDANCE)  # leaves the scheduler at STEPS timesteps
    model = partial(pipe.guided_output, embeddings=embeddings, guidance_scale=GUIDANCE)
    distance = {}
    for r in ratios:  # one ratio at a time: each latent has its own prompt
        x = naive_denoise(model, start, pipe.scheduler.timesteps, [r])[0]
        distance[r] = float((x - target).norm() / target.norm())
    return {
        "distance": distance,
        "best_ratio": min(distance, key=distance.get),
        "total_angle": total_angle(pipe.scheduler),
    }


def timing(pipe, folder):
    pipe("a cat", num_inference_steps=STEPS, generator=0)  # warm-up
    start = time.perf_counter()
    pipe("a cat", num_inference_steps=STEPS, guidance_scale=GUIDANCE, generator=0)
    size = sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
    return {"one_picture_s": time.perf_counter() - start, "folder_mib": size / 2**20}


def evaluate(model, seeds=4, sampler=None, only=None):
    """Every measure (or those named in `only`) of one model, sampling with its own scheduler or
    `sampler(config)` (a pare scheduler built from the model's scheduler config)."""
    pipe = pare.Pipeline.from_pretrained(model, device="cpu", progress=False)
    if sampler is not None:
        pipe.scheduler = sampler(pipe.scheduler.config)
    measures = {
        "guided": lambda: fidelity(pipe, seeds),
        "unguided": lambda: fidelity(pipe, seeds, 1.0),
        "starting_noise": lambda: starting_noise(pipe),
        "noise": lambda: noise_as_noise(pipe),
        "img2img": lambda: image_to_image(pipe),
        "attention": lambda: cross_attention(pipe),
        "timing": lambda: timing(pipe, model),
    }
    r = {"model": Path(model).name, "sampler": f"{type(pipe.scheduler).__name__} {describe(pipe.scheduler)}"}
    r["steps"] = STEPS
    for name, measure in measures.items():
        if only is None or name in only:
            r[name] = measure()
    if (
        only is None
        and pipe.scheduler.config.prediction_type == "v_prediction"
        and isinstance(pipe.scheduler, pare.DDIM)
    ):
        r["naive_loop"] = naive_loop(pipe)
    return r


def describe(scheduler):
    """The options that change a sampler's walk: its spacing, and Karras' sigmas where it has them."""
    c = scheduler.config
    return ", ".join(
        f"{k}={getattr(c, k)}" for k in ("timestep_spacing", "use_karras_sigmas") if getattr(c, k, None) is not None
    )


def report(r):
    lines = [f"{r['model']}, {r['sampler']}, {r['steps']} steps:"]
    if "guided" in r:
        g = r["guided"]
        worst = sorted(g["per_object"].items(), key=lambda kv: kv[1])[:5]
        lines += [
            f"   object {g['object']:.1%} at guidance {GUIDANCE}, background {g['background']:.1%} when named, "
            f"whole prompt {g['whole_prompt']:.1%}",
            f"   background right (of {g['background_pictures']} pictures): "
            + ", ".join(f"{b} {v:.0%}" for b, v in g["per_background"].items()),
            "   worst: " + ", ".join(f"{n} {v:.0%}" for n, v in worst),
        ]
    if "unguided" in r:
        u = r["unguided"]
        lines.append(
            f"   at guidance 1: object {u['object']:.1%}, background {u['background']:.1%}, "
            f"whole prompt {u['whole_prompt']:.1%}"
        )
    if "starting_noise" in r:
        n = r["starting_noise"]
        wrong = "-" if n["lean_when_wrong"] is None else format(n["lean_when_wrong"], "+.3f")
        lines.append(
            f"   on a {n['background']} background (seeds 200-207): {n['right']:.0%} of {n['pictures']} right; "
            f"the seed's noise leans {n['lean_when_right']:+.3f} towards it when right, {wrong} when wrong "
            f"(std {n['lean_std']:.3f})"
        )
    if "noise" in r:
        lines.append(f"   decoded x_t at t=500 has {r['noise']['detail_ratio']:.1f}x the clean picture's fine detail")
    if "img2img" in r:
        i = r["img2img"]
        pairs = zip(i["strength"], i["to_start"], i["to_prompt_alone"])
        lines.append(
            "   img2img strength "
            + ", ".join(f"{s}: {a:.0f}/{b:.0f}" for s, a, b in pairs)
            + " (RMS to start / to prompt alone)"
        )
    if "attention" in r:
        lines.append(
            f"   object word's attention inside/outside the object: {r['attention']['inside_over_outside']:.2f}x"
        )
    if "timing" in r:
        t = r["timing"]
        lines.append(f"   one picture {t['one_picture_s']:.2f} s on one thread, folder {t['folder_mib']:.1f} MiB")
    if "naive_loop" in r:
        n = r["naive_loop"]
        lines.append(
            f"   naive loop: closest to DDIM at ratio {n['best_ratio']} (total angle {n['total_angle']:.4f}); "
            + ", ".join(f"{k}: {v:.3f}" for k, v in n["distance"].items())
        )
    return "\n".join(lines)


def main():
    global STEPS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model folders trained on pare.world (e.g. out/train/tiny-sd2)")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument(
        "--sampler", help="a pare scheduler class to sample with, e.g. DPMSolverMultistep (default: the model's)"
    )
    parser.add_argument("--karras", action="store_true", help="with --sampler: Karras et al.'s sigma spacing")
    parser.add_argument("--only", help="comma-separated measures, e.g. guided,timing (default: all)")
    parser.add_argument("--json", default="out/eval.json")
    args = parser.parse_args()
    STEPS = args.steps
    torch.set_num_threads(1)  # the speed goal is set for one core
    sampler = None
    if args.sampler:  # the model's config, read by another sampler (as diffusers' from_config does)
        options = {"use_karras_sigmas": True} if args.karras else {}
        sampler = partial(getattr(pare, args.sampler).from_config, **options)
    results = []
    for model in args.models:
        results.append(evaluate(model, args.seeds, sampler, args.only and args.only.split(",")))
        print(report(results[-1]), flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
