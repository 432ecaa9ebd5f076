"""The explorer's page (out/site/explorer/): pare's own trace of a few denoising runs, a few prompts x
seeds x guidance scales, for a reader to scrub step by step and compare side by side, in a static
page (no server, no kernel). Per step it keeps the decoded x_t, the decoded predicted x0 and the
cross-attention map of each word of the prompt.

    python tools/explorer.py [--model pare/models/tiny-sd2] [--steps 20] [--seeds 0 1] [--guidance 1 3 7.5]

The prompts are the notebooks' (pare.prompts.for_model): the main one, and two that change one thing
of it, the object and the background. Any model pare loads works; on a GPU, real Stable Diffusion.
"""

import argparse
import json
import math
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import pare

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "tools" / "site" / "explorer"  # index.html, explorer.js, explorer.css
TILE = 128  # px: the largest a picture is stored at (the offline model's are 64)
MAP = 32  # the largest a word's map is stored at (the offline model's latents are 16x16)


class CrossAttention:
    """Records, at every `attn2` of the UNet, which pixels attend to which of the 77 tokens:
    A = softmax(Q K^T / sqrt(d)) (Vaswani et al. 2017, eq. 1), for the prompt's half of the batch,
    averaged over the heads and, once a step is done, over the layers."""

    def __init__(self, unet, size):
        self.size, self.maps = size, []
        self.hooks = [m.register_forward_hook(self.record) for n, m in unet.named_modules() if n.endswith("attn2")]

    def record(self, module, args, output):
        x, context = args[0][-1:], args[1][-1:]  # the batch is [unconditioned, prompt]: keep the prompt's
        q = module.to_q(x).unflatten(-1, (module.heads, -1)).transpose(1, 2)
        k = module.to_k(context).unflatten(-1, (module.heads, -1)).transpose(1, 2)
        a = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(-1).mean(1)[0]  # [pixels, 77]
        scale = round(math.sqrt(self.size[0] * self.size[1] / a.shape[0]))  # this layer works at 1/scale size
        a = a.T.reshape(1, -1, -(-self.size[0] // scale), -(-self.size[1] // scale)).float()
        self.maps.append(F.interpolate(a, size=self.size, mode="bilinear")[0])  # [77, h, w]

    def step(self):
        """The maps of the step just run, averaged over the layers: [77, h, w]."""
        mean = torch.stack(self.maps).mean(0)
        self.maps.clear()
        return mean

    def remove(self):
        for hook in self.hooks:
            hook.remove()


def tokens(pipe, prompt):
    """The prompt's word pieces and their positions among the 77 tokens (after the start token)."""
    pieces = pipe.clip.tokenizer.tokenize(prompt)[: pipe.clip.max_length - 2]
    return [piece.removesuffix("</w>") for piece in pieces], list(range(1, len(pieces) + 1))


def sprite(tiles):
    """Rows of equal PIL tiles -> one picture, rows one under another."""
    w, h = tiles[0][0].size
    sheet = Image.new("RGB", (w * len(tiles[0]), h * len(tiles)))
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            sheet.paste(tile, (c * w, r * h))
    return sheet


@torch.no_grad()
def run(pipe, prompt, seed, guidance, steps):
    """One run: per step, x_t and predicted x0 decoded, and each word's map. Returns the two sprites
    (pictures: a row per step, x_t then x0; maps: a row per step, a column per word) and the timesteps."""
    words, positions = tokens(pipe, prompt)
    latents = pipe.get_latent(generator=seed)
    attention = CrossAttention(pipe.unet, tuple(latents.shape[-2:]))
    x_t, x0, maps, timesteps = [], [], [], []
    try:
        for step in pipe.denoise_steps(latents, pipe.encode_prompt(prompt), steps, guidance):
            x_t.append(step.x_t)
            x0.append(step.pred_x0)
            maps.append(attention.step()[positions])
            timesteps.append(round(float(step.t), 1))
    finally:
        attention.remove()
    pictures = pipe.vae_decode(torch.cat(x_t + x0))
    side = min(TILE, pictures[0].width)
    pictures = [p.resize((side, side * p.height // p.width), Image.LANCZOS) for p in pictures]
    # Each word's map scaled by its largest value over the run, so a word's map can be compared
    # across steps (not across words), then coloured.
    maps = torch.stack(maps)  # [steps, words, h, w]
    if max(maps.shape[-2:]) > MAP:
        maps = F.adaptive_avg_pool2d(maps, MAP)
    maps = maps / maps.amax(dim=(0, 2, 3), keepdim=True)
    colours = matplotlib.colormaps["magma"](maps.numpy())[..., :3]
    heat = [[Image.fromarray((c * 255).astype(np.uint8)) for c in row] for row in colours]
    return sprite([[a, b] for a, b in zip(pictures[:steps], pictures[steps:])]), sprite(heat), timesteps, words


def main(model, steps, seeds, guidance, out):
    pipe = pare.Pipeline.from_pretrained(model, progress=False)
    P = pare.prompts.for_model(model)
    prompts = [P.prompt, P.other, P.prompt.replace(*P.swap)]  # the object changed, the background changed
    (out / "runs").mkdir(parents=True, exist_ok=True)
    runs = []
    for p, prompt in enumerate(prompts):
        for seed in seeds:
            for g in guidance:
                pictures, maps, timesteps, words = run(pipe, prompt, seed, g, steps)
                name = f"runs/p{p}-s{seed}-g{g}"
                pictures.save(out / f"{name}.jpg", quality=90)
                maps.save(out / f"{name}.png", optimize=True)
                runs.append(dict(prompt=prompt, seed=seed, guidance=g, words=words, timesteps=timesteps, name=name))
                print(f"{name}: {prompt!r}, seed {seed}, guidance {g}")
    data = dict(
        model=Path(str(model)).name,
        steps=steps,
        prompts=prompts,
        seeds=seeds,
        guidance=guidance,
        tile=pictures.width // 2,
        map=maps.height // steps,
        runs=runs,
    )
    # A script, not a JSON file: a page opened from the disk (file://) may load scripts, not fetch files.
    (out / "data.js").write_text(f"const EXPLORER = {json.dumps(data, indent=1)};\n")
    for name in ("index.html", "explorer.js", "explorer.css"):
        shutil.copy(PAGE / name, out)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    print(f"{out}: {len(runs)} runs of {steps} steps, {size:.1f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=pare.TINY_MODEL, help="a folder or Hub repo id (default: the offline model)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0, 3.0, 7.5])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "site", help="the site; the page goes in explorer/")
    args = parser.parse_args()
    main(args.model, args.steps, args.seeds, args.guidance, args.out / "explorer")
