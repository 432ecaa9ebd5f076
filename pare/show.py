"""Pictures for the notebooks: grids, GIFs and a slider (and a parameter count), so no notebook copies
display code."""

import base64
import io
import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def enlarge(image, size=256):
    """Bring a picture to about `size` pixels wide: a small one blown up by whole steps,
    nearest-neighbour, so a 64x64 picture stays crisp; a large one (512, 768) shrunk smoothly."""
    if image.width > size:
        return image.resize((size, size * image.height // image.width), Image.LANCZOS)
    factor = max(1, size // image.width)
    return image.resize((image.width * factor, image.height * factor), Image.NEAREST)


def grid(images, labels=None, cols=None, size=128, gap=6):
    """A row (or `cols`-wide grid) of PIL images, each enlarged to `size`, `gap` pixels apart,
    labelled below in a real font, wrapped to the tile's width rather than cut."""
    images = [enlarge(im.convert("RGB"), size) for im in images]
    cols, (w, h) = cols or len(images), images[0].size
    font = ImageFont.load_default(size=max(12, min(16, w // 10)))  # Pillow >= 10.1
    lines = [textwrap.wrap(str(text), int(w / (0.6 * font.size))) for text in labels or [""] * len(images)]
    pad = max(map(len, lines)) * (font.size + 3) + 4 * bool(labels)
    out = Image.new("RGB", (cols * (w + gap) - gap, -(-len(images) // cols) * (h + pad + gap) - gap), (235,) * 3)
    for i, (im, text) in enumerate(zip(images, lines)):
        x, y = i % cols * (w + gap), i // cols * (h + pad + gap)
        out.paste(im, (x, y))
        ImageDraw.Draw(out).multiline_text((x + 1, y + h + 3), "\n".join(text), fill="black", font=font, spacing=3)
    return out


def num_parameters(module):
    """How many numbers a model (or any part of one) learns: its weights and biases, as diffusers'
    and transformers' `model.num_parameters()` count them."""
    return sum(p.numel() for p in module.parameters())


def to_image(x, lo=None, hi=None):
    """A 2-D array or tensor -> a grey PIL image, stretched from [lo, hi] (default: its range)."""
    x = np.asarray(x.float().cpu() if hasattr(x, "float") else x, dtype=np.float32)
    lo, hi = x.min() if lo is None else lo, x.max() if hi is None else hi
    return Image.fromarray((np.clip((x - lo) / max(hi - lo, 1e-8), 0, 1) * 255).astype(np.uint8))


class GIF:
    """An animated GIF as every notebook renderer shows it. An `image/gif` output plays in Jupyter
    only: nbconvert (and the HTML pages built from it) print its text fallback instead. HTML that
    holds the GIF in an <img> as a data: URI plays in Jupyter, Colab, nbconvert and GitHub; the last
    frame as a PNG is the still for renderers without HTML (a PDF)."""

    def __init__(self, data, still, frames):
        self.data, self.still, self.frames = data, still, frames

    def _repr_mimebundle_(self, include=None, exclude=None):
        png = io.BytesIO()
        self.still.save(png, format="png")
        html = (
            f'<img src="data:image/gif;base64,{base64.b64encode(self.data).decode()}" width="{self.still.width}"'
            f' height="{self.still.height}" alt="an animated GIF of {self.frames} frames">'
        )
        return {
            "text/html": html,
            "image/png": base64.b64encode(png.getvalue()).decode(),
            "text/plain": f"an animated GIF of {self.frames} frames (shown where HTML is)",
        }


def gif(frames, duration=0.1, size=256):
    """An animated GIF of PIL images, shown inline (the last frame holds a second)."""
    import imageio.v3 as iio

    frames = [np.asarray(enlarge(f.convert("RGB"), size)) for f in frames]
    buffer = io.BytesIO()
    iio.imwrite(buffer, frames, extension=".gif", duration=[duration * 1000] * (len(frames) - 1) + [1000], loop=0)
    return GIF(buffer.getvalue(), Image.fromarray(frames[-1]), len(frames))


def unet_u_in_out(rows, links, ax, title):
    """The U (notebook 04), each block a box at the size of the maps it takes in, labelled with what goes in and
    what comes out (channels@size); the grey main path steps down or up after a block that changes the size.
    Orange arcs are the skips `links` ({(source, up block, size): how many maps}), at the height of their size;
    arcs into the same up block are nested, each labelled with its number of maps."""
    import matplotlib.pyplot as plt

    x = {name: i for i, (name, *_) in enumerate(rows)}
    y = {name: np.log2(shape_in[2]) for name, shape_in, *_ in rows}
    ax.plot(list(x.values()), list(y.values()), color="grey", zorder=0)
    for name, shape_in, out, _ in rows:
        ax.add_patch(plt.Rectangle((x[name] - 0.42, y[name] - 0.24), 0.84, 0.48, fc="#c6dbef", ec="#6f9fcf", zorder=1))
        label = f"{shape_in[1]}@{shape_in[2]}\n→ {out[1]}@{out[2]}"
        ax.text(x[name], y[name], label, ha="center", va="center", fontsize=8.5, linespacing=1.3, zorder=2)
        short = name.replace("_blocks.", " ").replace("_block", "")
        ax.text(x[name], y[name] - 0.29, short, ha="center", va="top", fontsize=9)
    s = np.linspace(0, 1, 40)[:, None]
    nested = {}  # (up block, size) -> arcs drawn into it so far
    for (src, dst, size), n in sorted(links.items(), key=lambda item: -x[item[0][0]]):  # nearest source innermost
        j = nested[dst, size] = nested.get((dst, size), -1) + 1
        level = np.log2(size)
        # a downsampled map leaves from the line going down, half a block after its source
        start = np.array([x[src] + 0.5 * (level < y[src]), level + 0.26])
        end = np.array([x[dst] - 0.1 * j, level + 0.26])
        lift = 0.22 + 0.2 * j
        arc = (1 - s) ** 2 * start + 2 * (1 - s) * s * ((start + end) / 2 + [0, 2 * lift]) + s**2 * end
        ax.plot(*arc.T, color="tab:orange", lw=1)
        ax.annotate("", xy=arc[-1], xytext=arc[-3], arrowprops=dict(arrowstyle="->", color="tab:orange"))
        ax.text(*arc[20], f"{n} map{'s' * (n > 1)}", color="tab:orange", ha="center", va="bottom", fontsize=8.5)
    levels = sorted(set(y.values()))
    ax.set(
        yticks=levels,
        yticklabels=[f"{2 ** int(v)}x{2 ** int(v)}" for v in levels],
        xticks=[],
        title=title,
        xlim=(-0.6, len(rows) - 0.4),
        ylim=(min(levels) - 0.7, max(levels) + 1.0),
        ylabel="size of the maps it takes in",
    )


def heatmap(m, size, lo=None, hi=None):
    """A 2-D map (an attention map) as a picture in the magma colours, `size` pixels wide, each of its values a
    square (nearest-neighbour, so the map's own resolution shows); stretched from [lo, hi] (default: its own
    range), black the lowest."""
    import matplotlib

    m = np.asarray(m.float().cpu() if hasattr(m, "float") else m, dtype=np.float32)
    lo, hi = float(m.min() if lo is None else lo), float(m.max() if hi is None else hi)
    rgb = matplotlib.colormaps["magma"](np.clip((m - lo) / max(hi - lo, 1e-12), 0, 1))[..., :3]
    image = Image.fromarray((rgb * 255).astype(np.uint8))
    return image.resize((size, size * image.height // image.width), Image.NEAREST)


def png(image):
    """A PIL image to show as a PNG only: its own display stores a JPEG copy beside the PNG, twice the bytes in a
    saved notebook."""
    from IPython.display import Image as Shown

    buffer = io.BytesIO()
    image.save(buffer, format="png")
    return Shown(buffer.getvalue(), format="png")


def pipeline_loop_map(prompt, seed, timesteps, embeddings, latents, image, scheduler="DDIM", guidance_scale=7.5):
    """The four calls as boxes (notebook 00), with `denoise` opened up: the loop over `timesteps`, and in
    each step the UNet on a batch of two (x_t for the empty prompt and for the prompt), guidance and the
    scheduler's step; the arrows carry the shapes each part hands on."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    ax = plt.subplots(
        figsize=(13, 5), subplot_kw=dict(xlim=(0, 15), ylim=(0, 5.8), frame_on=False, xticks=[], yticks=[])
    )[1]
    one, two = list(latents.shape), [2 * latents.shape[0], *latents.shape[1:]]
    ts = [int(t) for t in timesteps]
    ax.add_patch(FancyBboxPatch((4.4, 0.55), 7.5, 4.55, boxstyle="round,pad=0.1", fc="#eef4fa", ec="0.4", ls="--"))
    ax.text(8.15, 4.8, f"3. denoise: {len(ts)} steps, t = {ts[0]}, {ts[1]}, ... {ts[-1]}", ha="center", fontsize=11)
    for x, y, w, text, colour in [
        (2, 3.7, 2.8, "1. encode_prompt\nCLIP   (clip.py)", "#fde0c5"),
        (2, 1.6, 2.8, "2. get_latent\ntorch.randn   (pipeline.py)", "#e0e0e0"),
        (6.7, 1.6, 0.8, "x_t", "white"),
        (6.7, 3.7, 2.4, "UNet   (unet.py)\nx, t, embeddings", "#c6dbef"),
        (10.2, 3.7, 2.2, f"guidance\nu + {guidance_scale:g} (c - u)", "#c6dbef"),
        (10.2, 1.6, 2.2, f"{scheduler}: one step\n(the scheduler)", "#c6dbef"),
        (13.8, 1.6, 2.0, "4. vae_decode\nVAE   (vae.py)", "#c7e9c0"),
    ]:
        ax.add_patch(FancyBboxPatch((x - w / 2, y - 0.4), w, 0.8, boxstyle="round,pad=0.05", fc=colour, ec="0.3"))
        ax.text(x, y, text, ha="center", va="center", fontsize=10)
    for start, end, label, at, align in [
        ((2, 4.65), (2, 4.15), repr(prompt), (2, 4.85), "center"),
        ((2, 0.3), (2, 1.15), f"seed {seed}", (2, 0.15), "center"),
        ((3.45, 3.7), (5.45, 3.7), f"embeddings\n{list(embeddings.shape)}\n'', prompt", (4.45, 4.25), "center"),
        ((3.45, 1.6), (6.25, 1.6), f"x_T {one}", (4.7, 1.35), "center"),
        ((6.7, 2.05), (6.7, 3.25), f"x_t twice\n{two}", (6.85, 2.65), "left"),
        ((7.95, 3.7), (9.05, 3.7), f"u, c  {two}", (8.5, 4.35), "center"),
        ((10.2, 3.25), (10.2, 2.05), f"{one}", (10.35, 2.65), "left"),
        ((9.05, 1.6), (7.15, 1.6), f"x_prev: next x_t\n(t - {ts[0] - ts[1]})", (8.1, 1.05), "center"),
        ((11.35, 1.6), (12.75, 1.6), f"x_0  {one}", (12.05, 2.25), "center"),
        ((13.8, 1.15), (13.8, 0.55), f"image {image.width} x {image.height}", (13.8, 0.3), "center"),
    ]:
        ax.annotate("", end, start, arrowprops=dict(arrowstyle="-|>", color="0.3"))
        ax.text(*at, label, ha=align, va="center", fontsize=9, family="monospace")
    plt.show()


def jpeg(image, quality=90):
    """A PIL image to show as a JPEG only: for pictures with fine texture (noise, small decoded pictures blown up)
    a JPEG is a third of the PNG's size, and a PIL image's own display would store both."""
    from IPython.display import Image as Shown

    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="jpeg", quality=quality)
    return Shown(buffer.getvalue(), format="jpeg")


def scrub(frames, labels, description="step", size=256):
    """A slider through `frames` (PIL images, shown `size` px wide), each with its label: the widget alone,
    beside a strip or a grid the notebook draws of its own."""
    import ipywidgets as widgets

    def png(i):
        buffer = io.BytesIO()
        enlarge(frames[i].convert("RGB"), size).save(buffer, format="png")
        return buffer.getvalue()

    picture, label = widgets.Image(value=png(0), format="png"), widgets.Label(str(labels[0]))
    bar = widgets.IntSlider(0, 0, len(frames) - 1, description=description)

    def update(change):
        picture.value, label.value = png(change["new"]), str(labels[change["new"]])

    bar.observe(update, names="value")
    return widgets.VBox([widgets.HBox([bar, label]), picture])


def ratio_sweep(ax, ratios, distance, predicted, title):
    """The naive loop's distance to DDIM against its ratio (notebook 03), `distance` [ratios, prompts]: a thin
    line per prompt and its lowest point, their mean with a band of one standard deviation, and the
    predicted ratio (the total angle) dashed."""
    ratios, d = np.asarray(ratios), np.asarray(distance)
    mean, std = d.mean(1), d.std(1)
    ax.plot(ratios, d, color="0.8", lw=0.8)
    ax.fill_between(ratios, mean - std, mean + std, color="C0", alpha=0.2, label="mean ± 1 std over prompts")
    ax.plot(ratios, mean, "-o", color="C0", ms=4, label=f"mean of {d.shape[1]} prompts")
    best = d.argmin(0)
    ax.plot(ratios[best], d[best, np.arange(d.shape[1])], "v", color="C3", ms=7, label="each prompt's lowest")
    ax.axvline(predicted, color="grey", ls="--", lw=1, label=f"total angle {predicted:.3f}")
    ax.set(title=title, xlabel="ratio", ylabel="|naive - DDIM| / |DDIM|, final latent")
    ax.legend(fontsize=8)


def spread(ax, x, values, label, **style):
    """A measurement over seeds (notebook 08): `values` [len(x), seeds] as its mean, a line with dots, and a band
    from the closest seed to the farthest, in the line's colour."""
    values = np.asarray(values, dtype=np.float64)
    (line,) = ax.plot(x, values.mean(1), "-o", ms=4, label=label, **style)
    ax.fill_between(x, values.min(1), values.max(1), color=line.get_color(), alpha=0.15, lw=0)
    return line
