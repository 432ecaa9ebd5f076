"""pare.FlowMatchEuler against diffusers' FlowMatchEulerDiscreteScheduler, and the Pipeline picking it."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_close, randomize
from diffusers import FlowMatchEulerDiscreteScheduler, UNet2DConditionModel
from diffusers.pipelines.flux.pipeline_flux import calculate_shift

import pare

# The scheduler configs of the models people use (scheduler/scheduler_config.json on the Hub).
SD3 = {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 3.0}
SD35 = dict(
    SD3,
    base_image_seq_len=256,
    base_shift=0.5,
    invert_sigmas=False,
    max_image_seq_len=4096,
    max_shift=1.15,
    shift_terminal=None,
    use_beta_sigmas=False,
    use_dynamic_shifting=False,
    use_exponential_sigmas=False,
    use_karras_sigmas=False,
)
FLUX = {
    "_class_name": "FlowMatchEulerDiscreteScheduler",
    "base_image_seq_len": 256,
    "base_shift": 0.5,
    "max_image_seq_len": 4096,
    "max_shift": 1.15,
    "num_train_timesteps": 1000,
    "shift": 3.0,
    "use_dynamic_shifting": True,
}
CONFIGS = {
    "shift 1": {"num_train_timesteps": 1000},
    "SD 3": SD3,
    "SD 3.5": SD35,
    "shift 2.5": dict(SD3, shift=2.5),
    # Flux's size-dependent shift at three sizes, as the fixed shift e^mu it amounts to.
    "Flux 256px": dict(SD3, shift=float(np.exp(calculate_shift(256)))),
    "Flux 1024px": dict(SD3, shift=float(np.exp(calculate_shift(4096)))),
    "Flux 768x1360": dict(SD3, shift=float(np.exp(calculate_shift(48 * 85)))),
}
STEPS = [1, 2, 7, 28, 50]


def pair(name, n, flux_spacing=False):
    """Ours and diffusers' scheduler for config `name`, both set to n steps."""
    config = dict(CONFIGS[name])
    ours, theirs = pare.FlowMatchEuler(config), FlowMatchEulerDiscreteScheduler.from_config(config)
    sigmas = np.linspace(1.0, 1 / n, n) if flux_spacing else None  # what diffusers' FluxPipeline passes
    ours.set_timesteps(n, sigmas=sigmas)
    theirs.set_timesteps(n, sigmas=sigmas)
    return ours, theirs


@pytest.mark.parametrize("flux_spacing", [False, True], ids=["default spacing", "Flux spacing"])
@pytest.mark.parametrize("n", STEPS)
@pytest.mark.parametrize("name", CONFIGS)
def test_schedule_matches_diffusers(name, n, flux_spacing):
    ours, theirs = pair(name, n, flux_spacing)
    assert ours.timesteps.dtype == torch.float32 and len(ours.timesteps) == n and len(ours.sigmas) == n + 1
    assert_close(ours.sigmas, theirs.sigmas, 1e-6)
    assert_close(ours.timesteps, theirs.timesteps, 1e-6)
    assert ours.sigmas[0] == 1 and ours.sigmas[-1] == 0 and (ours.sigmas.diff() < 0).all()


@pytest.mark.parametrize("n", STEPS)
@pytest.mark.parametrize("name", CONFIGS)
def test_euler_walk_matches_diffusers(name, n):
    """Every step of a whole walk, on a different random "model output" each step."""
    ours, theirs = pair(name, n)
    g = torch.Generator().manual_seed(n)
    x = theirs_x = torch.randn(2, 4, 8, 8, generator=g)
    for i, (t_ours, t_theirs) in enumerate(zip(ours.timesteps, theirs.timesteps)):
        v = torch.randn(2, 4, 8, 8, generator=g)
        x_in = x
        x, x0 = ours.step(v, t_ours, x)
        theirs_x = theirs.step(v, t_theirs, theirs_x).prev_sample
        assert_close(x, theirs_x, 1e-6)
        assert_close(x0, x_in - theirs.sigmas[i] * v, 1e-6)  # diffusers' step returns no x_0 guess
    assert not torch.allclose(x, theirs_x * 0)  # a real walk


@pytest.mark.parametrize("name", ["shift 1", "SD 3", "Flux 1024px"])
def test_exact_velocity_lands_on_the_data(name):
    """For data that is a single latent c, the true velocity at x is (x - c) / sigma: every Euler step then
    scales x - c by sigma_next / sigma, so any number of steps ends exactly on c, and predicts c each step."""
    c = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    for n in [1, 3, 20]:
        ours, _ = pair(name, n)
        x = torch.randn(1, 4, 8, 8)
        for t, sigma in zip(ours.timesteps, ours.sigmas):
            x, x0 = ours.step((x - c) / sigma, t, x)
            assert_close(x0, c, 1e-5)
        assert_close(x, c, 1e-5)


