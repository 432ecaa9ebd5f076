"""python -m pare "a cat" --out picture.png: one picture from the command line."""

import argparse
from pathlib import Path

from . import Pipeline, default_model

parser = argparse.ArgumentParser(prog="python -m pare", description="Draw a picture from a prompt.")
parser.add_argument("prompt")
parser.add_argument(
    "--model",
    default=None,
    help="a diffusers folder or Hub repo id (default: $PARE_MODEL, else SD 2 on a GPU and the offline model on a CPU)",
)
parser.add_argument("--negative", default="")
parser.add_argument("--steps", type=int, default=25)
parser.add_argument("--guidance", type=float, default=5.0)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="picture.png")
args = parser.parse_args()
pipe = Pipeline.from_pretrained(args.model or default_model())
image = pipe(
    args.prompt, args.negative, num_inference_steps=args.steps, guidance_scale=args.guidance, generator=args.seed
)[0]
Path(args.out).parent.mkdir(parents=True, exist_ok=True)
image.save(args.out)
print(f"Wrote {args.out} ({image.width}x{image.height}) from {args.prompt!r}, seed {args.seed}.")
