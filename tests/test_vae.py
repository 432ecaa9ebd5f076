"""pare.VAE against diffusers' AutoencoderKL: same random weights, same latents and pictures."""

import pytest
import torch
from conftest import VAE, assert_close
from diffusers import AutoencoderKL

import pare
from pare.sd_configs import SD2, SD15, random_weights
from pare.show import num_parameters


def test_vae_matches_diffusers(generator):
    theirs = random_weights(AutoencoderKL(**VAE)).eval()
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


@pytest.mark.parametrize("sd", [SD15, SD2], ids=["sd15", "sd2"])
def test_real_sd_vaes_have_diffusers_weights(sd):
    """pare.sd_configs' full-size VAE: the weights diffusers builds, by name and shape, 83.7 M of them."""
    with torch.device("meta"):
        ours, theirs = pare.VAE.from_config(sd["vae"]), AutoencoderKL.from_config(sd["vae"])
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert num_parameters(ours) == 83_653_863