def test_naive_loop_is_euler_with_even_levels():
    """Shift 1 and n evenly spaced levels from 1 to 0: each Euler step is `x -= v / n`."""
    ours = pare.FlowMatchEuler()
    ours.set_timesteps(10, sigmas=np.linspace(1.0, 0.1, 10))
    assert_close(ours.sigmas.diff(), torch.full((10,), -0.1), 1e-6)
    x, v = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    assert_close(ours.step(v, ours.timesteps[3], x)[0], x - v / 10, 1e-6)


def test_shift_by_hand():
    """Shift 1: the plain linspace from 1 to 1/T. SD 3's shift 3 moves every level towards noise, and
    (as in diffusers) spaces them down to the shifted 1/T before shifting, so the last is shifted twice."""
    plain, sd3 = pare.FlowMatchEuler(), pare.FlowMatchEuler(SD3)
    plain.set_timesteps(4)
    sd3.set_timesteps(4)
    assert_close(plain.timesteps, torch.tensor([1000.0, 667.0, 334.0, 1.0]), 1e-6)
    assert (sd3.sigmas[1:-1] > plain.sigmas[1:-1]).all()
    levels = np.linspace(1, 3 * 0.001 / (1 + 2 * 0.001), 4)
    expected = torch.tensor([*(3 * levels / (1 + 2 * levels)), 0.0], dtype=torch.float32)
    assert_close(sd3.sigmas, expected, 1e-6)
    assert abs(sd3.sigmas[-2].item() - 0.00893) < 1e-5  # shift(shift(0.001)), not shift(0.001) = 0.002994


def test_dynamic_shifting_is_refused_with_the_reason():
    with pytest.raises(NotImplementedError, match="use_dynamic_shifting=True.*Flux is a transformer.*fixed `shift`"):
        pare.FlowMatchEuler(FLUX)


@pytest.mark.parametrize("name", ["shift 1", "SD 3", "Flux 1024px"])
def test_add_noise_matches_scale_noise(name):
    ours, theirs = pair(name, 10)
    x0, noise = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8)
    for i in [0, 4, 9]:
        t = ours.timesteps[i]
        expected = theirs.scale_noise(x0, theirs.timesteps[i : i + 1], noise)
        assert_close(ours.add_noise(x0, noise, t), expected, 1e-6)
        assert_close(ours.add_noise(x0, noise, t.item()), expected, 1e-6)
    rows = ours.timesteps[[0, 4, 9]]  # one timestep per row, as training draws them
    assert_close(ours.add_noise(x0, noise, rows), theirs.scale_noise(x0, theirs.timesteps[[0, 4, 9]], noise), 1e-6)
    assert torch.equal(ours.add_noise(x0, noise, 1000), noise) and torch.equal(ours.add_noise(x0, noise, 0), x0)


@pytest.mark.parametrize(
    "option, value",
    [
        ("invert_sigmas", True),
        ("shift_terminal", 0.1),
        ("use_karras_sigmas", True),
        ("use_exponential_sigmas", True),
        ("use_beta_sigmas", True),
        ("stochastic_sampling", True),
        ("time_shift_type", "linear"),
        ("prediction_type", "epsilon"),
    ],
)
def test_unsupported_options_are_named(option, value):
    with pytest.raises(NotImplementedError, match=f"{option}={value!r}"):
        pare.FlowMatchEuler(SD3, **{option: value})


def test_bad_calls_are_named():
    for n in [0, 1001, 2.5, "3"]:
        with pytest.raises(ValueError, match="num_inference_steps"):
            pare.FlowMatchEuler().set_timesteps(n)
    for n in [np.int64(3), torch.tensor(3)]:  # numpy and torch integers are whole numbers too
        pare.FlowMatchEuler().set_timesteps(n)
    with pytest.raises(ValueError, match="sigmas has 2 noise levels for 3 steps"):
        pare.FlowMatchEuler().set_timesteps(3, sigmas=[1.0, 0.5])


def test_reads_scheduler_folder(tmp_path):
    (tmp_path / "scheduler").mkdir()
    (tmp_path / "scheduler" / "scheduler_config.json").write_text(json.dumps(dict(SD35, _diffusers_version="0.31.0")))
    flow = pare.FlowMatchEuler.from_pretrained(tmp_path, subfolder="scheduler")
    assert flow.config.shift == 3.0 and flow.config.prediction_type == "flow_prediction"
    assert flow.config.num_train_timesteps == 1000 and len(flow.timesteps) == 50


# The Pipeline on a flow model --------------------------------------------------------------------
FLOW_CONFIG = {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 3.0}


def write_scheduler(folder, config):
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(config))


