"""Write constraints/colab.txt from googlecolab/backend-info's pip-freeze.gpu.txt (what a Colab GPU
runtime has installed), with the commit it came from in its header. `make colab-constraints`.

    python constraints/refresh.py                 # clones github.com/googlecolab/backend-info
    python constraints/refresh.py PATH            # a clone (or bare mirror) of it already on disk

Lines pip cannot take as constraints are left out and listed in the header: direct references
(`name @ URL`) and the CUDA builds of torch and its kin (`+cu128`), which CI replaces with the
torch 2.13.0 CPU wheel.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

URL = "https://github.com/googlecolab/backend-info"
# Colab's pins that CI's torch 2.13.0 cannot install with (Colab's own torch 2.11 can).
CONFLICTS = {"setuptools": "torch 2.13.0 requires setuptools>=77.0.3"}
OUT = Path(__file__).resolve().parent / "colab.txt"


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def constraints(repo):
    commit, date = git(repo, "log", "-1", "--format=%H %cs", "HEAD").split()
    python = re.search(r"Python [\d.]+", git(repo, "show", "HEAD:os-info-gpu.txt"))[0]
    kept, dropped = [], []
    for line in git(repo, "show", "HEAD:pip-freeze.gpu.txt").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name = re.split(r"[=@ ]", line)[0].lower()
        if name in CONFLICTS:
            dropped.append(f"{line.strip()}  ({CONFLICTS[name]})")
        else:
            (dropped if " @ " in line or re.search(r"==[^ ]*\+cu\d+", line) else kept).append(line.strip())
    header = [
        f"# Colab's GPU runtime: {URL}/blob/{commit}/pip-freeze.gpu.txt",
        f"# commit {commit} ({date}). Regenerate with `make colab-constraints`; do not edit by hand.",
        "# .ci/run's Colab step installs pare's dependencies and the notebook tools under these",
        f"# constraints, on Python 3.11 (Colab has {python}; CI's torch wheel exists for 3.11 only), with",
        "# torch 2.13.0 (CPU) in place of Colab's CUDA build.",
        "# Left out (pip takes no direct references or local CUDA builds as constraints, and CI's torch",
        "# needs a newer setuptools):",
    ]
    header += [f"#   {line}" for line in dropped]
    return "\n".join(header + kept) + "\n"


def main():
    if len(sys.argv) > 1:
        text = constraints(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["git", "clone", "-q", "--depth", "1", URL, tmp], check=True)
            text = constraints(tmp)
    OUT.write_text(text)
    print(f"wrote {OUT}: {text.splitlines()[1][2:]}")


if __name__ == "__main__":
    main()
