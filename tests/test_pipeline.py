"""The whole pipeline against diffusers' StableDiffusionPipeline, on the shipped offline models."""

import numpy as np
import pytest
import torch
from conftest import assert_close
from diffusers import DDIMScheduler, StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

import pare


@pytest.fixture(scope="module", params=[pare.TINY_MODEL, pare.TINY_MODEL_SD1], ids=["tiny-sd2", "tiny-sd1"])
def pipes(request):
    ours = pare.Pipeline.from_pretrained(request.param, progress=False)
    theirs = StableDiffusionPipeline.from_pretrained(request.param, dtype=torch.float32, safety_checker=None)
    theirs.scheduler = DDIMScheduler.from_config(theirs.scheduler.config)
    theirs.set_progress_bar_config(disable=True)
    return ours, theirs


@pytest.mark.parametrize("negative", ["", "a black background"])
def test_pipeline_matches_diffusers(pipes, negative):
    ours, theirs = pipes
    latents = ours.get_latent(generator=0)
    embeddings = ours.encode_prompt("a cat", negative)
    positive, negative_emb = theirs.encode_prompt("a cat", "cpu", 1, True, negative)
    assert_close(embeddings, torch.cat([negative_emb, positive]))
    got = ours.denoise(latents, embeddings, num_inference_steps=10, guidance_scale=5)
    expected = theirs(
        "a cat",
        negative_prompt=negative,
        latents=latents,
        num_inference_steps=10,
        guidance_scale=5,
        output_type="latent",
    ).images
    assert_close(got, expected)
    image = np.asarray(ours.vae_decode(got)[0], dtype=np.float32) / 255
    picture = theirs(
        "a cat", negative_prompt=negative, latents=latents, num_inference_steps=10, guidance_scale=5, output_type="np"
    ).images[0]
    assert np.abs(image - picture).max() <= 1 / 255  # rounding to 8 bits


def test_four_steps_equal_call(pipes):
    pipe, _ = pipes
    image = pipe("a rocket", generator=42, num_inference_steps=5)[0]
    by_hand = pipe.vae_decode(pipe.denoise(pipe.get_latent(generator=42), pipe.encode_prompt("a rocket"), 5))[0]
    assert np.array_equal(np.asarray(image), np.asarray(by_hand))
    assert image.size == (pipe.unet.config.sample_size * pipe.vae_scale_factor,) * 2


def test_seeds(pipes):
    pipe, _ = pipes
    first, again, other = (np.asarray(pipe("pancakes", generator=s, num_inference_steps=3)[0]) for s in (7, 7, 8))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_batch_of_prompts(pipes):
    pipe, _ = pipes
    prompts = ["a cat", "a sheep"]
    latents = pipe.get_latent(generator=1, batch_size=2)
    assert latents.shape == (2, 4, pipe.unet.config.sample_size, pipe.unet.config.sample_size)
    images = pipe(prompts, latents=latents, num_inference_steps=3)
    alone = pipe(prompts[1], latents=latents[1:], num_inference_steps=3)[0]
    assert len(images) == 2
    assert np.abs(np.asarray(images[1], dtype=int) - np.asarray(alone, dtype=int)).max() <= 1


def test_one_starting_latent_serves_every_prompt(pipes):
    pipe, _ = pipes
    prompts = ["a rocket", "pancakes"]
    latents = pipe.get_latent(generator=0)
    images = pipe(prompts, latents=latents, num_inference_steps=3)
    alone = [pipe(p, latents=latents, num_inference_steps=3)[0] for p in prompts]
    for image, single in zip(images, alone):
        assert np.abs(np.asarray(image, dtype=int) - np.asarray(single, dtype=int)).max() <= 1
    many = pipe.get_latent(generator=0, batch_size=3)  # one prompt for three latents
    images = pipe("a rocket", latents=many, num_inference_steps=3)
    assert len(images) == 3 and np.abs(np.asarray(images[0], dtype=int) - np.asarray(alone[0], dtype=int)).max() <= 1
    with pytest.raises(ValueError, match="2 starting latents or images for 3 prompts"):
        pipe(["a cat", "a rocket", "pancakes"], latents=pipe.get_latent(generator=0, batch_size=2))


def test_one_image_serves_every_prompt_as_in_diffusers(pipes):
    ours, theirs = pipes
    init = ours("a cat", generator=0, num_inference_steps=3)[0]
    prompts = ["a rocket", "pancakes"]
    got = ours(prompts, image=init, strength=0.5, num_inference_steps=6, generator=3)
    img2img = StableDiffusionImg2ImgPipeline(**theirs.components)
    expected = img2img(
        prompts,
        image=init,
        strength=0.5,
        num_inference_steps=6,
        generator=torch.Generator().manual_seed(3),
        output_type="np",
    ).images
    assert len(got) == 2
    for image, picture in zip(got, expected):
        assert np.abs(np.asarray(image, dtype=np.float32) / 255 - picture).max() <= 1 / 255


