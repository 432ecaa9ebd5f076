"""The shipped offline models show what Stable Diffusion shows, at the goals their model card sets
(pare/models/README.md, "What they show"): quick versions of `make eval-offline`
(tools/eval_offline.py), which measures the same on more pictures. Each test asserts its goal; a
goal a model misses today is an xfail that gives the measured number, so that meeting it shows.
The behaviour tests draw hundreds of pictures: they are marked slow, and `make test-fast` skips them."""

import json
import sys
from pathlib import Path

import pytest

import pare

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import eval_offline as ev  # noqa: E402

MODELS = {"tiny-sd2": pare.TINY_MODEL, "tiny-sd1": pare.TINY_MODEL_SD1, "tiny-flow": pare.TINY_MODEL_FLOW}


@pytest.fixture(scope="module", params=list(MODELS))
def pipe(request):
    return pare.Pipeline.from_pretrained(MODELS[request.param], progress=False)


@pytest.fixture(scope="module")
def guided(pipe):
    """Goal 1's pictures at guidance 5, which goal 2 compares with guidance 1: one seed per object
    (32 pictures), and each object asked for 2 of its backgrounds (64 pictures)."""
    return ev.fidelity(pipe, seeds=1)


@pytest.mark.slow
def test_draws_the_named_object_and_background(guided):
    """Goal 1: the named object in >= 80% of pictures, the named background in >= 95%. Here on 32
    and 64 pictures, where the eval draws 128 and 256: one picture more or less moves the share by
    3.1 and 1.6 points, so a model at 82% or 96% in the eval may miss here by a picture or two."""
    worst = sorted(guided["per_object"].items(), key=lambda kv: kv[1])[:5]
    assert guided["object"] >= 0.80, (guided["object"], worst)
    assert guided["background"] >= 0.95, (guided["background"], guided["per_background"])


@pytest.mark.slow
def test_guidance_makes_the_picture_follow_the_prompt(pipe, guided):
    """Goal 2, "clearly below" at guidance 1 in the card's table; its list of what is met says what
    that means: at guidance 1 each model draws the named object less often than at 5 (the eval, 128
    pictures each: 92.2% against 98.4%, 71.1% against 89.1%, 92.2% against 97.7%). Here both scales
    start from the same 32 seeds, so the difference is guidance's and not the seeds'. One picture is
    3.1 points (tiny-flow's gap here is one picture: 31 against 30); the gap's size is the eval's."""
    at_1 = ev.fidelity(pipe, seeds=1, guidance=1.0, backgrounds=False)["object"]
    assert guided["object"] > at_1, (guided["object"], at_1)


@pytest.mark.slow
def test_noise_decodes_as_noise(pipe):
    """Goal 3, as the card states it: decoded x_t (t = 500) has several times the fine detail of the
    clean picture (at least twice), as SD's decoder draws noise as noise. The eval's 8 pictures."""
    assert ev.noise_as_noise(pipe)["detail_ratio"] >= 2


@pytest.mark.slow
def test_image_to_image_keeps_the_start_at_low_strength(pipe):
    """Goal 4: at strength 0.2 the result is nearer the start picture than to what the prompt alone
    draws, and it leaves the start as the strength grows. The eval's 4 pairs x 5 strengths."""
    r = ev.image_to_image(pipe)
    assert r["to_start"][0] < r["to_prompt_alone"][0], r
    assert all(a < b for a, b in zip(r["to_start"], r["to_start"][1:])), r["to_start"]


# Goal 5 on one seed per object (32 pictures; the eval: 2 seeds, 64). Measured here / in the eval.
# tiny-sd1 is far from 2x, so its test must fail (strict); the others are near enough that a
# retrained model may reach it, and an XPASS then says so.
ATTENTION_MISSED = {
    "tiny-sd2": ("1.81x here, 1.85x in the eval", False),
    "tiny-sd1": ("1.45x here, 1.44x in the eval", True),
    "tiny-flow": ("1.89x here, 1.89x in the eval", False),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "pipe",
    [
        pytest.param(name, marks=pytest.mark.xfail(reason=f"short of 2x: {measured}", strict=strict))
        for name, (measured, strict) in ATTENTION_MISSED.items()
    ],
    indirect=True,
)
def test_object_word_attends_to_the_object(pipe):
    """Goal 5: the object word's attention is at least twice as high inside the drawn object as
    outside it (1 would be no preference)."""
    assert ev.cross_attention(pipe, seeds=1)["inside_over_outside"] >= 2


# Notebook 03's sweep, ratios 0.5 to 3 in steps of 0.25, and the total angle DDIM turns through in
# 25 steps of SD's schedule (notebook 03, section 7; the card's row 6).
SWEEP = [0.5 + 0.25 * i for i in range(11)]
TOTAL_ANGLE = 1.4562


@pytest.mark.slow
def test_naive_loop_is_closest_to_ddim_near_the_total_angle():
    """Goal 6, the card's claim: on the v-model the naive loop `x -= r/N * v` ends nearly as close
    to DDIM at the total angle as at the sweep's closest ratio, and clearly farther at 0.75 and 2.5
    (the card: 0.240 at the angle, 0.215 at 1.25, 0.550 and 0.964). Neither the card nor notebook
    03 puts a number on "nearly": here it is less than a quarter farther than the closest, and
    "clearly farther" is outside that quarter. Which ratio of that valley is closest belongs to the
    model (notebook 03, sections 9-10). On the eval's 4 prompts and seeds, where the angle is 1.11x
    as far as the closest; on 8 and 16 prompts it was 1.17x and 1.10x, the closest 1.0 and 1.25."""
    pipe = pare.Pipeline.from_pretrained(pare.TINY_MODEL, progress=False)
    r = ev.naive_loop(pipe, ratios=(*SWEEP, TOTAL_ANGLE))
    assert abs(r["total_angle"] - TOTAL_ANGLE) < 1e-4, r["total_angle"]
    nearly = 1.25 * min(r["distance"].values())
    assert r["distance"][TOTAL_ANGLE] <= nearly, r["distance"]
    assert r["distance"][0.75] > nearly and r["distance"][2.5] > nearly, r["distance"]


@pytest.mark.parametrize("name", list(MODELS))
def test_small_enough_to_ship(name):
    size = sum(f.stat().st_size for f in Path(MODELS[name]).rglob("*") if f.is_file())
    assert size <= 20 * 2**20, f"{name} is {size / 2**20:.1f} MiB"


@pytest.mark.parametrize("name", list(MODELS))
def test_knows_its_world(name):
    """world.json lists what the model can draw: the notebooks take their prompts from it."""
    known = json.loads((Path(MODELS[name]) / "world.json").read_text())
    vae = json.loads((Path(MODELS[name]) / "vae" / "config.json").read_text())
    assert list(known["objects"]) == ev.world.NAMES and known["backgrounds"] == list(ev.world.BACKGROUNDS)
    assert known["image_size"] == vae["sample_size"] == 64
