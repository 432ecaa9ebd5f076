"""pare's samplers against diffusers' schedulers of the same name: whole walks over every option SD configs use,
the pipeline on the offline models (text and image-to-image), and the options pare refuses, by name."""

import itertools
import json
import re

import numpy as np
import pytest
import torch
from conftest import assert_close
from diffusers import (
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionPipeline,
)
from PIL import Image

import pare

PAIRS = {
    "Euler": (pare.Euler, EulerDiscreteScheduler),
    "EulerAncestral": (pare.EulerAncestral, EulerAncestralDiscreteScheduler),
    "Heun": (pare.Heun, HeunDiscreteScheduler),
    "DPMSolverMultistep": (pare.DPMSolverMultistep, DPMSolverMultistepScheduler),
    "DDPM": (pare.DDPM, DDPMScheduler),
}
KARRAS = {"Euler", "Heun", "DPMSolverMultistep"}  # the ones with `use_karras_sigmas`
SD = dict(
    num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False
)
SPACINGS = {  # the timestep spacings SD configs use
    "leading": dict(timestep_spacing="leading", steps_offset=1),
    "trailing": dict(timestep_spacing="trailing"),
    "linspace": dict(timestep_spacing="linspace"),
}
STEPS = [1, 2, 3, 7, 14, 15, 25, 50]  # 14 and 15: either side of DPM-Solver's lower_order_final


def model(x, t):
    """A fixed smooth stand-in for the UNet, of the input it is fed and the timestep it is told."""
    return torch.tanh(0.7 * x + float(t) / 500) + 0.1 * torch.sin(3 * x)


def walk_both(ours, theirs, n, seed=0):
    """Both samplers set to n steps, walked from the same start with `model`, every step compared."""
    ours.set_timesteps(n)
    theirs.set_timesteps(n)
    assert torch.allclose(ours.timesteps.double(), theirs.timesteps.double(), rtol=0, atol=1e-4)
    assert abs(float(ours.init_noise_sigma) - float(theirs.init_noise_sigma)) <= 1e-5 * float(theirs.init_noise_sigma)
    x = y = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(seed)) * theirs.init_noise_sigma
    ours_noise = {"generator": torch.Generator().manual_seed(seed + 1)} if ours.stochastic else {}
    theirs_noise = {"generator": torch.Generator().manual_seed(seed + 1)} if ours.stochastic else {}
    for t_ours, t_theirs in zip(ours.timesteps, theirs.timesteps):
        x, x0 = ours.step(model(ours.scale_model_input(x, t_ours), t_ours), t_ours, x, **ours_noise)
        out = theirs.step(model(theirs.scale_model_input(y, t_theirs), t_theirs), t_theirs, y, **theirs_noise)
        y = out.prev_sample
        assert_close(x, y)
        if getattr(out, "pred_original_sample", None) is not None:  # DPM-Solver's step returns no x_0 guess
            assert_close(x0, out.pred_original_sample)
    return x


GRID = [
    (name, prediction, karras, spacing)
    for name, prediction, karras, spacing in itertools.product(
        PAIRS, ["epsilon", "v_prediction"], [False, True], SPACINGS
    )
    if name in KARRAS or not karras
]


@pytest.mark.parametrize("name, prediction, karras, spacing", GRID)
def test_walk_matches_diffusers(name, prediction, karras, spacing):
    config = dict(
        SD, prediction_type=prediction, **SPACINGS[spacing], **({"use_karras_sigmas": True} if karras else {})
    )
    Ours, Theirs = PAIRS[name]
    ours, theirs = Ours(config), Theirs.from_config(config)
    for n in STEPS:
        x = walk_both(ours, theirs, n, seed=n)
    assert x.abs().max() > 0.1  # a real walk


@pytest.mark.parametrize(
    "name, options",
    [
        ("Euler", {}),  # each class's own defaults: linear betas, linspace spacing (Heun: SD's betas)
        ("EulerAncestral", {}),
        ("Heun", {}),
        ("DPMSolverMultistep", {}),
        ("DDPM", {}),  # DDPM clips x_0 to [-1, 1] by default
        ("Euler", dict(final_sigmas_type="sigma_min")),
        ("Euler", dict(prediction_type="sample")),
        ("Heun", dict(prediction_type="sample", clip_sample=True, clip_sample_range=0.5)),
        ("DPMSolverMultistep", dict(final_sigmas_type="sigma_min")),
        ("DPMSolverMultistep", dict(final_sigmas_type="sigma_min", lower_order_final=False, use_karras_sigmas=True)),
        ("DPMSolverMultistep", dict(prediction_type="sample", beta_schedule="scaled_linear")),
        ("DDPM", dict(prediction_type="v_prediction", timestep_spacing="trailing", clip_sample=False)),
        ("DDPM", dict(prediction_type="sample", timestep_spacing="linspace", clip_sample_range=0.5)),
    ],
)
def test_defaults_and_other_options_match_diffusers(name, options):
    Ours, Theirs = PAIRS[name]
    ours, theirs = Ours(**options), Theirs(**options)
    assert_close(ours.alphas_cumprod, theirs.alphas_cumprod, 0)
    for n in [1, 4, 20]:
        walk_both(ours, theirs, n)


