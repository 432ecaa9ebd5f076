"""Build the course site, out/site/, from the committed, executed notebooks (nothing is re-run):
an index, one page per notebook, the README, the model card and the benchmarks; with --slides, one
reveal.js deck per notebook in out/site/slides/.

    python tools/site.py [--out out/site]            # `make site`
    python tools/site.py --slides [--out out/site]   # `make slides`

Nothing the pages load comes from the internet: MathJax 2.7.9 from Debian's libjs-mathjax
(`apt-get install libjs-mathjax`), reveal.js 5.2.0 from the files inside the sphinx-revealjs wheel
on PyPI (downloaded once into out/cache by pip; sphinx itself is not installed). The explorer
(tools/explorer.py) writes its own page into out/site/explorer/.
"""

import argparse
import base64
import io
import posixpath
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jinja2
import nbformat
from nbconvert import HTMLExporter, SlidesExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from PIL import Image

from notebooks import NOTEBOOKS, REPO, ROOT  # tools/notebooks.py: the badge and the repository's home

HERE = ROOT / "tools" / "site"
TEMPLATES = HERE / "templates"
# nbconvert finds pare-page/ and pare-slides/ there, and the parts they share in TEMPLATES itself.
TEMPLATE_DIRS = dict(extra_template_basedirs=[str(TEMPLATES)], extra_template_paths=[str(TEMPLATES)])
MATHJAX = Path("/usr/share/javascript/mathjax")
# What the pages' TeX needs of MathJax (1.7 MB of its 54): the combined TeX + CommonHTML
# configuration, the pieces it loads on demand, and the TeX fonts.
MATHJAX_PARTS = [
    "MathJax.js",
    "config/TeX-AMS_CHTML-full.js",
    "extensions",
    "jax/element",
    "jax/input/TeX",
    "jax/output/CommonHTML",
    "fonts/HTML-CSS/TeX/woff",
]
REVEAL_PACKAGE = "sphinx-revealjs==3.2.1"  # its _static/revealjs/ is reveal.js 5.2.0, built
REVEAL_WHEEL = "sphinx_revealjs-3.2.1-py3-none-any.whl"
# The white theme: its fonts are in the folder (the simple theme's come from Google Fonts).
REVEAL_PARTS = ["dist/reveal.css", "dist/reveal.js", "dist/theme/white.css", "dist/theme/fonts", "plugin/notes"]
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
# The README's and the model card's links to other files of the repository, as pages of the site.
PAGES = {"README.md": "readme.html", "pare/models/README.md": "model-card.html", "BENCHMARKS.md": "benchmarks.html"}


def copy_mathjax(out):
    if not MATHJAX.is_dir():
        raise SystemExit(f"{MATHJAX} is missing: install Debian's MathJax (apt-get install libjs-mathjax), then rerun.")
    for part in MATHJAX_PARTS:
        source, target = MATHJAX / part, out / "mathjax" / part
        target.parent.mkdir(parents=True, exist_ok=True)
        # Debian links the fonts in from fonts-mathjax: copy what the links point to.
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy(source, target)


def copy_reveal(out, cache):
    """reveal.js's built files from the sphinx-revealjs wheel (pip downloads it once into `cache`)."""
    wheel = cache / REVEAL_WHEEL
    if not wheel.exists():
        download = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(cache), REVEAL_PACKAGE]
        if subprocess.run(download).returncode or not wheel.exists():
            raise SystemExit(
                f"pip could not download {REVEAL_PACKAGE} (reveal.js's files): put {wheel.name} in {cache}."
            )
    prefix = "sphinx_revealjs/_static/revealjs/"
    with zipfile.ZipFile(wheel) as files:
        for name in files.namelist():
            part = name.removeprefix(prefix)
            if name.startswith(prefix) and any(part == p or part.startswith(p + "/") for p in REVEAL_PARTS):
                (out / "reveal.js" / part).parent.mkdir(parents=True, exist_ok=True)
                (out / "reveal.js" / part).write_bytes(files.read(name))


def for_the_web(nb, root):
    """What a notebook's committed outputs need to show in a browser with no kernel and no network."""
    nb.metadata.pop("widgets", None)  # the saved widget state would load a widget manager from a CDN
    for cell in nb.cells:
        if cell.cell_type == "markdown":  # Colab's badge image, from the site itself
            cell.source = cell.source.replace(COLAB_BADGE, f"{root}colab-badge.svg")
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/gif" in data and "text/html" not in data:  # a GIF from before pare.show.GIF
                data["text/html"] = (
                    f'<img src="data:image/gif;base64,{data["image/gif"].strip()}" alt="an animated GIF">'
                )
            if "application/vnd.jupyter.widget-view+json" in data:  # pare.show.slider: its frames are above
                output.data = {
                    "text/html": '<div class="stand-in">In Jupyter or Colab a slider sits here and scrubs through'
                    " the frames; the strip above shows every few of them. A page has no kernel to run it; the"
                    f' <a href="{root}explorer/index.html">explorer</a> has sliders that run in the page, over'
                    " denoising runs traced beforehand.</div>"
                }
    return nb


