"""pare's model stays small enough to read in an afternoon: at most 1,500 lines as `ruff format` lays
them out (blank lines and comment-only lines aside). The teaching support (train, world, show,
prompts, naive, sd_configs) is held to the same formatting, outside the cap."""

import subprocess
import sys
from pathlib import Path

PARE = Path(__file__).resolve().parent.parent / "pare"
SUPPORT = {"__init__", "__main__", "train", "world", "show", "prompts", "naive", "sd_configs"}


def formatted_lines(path):
    """The file's lines as `ruff format` writes them (whatever state the file is in now)."""
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--line-length", "120", "--stdin-filename", path.name, "-"],
        input=path.read_text(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_the_model_is_at_most_1500_lines_as_ruff_formats_it():
    model = sorted(f for f in PARE.glob("*.py") if f.stem not in SUPPORT)
    lines = {f.name: len(formatted_lines(f)) for f in model}
    assert sum(lines.values()) <= 1500, lines
