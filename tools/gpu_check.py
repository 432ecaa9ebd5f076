"""The GPU path, measured in one go (`make gpu-check`, at most 8 minutes on a lent GPU), or rehearsed on
a CPU with tiny configs (`make gpu-check DRY=1`, i.e. `--dry-run`), so no GPU time is spent finding bugs.

1. Builds two diffusers-layout folders with random fp16 weights and the real configs (from
   pare.sd_configs: no Hub): SD 2 (768 px, v-prediction, OpenCLIP-H text encoder) and SD 1.5 (512 px,
   epsilon, CLIP-L); the tokenizers are the offline models' (the same CLIP vocabulary, each padding its way).
2. Runs bench/bench.py's cuda rows, pare against diffusers (time ratio, peak memory, max abs diff),
   into BENCHMARKS.md's GPU section (dry run: the same rows on tiny configs, printed only).
3. Executes every notebook from a fresh kernel once per folder, PARE_MODEL pointing at it
   (PARE_MODEL_SD1 / PARE_MODEL_SD2 name both, for notebooks that need the other kind), recording
   the notebook's time, its slowest cell, peak GPU memory and the UNet evaluations it ran.
4. Writes the results into BENCHMARKS.md (a section) and the README (between the gpu-check markers),
   with each notebook's estimated time on a free Colab T4 from its evaluation counts.

    python tools/gpu_check.py               # on the GPU machine (needs diffusers, nbclient, ipykernel there)
    python tools/gpu_check.py --dry-run     # on a CPU: tiny configs, fp32, same steps
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import pare  # noqa: E402
from pare.sd_configs import SD2, SD15, TINY_SD2, TINY_SD15, random_weights  # noqa: E402
from pare.train import save_text_encoder  # noqa: E402

# The two models at full size, with their real configs (pare.sd_configs); the tokenizers are the offline
# models', each padding its way. --dry-run: the same layouts shrunk (latent 16x16, 128 px).
MODELS = {
    "sd2": dict(label="SD 2, 768 px, v", tokenizer=pare.TINY_MODEL, full=SD2, tiny=TINY_SD2),
    "sd15": dict(label="SD 1.5, 512 px, ε", tokenizer=pare.TINY_MODEL_SD1, full=SD15, tiny=TINY_SD15),
}

# Time of one UNet evaluation (one latent, once) on a free Colab T4, fp16. Measured: SD 1.5 at 512 px,
# batch 1 with guidance (2 latents a step), 50 steps, torch 2.0, no compile: 6.9 it/s, the diffusers
# documentation's "Accelerated PyTorch 2.0 support" benchmark (docs/source/en/optimization/torch2.0.md,
# T4 table; environment in huggingface/diffusers#3313). So 1 / (6.9 x 2) = 72 ms at 64x64. Other sizes:
# scaled by the latent's pixels (SD 2 at 96x96: x2.25; attention grows faster, so an underestimate).
# Replace with the measured figure once gpu-check has run on a T4-class GPU.
T4_EVAL_S = 1 / (6.9 * 2)
T4_SOURCE = (
    "the diffusers docs' PyTorch 2.0 benchmark (docs/source/en/optimization/torch2.0.md): "
    "SD 1.5 at 512 px on a T4, batch 1, fp16, 6.9 it/s, i.e. 72 ms per 64x64 evaluation"
)

MEASURE = """import json, torch, pare
cuda = torch.cuda.is_available()
print("GPU_CHECK " + json.dumps({"peak_reserved": torch.cuda.max_memory_reserved() if cuda else 0,
                                 "peak_allocated": torch.cuda.max_memory_allocated() if cuda else 0,
                                 "evaluations": {f"{h}x{w}": n for (h, w), n in evaluations.items()}}))"""


def build(folder, key, dry, device):
    """A diffusers-layout model folder with random fp16 weights."""
    spec = MODELS[key]
    configs, folder = spec["tiny" if dry else "full"], Path(folder)
    for seed, (part, cls) in enumerate((("unet", pare.UNet), ("vae", pare.VAE))):
        (folder / part).mkdir(parents=True, exist_ok=True)
        (folder / part / "config.json").write_text(json.dumps(configs[part], indent=2))
        with torch.device(device):
            module = random_weights(cls.from_config(configs[part]), seed)
        save_file(
            {k: v.half().contiguous() for k, v in module.state_dict().items()},
            folder / part / "diffusion_pytorch_model.safetensors",
        )
        del module
    with torch.device(device):
        text_encoder = random_weights(CLIPTextModel(CLIPTextConfig(**configs["text_encoder"])), seed=2)
    save_text_encoder(text_encoder, folder / "text_encoder")
    shutil.copytree(Path(spec["tokenizer"]) / "tokenizer", folder / "tokenizer", dirs_exist_ok=True)
    (folder / "scheduler").mkdir(exist_ok=True)
    (folder / "scheduler/scheduler_config.json").write_text(json.dumps(configs["scheduler"], indent=2))
    (folder / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "StableDiffusionPipeline",
                "requires_safety_checker": False,
                "feature_extractor": [None, None],
                "safety_checker": [None, None],
                "scheduler": ["diffusers", "DDIMScheduler"],
                "text_encoder": ["transformers", "CLIPTextModel"],
                "tokenizer": ["transformers", "CLIPTokenizer"],
                "unet": ["diffusers", "UNet2DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"],
            },
            indent=2,
        )
    )
    if device == "cuda":
        torch.cuda.empty_cache()
    return folder


def execute(path, env, cell_timeout, save=None):
    """Run one notebook from a fresh kernel with `env`; its time, slowest cell, peak memory, evaluations."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)  # the saved run's timings are not this run's
    nb.cells.append(nbformat.v4.new_code_cell(MEASURE))
    old = dict(os.environ)
    os.environ.update(env)
    start, error = time.perf_counter(), None
    try:
        NotebookClient(
            nb,
            timeout=int(cell_timeout),
            kernel_name="python3",
            record_timing=True,
            resources={"metadata": {"path": str(Path(path).parent)}},
        ).execute()
    except Exception as e:  # a failing cell, or one over the timeout: recorded, and the run goes on
        lines = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip().splitlines() or [""]  # no terminal colours
        error = f"{type(e).__name__}: {lines[-1][:200]}"
    finally:
        os.environ.clear()
        os.environ.update(old)
    seconds = time.perf_counter() - start
    slowest = 0.0
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            t0, t1 = (
                datetime.datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                for k in ("iopub.execute_input", "shell.execute_reply")
            )
            slowest = max(slowest, (t1 - t0).total_seconds())
    measured = {}
    for output in nb.cells[-1].get("outputs", []):
        text = output.get("text", "")
        if "GPU_CHECK " in text:
            measured = json.loads(text.split("GPU_CHECK ", 1)[1])
    if save:
        nb.cells.pop()
        nbformat.write(nb, Path(save) / f"{Path(path).stem}.ipynb")
    return dict(seconds=seconds, slowest=slowest, error=error, **measured)


