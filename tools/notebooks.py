"""Stamp every notebook's first two cells (the Open-in-Colab badge and the install cell) from
the one repository URL below, so badges and install cells can never disagree.

    python tools/notebooks.py [NOTEBOOK ...]     # after adding or renaming a notebook
"""
from pathlib import Path

import nbformat

REPO = "pare-sd/pare"  # github.com/<owner>/<name>: the only place the repository is named
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def header(name):
    badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             f"(https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{name})")
    install = ("# In Colab, install pare (Colab already has torch and transformers); a local checkout skips this.\n"
               "try:\n    import pare\nexcept ImportError:\n"
               f"    %pip install -q \"pare[notebooks] @ git+https://github.com/{REPO}\"\n    import pare")
    return [nbformat.v4.new_markdown_cell(badge), nbformat.v4.new_code_cell(install)]


def stamped(path):
    """True when the notebook at `path` starts with its header."""
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells[:2]] == [c.source for c in header(Path(path).name)]


def stamp(path):
    """Put the header in front (replacing an old one); True if it changed. Re-execute the notebook
    afterwards: nbval skips cells that were saved without an execution count."""
    if stamped(path):
        return False
    nb = nbformat.read(path, as_version=4)
    keep = 2 if len(nb.cells) > 1 and "colab-badge" in nb.cells[0].source else 0
    nb.cells = header(Path(path).name) + nb.cells[keep:]
    nbformat.write(nb, path)
    return True


if __name__ == "__main__":
    import sys
    for notebook in sys.argv[1:] or sorted(NOTEBOOKS.glob("*.ipynb")):
        if stamp(notebook):
            print("stamped", notebook)
