"""pare.show, the notebooks' pictures: the sizes they promise, every frame, and the labels drawn."""

import base64
import io
import re

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from pare import show

matplotlib.use("Agg")  # draw into memory: no window, and `plt.show()` shows nothing
import matplotlib.pyplot as plt  # noqa: E402


def tile(colour, size=64):
    return Image.new("RGB", (size, size), colour)


def checkerboard(size=64):
    """A picture whose every pixel differs from its right and lower neighbours: enlarging it
    smoothly would mix them, enlarging it crisply keeps each one as a block."""
    x = (np.indices((size, size)).sum(0) % 2 * 255).astype(np.uint8)
    return Image.fromarray(np.stack([x, 255 - x, x], -1))


def test_enlarge_blows_a_small_picture_up_by_whole_steps_and_keeps_it_crisp():
    small = checkerboard(64)
    big = show.enlarge(small, 256)
    assert big.size == (256, 256)
    assert np.array_equal(np.asarray(big)[::4, ::4], np.asarray(small))  # each pixel a 4x4 block of itself
    assert show.enlarge(tile("red", 100), 256).size == (200, 200)  # whole steps only: 2x, not 2.56x
    assert show.enlarge(small, 64).size == (64, 64)


def test_enlarge_shrinks_a_large_picture_keeping_its_shape():
    assert show.enlarge(Image.new("RGB", (768, 512)), 256).size == (256, 170)


def test_grid_lays_tiles_out_at_their_size_and_gap():
    out = show.grid([tile("red"), tile("green"), tile("blue")], size=128, gap=6)
    assert out.size == (3 * 128 + 2 * 6, 128)
    pixels = np.asarray(out)
    assert tuple(pixels[64, 64]) == (255, 0, 0) and tuple(pixels[64, 134 + 64]) == (0, 128, 0)
    assert tuple(pixels[64, 130]) == (235, 235, 235)  # the gap between tiles
    two_rows = show.grid([tile("red")] * 4, cols=2, size=128, gap=6)
    assert two_rows.size == (2 * 128 + 6, 2 * 128 + 6)


def ink_below_tiles(picture, tile_height):
    """Dark pixels under the tiles: label text (the background there is light grey)."""
    return int((np.asarray(picture.convert("L"))[tile_height:] < 100).sum())


def test_grid_draws_its_labels_under_the_tiles():
    images = [tile("white"), tile("white")]
    plain = show.grid(images, size=128)
    labelled = show.grid(images, ["t=961", "predicted x0"], size=128)
    assert labelled.width == plain.width and labelled.height > plain.height
    assert ink_below_tiles(plain, 128) == 0 and ink_below_tiles(labelled, 128) > 50
    ink_left, ink_right = (ink_below_tiles(labelled.crop((x, 0, x + 128, labelled.height)), 128) for x in (0, 134))
    assert ink_left > 0 and ink_right > 0  # each tile has its own label


def test_grid_wraps_a_long_label_instead_of_cutting_it():
    short = show.grid([tile("white")], ["a cat"], size=128)
    long = show.grid([tile("white")], ["a cat on a pink background, seed 0, guidance 7.5, 25 steps"], size=128)
    assert long.width == short.width == 128 and long.height > short.height


def test_to_image_stretches_values_to_grey_levels():
    x = torch.tensor([[-3.0, 0.0], [3.0, 6.0]])
    assert np.array_equal(np.asarray(show.to_image(x)), [[0, 85], [170, 255]])  # its own range
    assert np.array_equal(np.asarray(show.to_image(x, -3, 3)), [[0, 127], [255, 255]])  # clipped to [lo, hi]


def test_scrub_moves_through_every_frame():
    frames = [tile((10 * i, 0, 0)) for i in range(24)]
    box = show.scrub(frames, [f"step {i}" for i in range(24)], size=128)
    (bar, label), picture = box.children[0].children, box.children[1]
    assert (bar.min, bar.max, label.value) == (0, 23, "step 0")
    first = Image.open(io.BytesIO(picture.value))
    assert first.size == (128, 128) and first.getpixel((0, 0)) == (0, 0, 0)
    bar.value = 17
    assert label.value == "step 17" and Image.open(io.BytesIO(picture.value)).getpixel((0, 0)) == (170, 0, 0)


