"""The offline world: its data set, its captions, and the scorer the evaluation trusts."""

import json

import numpy as np
import pytest
from PIL import Image

from pare import world


def test_sprites_ship_with_the_package():
    assert len(world.NAMES) >= 32 and len(set(world.NAMES)) == len(world.NAMES)
    assert world.SPRITES.shape == (len(world.NAMES), 64, 64, 4)
    for sprite, allowed in zip(world.SPRITES, world.ALLOWED):
        assert sprite[..., 3].max() == 255 and sprite[..., 3].min() == 0  # opaque art on a transparent tile
        assert len(allowed) >= 3


def test_dataset_is_seeded_and_captioned():
    images, captions, covers = world.make_dataset(300, seed=7)
    again, again_captions, _ = world.make_dataset(300, seed=7)
    assert images.shape == (300, 64, 64, 3) and images.dtype == np.uint8 and covers.shape == (300, 64, 64)
    assert np.array_equal(images, again) and captions == again_captions
    assert not np.array_equal(images, world.make_dataset(300, seed=8)[0])
    parsed = [world.parse_caption(c) for c in captions]
    assert all(obj in world.NAMES for obj, _ in parsed)
    named = [bg for _, bg in parsed if bg]
    assert 0.35 < len(named) / len(parsed) < 0.65 and set(named) <= set(world.BACKGROUNDS)
    # The object covers 55-95% of the side, so 10-90% of the picture, give or take its shape.
    assert 0.02 < covers.astype(float).mean(axis=(1, 2)).min() and covers.astype(float).mean(axis=(1, 2)).max() < 0.9


def test_objects_are_never_hidden_by_their_background():
    sheep = world.NAMES.index("sheep")
    assert "white" not in world.ALLOWED[sheep]
    _, captions, _ = world.make_dataset(2000, seed=3)
    for c in captions:
        obj, bg = world.parse_caption(c)
        assert bg is None or bg in world.ALLOWED[world.NAMES.index(obj)], c


def test_parse_caption():
    assert world.parse_caption("an evergreen tree on a pink background") == ("evergreen tree", "pink")
    assert world.parse_caption("pancakes") == ("pancakes", None)
    assert world.parse_caption("a top hat") == ("top hat", None)
    assert world.parse_caption("a dog") == (None, None)


def test_score_reads_the_data_back():
    images, captions, _ = world.make_dataset(400, seed=11)
    read = [world.score(Image.fromarray(i) if k % 2 else i) for k, i in enumerate(images)]
    want = [world.parse_caption(c) for c in captions]
    assert np.mean([r[0] == w[0] for r, w in zip(read, want)]) >= 0.98
    assert all(r[1] == w[1] for r, w in zip(read, want) if w[1])


def test_score_tolerates_blur_and_noise():
    """Generated pictures are softer and noisier than the data: the scorer must still read them."""
    images, captions, _ = world.make_dataset(200, seed=12)
    rng = np.random.default_rng(0)
    soft = [
        np.asarray(Image.fromarray(i).resize((32, 32), Image.BILINEAR).resize((64, 64), Image.BILINEAR), np.float32)
        for i in images
    ]
    noisy = [np.clip(s + rng.normal(0, 12, s.shape), 0, 255).astype(np.uint8) for s in soft]
    hits = [world.score(n)[0] == world.parse_caption(c)[0] for n, c in zip(noisy, captions)]
    assert np.mean(hits) >= 0.9, np.mean(hits)


@pytest.mark.parametrize("background", list(world.BACKGROUNDS))
def test_score_on_a_blank_picture(background):
    blank = np.full((64, 64, 3), world.BACKGROUNDS[background], np.uint8)
    assert world.score(blank) == (None, background)


def test_world_json_lists_what_a_model_knows():
    known = json.loads(json.dumps(world.world()))
    assert list(known["objects"]) == world.NAMES and known["objects"]["pancakes"] == "pancakes"
    assert known["backgrounds"] == list(world.BACKGROUNDS) and known["image_size"] == 64
    assert known["with_background"].format(object="a cat", background="blue") == "a cat on a blue background"
