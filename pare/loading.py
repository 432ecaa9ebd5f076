"""Finding a model and loading its weights, strictly.

A diffusers model is a folder (on disk, or a repository on the Hugging Face Hub) with one
subfolder per part: `unet/`, `vae/`, `text_encoder/`, `tokenizer/`, `scheduler/`. Each part has a
`config.json` (its shape) and a `.safetensors` file (its numbers). Our modules are named exactly
like the keys in those files, so loading is one `load_state_dict` with nothing to rename.
"""

import difflib
import json
from dataclasses import fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

# The files of each part. Stable Diffusion repositories also hold multi-GB .ckpt and .bin
# copies of the same weights, which we never download.
_FILES = {
    "tokenizer": ["tokenizer/*"],
    "scheduler": ["scheduler/*.json"],
    "text_encoder": ["text_encoder/config.json", "text_encoder/model{}.safetensors"],
    "unet": ["unet/config.json", "unet/diffusion_pytorch_model{}.safetensors"],
    "vae": ["vae/config.json", "vae/diffusion_pytorch_model{}.safetensors"],
}


def resolve(model, parts=tuple(_FILES), fp16=False):
    """A local folder for `model`: a path as it is, or a Hub repo id downloaded into the Hub cache
    (only the files of `parts`; the fp16 copies of the weights when `fp16`)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    # A path whose parent folder is here, or that no repo id looks like, is a mistyped folder.
    if path.parent.is_dir() or model.count("/") != 1 or model.startswith((".", "/", "~")):
        near = difflib.get_close_matches(path.name, [d.name for d in path.parent.glob("*") if d.is_dir()], n=1)
        hint = f" Did you mean {str(path.parent / near[0])!r}?" if near and path.parent.is_dir() else ""
        raise FileNotFoundError(
            f"No model folder at {model!r}: give an existing folder in diffusers layout, or a Hub repo id "
            f"('owner/name').{hint}"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    def download(variant):
        patterns = ["model_index.json"] + [f.format(variant) for p in parts for f in _FILES[p]]
        return Path(snapshot_download(model, allow_patterns=patterns))

    def download_fp16():
        """The snapshot with fp16 weights for `parts`; None when this repo has no fp16 copy, or when
        the Hub cannot be reached and the fp16 copies are not on disk (huggingface_hub >= 1.0 then
        refuses the whole snapshot): take the full ones instead, which may be."""
        try:
            folder = download(".fp16")
        except LocalEntryNotFoundError:
            return None
        weighted = [p for p in parts if p not in ("tokenizer", "scheduler")]
        return folder if all(list((folder / p).glob("*.safetensors")) for p in weighted) else None

    try:
        return (fp16 and download_fp16()) or download("")
    except LocalEntryNotFoundError as e:
        raise FileNotFoundError(
            f"Model {model!r} is not on disk and the Hub cannot be reached (offline, or "
            "HF_HUB_OFFLINE=1). Connect to the internet once, or pass a local folder "
            "such as pare.TINY_MODEL."
        ) from e
    except HfHubHTTPError as e:
        raise FileNotFoundError(
            f"Could not fetch {model!r} from the Hugging Face Hub: is the repo id "
            f"right, and public (or are you logged in)? ({e})"
        ) from e


def config_fields(Config, config, supported, reasons=None):
    """The fields of the dataclass `Config` read from a config.json dict. `supported` lists the
    settings we implement only one way: any other value is an error, not a silently wrong model;
    `reasons` says why, where a setting's absence needs a reason."""
    for key, allowed in supported.items():
        value = config.get(key, allowed[0])
        if value not in allowed:
            raise NotImplementedError(
                f"{config.get('_class_name', Config.__name__)} with {key}={value!r} "
                f"is not supported by pare (supported: {allowed}). {(reasons or {}).get(key, '')}".strip()
            )
    return Config(**{f.name: config[f.name] for f in fields(Config) if f.name in config})


class Pretrained(nn.Module):
    """`from_config` builds a model of random weights; `from_pretrained` builds it on the 'meta'
    device (no memory spent on random numbers) and fills it with the saved weights."""

    @classmethod
    def from_config(cls, config):
        return cls(config)

    @classmethod
    def from_pretrained(cls, model, subfolder: str | None = None, dtype=torch.float32) -> "Pretrained":
        parts = [subfolder] if subfolder in _FILES else _FILES
        folder = resolve(str(model), parts, fp16=dtype == torch.float16) / (subfolder or "")
        config = read_config(folder)
        with torch.device("meta"):
            module = cls.from_config(config)
        return load_weights(module, folder, dtype)


def read_config(folder, name="config.json"):
    path = Path(folder) / name
    if not path.is_file():
        raise FileNotFoundError(f"Missing {path}: is {folder} a diffusers-format model folder (or a part of one)?")
    return json.loads(path.read_text())


def weights_file(folder, dtype=torch.float32):
    """The safetensors file of one part (`model.safetensors` or `diffusion_pytorch_model.safetensors`);
    its `.fp16` copy when fp16 is asked for and present. Other variants that a whole-repository
    download may bring (`.non_ema`, `.ema`) are not the weights diffusers loads by default."""
    full = [f for f in Path(folder).glob("*.safetensors") if f.name.count(".") == 1]
    fp16 = [f for f in Path(folder).glob("*.fp16.safetensors") if f.name.count(".") == 2]
    pick = (fp16 if dtype == torch.float16 else []) + sorted(full) + sorted(fp16)
    if not pick:
        raise FileNotFoundError(
            f"No .safetensors weights in {folder}. pare loads only safetensors "
            "(convert .bin/.ckpt files with diffusers first)."
        )
    return pick[0]


def load_weights(module, folder, dtype=torch.float32):
    """Fill `module` with the weights in `folder`, cast tensor by tensor to `dtype` (an fp16
    file never passes through fp32). Every key must be there, with its shape."""
    path = weights_file(folder, dtype)
    try:
        state = load_file(path)
    except (SafetensorError, OSError) as e:
        raise ValueError(
            f"Broken weights file {path} ({e}). It is probably truncated: delete it and download it again."
        ) from e
    expected = {k: v.shape for k, v in module.state_dict().items()}
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    wrong = sorted(
        f"{k} {tuple(state[k].shape)} != {tuple(s)}" for k, s in expected.items() if k in state and state[k].shape != s
    )
    if missing or unexpected or wrong:

        def show(keys):
            return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")

        problems = [
            f"{what}: {show(keys)}"
            for what, keys in [("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)]
            if keys
        ]
        raise ValueError(
            f"Weights in {path} do not fit the model built from its config.json: "
            + "; ".join(problems)
            + ". Check that config.json and the weights belong together."
        )
    module.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=True, assign=True)
    return module.eval()


def pick_device(device=None, dtype=None):
    """cuda + fp16 when a GPU is there, else cpu + fp32; a clear error for a GPU that is not."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device='cuda' was asked for, but torch sees no GPU. Use device='cpu' "
            "(or in Colab: Runtime > Change runtime type > GPU)."
        )
    return device, dtype or (torch.float16 if device.type == "cuda" else torch.float32)
