"""Speed and memory of pare against diffusers (the oracle), row by row, in one process.

Each row builds the same random weights in both (a diffusers model from a config dict, every
parameter redrawn from a seeded generator, its state_dict copied into pare with strict=True),
gives both the same inputs, warms each up once, times them interleaved (pare, diffusers, then
diffusers, pare, ...) and reports the medians. `max abs diff` compares the two outputs (images
in 0-255 levels): proof that a row times the same computation. Timing lives here, never in tests.

    python bench/bench.py                  # CPU rows, or GPU rows when torch sees a GPU; updates BENCHMARKS.md
    python bench/bench.py --quick          # smoke test: 1 repeat, small sizes; prints only (unless --out)
    python bench/bench.py --rows unet,pipe # some rows only: load unet vae clip pipe (CPU), load gpu compile (GPU)
    python bench/bench.py --tiny --rows gpu --quick  # the GPU rows on tiny configs, on the CPU: a dry run
"""

import argparse
import ctypes
import datetime
import gc
import json
import os
import re
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import diffusers
import numpy as np
import torch
import transformers
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's pare, installed or not
import pare  # noqa: E402
from pare.sd_configs import SD2, SD15, TINY_SD2, TINY_SD15, random_weights  # noqa: E402  (SD's real configs)

for library in (diffusers, transformers):  # no progress bars or loading chatter between the rows
    library.utils.logging.set_verbosity_error(), library.utils.logging.disable_progress_bar()


def randn(*shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def twins(diffusers_cls, pare_cls, config, device="cpu", dtype=torch.float32):
    """The same random model twice: diffusers' built from `config` with every parameter redrawn
    (pare.sd_configs.random_weights), then copied into pare's, strictly."""
    theirs = random_weights(diffusers_cls.from_config(config))
    ours = pare_cls.from_config(config)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours.to(device, dtype).eval(), theirs.to(device, dtype).eval()


def peak_memory(fn, cuda):
    """The memory one call of `fn` adds at its peak on top of what is already there, in MiB.
    GPU: torch.cuda.max_memory_allocated after reset_peak_memory_stats, less what was allocated
    before (both models' weights). CPU: the kernel's own peak RSS (VmHWM) less the RSS before.
    So that RSS follows the live tensors exactly, glibc first hands its free heap back to the OS
    (malloc_trim), and for this call gives every block of 64 KiB or more its own mapping, unmapped
    when freed (mallopt M_MMAP_THRESHOLD): no call quietly reuses pages an earlier one (say, the
    other library's) left behind, and heap slack adds no noise. Then writing 5 to
    /proc/self/clear_refs resets VmHWM to the current RSS (Linux >= 4.0). Exact, unlike a sampling
    thread, which misses short peaks and competes for the core. One more call, after the timed ones."""
    gc.collect()
    if cuda:
        torch.cuda.synchronize(), torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn(), torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    vm = lambda key: int(re.search(rf"^{key}:\s+(\d+)", Path("/proc/self/status").read_text(), re.M)[1]) / 1024  # noqa: E731
    libc, M_MMAP_THRESHOLD = ctypes.CDLL(None), -3
    libc.malloc_trim(0), libc.mallopt(M_MMAP_THRESHOLD, 64 << 10)
    Path("/proc/self/clear_refs").write_text("5")
    before = vm("VmRSS")
    try:
        fn()
        return vm("VmHWM") - before
    finally:
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)  # glibc's usual ceiling for the timed calls that follow


def as_array(out):  # a tensor or a list of PIL images -> numpy, to compare the outputs; else None
    if isinstance(out, torch.Tensor):
        return out.float().cpu().numpy()
    return np.stack([np.asarray(x, dtype=np.float32) for x in out]) if isinstance(out, list) else None


