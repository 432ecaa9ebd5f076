"""A flow-matching model for the shipped shapes world, so notebook 07 runs its three models on one
world: tiny-sd2's weights fine-tuned on the flow target (x_s = (1 - s) x_0 + s eps, velocity
eps - x_0) with `pare.train.fit_unet`, its VAE and tokenizer as they are. The next world
(`pare.world`) trains all three models from scratch in `pare.train`.

    python tools/train_shapes_flow.py       # about 10 minutes on one CPU thread
"""
import json
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's pare
from pare import CLIP, TINY_MODEL, TINY_MODEL_FLOW, FlowMatchEuler, UNet, VAE, shapes, train  # noqa: E402


def main(steps=600, images=20_000, work="out/train-shapes-flow"):
    torch.set_num_threads(1)
    start, source, out = time.time(), Path(TINY_MODEL), Path(TINY_MODEL_FLOW)
    pictures, captions = shapes.make_dataset(images, seed=0)
    vae = VAE.from_pretrained(source, "vae")  # its encoder made the latents tiny-sd2 learnt from
    mean, std = train.encode_all(vae, pictures)
    scale = vae.config.scaling_factor
    clip, unet = CLIP.from_pretrained(source), UNet.from_pretrained(source, "unet")
    for p in list(unet.parameters()) + list(clip.text_encoder.parameters()):
        p.requires_grad_(True)
    unet, text_encoder, losses = train.fit_unet(
        "tiny-flow", unet.train(), clip.text_encoder.train(), clip.tokenizer, FlowMatchEuler(train.FLOW_CONFIG),
        (mean * scale, std * scale), captions, work, steps, batch=64, lr=3e-4)
    shutil.copytree(source, out, dirs_exist_ok=True)
    train.save_weights(out / "unet", unet)
    train.save_text_encoder(text_encoder, out / "text_encoder")
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(train.FLOW_CONFIG, indent=1) + "\n")
    index = json.loads((out / "model_index.json").read_text())
    (out / "model_index.json").write_text(json.dumps({**index, "scheduler": ["diffusers", train.FLOW_CONFIG["_class_name"]]}, indent=1) + "\n")
    log = {"from": "tiny-sd2", "steps": steps, "images": images, "minutes": round((time.time() - start) / 60, 1),
           "loss_every_100_steps": [round(sum(losses[i:i + 100]) / len(losses[i:i + 100]), 4) for i in range(0, steps, 100)]}
    (out / "training_log.json").write_text(json.dumps(log, indent=1) + "\n")
    print(json.dumps(log))


if __name__ == "__main__":
    main()
