"""pare.prompts: the notebooks' prompts, in the offline world's own words or the slides' for real SD."""

import json

import pytest
from transformers import CLIPTokenizer

import pare

TOKENIZER = CLIPTokenizer.from_pretrained(pare.TINY_MODEL + "/tokenizer")  # the real CLIP vocabulary, SD's


def pieces(text):
    return [p.replace("</w>", "") for p in TOKENIZER.tokenize(text)]


@pytest.mark.parametrize("model", [pare.TINY_MODEL, pare.TINY_MODEL_SD1, pare.HUB_MODEL])
def test_the_prompts_fit_the_lessons(model):
    P = pare.prompts.for_model(model)
    assert P.word in pieces(P.prompt), "cross-attention looks for the word's own token"
    old, new = P.swap
    swapped = pieces(P.prompt.replace(old, new))
    differ = [i for i, (a, b) in enumerate(zip(pieces(P.prompt), swapped)) if a != b]
    assert len(swapped) == len(pieces(P.prompt)) and len(differ) == 1, "a one-word edit changes one position"
    assert old in pieces(P.other), "the other prompt shares the setting, so the edit applies to it too"
    assert len(TOKENIZER(P.long, verbose=False).input_ids) > 77 and P.long.endswith(P.other)
    assert len(set(P.grid)) == 4 and P.prompt in P.grid
    assert P.negative and P.negative != P.prompt


@pytest.mark.parametrize("model", [pare.TINY_MODEL, pare.TINY_MODEL_SD1])
def test_an_offline_model_gets_its_own_words(model):
    P = pare.prompts.for_model(model)
    world = P.world
    assert world == json.loads(open(model + "/world.json").read()) and P.size == world["image_size"]
    phrases = list(world["objects"].values())
    assert any(P.prompt == world["with_background"].format(object=o, background=P.swap[0]) for o in phrases)
    assert P.negative in phrases and P.swap[1] in world["backgrounds"]


def test_real_stable_diffusion_gets_the_slides_prompts_at_its_own_size():
    P = pare.prompts.for_model(pare.HUB_MODEL)
    assert P.prompt == "painting depicting the sea, sunrise, ship, artstation, 4k, concept art"
    assert P.size is None and P.world is None and P.word == "ship"


def test_objects_are_only_asked_for_on_backgrounds_they_were_drawn_on(tmp_path):
    world = {
        "objects": {"snowman": "a snowman", "cat": "a cat", "grapes": "grapes", "top hat": "a top hat"},
        "backgrounds": ["white", "black", "blue", "green", "pink"],
        "with_background": "{object} on a {background} background",
        "image_size": 64,
        "drawn_on": {
            "snowman": ["black", "blue", "pink"],
            "cat": ["white", "black", "green", "pink"],
            "grapes": ["white", "blue", "pink"],
            "top hat": ["white", "green", "pink"],
        },
    }
    (tmp_path / "world.json").write_text(json.dumps(world))
    P = pare.prompts.for_model(tmp_path)
    assert P.prompt == "a cat on a pink background" and P.other == "a top hat on a pink background"
    assert P.swap == ("pink", "green") and P.word == "cat" and P.negative == "a cat"
    assert P.grid == ["a cat on a pink background", "a top hat", "grapes on a pink background", "a snowman"]