def compare(name, pare_fn, diffusers_fn, args, note=""):
    """A warm-up of each, `args.repeats` timed calls of each in ABBA order (neither library always
    runs in the other's wake), then two memory calls each, also in ABBA order."""
    cuda = args.device == "cuda"

    def timed(fn):
        gc.collect(), cuda and torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        cuda and torch.cuda.synchronize()
        return time.perf_counter() - start, out

    print(f"... {name}", file=sys.stderr, flush=True)
    with torch.no_grad():
        (warmup, out_p), (_, out_d) = timed(pare_fn), timed(diffusers_fn)
        a, b = as_array(out_p), as_array(out_d)
        del out_p, out_d  # keep no model or big tensor alive past here
        times = []
        for i in range(args.repeats):
            flip = -1 if i % 2 else 1
            times.append([timed(fn)[0] for fn in (pare_fn, diffusers_fn)[::flip]][::flip])
        # Memory in ABBA order too, the smaller of each library's two: a call can inherit a cost
        # from what ran just before it (allocator and oneDNN scratch state), whichever it is.
        first = [peak_memory(fn, cuda) for fn in (pare_fn, diffusers_fn)]
        second = [peak_memory(fn, cuda) for fn in (diffusers_fn, pare_fn)][::-1]
        mem = [min(pair) for pair in zip(first, second)]
        print(
            f"    peaks, pare then diffusers: {first}; diffusers then pare: {second[::-1]}", file=sys.stderr, flush=True
        )
    p, d = (statistics.median(t) for t in zip(*times))
    return dict(
        name=name,
        pare=p,
        diffusers=d,
        mem=mem,
        warmup=warmup,
        note=note,
        diff=None if a is None else float(np.abs(a - b).max()),
    )


def load_row(args):
    """Peak CPU RAM while loading an SD 2-sized UNet from fp16 safetensors in diffusers layout."""
    _, theirs = twins(UNet2DConditionModel, pare.UNet, SD2["unet"])
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "unet").mkdir()
        (Path(folder) / "unet/config.json").write_text(json.dumps(SD2["unet"]))
        weights = {k: v.half().contiguous() for k, v in theirs.state_dict().items()}
        save_file(weights, Path(folder) / "unet/diffusion_pytorch_model.fp16.safetensors")
        size = sum(v.nbytes for v in weights.values()) / 2**20
        del theirs, weights

        def ready(model):  # the weights come memory-mapped: RAM is spent when they are read (or moved)
            if args.device == "cuda":
                return model.to("cuda")
            for weight in model.state_dict().values():
                weight.max()

        return compare(
            "load SD 2 UNet from fp16 safetensors, then "
            + ("move to GPU" if args.device == "cuda" else "read every weight")
            + " (peak: CPU RAM)",
            lambda: ready(pare.UNet.from_pretrained(folder, subfolder="unet", dtype=torch.float16)),
            lambda: ready(
                UNet2DConditionModel.from_pretrained(folder, subfolder="unet", variant="fp16", dtype=torch.float16)
            ),
            args,
            note=f"fp16 weights: {size:.0f} MiB",
        )


def unet_row(name, ours, theirs, x, t, context, args):
    return compare(name, lambda: ours(x, t, context), lambda: theirs(x, t, context, return_dict=False)[0], args)


