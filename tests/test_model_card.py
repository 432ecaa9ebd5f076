"""What the model card (pare/models/README.md) tells users to do: diffusers' StableDiffusionPipeline
loads each shipped model with default arguments, fp32 throughout, and draws pare's picture."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from safetensors import safe_open
from transformers import CLIPTextConfig, CLIPTextModel

import pare
from pare.train import save_text_encoder

SHIPPED = sorted(index.parent for index in (Path(pare.__file__).parent / "models").glob("*/model_index.json"))
# The ones the card tells users to load with StableDiffusionPipeline (diffusers has no text-to-image
# pipeline for tiny-flow's UNet with a flow-matching scheduler: tests/test_flow.py covers it).
MODELS = [Path(pare.TINY_MODEL), Path(pare.TINY_MODEL_SD1)]
RESAVE = "re-save it with `python tools/resave_text_encoder.py FOLDER` (pare.train.save_text_encoder)"


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda folder: folder.name)
def test_text_encoder_in_the_layout_every_transformers_reads(folder):
    with safe_open(folder / "text_encoder/model.safetensors", "pt") as f:
        keys = list(f.keys())
    assert all(k.startswith("text_model.") for k in keys), f"keys without the text_model. prefix: {RESAVE}"
    config = json.loads((folder / "text_encoder/config.json").read_text())
    assert config.get("dtype", config.get("torch_dtype")) == "float32", f"its config says fp16: {RESAVE}"


@pytest.mark.parametrize("folder", MODELS, ids=lambda folder: folder.name)
def test_diffusers_with_default_arguments_draws_pares_picture(folder):
    theirs = StableDiffusionPipeline.from_pretrained(folder)  # the model card's line, as a user types it
    theirs.set_progress_bar_config(disable=True)
    assert [m.dtype for m in (theirs.text_encoder, theirs.unet, theirs.vae)] == [torch.float32] * 3
    ours = pare.Pipeline.from_pretrained(folder, progress=False)
    latents = ours.get_latent(generator=0)
    picture = theirs("a cat", latents=latents, num_inference_steps=10).images[0]
    image = ours("a cat", latents=latents, num_inference_steps=10)[0]
    assert np.abs(np.asarray(picture, dtype=int) - np.asarray(image, dtype=int)).max() <= 1  # 8-bit rounding


def test_save_text_encoder_round_trip(tmp_path):
    torch.manual_seed(0)
    config = CLIPTextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4)
    text_encoder = CLIPTextModel(config).eval()
    save_text_encoder(text_encoder, tmp_path, dtype=torch.float32)
    loaded = CLIPTextModel.from_pretrained(tmp_path).eval()  # default arguments
    assert loaded.dtype == torch.float32
    ids = torch.tensor([[49406, 320, 1615, 49407]])
    with torch.no_grad():
        assert torch.equal(loaded(ids).last_hidden_state, text_encoder(ids).last_hidden_state)
