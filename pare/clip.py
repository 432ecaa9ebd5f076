"""The prompt encoder: CLIP's tokenizer and text transformer (Radford et al. 2021), from
transformers. The tokenizer cuts the prompt into byte-pair pieces and maps each to an id,
adds a start and an end token and pads to 77; the text encoder turns the 77 ids into 77
vectors, each aware of the whole prompt. Those vectors are what the UNet attends to.
"""

import warnings

import torch
import transformers
from safetensors import SafetensorError
from transformers import CLIPTextModel, CLIPTokenizer
from transformers.utils import logging as hf_logging

from .loading import resolve, weights_file

# transformers < 4.56 calls from_pretrained's dtype `torch_dtype` (and fails on `dtype=`); later
# versions warn at `torch_dtype`. pyproject.toml's floor is tested in CI.
DTYPE = "dtype" if tuple(map(int, transformers.__version__.split(".")[:2])) >= (4, 56) else "torch_dtype"


class CLIP:
    def __init__(self, tokenizer: CLIPTokenizer, text_encoder: CLIPTextModel):
        self.tokenizer, self.text_encoder = tokenizer, text_encoder

    @classmethod
    def from_pretrained(cls, model, subfolder: str | None = None, dtype=torch.float32) -> "CLIP":
        """`model/subfolder`'s tokenizer/ and text_encoder/ (a folder or a Hub repo id)."""
        folder = resolve(str(model), ["tokenizer", "text_encoder"], fp16=dtype == torch.float16) / (subfolder or "")
        tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
        weights = weights_file(folder / "text_encoder", dtype)
        variant = "fp16" if weights.name.endswith(".fp16.safetensors") else None
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a bar for loading 36 tensors is noise in a notebook
        try:
            text_encoder, info = CLIPTextModel.from_pretrained(
                folder / "text_encoder", **{DTYPE: dtype}, variant=variant, output_loading_info=True
            )
        except (OSError, ValueError, RuntimeError, SafetensorError) as e:
            raise ValueError(
                f"Could not load the text encoder's weights {weights}: {e}. The file may "
                "be truncated: delete it and download it again."
            ) from e
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        wrong = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
        if wrong:
            raise ValueError(f"Weights in {weights} do not fit text_encoder/config.json: {wrong}.")
        return cls(tokenizer, text_encoder.eval())

    @property
    def max_length(self):
        return self.tokenizer.model_max_length  # 77: CLIP was trained on at most 77 tokens

    @staticmethod
    def as_list(prompts):
        """A prompt or a list of prompts -> a list of strings, or a clear error."""
        prompts = [prompts] if isinstance(prompts, str) else prompts
        if not isinstance(prompts, (list, tuple)) or not all(isinstance(p, str) for p in prompts):
            raise TypeError(f"A prompt must be a string or a list of strings, got {prompts!r}.")
        return list(prompts)

    def tokenize(self, prompts):
        """A list of prompts -> token ids [B, 77]: <start>, the pieces, <end>, then padding
        (<end> again for SD 1, '!' for SD 2). Longer prompts are cut, with a warning."""
        prompts = self.as_list(prompts)
        ids = self.tokenizer(
            prompts, padding="max_length", max_length=self.max_length, truncation=True, return_tensors="pt"
        ).input_ids
        for prompt in prompts:
            # Untruncated, to say what was cut; verbose=False: no alarm of transformers' own about its length.
            every = self.tokenizer(prompt, add_special_tokens=False, verbose=False).input_ids
            if len(every) > self.max_length - 2:
                cut = self.tokenizer.decode(every[self.max_length - 2 :])
                warnings.warn(
                    f"The prompt is longer than CLIP's {self.max_length} tokens; this part was cut "
                    f"off and is ignored: {cut!r}",
                    stacklevel=2,
                )
        return ids

    @torch.no_grad()
    def __call__(self, prompts):
        """Prompts -> embeddings [B, 77, D] (D = 768 for SD 1, 1024 for SD 2)."""
        ids = self.tokenize(prompts).to(self.text_encoder.device)
        return self.text_encoder(ids).last_hidden_state
