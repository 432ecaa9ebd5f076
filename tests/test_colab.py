"""The Colab path, checked without Colab: declared floors are the ones CI installs, Colab's versions
clear them (so the setup cell installs pare alone), the setup cell fails in one sentence, the
notebooks extra is what the notebooks import, and the UNet counts its evaluations."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import torch
from packaging.requirements import Requirement
from packaging.version import Version

import pare

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import notebooks  # noqa: E402

PYPROJECT = (ROOT / "pyproject.toml").read_text()


def pins(path):
    """name -> version of every `name==version` line of a requirements/constraints file."""
    lines = [line.split("#")[0].strip() for line in Path(path).read_text().splitlines()]
    return {Requirement(line).name.lower().replace("_", "-"): line.split("==")[1] for line in lines if "==" in line}


def declared(extra=None):
    """pyproject.toml's dependencies (or an extra's) as packaging Requirements."""
    block = re.search(
        r"^dependencies = \[(.*?)\]" if extra is None else rf"^{extra} = \[(.*?)\]", PYPROJECT, re.M | re.S
    )[1]
    return [Requirement(r) for r in ast.literal_eval(f"[{block}]")]


def name(requirement):
    return requirement.name.lower().replace("_", "-")


def test_declared_floors_are_the_versions_ci_installs():
    floors = pins(ROOT / "constraints/floors.txt")
    for requirement in declared() + declared("notebooks"):
        if name(requirement) == "torch":  # CI has only the 2.13.0 CPU wheel: declared, not tested
            continue
        (spec,) = requirement.specifier
        assert spec.operator == ">=", requirement
        assert Version(floors[name(requirement)]) == Version(spec.version), (
            f"pyproject.toml says {requirement}, constraints/floors.txt pins {floors[name(requirement)]}"
        )


def test_colab_has_everything_the_setup_cell_would_install():
    """Colab's versions satisfy every requirement, so `pip install pare[notebooks]` installs pare alone."""
    header = (ROOT / "constraints/colab.txt").read_text().splitlines()[:2]
    assert re.search(r"commit [0-9a-f]{40} \(\d{4}-\d\d-\d\d\)", header[1]), "colab.txt names its commit"
    colab = pins(ROOT / "constraints/colab.txt")
    colab["torch"] = re.search(r"torch==([\d.]+)\+cu", (ROOT / "constraints/colab.txt").read_text())[1]
    for requirement in declared() + declared("notebooks"):
        assert requirement.specifier.contains(colab[name(requirement)]), (
            f"Colab has {requirement.name} {colab[name(requirement)]}: {requirement} would upgrade it there"
        )


def third_party_imports(sources):
    modules = set()
    for source in sources:
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"pare", "IPython"}  # IPython: every notebook kernel has it


def test_notebooks_extra_is_what_the_notebooks_import():
    cells = [
        cell.source
        for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "code"
    ]
    used = third_party_imports(cells + [(ROOT / "pare/show.py").read_text()])  # show.py: the notebooks' helpers
    package = {"PIL": "pillow", "imageio": "imageio", "ipywidgets": "ipywidgets", "matplotlib": "matplotlib"}
    needed = {package.get(m, m).lower() for m in used} - {name(r) for r in declared()}
    assert needed == {name(r) for r in declared("notebooks")}


def test_setup_cell_fails_in_one_sentence():
    """An install that cannot work (no such repository), in IPython as in Colab: one sentence saying
    what to do instead, no traceback."""
    cell = notebooks.SETUP.format(source="git+file:///nonexistent/pare")
    script = (
        "import sys; sys.modules['pare'] = None  # not installed\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        f"InteractiveShell.instance().run_cell({cell!r})"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    lines = (run.stdout + run.stderr).strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0], run.stdout + run.stderr
    assert lines[0].startswith("pip could not install pare from git+file:///nonexistent/pare (")
    assert "folder" in lines[0] and "wheel" in lines[0] and "%pip install ./pare" in lines[0]


def test_stamping_is_idempotent_and_names_one_repository(tmp_path):
    path = sorted((ROOT / "notebooks").glob("*.ipynb"))[0]
    copy = tmp_path / path.name
    assert notebooks.stamp(path, copy)
    assert not notebooks.stamp(copy) and notebooks.stamped(copy)
    nb = nbformat.read(copy, as_version=4)
    assert f"/github/{notebooks.REPO}/blob/main/notebooks/{path.name}" in nb.cells[0].source
    assert f'SOURCE = "{notebooks.source()}"' in nb.cells[1].source
    assert nb.cells[-1].source == notebooks.FOOTER
    elsewhere = tmp_path / "elsewhere.ipynb"
    notebooks.stamp(copy, elsewhere, repo="someone/pare", published=True)
    cells = nbformat.read(elsewhere, as_version=4).cells
    assert "github/someone/pare/" in cells[0].source and "Not published" not in cells[0].source
    assert "git+https://github.com/someone/pare" in cells[1].source and len(cells) == len(nb.cells)


def test_unet_counts_its_evaluations():
    unet = pare.UNet.from_pretrained(pare.TINY_MODEL, subfolder="unet")
    context = unet.config.cross_attention_dim
    with torch.no_grad(), pare.UNetEvaluations() as evaluations:
        unet(torch.zeros(2, 4, 8, 8), 10, torch.zeros(2, 77, context))
        unet(torch.zeros(1, 4, 16, 8), 10, torch.zeros(1, 77, context))
    with torch.no_grad():
        unet(torch.zeros(1, 4, 8, 8), 10, torch.zeros(1, 77, context))  # after the counter stopped: not counted
    assert str(evaluations) == "3 UNet evaluations: 1 at 16x8, 2 at 8x8"
