"""A synthetic captioned data set: one coloured shape on a plain background.

Small enough to train a tiny Stable Diffusion on a CPU, and easy to check:
score() reads colour, shape and background back off any 64x64 image, so we
can measure how often a generated picture obeys its prompt.
"""

import numpy as np

SIZE = 64
COLOURS = {"red": (220, 30, 30), "green": (30, 170, 50),
           "blue": (30, 60, 220), "yellow": (235, 205, 30)}
SHAPES = ("circle", "square", "triangle")
BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0)}


def _distance(shape, u, v, h):
    """Signed distance (pixels, < 0 inside) from offsets (u, v) off the centre
    to a shape whose bounding box is a square of half-side h."""
    if shape == "circle":
        return np.sqrt(u * u + v * v) - h
    if shape == "square":                       # sides level with the image
        return np.maximum(np.abs(u), np.abs(v)) - h
    # Upright triangle: apex at (0, -h), base from (-h, h) to (h, h). The two
    # slanted sides are v = 2|u| - h; dividing by sqrt(5) turns that into a
    # distance. Clipping to the bounding box keeps the corners from bleeding out.
    slant = (2 * np.abs(u) - v - h) / np.sqrt(5.0)
    return np.maximum(slant, np.maximum(np.abs(u), np.abs(v)) - h)


def _render(colours, shapes, backgrounds, cx, cy, size):
    """Draw a batch: arguments are length-n sequences; returns uint8 [n, 64, 64, 3]."""
    cx, cy, h = (np.asarray(a, np.float32)[:, None, None] for a in (cx, cy, np.divide(size, 2)))
    centres = np.arange(SIZE, dtype=np.float32) + 0.5     # pixel centres
    u = centres[None, None, :] - cx                       # [n, 1, 64]
    v = centres[None, :, None] - cy                       # [n, 64, 1]
    dist = np.empty((len(cx), SIZE, SIZE), np.float32)
    shapes = np.asarray(shapes)
    for shape in SHAPES:                                  # one vectorised pass per shape
        k = shapes == shape
        dist[k] = _distance(shape, u[k], v[k], h[k])
    # Anti-aliasing for free: a pixel whose centre lies d pixels outside an edge
    # is covered about 0.5 - d of the way, so edges come out smooth, not jagged.
    alpha = np.clip(0.5 - dist, 0.0, 1.0)[..., None]
    fg = np.array([COLOURS[c] for c in colours], np.float32)[:, None, None]
    bg = np.array([BACKGROUNDS[b] for b in backgrounds], np.float32)[:, None, None]
    return np.rint(bg + alpha * (fg - bg)).astype(np.uint8)


def draw(colour, shape, background, cx, cy, size):
    """One image: a `size`-pixel-wide shape centred on (cx, cy); uint8 [64, 64, 3]."""
    return _render([colour], [shape], [background], [cx], [cy], [size])[0]


def caption(colour, shape, background, rng):
    """'a red circle'; about 30% of the time the background is named too."""
    text = f"a {colour} {shape}"
    return text + f" on a {background} background" if rng.random() < 0.3 else text


def parse_caption(text):
    """Inverse of caption(): (colour, shape, background or None if not named)."""
    words = text.lower().split()
    pick = lambda names: next((w for w in words if w in names), None)
    return pick(COLOURS), pick(SHAPES), pick(BACKGROUNDS)


def sample_params(n, rng):
    """Random attributes for n images: the shape spans 30-70% of the image width
    and sits fully inside it, with at least a pixel to spare."""
    colours = rng.choice(list(COLOURS), n)
    shapes = rng.choice(SHAPES, n)
    backgrounds = rng.choice(list(BACKGROUNDS), n)
    size = rng.uniform(0.3 * SIZE, 0.7 * SIZE, n)
    lo, hi = size / 2 + 1, SIZE - size / 2 - 1
    cx, cy = rng.uniform(lo, hi), rng.uniform(lo, hi)
    return colours, shapes, backgrounds, cx, cy, size


def make_dataset(n, seed=0, chunk=2048):
    """n images (uint8 numpy array [n, 64, 64, 3]) and their captions; same seed, same data."""
    rng = np.random.default_rng(seed)
    params = sample_params(n, rng)
    captions = [caption(c, s, b, rng) for c, s, b in zip(*params[:3])]
    images = np.empty((n, SIZE, SIZE, 3), np.uint8)
    for i in range(0, n, chunk):                          # chunks keep float temporaries small
        images[i:i + chunk] = _render(*(p[i:i + chunk] for p in params))
    return images, captions


def score(image, min_pixels=10):
    """Read (colour, shape, background) off an RGB image (uint8 array or PIL image).

    colour and shape are None when nothing stands out from the background."""
    img = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image, np.float32)
    # Background: the shape never touches the border, so the border's pixels vote.
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    background = "white" if np.mean(border.mean(1) > 127.5) > 0.5 else "black"
    bg = np.array(BACKGROUNDS[background], np.float32)
    # Foreground: pixels far from the background colour; their median is the shape's colour.
    mask = np.linalg.norm(img - bg, axis=-1) > 80
    if mask.sum() < min_pixels:
        return None, None, background
    fg = np.median(img[mask], axis=0)
    colour = min(COLOURS, key=lambda c: np.sum((fg - COLOURS[c]) ** 2))
    # Coverage of each pixel: how far it sits on the way from background to
    # foreground colour, averaged over its 3x3 neighbourhood to calm noise.
    t = np.pad((img - bg) @ (fg - bg) / np.sum((fg - bg) ** 2), 1, mode="edge")
    t = sum(t[i:i + SIZE, j:j + SIZE] for i in range(3) for j in range(3)) / 9
    # Stretching 0.25..0.75 to 0..1 zeroes what noise is left, while edges,
    # symmetric about 0.5, still add up to the right area.
    alpha = np.clip((t - 0.25) / 0.5, 0, 1)
    # Fill ratio = area / bounding-box area, both measured sub-pixel: square ~1,
    # circle pi/4 ~0.785, triangle 0.5 (blur rounds corners: ~0.96, 0.79, 0.6).
    width, height = alpha.max(0).sum(), alpha.max(1).sum()
    fill = alpha.sum() / max(width * height, 1e-6)
    shape = "square" if fill > 0.88 else "circle" if fill > 0.68 else "triangle"
    return colour, shape, background
