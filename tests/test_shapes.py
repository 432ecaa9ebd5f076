"""The synthetic shapes data set and its automatic scorer."""

import numpy as np
import pytest
from PIL import Image

from pare import shapes


def add_noise(img, rng, sigma=10.0):
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def box_blur(img):
    """3x3 mean filter, edges padded by repetition."""
    p = np.pad(img.astype(np.float32), ((1, 1), (1, 1), (0, 0)), mode="edge")
    out = sum(p[i:i + 64, j:j + 64] for i in range(3) for j in range(3)) / 9
    return np.rint(out).astype(np.uint8)


@pytest.fixture(scope="module")
def data():
    n, seed = 500, 1234
    images, captions = shapes.make_dataset(n, seed)
    params = shapes.sample_params(n, np.random.default_rng(seed))
    return images, captions, params


def test_dataset_layout_and_determinism(data):
    images, captions, _ = data
    assert images.shape == (500, 64, 64, 3) and images.dtype == np.uint8
    assert len(captions) == 500
    again, again_captions = shapes.make_dataset(500, 1234)
    assert np.array_equal(images, again) and captions == again_captions
    other, _ = shapes.make_dataset(500, 1235)
    assert not np.array_equal(images, other)


def test_captions_match_drawn_attributes(data):
    images, captions, (colours, kinds, backgrounds, cx, cy, size) = data
    named = 0
    for i, text in enumerate(captions):
        colour, shape, background = shapes.parse_caption(text)
        assert (colour, shape) == (colours[i], kinds[i])
        assert background in (None, backgrounds[i])
        named += background is not None
        assert text == (f"a {colour} {shape}" if background is None
                        else f"a {colour} {shape} on a {background} background")
        # the batched renderer draws exactly what draw() draws
        assert np.array_equal(images[i], shapes.draw(colours[i], kinds[i], backgrounds[i],
                                                     cx[i], cy[i], size[i]))
    assert 0.2 < named / len(captions) < 0.4                 # ~30% name the background


def test_attributes_are_balanced_and_inside(data):
    images, _, (colours, kinds, backgrounds, cx, cy, size) = data
    assert set(colours) == set(shapes.COLOURS) and set(kinds) == set(shapes.SHAPES)
    assert 0.4 < np.mean(backgrounds == "white") < 0.6
    assert size.min() >= 0.3 * 64 and size.max() <= 0.7 * 64
    # The whole shape is inside: the outermost ring of pixels is pure background.
    for img, bg in zip(images, backgrounds):
        ring = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
        assert (ring == shapes.BACKGROUNDS[bg]).all()


def test_draw_areas():
    # 20-pixel shapes centred on a pixel corner: areas 400, 100*pi and 200.
    for shape, area in [("square", 400), ("circle", 100 * np.pi), ("triangle", 200)]:
        img = shapes.draw("blue", shape, "black", 32, 32, 20)
        coverage = img[..., 2].astype(float).sum() / shapes.COLOURS["blue"][2]
        assert coverage == pytest.approx(area, rel=0.02), shape


@pytest.mark.parametrize("corrupt", ["clean", "noise", "blur", "blur+noise"])
def test_score_recovers_attributes(data, corrupt):
    images, _, (colours, kinds, backgrounds, *_) = data
    rng = np.random.default_rng(0)
    fix = {"clean": lambda x: x,
           "noise": lambda x: add_noise(x, rng),
           "blur": box_blur,
           "blur+noise": lambda x: add_noise(box_blur(x), rng)}[corrupt]
    hits = [shapes.score(fix(img)) == (c, s, b)
            for img, c, s, b in zip(images, colours, kinds, backgrounds)]
    assert np.mean(hits) >= 0.99, f"{corrupt}: {np.mean(hits):.3f}"


def test_score_empty_image_and_pil_input():
    for name, rgb in shapes.BACKGROUNDS.items():
        blank = np.full((64, 64, 3), rgb, np.uint8)
        assert shapes.score(blank) == (None, None, name)
    img = shapes.draw("yellow", "triangle", "white", 30, 34, 40)
    assert shapes.score(Image.fromarray(img)) == ("yellow", "triangle", "white")