def first_picture(nb):
    """The notebook's first picture no more than three times as wide as high (not a strip of plots), or
    else its first picture, as a PIL image: its card on the index."""
    pictures = [
        Image.open(io.BytesIO(base64.b64decode(output.data["image/png"])))
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    return next((p for p in pictures if p.width <= 3 * p.height), pictures[0] if pictures else None)


def title(nb):
    heading = next(c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("# "))
    return heading.splitlines()[0].removeprefix("# ").replace("`", "")


def stamp_slides(nb):
    """Mark each cell for nbconvert's slides exporter from the headings: a new slide at each `#` and
    `##`, a slide below it at each `###`, code (and its output) as a fragment that comes in on the next
    key press, and the Colab badge, the setup cell and the evaluation count left out."""
    for i, cell in enumerate(nb.cells):
        first = cell.source.lstrip().split("\n", 1)[0]
        if i < 2 or (i == len(nb.cells) - 1 and "print_evaluations()" in cell.source):
            kind = "skip"
        elif cell.cell_type == "markdown" and re.match(r"#{1,2} ", first):
            kind = "slide"
        elif cell.cell_type == "markdown" and first.startswith("### "):
            kind = "subslide"
        else:
            kind = "fragment" if cell.cell_type == "code" else "-"
        cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


def links(root, name=None, names=(), slides=False, out=None):
    """The navigation bar: home, the previous and next notebook, this one's deck, the explorer."""
    bar = [(f"{root}index.html", "pare: the course")]
    if name:
        at = names.index(name)
        if at > 0:
            bar.append((f"{names[at - 1]}.html", f"← {names[at - 1]}"))
        if at + 1 < len(names):
            bar.append((f"{names[at + 1]}.html", f"{names[at + 1]} →"))
        if slides:
            bar.append((f"{root}slides/{name}.html", "slides"))
    if (out / "explorer" / "index.html").exists():
        bar.append((f"{root}explorer/index.html", "explorer"))
    return bar


def relink(html, source):
    """Links between the repository's Markdown files and notebooks, as links between the site's pages;
    any other file of the repository (code, constraints) on GitHub."""

    def target(match):
        href = match[1]
        if re.match(r"[a-z]+:|#", href):
            return match[0]
        path, _, anchor = posixpath.normpath(posixpath.join(posixpath.dirname(source), href)).partition("#")
        if path in PAGES:
            page = PAGES[path]
        elif path.startswith("notebooks/") and path.endswith(".ipynb"):
            page = path.removesuffix(".ipynb") + ".html"
        else:
            page = f"https://github.com/{REPO}/blob/main/{path}"
        return f'href="{page}{"#" + anchor if anchor else ""}"'

    return re.sub(r'href="([^"]*)"', target, html)


def sections(markdown):
    """A Markdown file's `## ` sections by heading; the text before the first under ''."""
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    return {"": parts[0], **dict(zip(parts[1::2], parts[2::2]))}


def build_pages(out):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False)
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    names = [p.stem for p in paths]
    slides = (out / "slides").is_dir()
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    (out / "pictures").mkdir(exist_ok=True)
    exporter = HTMLExporter(template_name="pare-page", **TEMPLATE_DIRS)
    cards = {}
    for path in paths:
        nb = for_the_web(nbformat.read(path, as_version=4), "../")
        site = {"root": "../", "name": path.stem, "links": links("../", path.stem, names, slides, out)}
        html, _ = exporter.from_notebook_node(nb, resources={"site": site, "metadata": {"name": title(nb)}})
        (out / "notebooks" / f"{path.stem}.html").write_text(html)
        picture = first_picture(nb)
        if picture is not None:
            picture.thumbnail((480, 240))
            picture.convert("RGB").save(out / "pictures" / f"{path.stem}.png")
        cards[path.stem] = {"title": title(nb), "picture": picture is not None}

    readme = (ROOT / "README.md").read_text()
    for source, page in PAGES.items():
        text = (ROOT / source).read_text()
        body = relink(markdown2html_mistune(text), source)
        page_title = text.splitlines()[0].lstrip("# ")
        (out / page).write_text(
            env.get_template("doc.html.j2").render(title=page_title, root="", links=links("", out=out), body=body)
        )

    # The index: the README's opening (the story in four calls), its "Start here", a card for each
    # notebook with its first picture and what it teaches (the README's notebook table), and the rest.
    part = sections(readme)
    teaches = dict(re.findall(r"^\| \[(\w+)\]\(notebooks/\S+\) \| (.+) \|$", part["The notebooks"], flags=re.M))
    for name, card in cards.items():
        card["teaches"] = relink(markdown2html_mistune(teaches.get(name, "")), "README.md")
    body = env.get_template("index.html.j2").render(
        opening=relink(markdown2html_mistune(part[""]), "README.md"),
        start=relink(markdown2html_mistune(part["Start here"]), "README.md"),
        cards=cards,
        slides=slides,
        explorer=(out / "explorer" / "index.html").exists(),
    )
    (out / "index.html").write_text(
        env.get_template("doc.html.j2").render(title="pare: the course", root="", links=links("", out=out), body=body)
    )


def build_slides(out, cache):
    copy_reveal(out, cache)
    (out / "slides").mkdir(parents=True, exist_ok=True)
    exporter = SlidesExporter(
        template_name="pare-slides", reveal_url_prefix="../reveal.js", reveal_theme="white", **TEMPLATE_DIRS
    )
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = stamp_slides(for_the_web(nbformat.read(path, as_version=4), "../"))
        html, _ = exporter.from_notebook_node(nb, resources={"site": {"root": "../"}, "metadata": {"name": title(nb)}})
        (out / "slides" / f"{path.stem}.html").write_text(html)


def size(folder):
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "site")
    parser.add_argument("--slides", action="store_true", help="the reveal.js decks (out/site/slides/)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    copy_mathjax(args.out)
    shutil.copy(HERE / "site.css", args.out)
    shutil.copy(HERE / "colab-badge.svg", args.out)
    if args.slides:
        build_slides(args.out, ROOT / "out" / "cache")
    else:
        build_pages(args.out)
    print(f"{args.out}: {size(args.out):.1f} MiB; open {args.out / 'index.html'}")
