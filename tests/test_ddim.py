"""pare.DDIM against diffusers' DDIMScheduler, option by option."""

import itertools
import json

import numpy as np
import pytest
import torch
from conftest import assert_close
from diffusers import DDIMScheduler

import pare

OPTIONS = list(
    itertools.product(
        ["epsilon", "v_prediction", "sample"],
        ["scaled_linear", "linear"],
        [True, False],  # set_alpha_to_one
        [0, 1],
        ["leading", "trailing", "linspace"],
        [False, True],
    )
)  # steps_offset, spacing, clip_sample


@pytest.mark.parametrize("prediction, betas, alpha_one, offset, spacing, clip", OPTIONS)
def test_ddim_matches_diffusers(prediction, betas, alpha_one, offset, spacing, clip):
    config = dict(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule=betas,
        prediction_type=prediction,
        set_alpha_to_one=alpha_one,
        steps_offset=offset,
        timestep_spacing=spacing,
        clip_sample=clip,
    )
    ours, theirs = pare.DDIM(config), DDIMScheduler(**config)
    assert_close(ours.alphas_cumprod, theirs.alphas_cumprod, 0)
    g = torch.Generator().manual_seed(0)
    for n in [1, 7, 25, 50]:
        ours.set_timesteps(n)
        theirs.set_timesteps(n)
        assert ours.timesteps.tolist() == theirs.timesteps.tolist()
        x = torch.randn(1, 4, 8, 8, generator=g)
        for t in ours.timesteps[:3].tolist() + ours.timesteps[-2:].tolist():
            out = torch.randn(1, 4, 8, 8, generator=g)
            prev, x0 = ours.step(out, t, x)
            expected = theirs.step(out, t, x)
            assert_close(prev, expected.prev_sample)
            assert_close(x0, expected.pred_original_sample)


@pytest.mark.parametrize("eta", [0.5, 1.0])
def test_ddim_eta_matches_diffusers(eta):
    config = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, prediction_type="v_prediction")
    ours, theirs = pare.DDIM(config), DDIMScheduler(**config)
    ours.set_timesteps(10)
    theirs.set_timesteps(10)
    x, out = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    for t in ours.timesteps[:-1].tolist():
        got, _ = ours.step(out, t, x, eta=eta, generator=torch.Generator().manual_seed(t))
        expected = theirs.step(out, t, x, eta=eta, generator=torch.Generator().manual_seed(t)).prev_sample
        assert_close(got, expected)
        assert not torch.allclose(got, ours.step(out, t, x)[0])  # eta really adds noise


def test_ddim_timesteps_by_hand():
    ddim = pare.DDIM(steps_offset=1)
    ddim.set_timesteps(4)
    assert ddim.timesteps.tolist() == [751, 501, 251, 1]
    ddim = pare.DDIM(timestep_spacing="trailing")
    ddim.set_timesteps(4)
    assert ddim.timesteps.tolist() == [999, 749, 499, 249]


@pytest.mark.parametrize("n", [0, -1, 1001, 2.5])
def test_ddim_rejects_bad_step_counts(n):
    with pytest.raises(ValueError, match="num_inference_steps"):
        pare.DDIM().set_timesteps(n)


@pytest.mark.parametrize("n", [np.int64(4), np.int32(4), torch.tensor(4)])
def test_ddim_takes_numpy_and_torch_integers(n):
    ddim = pare.DDIM()
    ddim.set_timesteps(n)
    assert ddim.timesteps.tolist() == [750, 500, 250, 0]


def test_ddim_rejects_unsupported_options():
    with pytest.raises(NotImplementedError, match="squaredcos_cap_v2"):
        pare.DDIM(beta_schedule="squaredcos_cap_v2")


def test_ddim_reads_scheduler_folder(tmp_path):
    (tmp_path / "scheduler").mkdir()
    config = {
        "_class_name": "PNDMScheduler",
        "beta_schedule": "scaled_linear",
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "prediction_type": "v_prediction",
        "skip_prk_steps": True,
        "steps_offset": 1,
    }
    (tmp_path / "scheduler" / "scheduler_config.json").write_text(json.dumps(config))
    ddim = pare.DDIM.from_pretrained(tmp_path, subfolder="scheduler")
    assert ddim.config.prediction_type == "v_prediction" and ddim.config.steps_offset == 1
    with pytest.raises(FileNotFoundError, match=f"Missing {tmp_path}/scheduler_config.json: is {tmp_path} a diffusers"):
        pare.DDIM.from_pretrained(tmp_path)  # the folder itself, as in diffusers: it has no config
