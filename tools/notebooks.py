"""Stamp every notebook's header (the Open-in-Colab badge and the setup cell) and footer (the UNet
evaluation count) from the one repository setting, pyproject.toml's [tool.pare], so badges and
setup cells can never disagree.

    python tools/notebooks.py [NOTEBOOK ...]               # after adding or renaming a notebook
    python tools/notebooks.py --repo owner/name            # `make colab REPO=owner/name`: the real home
    python tools/notebooks.py --source git+file:///tmp/pare --out DIR NOTEBOOK ...
                                                           # stamped copies installing from elsewhere (CI)
"""

import argparse
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PYPROJECT = ROOT / "pyproject.toml"


def setting(name):
    """[tool.pare]'s `repo` ("owner/name" on GitHub) or `published` (does that repository exist?)."""
    value = re.search(rf"^{name} = (.+)$", PYPROJECT.read_text(), re.M)[1]
    return value.strip('"') if name == "repo" else value == "true"


REPO = setting("repo")


def source(repo=None):
    """What the setup cell installs pare from: the repository, over git."""
    return f"git+https://github.com/{repo or REPO}"


def badge(name, repo=None, published=None):
    repo, published = repo or REPO, setting("published") if published is None else published
    cell = (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"(https://colab.research.google.com/github/{repo}/blob/main/notebooks/{name})"
    )
    if not published:
        cell += (
            f"\n\n*Not published yet: this badge and the setup cell below point at github.com/{repo}, which"
            " does not exist yet. Until it does, run the notebook from a checkout, or install pare from a folder"
            " or a wheel (see the README's Colab section).*"
        )
    return cell


# The setup cell: plain Python (no %pip), so a test can run it. pip runs in the kernel's Python, as
# %pip does; with Colab's packages already there, it installs pare alone.
SETUP = """\
# In Colab: install pare (Colab has torch, transformers and all else these notebooks use). A checkout skips this.
try:
    import pare
except ImportError:
    import subprocess, sys
    SOURCE = "{source}"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"pare[notebooks] @ {{SOURCE}}"],
                         capture_output=True, text=True)
    if pip.returncode:
        class InstallFailed(Exception):
            _render_traceback_ = lambda self: [str(self)]  # IPython shows this one sentence, no traceback
        lines = [line.strip() for line in pip.stderr.splitlines() if line.strip()] or ["pip said nothing"]
        why = next((line for line in lines if line.startswith(("fatal:", "ERROR:"))), lines[-1])  # git's or pip's reason
        raise InstallFailed(f"pip could not install pare from {{SOURCE}} ({{why}}): upload pare's folder or a wheel "
                            "of it (`make wheel`) and run `%pip install ./pare` or `%pip install pare-*.whl` instead.") from None
    import pare
evaluations = pare.UNetEvaluations().start()  # counts the UNet's work, printed at the end"""  # noqa: E501 (the cell's)

FOOTER = (
    "# How much work this notebook gave the UNet: the README's time estimates for a Colab T4 come from these counts.\n"
    "print(evaluations)"
)


def header(name, install_from=None, repo=None, published=None):
    return [
        nbformat.v4.new_markdown_cell(badge(name, repo, published)),
        nbformat.v4.new_code_cell(SETUP.format(source=install_from or source(repo))),
    ]


def footer():
    return [nbformat.v4.new_code_cell(FOOTER)]


def stamped(path):
    """True when the notebook at `path` starts with its header and ends with its footer."""
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells[:2] + nb.cells[-1:]] == [c.source for c in header(Path(path).name) + footer()]


def stamp(path, out=None, install_from=None, repo=None, published=None):
    """Put the header in front and the footer at the end (replacing old ones); write to `out`
    (default: in place). True if anything changed. Re-execute the notebook afterwards: nbval
    skips cells that were saved without an execution count."""
    nb = nbformat.read(path, as_version=4)
    old = [c.source for c in nb.cells]
    keep = 2 if len(nb.cells) > 1 and "colab-badge" in nb.cells[0].source else 0
    body = nb.cells[keep:]
    if body and body[-1].cell_type == "code" and body[-1].source.endswith("print(evaluations)"):
        body = body[:-1]
    new = header(Path(path).name, install_from, repo, published) + body + footer()
    for cell, before in zip(new, nb.cells[:2]):  # an unchanged header keeps its outputs
        if cell.source == before.source:
            cell.update({k: v for k, v in before.items() if k in ("outputs", "execution_count")})
    if nb.cells and new[-1].source == nb.cells[-1].source:
        new[-1] = nb.cells[-1]
    nb.cells = new
    if out is None and [c.source for c in new] == old:
        return False
    nbformat.write(nb, out or path)
    return True


def set_repo(repo):
    """Make `repo` the home in pyproject.toml (and mark it published)."""
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise SystemExit(f"REPO must be owner/name on GitHub, got {repo!r}")
    text = re.sub(r"^repo = .+$", f'repo = "{repo}"', PYPROJECT.read_text(), count=1, flags=re.M)
    PYPROJECT.write_text(re.sub(r"^published = .+$", "published = true", text, count=1, flags=re.M))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--repo", help="owner/name: the repository's real home (written into pyproject.toml)")
    parser.add_argument("--source", help="install pare from this pip source instead (stamped copies for CI)")
    parser.add_argument("--out", type=Path, help="write stamped copies into this folder (the originals stay)")
    args = parser.parse_args()
    if args.repo:
        set_repo(args.repo)
    published = setting("published")
    for notebook in args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb")):
        out = None
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            out = args.out / notebook.name
        if stamp(notebook, out, args.source, setting("repo"), published):
            print("stamped", out or notebook)