def test_steps_are_visible(pipes):
    pipe, _ = pipes
    latents, embeddings = pipe.get_latent(generator=0), pipe.encode_prompt("a cat")
    steps = list(pipe.denoise_steps(latents, embeddings, num_inference_steps=4))
    assert [s.t for s in steps] == pipe.scheduler.timesteps.tolist()
    assert all(s.x_t.shape == s.pred_x0.shape == s.model_output.shape == latents.shape for s in steps)
    assert torch.equal(steps[1].x_t, steps[0].latents)
    assert torch.equal(steps[-1].latents, pipe.denoise(latents, embeddings, num_inference_steps=4))


def test_image_to_image_matches_diffusers(pipes):
    ours, theirs = pipes
    init = ours("a cat", generator=0, num_inference_steps=3)[0]
    img2img = StableDiffusionImg2ImgPipeline(**theirs.components)
    for strength in [0.5, 0.9]:
        got = ours("a rocket", image=init, strength=strength, num_inference_steps=10, generator=3)[0]
        expected = img2img(
            "a rocket",
            image=init,
            strength=strength,
            num_inference_steps=10,
            generator=torch.Generator().manual_seed(3),
            output_type="np",
        ).images[0]
        assert np.abs(np.asarray(got, dtype=np.float32) / 255 - expected).max() <= 1 / 255


def test_strength_1_is_text_to_image_from_the_same_seed(pipes):
    pipe, _ = pipes
    init = pipe("a cat", generator=0, num_inference_steps=3)[0]
    forgotten = pipe("a rocket", image=init, strength=1.0, num_inference_steps=4, generator=3)[0]
    assert np.array_equal(np.asarray(forgotten), np.asarray(pipe("a rocket", num_inference_steps=4, generator=3)[0]))
    with pytest.raises(ValueError, match="text-to-image"):
        pipe.get_image_latent(init, 1.0, 4)


def test_four_steps_equal_call_for_a_sigma_space_sampler(pipes):
    """get_latent draws N(0, I) whatever the sampler; denoise starts it at the sampler's noise level,
    which for Euler with leading spacing depends on the number of steps."""
    pipe, _ = pipes
    ddim, pipe.scheduler = pipe.scheduler, pare.Euler.from_config(pipe.scheduler.config)
    try:
        image = pipe("a rocket", generator=42, num_inference_steps=5)[0]
        latents = pipe.get_latent(generator=42)
        assert abs(latents.std().item() - 1) < 0.2
        by_hand = pipe.vae_decode(pipe.denoise(latents, pipe.encode_prompt("a rocket"), 5))[0]
    finally:
        pipe.scheduler = ddim
    assert np.array_equal(np.asarray(image), np.asarray(by_hand))


def test_bad_input_is_named(pipes):
    pipe, _ = pipes
    f = pipe.vae_scale_factor
    with pytest.raises(ValueError, match=f"multiples of {f}"):
        pipe("a cat", width=f * 8 + 3)
    with pytest.raises(ValueError, match="num_inference_steps"):
        pipe("a cat", num_inference_steps=0)
    with pytest.raises(ValueError, match="num_inference_steps"):
        pipe("a cat", num_inference_steps=5000)
    with pytest.raises(TypeError, match="string"):
        pipe(42)
    with pytest.raises(TypeError, match="string"):
        pipe(["a cat", None])
    init = pipe("a cat", num_inference_steps=2, generator=0)[0]
    for strength in [0, -0.5, 1.5]:
        with pytest.raises(ValueError, match="strength"):
            pipe("a cat", image=init, strength=strength)


def test_long_prompt_is_cut_with_a_warning(pipes):
    pipe, _ = pipes
    prompt = "a cat " + " ".join(["and a rocket"] * 30)
    with pytest.warns(UserWarning, match="longer than CLIP's 77 tokens"):
        ids = pipe.clip.tokenize(prompt)
    assert ids.shape == (1, 77) and ids[0, -1].item() == 49407


def test_cuda_without_a_gpu_is_named():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="no GPU"):
        pare.Pipeline.from_pretrained(pare.TINY_MODEL, device="cuda")


def test_default_model_is_offline_without_a_gpu(monkeypatch):
    monkeypatch.delenv("PARE_MODEL", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pare.default_model() == pare.TINY_MODEL
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pare.default_model() == pare.HUB_MODEL
    monkeypatch.setenv("PARE_MODEL", "/some/folder")
    assert pare.default_model() == "/some/folder"