@pytest.fixture
def figures(monkeypatch):
    """The figures a helper hands to `plt.show()`, closed afterwards."""
    drawn = []
    monkeypatch.setattr(plt, "show", lambda: drawn.append(plt.gcf()))
    yield drawn
    plt.close("all")


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_pipeline_loop_map_draws_the_four_calls_the_loop_and_what_they_hand_on(figures):
    embeddings, latents = torch.zeros(2, 77, 32), torch.zeros(1, 4, 16, 16)
    show.pipeline_loop_map("a cat", 42, [961, 921, 1], embeddings, latents, tile("white"), scheduler="DDIM")
    (figure,) = figures
    (ax,) = figure.axes
    words = "\n".join(texts(ax))
    for call in ["1. encode_prompt", "2. get_latent", "3. denoise: 3 steps, t = 961, 921, ... 1", "4. vae_decode"]:
        assert call in words
    for handed_on in ["'a cat'", "seed 42", "[2, 77, 32]", "x_T [1, 4, 16, 16]", "x_t twice\n[2, 4, 16, 16]"]:
        assert handed_on in words
    assert "u + 7.5 (c - u)" in words and "DDIM: one step" in words and "(t - 40)" in words
    assert len([c for c in ax.get_children() if type(c).__name__ == "Annotation"]) == 10  # the arrows


def test_unet_u_draws_a_box_per_block_and_an_arc_per_skip():
    # (name, input shape, output shape, skips) as notebook 04's hooks record them: a 2-level U
    rows = [
        ("conv_in", [1, 4, 16, 16], [1, 32, 16, 16], None),
        ("down_blocks.0", [1, 32, 16, 16], [1, 32, 8, 8], [16, 16, 8]),
        ("down_blocks.1", [1, 32, 8, 8], [1, 64, 8, 8], [16, 16, 8, 8]),
        ("mid_block", [1, 64, 8, 8], [1, 64, 8, 8], None),
        ("up_blocks.0", [1, 64, 8, 8], [1, 64, 16, 16], [16, 16]),
        ("up_blocks.1", [1, 64, 16, 16], [1, 32, 16, 16], []),
        ("conv_out", [1, 32, 16, 16], [1, 4, 16, 16], None),
    ]
    links = {
        ("down_blocks.0", "up_blocks.0", 8): 1,
        ("down_blocks.1", "up_blocks.0", 8): 1,
        ("conv_in", "up_blocks.1", 16): 1,
    }
    ax = plt.subplots()[1]
    try:
        show.unet_u_in_out(rows, links, ax, "a small U")
        assert ax.get_title() == "a small U" and len(ax.patches) == len(rows)
        words = texts(ax)
        for label in ["4@16\n→ 32@16", "32@16\n→ 32@8", "64@8\n→ 64@16", "down 0", "mid", "up 1", "conv_out"]:
            assert label in words
        assert words.count("1 map") == len(links)  # one arc per skip, with how many maps it carries
        assert [t.get_text() for t in ax.get_yticklabels()] == ["8x8", "16x16"]  # the sizes the U works at
    finally:
        plt.close("all")


def gif_bytes(shown):
    """The GIF file a notebook gets from what `gif` returns: an <img> holding it as a data: URI in
    the HTML output, or else an image/gif output."""
    from IPython.core.formatters import format_display_data

    data = format_display_data(shown)[0]
    uri = re.search(r'src="data:image/gif;base64,([^"]+)"', data.get("text/html", ""))
    if uri:
        return base64.b64decode(uri.group(1))
    assert "image/gif" in data, f"no GIF among the outputs {sorted(data)}"
    gif = data["image/gif"]
    return gif if isinstance(gif, bytes) else base64.b64decode(gif)


def test_gif_has_every_frame_at_its_size_and_holds_the_last():
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 0, 0)]  # no two frames alike
    picture = Image.open(io.BytesIO(gif_bytes(show.gif([tile(c) for c in colours], duration=0.3, size=128))))
    assert picture.format == "GIF" and picture.n_frames == len(colours) and picture.info.get("loop") == 0
    durations = []
    for i, colour in enumerate(colours):
        picture.seek(i)
        assert picture.size == (128, 128)  # 64 px enlarged to 128
        assert picture.convert("RGB").getpixel((64, 64)) == colour  # in order
        durations.append(picture.info["duration"])
    assert durations == [300] * (len(colours) - 1) + [1000]  # the last frame holds a second
