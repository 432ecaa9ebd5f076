"""`python -m pare` (what `make demo` runs) writes the picture and says where."""

import subprocess
import sys

import numpy as np
from PIL import Image

import pare


def test_cli_draws_a_picture(tmp_path):
    out = tmp_path / "demo.png"
    result = subprocess.run(
        [sys.executable, "-m", "pare", "a cat", "--model", pare.TINY_MODEL, "--steps", "5", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(out) in result.stdout
    image = Image.open(out)
    pipe = pare.Pipeline.from_pretrained(pare.TINY_MODEL)
    pipe.progress = False
    expected = pipe("a cat", num_inference_steps=5, guidance_scale=5.0, generator=0)[0]
    assert np.array_equal(np.asarray(image), np.asarray(expected))
