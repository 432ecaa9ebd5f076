"""Re-save a model folder's text encoder in the layout every transformers and diffusers reads
(`pare.train.save_text_encoder`: keys prefixed `text_model.`, config dtype float32, weights as
stored), checking that every weight comes back bit for bit.

    python tools/resave_text_encoder.py pare/models/tiny-sd2 pare/models/tiny-sd1
"""

import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import CLIPTextModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's pare
from pare.train import save_text_encoder  # noqa: E402


def resave(model_folder):
    folder = Path(model_folder) / "text_encoder"
    old = load_file(folder / "model.safetensors")
    dtype = next(iter(old.values())).dtype
    text_encoder = CLIPTextModel.from_pretrained(folder, dtype=torch.float32)  # fp16 -> fp32 is exact
    save_text_encoder(text_encoder, folder, dtype)
    new = load_file(folder / "model.safetensors")
    assert {k.removeprefix("text_model."): v for k, v in new.items()}.keys() == {
        k.removeprefix("text_model."): v for k, v in old.items()
    }.keys()
    assert all(torch.equal(v, old.get(k, old.get(k.removeprefix("text_model.")))) for k, v in new.items())
    print(f"re-saved {folder}: {len(new)} tensors in {dtype}, unchanged")


if __name__ == "__main__":
    for model in sys.argv[1:] or [
        Path(__file__).resolve().parents[1] / "pare/models" / m for m in ("tiny-sd2", "tiny-sd1")
    ]:
        resave(model)