@pytest.fixture(scope="module")
def flow_model(tmp_path_factory):
    """The offline model's tokenizer, CLIP and VAE, with a random UNet of its shape and a flow scheduler."""
    folder = tmp_path_factory.mktemp("flow") / "model"
    shutil.copytree(pare.TINY_MODEL, folder, ignore=shutil.ignore_patterns("unet"))
    config = json.loads((Path(pare.TINY_MODEL) / "unet" / "config.json").read_text())
    randomize(UNet2DConditionModel(**{k: v for k, v in config.items() if not k.startswith("_")})).save_pretrained(
        folder / "unet"
    )
    write_scheduler(folder, FLOW_CONFIG)
    return folder


@pytest.fixture(scope="module")
def pipe(flow_model):
    pipe = pare.Pipeline.from_pretrained(flow_model, progress=False)
    return pipe


def oracle_sigmas(n):
    oracle = FlowMatchEulerDiscreteScheduler.from_config(FLOW_CONFIG)
    oracle.set_timesteps(n)
    return oracle.sigmas


def euler_by_hand(pipe, latents, embeddings, n, guidance, start=0):
    """The Euler loop written out, on diffusers' noise levels: x += (sigma_next - sigma) * guided v."""
    sigmas, x, ts = oracle_sigmas(n), latents, []
    for i in range(start, n):
        t = sigmas[i] * 1000  # the UNet's timestep: sigma on the training scale
        with torch.no_grad():
            uncond, cond = pipe.unet(torch.cat([x, x]), t, embeddings).chunk(2)
        x = x + (sigmas[i + 1] - sigmas[i]) * (uncond + guidance * (cond - uncond))
        ts.append(t.item())
    return x, ts


def test_pipeline_picks_the_flow_scheduler(pipe):
    assert isinstance(pipe.scheduler, pare.FlowMatchEuler) and pipe.scheduler.config.shift == 3.0
    assert pare.TINY_MODEL_FLOW.endswith("tiny-flow")


def test_pipeline_walk_is_the_euler_loop(pipe):
    latents, embeddings = pipe.get_latent(generator=0), pipe.encode_prompt("a cat")
    steps = list(pipe.denoise_steps(latents, embeddings, num_inference_steps=6, guidance_scale=4))
    expected, ts = euler_by_hand(pipe, latents, embeddings, 6, 4)
    assert_close(steps[-1].latents, expected)
    assert [s.t for s in steps] == pytest.approx(ts, abs=1e-3) and isinstance(steps[0].t, float)
    for s, sigma in zip(steps, oracle_sigmas(6)):
        assert_close(s.pred_x0, s.x_t - sigma * s.model_output)
    assert not torch.allclose(steps[-1].latents, latents, atol=0.1)  # it moved
    image = pipe("a cat", generator=0, num_inference_steps=3)[0]
    assert image.size == (64, 64)


def test_pipeline_image_to_image_with_flow(pipe):
    init = pipe("a cat", generator=0, num_inference_steps=2)[0]
    embeddings = pipe.encode_prompt("a rocket")
    latents = pipe.get_image_latent(init, 0.5, 6, generator=3)
    g = torch.Generator().manual_seed(3)  # the same draws by hand: the VAE's sample, then the noise
    with torch.no_grad():
        x0 = pipe.vae.encode(pare.pipeline.to_tensor(init)).sample(g) * pipe.vae.config.scaling_factor
    sigma = oracle_sigmas(6)[3]  # strength 0.5 of 6 steps: start at the 4th noise level
    assert_close(latents, (1 - sigma) * x0 + sigma * torch.randn(x0.shape, generator=g))
    got = pipe.denoise(latents, embeddings, 6, 4, strength=0.5)
    expected, ts = euler_by_hand(pipe, latents, embeddings, 6, 4, start=3)
    assert len(ts) == 3
    assert_close(got, expected)


def test_pipeline_scheduler_choice(flow_model, tmp_path):
    folder = shutil.copytree(flow_model, tmp_path / "model")
    pndm = {"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}
    write_scheduler(folder, pndm)  # what SD 1.5 ships: pare samples it with DDIM, and says so
    with pytest.warns(UserWarning, match="pare has no PNDMScheduler; it samples this model with DDIM"):
        assert isinstance(pare.Pipeline.from_pretrained(folder).scheduler, pare.DDIM)
    write_scheduler(folder, {"_class_name": "KarrasVeScheduler"})
    with pytest.raises(NotImplementedError, match="KarrasVeScheduler.*FlowMatchEulerDiscreteScheduler"):
        pare.Pipeline.from_pretrained(folder)
    write_scheduler(folder, dict(FLOW_CONFIG, use_karras_sigmas=True))
    with pytest.raises(NotImplementedError, match="use_karras_sigmas"):
        pare.Pipeline.from_pretrained(folder)