def t4_estimate(evaluations, key, native):
    """Seconds on a T4: each evaluation at 64x64 costs T4_EVAL_S, other sizes scaled by their pixels;
    the counts' sizes are taken relative to this run's native latent (`native`) and put at the real one."""
    real = MODELS[key]["full"]["unet"]["sample_size"]
    total = 0.0
    for size, n in evaluations.items():
        h, w = map(int, size.split("x"))
        total += n * T4_EVAL_S * (h * w) / native**2 * real**2 / 64**2
    return total


def tables(results, dry, device_name, bench_rows):
    """Markdown: the measured table and the T4 estimate table."""
    gib = lambda b: f"{b / 2**30:.1f}" if b else "-"  # noqa: E731
    what = "CPU dry run, tiny configs (fp32): the figures test the script, not a GPU" if dry else device_name
    lines = [
        f"Measured by `tools/gpu_check.py{' --dry-run' if dry else ''}` on {what}, "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, torch {torch.__version__}.",
        "",
        "| notebook | model | time | slowest cell | peak GPU GiB (reserved) | UNet evaluations | T4 estimate "
        "| result |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for r in results:
        pixels = lambda size: -int(size.split("x")[0]) * int(size.split("x")[1])  # noqa: E731
        evals = ", ".join(
            f"{n} at {s}" for s, n in sorted(r.get("evaluations", {}).items(), key=lambda kv: pixels(kv[0]))
        )
        est = t4_estimate(r.get("evaluations", {}), r["model"], r["native"])
        lines.append(
            f"| {r['notebook']} | {MODELS[r['model']]['label']} | {r['seconds']:.0f} s | {r['slowest']:.0f} s | "
            f"{gib(r.get('peak_reserved'))} | {sum(r.get('evaluations', {}).values())}: {evals or '-'} | "
            f"{est / 60:.1f} min | {r['error'] or 'ok'} |"
        )
    lines += [
        "",
        f"T4 estimate (an estimate until measured on a T4): the UNet evaluations times {T4_EVAL_S * 1e3:.0f} ms "
        f"at 64x64, scaled by latent pixels ({T4_EVAL_S * 2.25e3:.0f} ms at SD 2's 96x96), from {T4_SOURCE}. "
        "It leaves out downloading and loading the model, the text encoder and the VAE."
        + (" In a dry run the counts are the CPU path's; a notebook may run fewer steps on a GPU." if dry else ""),
    ]
    if bench_rows:
        lines += [
            "",
            "bench/bench.py's GPU rows" + (" (tiny configs, CPU, printed only)" if dry else "") + ":",
            "",
            *bench_rows,
        ]
    return "\n".join(lines)


def write_readme(body):
    path = ROOT / "README.md"
    text = path.read_text()
    start, end = "<!-- gpu-check:start -->", "<!-- gpu-check:end -->"
    if start not in text:
        print(f"README.md has no {start} marker: not written", file=sys.stderr)
        return
    head, rest = text.split(start, 1)
    path.write_text(head + start + "\n" + body.strip() + "\n" + end + rest.split(end, 1)[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="tiny configs on the CPU: check the script, not a GPU")
    parser.add_argument("--budget", type=float, help="seconds for everything (default 480, 8 minutes; dry run: 3600)")
    parser.add_argument("--notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--no-bench", action="store_true")
    parser.add_argument("--save", type=Path, help="also save the executed notebooks here")
    parser.add_argument(
        "--no-write", action="store_true", help="print the results; leave BENCHMARKS.md and README alone"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    args.budget = args.budget or (3600 if args.dry_run else 480)
    cuda = torch.cuda.is_available() and not args.dry_run
    if not cuda and not args.dry_run:
        raise SystemExit("No GPU here: run `make gpu-check DRY=1` (--dry-run) to rehearse on the CPU.")
    device = "cuda" if cuda else "cpu"
    env = {"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if not cuda:
        env["CUDA_VISIBLE_DEVICES"] = ""
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folders = {}
        for key in MODELS:
            t = time.perf_counter()
            folders[key] = build(Path(tmp) / key, key, args.dry_run, device)
            print(f"built {MODELS[key]['label']} in {time.perf_counter() - t:.0f} s: {folders[key]}", flush=True)
        env.update(PARE_MODEL_SD2=str(folders["sd2"]), PARE_MODEL_SD1=str(folders["sd15"]))

        bench_rows = []
        if not args.no_bench:
            command = [sys.executable, str(ROOT / "bench/bench.py"), "--rows", "gpu", "--repeats", "3"]
            command += ["--tiny", "--quick", "--device", "cpu"] if args.dry_run else []
            t = time.perf_counter()
            run = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env})
            bench_rows = [line for line in run.stdout.splitlines() if line.startswith("|")]
            print(f"bench: exit {run.returncode} in {time.perf_counter() - t:.0f} s", flush=True)
            if run.returncode:
                print(run.stderr[-3000:], file=sys.stderr)

        results = []
        for key in MODELS:
            native = MODELS[key]["full" if cuda else "tiny"]["unet"]["sample_size"]  # the latent's side
            for path in notebooks:
                left = args.budget - (time.perf_counter() - start)
                name = Path(path).stem
                if left < 30:
                    results.append(
                        dict(
                            notebook=name,
                            model=key,
                            native=native,
                            seconds=0,
                            slowest=0,
                            error="skipped: out of time",
                        )
                    )
                    continue
                save = args.save / key if args.save else None
                if save:
                    save.mkdir(exist_ok=True)
                r = execute(path, {**env, "PARE_MODEL": str(folders[key])}, min(180 if cuda else 900, left), save)
                r.update(notebook=name, model=key, native=native)
                results.append(r)
                print(
                    f"{name} on {key}: {r['seconds']:.0f} s, slowest cell {r['slowest']:.0f} s, "
                    f"evaluations {r.get('evaluations')}, {r['error'] or 'ok'}",
                    flush=True,
                )

    name = torch.cuda.get_device_name() if cuda else "CPU"
    body = tables(results, args.dry_run, name, bench_rows)
    print(body)
    if not args.no_write:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench import write_section

        write_section(
            ROOT / "BENCHMARKS.md",
            "Notebooks: " + ("CPU dry run of tools/gpu_check.py" if args.dry_run else f"GPU: {name}"),
            body,
        )
        write_readme(body)
    print(f"gpu_check: {time.perf_counter() - start:.0f} s in all", file=sys.stderr)


if __name__ == "__main__":
    main()
