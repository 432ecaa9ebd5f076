"""Train a variant of the offline model's VAE briefly and score how it treats colour and shape.

    python tools/vae_experiment.py --channels 8,16,32,64 --groups 4 --weight 10 --steps 800

Picks the VAE before the 30-minute UNet training does: 400 held-out pictures go through the VAE,
their latents get extra noise (0, 0.2 and 0.4 of the latents' std, a stand-in for a UNet's
errors), and pare.shapes.score reads colour and shape back off the decoded pictures. The
model card (pare/models/README.md) lists what this found.
"""
import argparse
import json
import time

import numpy as np
import torch

from pare import shapes, train


@torch.no_grad()
def evaluate(vae, images, captions):
    mean, std = train.encode_all(vae, images)
    spread = train.latent_std(mean, std)
    want = [shapes.parse_caption(c) for c in captions]
    out, g = {}, torch.Generator().manual_seed(0)
    for noise in (0.0, 0.2, 0.4):
        recon = vae.decode(mean + noise * spread * torch.randn(mean.shape, generator=g))
        if noise == 0:
            out["psnr_db"] = round(train.psnr(recon, images), 1)
        pictures = ((recon.permute(0, 2, 3, 1) + 1) * 127.5).clamp(0, 255).round().byte().numpy()
        read = [shapes.score(p) for p in pictures]
        out[f"colour@{noise}"] = np.mean([r[0] == w[0] for r, w in zip(read, want)])
        out[f"shape@{noise}"] = np.mean([r[1] == w[1] for r, w in zip(read, want)])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", default="8,16,32,64")
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--weight", type=float, default=10, help="extra weight of the shape's (saturated) pixels")
    parser.add_argument("--steps", type=int, default=800)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = {**train.VAE_CONFIG, "block_out_channels": [int(c) for c in args.channels.split(",")], "norm_num_groups": args.groups}
    start = time.time()
    vae = train.train_vae(shapes.make_dataset(40_000, seed=0)[0], args.steps, config=config, shape_weight=args.weight)
    result = {**vars(args), "minutes": round((time.time() - start) / 60, 1),
              **evaluate(vae.eval(), *shapes.make_dataset(400, seed=123))}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
