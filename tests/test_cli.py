"""`python -m pare` (what `make demo` runs) writes the picture, an enlarged copy to look at, and says
where; bad arguments end in one sentence and exit status 2, not a traceback."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import pare
from pare.__main__ import main


def test_cli_draws_a_picture(tmp_path):
    out = tmp_path / "demo.png"
    result = subprocess.run(
        [sys.executable, "-m", "pare", "a cat", "--model", pare.TINY_MODEL, "--steps", "5", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    enlarged = tmp_path / "demo-enlarged.png"
    assert str(out) in result.stdout and str(enlarged) in result.stdout
    image = Image.open(out)
    pipe = pare.Pipeline.from_pretrained(pare.TINY_MODEL, progress=False)
    expected = pipe("a cat", num_inference_steps=5, guidance_scale=5.0, generator=0)[0]
    assert np.array_equal(np.asarray(image), np.asarray(expected))
    # The 64x64 picture 8 times larger, each pixel an 8x8 square: something to look at in an image viewer.
    assert np.array_equal(np.asarray(Image.open(enlarged)), np.asarray(image).repeat(8, 0).repeat(8, 1))


def error(argv, capsys):
    """The one-line message `python -m pare *argv` stops with, after checking it exits with status 2."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("steps", ["0", "-1", "ten"])
def test_cli_rejects_a_number_of_steps_that_is_not_one_or_more(steps, tmp_path, capsys):
    message = error(["a cat", "--steps", steps, "--out", str(tmp_path / "a.png")], capsys)
    assert "--steps" in message and "1 or more" in message


@pytest.mark.parametrize("prompt", ["", "   "])
def test_cli_rejects_an_empty_prompt(prompt, tmp_path, capsys):
    message = error([prompt, "--model", pare.TINY_MODEL, "--out", str(tmp_path / "a.png")], capsys)
    assert "the prompt is empty" in message
    assert not (tmp_path / "a.png").exists()


def test_cli_names_a_model_folder_that_is_not_there(tmp_path, capsys):
    missing = tmp_path / "no-such-model"
    message = error(["a cat", "--model", str(missing), "--out", str(tmp_path / "a.png")], capsys)
    assert str(missing) in message and "diffusers layout" in message


def test_cli_names_a_folder_that_is_not_a_model(tmp_path, capsys):
    message = error(["a cat", "--model", str(tmp_path), "--out", str(tmp_path / "a.png")], capsys)
    assert "model_index.json" in message and "diffusers-format model folder" in message


def test_cli_rejects_an_out_folder_it_cannot_make(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    message = error(["a cat", "--out", str(tmp_path / "notes.txt" / "a.png")], capsys)
    assert "cannot make the folder" in message and str(tmp_path / "notes.txt") in message


def test_cli_rejects_an_out_that_is_a_folder(tmp_path, capsys):
    message = error(["a cat", "--out", str(tmp_path)], capsys)
    assert "is a folder" in message and str(tmp_path / "picture.png") in message


def test_cli_rejects_an_out_without_a_picture_extension(tmp_path, capsys):
    message = error(["a cat", "--out", str(tmp_path / "rocket")], capsys)
    assert "end the name with .png" in message


def test_cli_samples_with_the_sampler_it_is_given(tmp_path):
    """`make demo`'s sampler: DPM-Solver++(2M) with Karras' noise levels, read from the model's own config."""
    out = tmp_path / "dpm.png"
    main(["a rocket", "--model", pare.TINY_MODEL, "--sampler", "DPMSolverMultistep", "--karras", "--steps", "12",
          "--out", str(out)])  # fmt: skip
    pipe = pare.Pipeline.from_pretrained(pare.TINY_MODEL, progress=False)
    pipe.scheduler = pare.DPMSolverMultistep.from_config(pipe.scheduler.config, use_karras_sigmas=True)
    expected = pipe("a rocket", num_inference_steps=12, guidance_scale=5.0, generator=0)[0]
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(expected))


def test_cli_names_a_sampler_that_cannot_read_the_model(tmp_path, capsys):
    message = error(
        ["a cat", "--model", pare.TINY_MODEL, "--sampler", "FlowMatchEuler", "--out", str(tmp_path / "a.png")], capsys
    )
    assert "prediction_type" in message
