"""Pictures for the notebooks: grids, GIFs and a slider, so no notebook copies display code."""
import io

import numpy as np
from PIL import Image, ImageDraw


def enlarge(image, size=256):
    """Bring a picture to about `size` pixels wide: a small one blown up by whole steps,
    nearest-neighbour, so a 64x64 picture stays crisp; a large one (512, 768) shrunk smoothly."""
    if image.width > size:
        return image.resize((size, size * image.height // image.width), Image.LANCZOS)
    factor = max(1, size // image.width)
    return image.resize((image.width * factor, image.height * factor), Image.NEAREST)


def grid(images, labels=None, cols=None, size=128):
    """A row (or `cols`-wide grid) of PIL images, each enlarged to `size` and labelled below."""
    images = [enlarge(im.convert("RGB"), size) for im in images]
    cols = cols or len(images)
    w, h = images[0].size
    pad = 14 if labels else 0
    out = Image.new("RGB", (cols * w, -(-len(images) // cols) * (h + pad)), "white")
    draw = ImageDraw.Draw(out)
    for i, im in enumerate(images):
        x, y = i % cols * w, i // cols * (h + pad)
        out.paste(im, (x, y))
        if labels:
            draw.text((x + 3, y + h + 1), str(labels[i])[: w // 6], fill="black")
    return out


def to_image(x, lo=None, hi=None):
    """A 2-D array or tensor -> a grey PIL image, stretched from [lo, hi] (default: its range)."""
    x = np.asarray(x.float().cpu() if hasattr(x, "float") else x, dtype=np.float32)
    lo, hi = x.min() if lo is None else lo, x.max() if hi is None else hi
    return Image.fromarray((np.clip((x - lo) / max(hi - lo, 1e-8), 0, 1) * 255).astype(np.uint8))


def gif(frames, duration=0.1, size=256):
    """An animated GIF of PIL images, shown inline (the last frame holds a second)."""
    import imageio.v3 as iio
    from IPython.display import Image as IPyImage
    frames = [np.asarray(enlarge(f.convert("RGB"), size)) for f in frames]
    buffer = io.BytesIO()
    iio.imwrite(buffer, frames, extension=".gif", duration=[duration * 1000] * (len(frames) - 1) + [1000], loop=0)
    return IPyImage(data=buffer.getvalue(), format="gif")


def slider(frames, labels, description="step", size=256):
    """Scrub through `frames` with a slider. A static strip of every frame comes first, so the
    notebook still shows the pictures where no widget front end runs (GitHub, nbval)."""
    import ipywidgets as widgets
    from IPython.display import display
    display(grid(frames[:: max(1, len(frames) // 8)], labels[:: max(1, len(frames) // 8)], size=96))

    def png(i):
        buffer = io.BytesIO()
        enlarge(frames[i].convert("RGB"), size).save(buffer, format="png")
        return buffer.getvalue()
    picture = widgets.Image(value=png(0), format="png")
    label = widgets.Label(str(labels[0]))
    bar = widgets.IntSlider(0, 0, len(frames) - 1, description=description)

    def update(change):
        picture.value, label.value = png(change["new"]), str(labels[change["new"]])
    bar.observe(update, names="value")
    return widgets.VBox([widgets.HBox([bar, label]), picture])
