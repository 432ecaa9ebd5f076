"""python -m pare "a cat" --out picture.png: one picture from the command line (what `make demo` runs).

A picture narrower than 256 px (the offline models draw 64x64) is an icon in an image viewer, so an
enlarged copy, `picture-enlarged.png`, is written beside it. Bad arguments end in one sentence and
exit status 2, not a traceback; all but a bad model are found before the model loads."""

import argparse
from pathlib import Path

from PIL import Image

import pare

from . import Pipeline, default_model
from .show import enlarge

SAMPLERS = ["DDIM", "DDPM", "Euler", "EulerAncestral", "Heun", "DPMSolverMultistep", "FlowMatchEuler"]


def number_of_steps(text):
    try:
        steps = int(text)
    except ValueError:
        steps = 0
    if steps < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of denoising steps: give a whole number, 1 or more")
    return steps


def make_parser():
    parser = argparse.ArgumentParser(prog="python -m pare", description="Draw a picture from a prompt.")
    parser.add_argument("prompt")
    parser.add_argument(
        "--model",
        default=None,
        help="a diffusers folder or Hub repo id (default: $PARE_MODEL, else SD 2 on a GPU, the offline model on a CPU)",
    )
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS,
        help="sample with this pare scheduler instead of the model's own (e.g. DPMSolverMultistep: the same "
        "picture in about half DDIM's steps)",
    )
    parser.add_argument("--karras", action="store_true", help="with --sampler: Karras et al.'s noise levels")
    parser.add_argument("--negative", default="")
    parser.add_argument("--steps", type=number_of_steps, default=25)
    parser.add_argument("--guidance", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="picture.png", help="the picture's file; its extension picks the format")
    return parser


def check_out(parser, out):
    """The picture's path, its folder made: a wrong one is found now, not after the model has drawn."""
    if out.is_dir():
        parser.error(f"--out {out} is a folder: give a file in it, like {out / 'picture.png'}.")
    if Image.registered_extensions().get(out.suffix.lower()) not in Image.SAVE:
        parser.error(f"--out {out}: PIL cannot write a picture named {out.name!r}: end the name with .png or .jpg.")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        parser.error(
            f"--out {out}: cannot make the folder {out.parent} ({e.strerror}): give a folder you can write to."
        )


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    if not args.prompt.strip():
        parser.error('the prompt is empty: say what to draw, like python -m pare "a red apple".')
    out = Path(args.out)
    check_out(parser, out)
    try:
        pipe = Pipeline.from_pretrained(args.model or default_model())
        if args.sampler:  # the model's scheduler config, read by another sampler (diffusers' from_config)
            options = {"use_karras_sigmas": True} if args.karras else {}
            pipe.scheduler = getattr(pare, args.sampler).from_config(pipe.scheduler.config, **options)
    except (FileNotFoundError, ValueError, NotImplementedError) as e:  # a bad model, or a sampler that cannot read it
        parser.error(str(e))
    image = pipe(
        args.prompt, args.negative, num_inference_steps=args.steps, guidance_scale=args.guidance, generator=args.seed
    )[0]
    image.save(out)
    print(f"Wrote {out} ({image.width}x{image.height}) from {args.prompt!r}, seed {args.seed}.")
    if image.width < 256:
        large = enlarge(image, 512)  # nearest-neighbour, by a whole factor: every pixel a crisp square
        enlarged = out.with_name(f"{out.stem}-enlarged{out.suffix}")
        large.save(enlarged)
        print(f"Wrote {enlarged} ({large.width}x{large.height}), the same picture enlarged to look at.")


if __name__ == "__main__":
    main()