def cpu_rows(args, want):
    sizes = [32] if args.quick else [32, 64]
    for label, sd in (("SD 1.5", SD15), ("SD 2", SD2)):
        if "unet" in want:
            ours, theirs = twins(UNet2DConditionModel, pare.UNet, sd["unet"])
            context, t = randn(2, 77, sd["unet"]["cross_attention_dim"], seed=1), torch.randint(0, 1000, ())
            for s in sizes:
                x = randn(2, 4, s, s, seed=2)
                yield unet_row(f"{label} UNet forward, batch 2, latent {s}x{s}", ours, theirs, x, t, context, args)
            del ours, theirs
    if "vae" in want:
        ours, theirs = twins(AutoencoderKL, pare.VAE, SD15["vae"])
        z = randn(1, 4, sizes[-1], sizes[-1], seed=3)
        yield compare(
            f"SD VAE decode, latent {sizes[-1]}x{sizes[-1]} -> {8 * sizes[-1]} px",
            lambda: ours.decode(z),
            lambda: theirs.decode(z, return_dict=False)[0],
            args,
        )
        del ours, theirs
    if "clip" in want:  # the same transformers CLIPTextModel both ways: a sanity row, expect 1.00
        torch.manual_seed(0)
        tokenizer = CLIPTokenizer.from_pretrained(Path(pare.TINY_MODEL) / "tokenizer")
        text_encoder = CLIPTextModel(CLIPTextConfig(**SD15["text_encoder"])).eval()  # SD 1's, CLIP ViT-L/14
        prompts = ["", "an astronaut riding a horse"]

        def diffusers_way():  # as StableDiffusionPipeline.encode_prompt: tokenize, then text_encoder(ids)[0]
            ids = tokenizer(
                prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt"
            ).input_ids
            return text_encoder(ids)[0]

        yield compare(
            "CLIP ViT-L text encoder, 2 x 77 tokens (same model)",
            lambda: pare.CLIP(tokenizer, text_encoder)(prompts),
            diffusers_way,
            args,
        )
    if "pipe" in want:  # the whole pipeline on the offline tiny model, from the same latent
        ours = pare.Pipeline.from_pretrained(pare.TINY_MODEL, device="cpu", dtype=torch.float32, progress=False)
        theirs = StableDiffusionPipeline.from_pretrained(pare.TINY_MODEL, dtype=torch.float32, safety_checker=None)
        theirs.scheduler = DDIMScheduler.from_pretrained(pare.TINY_MODEL, subfolder="scheduler")
        theirs.set_progress_bar_config(disable=True)
        latents, kw = randn(*ours.latent_shape(), seed=4), dict(num_inference_steps=25, guidance_scale=5.0)
        row = compare(
            "pipeline on pare.TINY_MODEL, 25 steps, 1 picture",
            lambda: ours("a cat", latents=latents, **kw),
            lambda: theirs("a cat", latents=latents, **kw).images,
            args,
        )
        row["note"] = f"pare's goal, < 0.5 s on one core: {'met' if row['pare'] < 0.5 else 'MISSED'}"
        yield row
        # The same picture in half the UNet calls: DPM-Solver++(2M) with Karras' sigmas at 12 steps, which
        # keeps the offline models' named object and background within 2 points of DDIM at 25 (eval_offline).
        ddim = row["pare"]
        ours.scheduler = pare.DPMSolverMultistep.from_config(ours.scheduler.config, use_karras_sigmas=True)
        theirs.scheduler = DPMSolverMultistepScheduler.from_config(theirs.scheduler.config, use_karras_sigmas=True)
        kw["num_inference_steps"] = 12
        row = compare(
            "pipeline on pare.TINY_MODEL, DPM-Solver++(2M) Karras, 12 steps, 1 picture",
            lambda: ours("a cat", latents=latents, **kw),
            lambda: theirs("a cat", latents=latents, **kw).images,
            args,
        )
        row["note"] = (
            f"{row['pare'] / ddim:.2f} of DDIM-25's time in the same run; "
            f"pare's goal, < 0.5 s on one core: {'met' if row['pare'] < 0.5 else 'MISSED'}"
        )
        yield row


def pipeline_row(name, ours, theirs, latents, embeddings, steps, args):
    """Both pipelines' guided loops from the same latent and embeddings [negative, prompt], then the VAE decode."""
    height, width = (ours.vae_scale_factor * side for side in latents.shape[-2:])
    row = compare(
        name,
        lambda: ours.vae_decode(ours.denoise(latents, embeddings, steps, 7.5)),
        lambda: (
            theirs(
                prompt_embeds=embeddings[1:],
                negative_prompt_embeds=embeddings[:1],
                latents=latents,
                num_inference_steps=steps,
                guidance_scale=7.5,
                height=height,
                width=width,
            ).images
        ),
        args,
    )
    row["note"] = f"it/s, decode included: pare {steps / row['pare']:.1f}, diffusers {steps / row['diffusers']:.1f}"
    return row