@pytest.mark.parametrize("name", ["Euler", "Heun", "DPMSolverMultistep", "DDPM"])
def test_add_noise_matches_diffusers(name):
    Ours, Theirs = PAIRS[name]
    config = dict(SD, prediction_type="v_prediction", use_karras_sigmas=name != "DDPM")
    ours, theirs = Ours(config), Theirs.from_config(config)
    ours.set_timesteps(10)
    theirs.set_timesteps(10)
    x0, noise = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8)
    for i in [0, 5, len(ours.timesteps) - 1]:
        expected = theirs.add_noise(x0, noise, theirs.timesteps[i : i + 1])
        assert_close(ours.add_noise(x0, noise, ours.timesteps[i]), expected)


def test_euler_is_the_naive_loop_with_the_right_step():
    """For an epsilon model each Euler step is `x -= (sigma - sigma_next) * noise_pred`."""
    euler = pare.Euler(SD)
    euler.set_timesteps(10)
    x, eps = torch.randn(1, 4, 8, 8) * 10, torch.randn(1, 4, 8, 8)
    for t, sigma, sigma_next in zip(euler.timesteps, euler.sigmas, euler.sigmas[1:]):
        euler.scale_model_input(x, t)
        x_next, _ = euler.step(eps, t, x)
        assert_close(x_next, x - (sigma - sigma_next) * eps)
        x = x_next


def test_heun_calls_the_unet_twice_a_step_but_the_last():
    heun = pare.Heun(SD)
    heun.set_timesteps(10)
    assert heun.order == 2 and len(heun.timesteps) == 19 and len(heun.sigmas) == 20


def test_a_step_out_of_turn_is_named():
    euler = pare.Euler(SD)
    euler.set_timesteps(10)
    x = torch.randn(1, 4, 8, 8)
    with pytest.raises(ValueError, match="set_begin_index"):
        euler.step(x, euler.timesteps[3], x)
    euler.set_begin_index(3)
    euler.step(x, euler.timesteps[3], x)


@pytest.mark.parametrize(
    "name, option, value",
    [
        ("Euler", "use_exponential_sigmas", True),
        ("Euler", "use_beta_sigmas", True),
        ("Euler", "interpolation_type", "log_linear"),
        ("Euler", "timestep_type", "continuous"),
        ("Euler", "sigma_min", 0.1),
        ("Euler", "rescale_betas_zero_snr", True),
        ("Euler", "beta_schedule", "squaredcos_cap_v2"),
        ("EulerAncestral", "use_karras_sigmas", True),
        ("EulerAncestral", "prediction_type", "sample"),
        ("Heun", "final_sigmas_type", "sigma_min"),
        ("DPMSolverMultistep", "algorithm_type", "sde-dpmsolver++"),
        ("DPMSolverMultistep", "solver_order", 3),
        ("DPMSolverMultistep", "solver_type", "heun"),
        ("DPMSolverMultistep", "euler_at_final", True),
        ("DPMSolverMultistep", "thresholding", True),
        ("DPMSolverMultistep", "use_lu_lambdas", True),
        ("DPMSolverMultistep", "lambda_min_clipped", -5.1),
        ("DPMSolverMultistep", "variance_type", "learned_range"),
        ("DPMSolverMultistep", "use_flow_sigmas", True),
        ("DDPM", "variance_type", "fixed_large"),
        ("DDPM", "thresholding", True),
    ],
)
def test_unsupported_options_are_named(name, option, value):
    with pytest.raises(NotImplementedError, match=re.escape(f"{option}={value!r}")):
        PAIRS[name][0](SD, **{option: value})


def test_ancestral_karras_refusal_says_what_to_do():
    with pytest.raises(NotImplementedError, match="use_karras_sigmas=False to from_config"):
        pare.EulerAncestral.from_config(pare.DPMSolverMultistep(use_karras_sigmas=True).config)


def test_a_model_folder_gets_the_sampler_it_names(tmp_path):
    (tmp_path / "scheduler").mkdir()
    for name, Sampler in pare.pipeline.SCHEDULERS.items():
        (tmp_path / "scheduler" / "scheduler_config.json").write_text(json.dumps({"_class_name": name}))
        assert type(pare.pipeline.load_scheduler(tmp_path)) is Sampler
    (tmp_path / "scheduler" / "scheduler_config.json").write_text(json.dumps({"_class_name": "PNDMScheduler"}))
    with pytest.warns(UserWarning, match="pare has no PNDMScheduler; it samples this model with DDIM"):
        assert type(pare.pipeline.load_scheduler(tmp_path)) is pare.DDIM


