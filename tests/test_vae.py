"""pare.VAE against diffusers' AutoencoderKL: same random weights, same latents and pictures."""

import torch
from conftest import VAE, assert_close, randomize
from diffusers import AutoencoderKL

import pare


def test_vae_matches_diffusers(generator):
    theirs = randomize(AutoencoderKL(**VAE))
    ours = pare.VAE.from_config(dict(theirs.config)).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert ours.scale_factor == 8
    x = torch.rand(2, 3, 64, 48, generator=generator) * 2 - 1
    with torch.no_grad():
        expected, got = theirs.encode(x).latent_dist, ours.encode(x)
        assert got.mean.shape == (2, 4, 8, 6)
        assert_close(got.mean, expected.mean)
        assert_close(got.std, expected.std)
        sample_theirs = expected.sample(torch.Generator().manual_seed(1))
        assert_close(got.sample(torch.Generator().manual_seed(1)), sample_theirs)
        z = torch.randn(2, 4, 8, 6, generator=generator)
        image = ours.decode(z)
        assert image.shape == (2, 3, 64, 48)
        assert_close(image, theirs.decode(z).sample)
