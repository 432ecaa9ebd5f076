"""The committed notebooks: all there, stamped, executed, small. (nbval runs them: `make test`.)"""

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from notebooks import FOOTER, REPO, source, stamped  # noqa: E402

STAGES = [
    "00_overview",
    "01_prompt_embeddings",
    "02_latents",
    "03_denoise_scheduler_vs_ratio",
    "04_unet_shapes",
    "05_vae_decode",
    "06_training",
    "07_one_loop_three_models",
    "08_samplers",
]


@pytest.mark.parametrize("name", STAGES)
def test_notebook_is_committed_executed_and_small(name):
    path = ROOT / "notebooks" / f"{name}.ipynb"
    assert path.stat().st_size < 2_000_000, "keep notebooks under 2 MB: smaller pictures, shorter GIFs"
    assert stamped(path), "run `python tools/notebooks.py` (header and footer), then re-execute the notebook"
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    # nbval silently skips cells saved without an execution count: every cell must have run.
    assert all(cell.execution_count for cell in code), "re-execute the notebook (make notebooks)"
    assert not [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert f"/github/{REPO}/" in nb.cells[0].source and f'SOURCE = "{source()}"' in nb.cells[1].source
    assert nb.cells[-1].source == FOOTER and "UNet evaluations" in "".join(o.get("text", "") for o in code[-1].outputs)
    assert "default_model()" in "".join(cell.source for cell in code), "one model setting at the top"