# The pipeline on the offline models ----------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[pare.TINY_MODEL, pare.TINY_MODEL_SD1], ids=["tiny-sd2 (v)", "tiny-sd1 (eps)"])
def pipes(request):
    ours = pare.Pipeline.from_pretrained(request.param, progress=False)
    theirs = StableDiffusionPipeline.from_pretrained(request.param, dtype=torch.float32, safety_checker=None)
    theirs.set_progress_bar_config(disable=True)
    return ours, theirs, ours.scheduler.config, theirs.scheduler.config  # the model's own DDIM config


def on_sampler(pipes, name, **options):
    """Both pipelines on sampler `name`, built from the model's own scheduler config, as a user swaps it."""
    ours, theirs, ours_config, theirs_config = pipes
    ours.scheduler = PAIRS[name][0].from_config(ours_config, **options)
    theirs.scheduler = PAIRS[name][1].from_config(theirs_config, **options)
    return ours, theirs


SAMPLERS = [
    ("Euler", {}),
    ("EulerAncestral", {}),
    ("Heun", {}),
    ("DPMSolverMultistep", {}),
    ("DPMSolverMultistep", {"use_karras_sigmas": True}),  # A1111's default, DPM++ 2M Karras
    ("DDPM", {}),
]
IDS = ["Euler", "EulerAncestral", "Heun", "DPM++ 2M", "DPM++ 2M Karras", "DDPM"]


@pytest.mark.parametrize("name, options", SAMPLERS, ids=IDS)
def test_pipeline_walk_matches_diffusers(pipes, name, options):
    """pare's starting latent (scaled by init_noise_sigma) and walk against diffusers', which scales the unit
    latents it is given by the same init_noise_sigma; the stochastic samplers draw from equal generators."""
    ours, theirs = on_sampler(pipes, name, **options)
    embeddings = ours.encode_prompt("a cat")
    ours.scheduler.set_timesteps(6)  # the starting noise level can depend on the steps
    latents = ours.get_latent(generator=0)
    got = ours.denoise(latents, embeddings, 6, guidance_scale=5, generator=torch.Generator().manual_seed(1))
    unit = torch.randn(latents.shape, generator=torch.Generator().manual_seed(0))
    expected = theirs(
        "a cat",
        latents=unit,
        num_inference_steps=6,
        guidance_scale=5,
        generator=torch.Generator().manual_seed(1),
        output_type="latent",
    ).images
    assert_close(got, expected)
    assert not torch.allclose(got, latents, atol=0.1)  # it moved


@pytest.mark.parametrize("name", ["Euler", "EulerAncestral"])
def test_pipeline_call_draws_diffusers_picture(pipes, name):
    """The whole call from a seed: the starting latent at this step count's noise level, then (ancestral) the
    same generator's fresh noise each step. The same seed gives the same picture."""
    ours, theirs = on_sampler(pipes, name)
    image = ours("a rocket", num_inference_steps=5, guidance_scale=5, generator=7)[0]
    expected = theirs(
        "a rocket",
        num_inference_steps=5,
        guidance_scale=5,
        generator=torch.Generator().manual_seed(7),
        output_type="np",
    ).images[0]
    assert np.abs(np.asarray(image, dtype=np.float32) / 255 - expected).max() <= 1 / 255  # rounding to 8 bits
    again = ours("a rocket", num_inference_steps=5, guidance_scale=5, generator=7)[0]
    assert np.array_equal(np.asarray(image), np.asarray(again))


@pytest.mark.parametrize(
    "name, options", [SAMPLERS[1], SAMPLERS[2], SAMPLERS[4]], ids=["EulerAncestral", "Heun", "DPM++ 2M Karras"]
)
def test_image_to_image_matches_diffusers(pipes, name, options):
    """Image-to-image starts part-way: the samplers that count their steps (Heun's two calls a step, DPM-Solver's
    history) begin at the skipped steps times `order`, as diffusers' set_begin_index does."""
    ours, theirs = on_sampler(pipes, name, **options)
    init = Image.fromarray(np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    embeddings = ours.encode_prompt("a rocket")
    g = torch.Generator().manual_seed(3)  # one stream, as in a call: the VAE's sample, the noise, the steps'
    latents = ours.get_image_latent(init, 0.5, 6, generator=g)
    got = ours.denoise(latents, embeddings, 6, guidance_scale=5, strength=0.5, generator=g)
    expected = StableDiffusionImg2ImgPipeline(**theirs.components)(
        "a rocket",
        image=init,
        strength=0.5,
        num_inference_steps=6,
        guidance_scale=5,
        generator=torch.Generator().manual_seed(3),
        output_type="latent",
    ).images
    assert_close(got, expected)
