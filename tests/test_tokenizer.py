"""The CLIP tokenizer folders built by tools/make_tokenizer.py load and give CLIP's ids."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # everything is local; never reach for the Hub

from pathlib import Path

import pytest
from transformers import CLIPTokenizer, CLIPTokenizerFast

MODELS = Path(__file__).resolve().parent.parent / "pare" / "models"
BOS, EOS = 49406, 49407
# flavour -> (folder, id that pads the prompt up to 77 tokens)
FLAVOURS = {
    "sd1": (MODELS / "tiny-sd1" / "tokenizer", EOS),  # pads with <|endoftext|>
    "sd2": (MODELS / "tiny-sd2" / "tokenizer", 0),
}  # pads with "!"
PROMPT = "painting depicting the sea, sunrise, ship, artstation, 4k, concept art"
PROMPT_PIECES = [
    "<|startoftext|>",
    "painting</w>",
    "depicting</w>",
    "the</w>",
    "sea</w>",
    ",</w>",
    "sunrise</w>",
    ",</w>",
    "ship</w>",
    ",</w>",
    "art",
    "station</w>",
    ",</w>",
    "4</w>",
    "k</w>",
    ",</w>",
    "concept</w>",
    "art</w>",
    "<|endoftext|>",
]
PROMPT_IDS = [BOS, 3086, 24970, 518, 2102, 267, 5610, 267, 1158, 267, 1486, 2631, 267, 275, 330, 267, 6353, 794, EOS]


@pytest.fixture(
    params=[(f, cls) for f in FLAVOURS for cls in (CLIPTokenizer, CLIPTokenizerFast)],
    ids=lambda p: f"{p[0]}-{p[1].__name__}",
)
def tok(request):
    flavour, cls = request.param
    folder, pad_id = FLAVOURS[flavour]
    # Always load from the folder: in transformers 5, CLIPTokenizer(vocab_file=..., merges_file=...)
    # silently ignores the files and builds a 3-token vocabulary.
    return cls.from_pretrained(folder), pad_id


def test_vocab_and_specials(tok):
    t, pad_id = tok
    assert len(t) == 49408
    assert t.model_max_length == 77
    assert (t.bos_token_id, t.eos_token_id, t.pad_token_id) == (BOS, EOS, pad_id)


def test_short_prompt_padded_to_77(tok):
    t, pad_id = tok
    ids = t("a red circle", padding="max_length", truncation=True).input_ids
    assert len(ids) == 77
    assert ids[:5] == [BOS, 320, 736, 7117, EOS]  # a, red, circle
    assert ids[5:] == [pad_id] * 72


def test_lower_cases_and_squashes_whitespace(tok):
    t, _ = tok
    assert t("A  Red\tCIRCLE").input_ids == [BOS, 320, 736, 7117, EOS]


def test_real_prompt_pieces(tok):
    t, _ = tok
    ids = t(PROMPT).input_ids
    assert t.convert_ids_to_tokens(ids) == PROMPT_PIECES
    assert ids == PROMPT_IDS


def test_long_prompt_truncates_to_77(tok):
    t, _ = tok
    ids = t(" ".join(["red"] * 100), padding="max_length", truncation=True).input_ids
    assert len(ids) == 77
    assert ids[0] == BOS and ids[-1] == EOS
    assert ids[1:-1] == [736] * 75