def gpu_rows(args, want):
    """The whole denoising loop plus the VAE decode, fp16, random weights and text embeddings."""
    steps, fp16 = 10 if args.quick else 50, torch.float16 if args.device == "cuda" else torch.float32
    models = (("SD 1.5 512 px", SD15), ("SD 2 768 px", SD2))
    if args.tiny:
        models = (("tiny, like SD 1.5", TINY_SD15), ("tiny, like SD 2", TINY_SD2))
    for label, sd in models:
        if not want & {"gpu", "compile"}:
            return
        s = sd["unet"]["sample_size"]
        unet, dunet = twins(UNet2DConditionModel, pare.UNet, sd["unet"], args.device, fp16)
        vae, dvae = twins(AutoencoderKL, pare.VAE, sd["vae"], args.device, fp16)
        scheduler = pare.DDIM(sd["scheduler"])
        ours = pare.Pipeline(None, unet, vae, scheduler, args.device, fp16, progress=False)  # no CLIP: embeddings given
        theirs = StableDiffusionPipeline(
            vae=dvae,
            text_encoder=None,
            tokenizer=None,
            unet=dunet,
            safety_checker=None,
            scheduler=DDIMScheduler.from_config(sd["scheduler"]),
            feature_extractor=None,
            requires_safety_checker=False,
        )
        theirs.set_progress_bar_config(disable=True)
        emb = randn(2, 77, sd["unet"]["cross_attention_dim"], seed=1).to(args.device, fp16)  # [negative, prompt]
        latents = randn(1, 4, s, s, seed=2).to(args.device, fp16)
        for compiled in [c for c, key in ((False, "gpu"), (True, "compile")) if key in want]:
            ours.unet = torch.compile(unet) if compiled else unet
            name = f"{label}, {str(fp16)[6:]}, {steps} steps CFG batch 2 + VAE decode" + (", pare compiled" * compiled)
            row = pipeline_row(name, ours, theirs, latents, emb, steps, args)
            if compiled:
                row["note"] += f"; torch.compile took {row['warmup'] - row['pare']:.0f} s (not timed)"
            yield row
        del ours, theirs, unet, dunet, vae, dvae
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def table(rows):
    t = lambda x: f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"  # noqa: E731
    lines = [
        "| row | pare | diffusers | pare / diffusers | pare peak MiB | diffusers peak MiB | max abs diff | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [
        f"| {r['name']} | {t(r['pare'])} | {t(r['diffusers'])} | {r['pare'] / r['diffusers']:.2f} | "
        f"{r['mem'][0]:.0f} | {r['mem'][1]:.0f} | {'-' if r['diff'] is None else format(r['diff'], '.2g')} | "
        f"{r['note']} |"
        for r in rows
    ]
    return "\n".join(lines)


def write_section(path, title, body):
    """Replace the section `## title` of the markdown file (or add it); other devices' sections stay."""
    old = (
        Path(path).read_text()
        if Path(path).exists()
        else "# Benchmarks: pare vs diffusers\n\n"
        "Written by `bench/bench.py` (`make bench`); one section per device.\n\n"
    )
    head, *sections = re.split(r"(?m)^(?=## )", old)
    sections = {s.splitlines()[0]: s.rstrip() + "\n\n" for s in sections}
    sections[f"## {title}"] = f"## {title}\n\n{body.rstrip()}\n\n"
    Path(path).write_text(head + "".join(sections.values()).rstrip() + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 repeat, small sizes, 10 GPU steps: a smoke test")
    parser.add_argument("--repeats", type=int, help="timed calls per library and row (default 5; 1 with --quick)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rows", default="load,unet,vae,clip,pipe,gpu,compile", help="comma-separated row groups")
    parser.add_argument("--tiny", action="store_true", help="GPU rows on tiny configs, on any device (a dry run)")
    parser.add_argument("--out", help="markdown file to update (default: BENCHMARKS.md; none with --quick)")
    args = parser.parse_args()
    args.repeats = args.repeats or (1 if args.quick else 5)
    out = args.out or (None if args.quick else Path(__file__).resolve().parents[1] / "BENCHMARKS.md")
    torch.set_num_threads(args.threads)
    want = set(args.rows.split(","))

    def every_row():
        if "load" in want:
            yield load_row(args)
        yield from (gpu_rows if args.device == "cuda" or args.tiny else cpu_rows)(args, want)

    rows = []
    for row in every_row():
        rows.append(row)
        print(table([row]).splitlines()[-1], file=sys.stderr, flush=True)  # progress, in case of a cut-off

    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())[1]
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else None
    try:
        pare_version = version("pare")
    except Exception:  # run from a checkout that was never pip-installed
        pare_version = "(working tree)"
    env = "".join(f"{k}={os.environ[k]} " for k in ("OMP_NUM_THREADS",) if k in os.environ)
    body = "\n".join(
        [
            f"- machine: {cpu}, {os.cpu_count()} cores" + (f", GPU {gpu}" if gpu else ""),
            f"- torch {torch.__version__}, pare {pare_version}, diffusers {diffusers.__version__}, "
            f"transformers {transformers.__version__}",
            f"- {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
            f"torch CPU threads: {torch.get_num_threads()}",
            f"- command: `{env}python {' '.join(sys.argv)}`; "
            f"median of {args.repeats} interleaved calls after a warm-up of each",
            "- peak MiB: what one call adds above what is resident (CPU: peak RSS, VmHWM, large blocks mmapped; "
            "GPU: torch.cuda.max_memory_allocated above the weights); the load row: CPU RAM",
            "",
            table(rows),
        ]
    )
    print(body)
    if out:
        write_section(out, (f"GPU: {gpu}" if gpu else "CPU") + (" (quick)" if args.quick else ""), body)
        print(f"\nwrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
