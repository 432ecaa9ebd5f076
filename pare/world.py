"""The offline world: named everyday objects on plain backgrounds, captioned as people would.

Each picture shows one object (an emoji from Noto Color Emoji, shipped as a sprite sheet in
pare/models/sprites.png) at a random size (55-95% of the side), place and mirroring, on one of
six plain colours; the caption names it ("a cat"), and half the time the background too
("a cat on a blue background"). score() reads the object and the background back off any
picture, knowing nothing of the models, so the evaluation can ask: did it draw the prompt?
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 64
MODELS = Path(__file__).parent / "models"
BACKGROUNDS = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "blue": (40, 90, 200),
    "green": (40, 150, 60),
    "yellow": (250, 210, 60),
    "pink": (250, 160, 200),
}
WITH_BACKGROUND = "{object} on a {background} background"


def load_sprites():
    """(names, caption phrases, RGBA tiles uint8 [n, 64, 64, 4]) from the shipped sprite sheet."""
    meta = json.loads((MODELS / "sprites.json").read_text())
    sheet = np.asarray(Image.open(MODELS / "sprites.png").convert("RGBA"))
    tiles = sheet.reshape(meta["tile"], -1, meta["tile"], 4).transpose(1, 0, 2, 3)
    return [o["name"] for o in meta["objects"]], [o["phrase"] for o in meta["objects"]], tiles


NAMES, PHRASES, SPRITES = load_sprites()


def allowed_backgrounds(sprite):
    """The backgrounds an object is drawn on: not those that would hide it (a sheep on white,
    a top hat on black), that is where over 35% of its pixels are within 80 of the colour."""
    rgb = sprite[..., :3][sprite[..., 3] > 128].astype(np.float32)
    return [b for b, c in BACKGROUNDS.items() if np.mean(np.linalg.norm(rgb - c, axis=1) < 80) < 0.35]


ALLOWED = [allowed_backgrounds(s) for s in SPRITES]


def world():
    """What a model trained on this world knows, as written to its folder's world.json."""
    return {
        "data": "pare.world",
        "objects": dict(zip(NAMES, PHRASES)),
        "backgrounds": list(BACKGROUNDS),
        "with_background": WITH_BACKGROUND,
        "image_size": SIZE,
        "drawn_on": dict(zip(NAMES, ALLOWED)),
    }


def draw(obj, background, size, x, y, mirror=False):
    """One picture: object number `obj`, `size` pixels wide with its top-left corner at (x, y);
    uint8 [64, 64, 3] and the object's coverage (alpha in [0, 1]) [64, 64]."""
    tile = Image.fromarray(SPRITES[obj]).resize((size, size), Image.LANCZOS)
    tile = tile.transpose(Image.FLIP_LEFT_RIGHT) if mirror else tile
    picture = Image.new("RGBA", (SIZE, SIZE), BACKGROUNDS[background] + (255,))
    picture.alpha_composite(tile, (x, y))
    cover = np.zeros((SIZE, SIZE), np.float32)
    cover[y : y + size, x : x + size] = np.asarray(tile)[..., 3] / 255
    return np.asarray(picture.convert("RGB")), cover


def make_dataset(n, seed=0):
    """n pictures uint8 [n, 64, 64, 3], their captions, and each object's coverage [n, 64, 64]
    (training weighs the object's pixels up); same seed, same data."""
    rng = np.random.default_rng(seed)
    images, covers, captions = np.empty((n, SIZE, SIZE, 3), np.uint8), np.empty((n, SIZE, SIZE), np.float16), []
    for i in range(n):
        obj = int(rng.integers(len(NAMES)))
        background = ALLOWED[obj][rng.integers(len(ALLOWED[obj]))]
        size = int(rng.integers(int(0.55 * SIZE), int(0.95 * SIZE) + 1))
        x, y = rng.integers(0, SIZE - size + 1, 2)
        images[i], covers[i] = draw(obj, background, size, int(x), int(y), rng.random() < 0.5)
        captions.append(
            WITH_BACKGROUND.format(object=PHRASES[obj], background=background) if rng.random() < 0.5 else PHRASES[obj]
        )
    return images, captions, covers


def parse_caption(text):
    """Inverse of the captions: (object name or None, background name or None)."""
    obj = next((n for n, p in sorted(zip(NAMES, PHRASES), key=lambda np_: -len(np_[1])) if p in text), None)
    background = next((b for b in BACKGROUNDS if f"{b} background" in text), None)
    return obj, background


def _square(rgb, alpha, side=24):
    """Crop to the object's bounding box, centre it on a square, shrink: the view score() compares."""
    ys, xs = np.nonzero(alpha > 0.5)
    if len(ys) == 0:
        return None
    rgb, alpha = (
        rgb[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1],
        alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1],
    )
    (h, w), s = alpha.shape, max(alpha.shape)
    out = np.zeros((s, s, 4), np.float32)
    out[(s - h) // 2 : (s - h) // 2 + h, (s - w) // 2 : (s - w) // 2 + w] = np.dstack([rgb, alpha * 255])
    return np.asarray(Image.fromarray(out.astype(np.uint8)).resize((side, side), Image.BILINEAR), np.float32) / 255


_TEMPLATES = np.stack([_square(s[..., :3], s[..., 3] / 255) for s in SPRITES])
_TEMPLATES = np.concatenate([_TEMPLATES, _TEMPLATES[:, :, ::-1]])  # and mirrored


def as_array(image):
    """A PIL image or an array -> float32 [H, W, 3], pixels 0-255."""
    return np.asarray(image.convert("RGB") if hasattr(image, "convert") else image, np.float32)


def border_colour(img):
    """The colour most of the picture's border has (its median): on this world's pictures, the background."""
    return np.median(np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]), axis=0)


def object_mask(image, threshold=60):
    """Where the object is: 1 for every pixel farther than `threshold` (of 255, RGB distance) from
    the border's colour, else 0; float32 [H, W]. score() reads the object off these pixels."""
    img = as_array(image)
    return (np.linalg.norm(img - border_colour(img), axis=-1) > threshold).astype(np.float32)


def score(image, threshold=60, min_pixels=40):
    """Read (object name, background name) off a picture (uint8 array or PIL image).

    The background is the colour most of the border has; the object is every pixel far from
    it, and its name the nearest sprite (either way round) laid on that background, compared
    in a 24x24 view of the object's bounding box. The object is None when nothing stands out."""
    img = as_array(image)
    bg = border_colour(img)
    background = min(BACKGROUNDS, key=lambda b: np.sum((bg - BACKGROUNDS[b]) ** 2))
    mask = object_mask(img, threshold)
    if mask.sum() < min_pixels:
        return None, background
    view = _square(img, mask)
    on_bg = lambda v: v[..., :3] * v[..., 3:] + bg / 255 * (1 - v[..., 3:])  # noqa: E731  (RGBA laid on the background)
    error = ((on_bg(_TEMPLATES) - on_bg(view)) ** 2).mean(axis=(1, 2, 3))
    return NAMES[int(error.argmin()) % len(NAMES)], background
