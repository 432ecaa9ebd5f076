"""Score the offline models: does the picture show the colour and shape its prompt names?

    python tools/eval_shapes.py [MODEL_FOLDER ...]     # default: the shipped models (the shapes world)

For every colour x shape prompt and several seeds, draw a picture (guidance 5, 25 DDIM steps)
and read its colour and shape back with pare.shapes.score. The goal (issue 3): colour right in
>= 95% and shape in >= 90% of the pictures, for each model.
"""
import argparse
import itertools
import time

import torch

import pare
from pare import shapes


def evaluate(model, seeds=8, steps=25, guidance=5.0):
    start = time.perf_counter()
    pipe = pare.Pipeline.from_pretrained(model, device="cpu")
    load = time.perf_counter() - start
    pipe.progress = False
    prompts = [f"a {c} {s}" for c, s in itertools.product(shapes.COLOURS, shapes.SHAPES)]
    colour_ok = shape_ok = 0
    confusions = []
    start = time.perf_counter()
    for prompt in prompts:
        latents = torch.cat([pipe.get_latent(generator=seed) for seed in range(seeds)])
        for seed, image in enumerate(pipe([prompt] * seeds, latents=latents, num_inference_steps=steps,
                                          guidance_scale=guidance)):
            colour, shape, _ = shapes.score(image)
            want_colour, want_shape, _ = shapes.parse_caption(prompt)
            colour_ok += colour == want_colour
            shape_ok += shape == want_shape
            if (colour, shape) != (want_colour, want_shape):
                confusions.append(f"{prompt} (seed {seed}) -> {colour} {shape}")
    n = len(prompts) * seeds
    per_picture = (time.perf_counter() - start) / n
    one = time.perf_counter()
    pipe("a red circle", num_inference_steps=steps, guidance_scale=guidance, generator=0)
    single = time.perf_counter() - one
    return {"model": model, "pictures": n, "colour": colour_ok / n, "shape": shape_ok / n, "load_s": load,
            "batched_s_per_picture": per_picture, "single_picture_s": single, "misses": confusions}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=[pare.TINY_MODEL, pare.TINY_MODEL_SD1, pare.TINY_MODEL_FLOW])
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the goal is set for one core
    ok = True
    for model in args.models:
        r = evaluate(model, args.seeds)
        print(f"{r['model']}: colour {r['colour']:.1%}, shape {r['shape']:.1%} of {r['pictures']} pictures; "
              f"load {r['load_s']:.2f} s, one picture {r['single_picture_s']:.2f} s "
              f"({r['batched_s_per_picture']:.3f} s each in batches), one thread")
        for miss in r["misses"][:10]:
            print("   miss:", miss)
        ok &= r["colour"] >= 0.95 and r["shape"] >= 0.90
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
