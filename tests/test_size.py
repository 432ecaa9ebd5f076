"""pare stays small enough to read in an afternoon: at most 1,500 lines of code."""

from pathlib import Path


def test_pare_is_at_most_1500_lines_of_code():
    lines = [
        line
        for f in (Path(__file__).resolve().parent.parent / "pare").glob("*.py")
        for line in f.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert len(lines) <= 1500, len(lines)
