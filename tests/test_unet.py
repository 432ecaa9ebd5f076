"""pare.UNet against diffusers' UNet2DConditionModel: same random weights, same outputs."""

import pytest
import torch
from conftest import SD1_UNET, SD2_UNET, assert_close
from diffusers import UNet2DConditionModel

import pare
from pare.sd_configs import SD2, SD15, random_weights
from pare.show import num_parameters


def pair(config):
    theirs = random_weights(UNet2DConditionModel(**config)).eval()
    ours = pare.UNet.from_config(dict(theirs.config)).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)  # same key names: nothing to map
    return ours, theirs


@pytest.mark.parametrize("config", [SD1_UNET, SD2_UNET], ids=["sd1", "sd2"])
def test_unet_matches_diffusers(config, generator):
    ours, theirs = pair(config)
    context = torch.randn(2, 77, config["cross_attention_dim"], generator=generator)
    for size in [(16, 16), (12, 20)]:  # 12x20 is not a multiple of 8: upsampling must land on the skips
        x = torch.randn(2, 4, *size, generator=generator)
        for t in [0, 1, 500, 999, torch.tensor(250), torch.tensor([10, 900])]:
            with torch.no_grad():
                expected = theirs(x, t, context).sample
                got = ours(x, t, context)
            assert_close(got, expected)


@pytest.mark.parametrize("sd, parameters", [(SD15, 859_520_964), (SD2, 865_910_724)], ids=["sd15", "sd2"])
def test_real_sd_unets_have_diffusers_weights(sd, parameters):
    """pare.sd_configs' full-size configs: pare builds the weights diffusers does, by name and shape,
    as many as the real models have (built on the meta device: no memory, no time)."""
    with torch.device("meta"):
        ours, theirs = pare.UNet.from_config(sd["unet"]), UNet2DConditionModel.from_config(sd["unet"])
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert num_parameters(ours) == parameters


def test_unet_blocks_for_hooks():
    ours, _ = pair(SD1_UNET)
    names = [name for name, _ in ours.named_children()]
    for name in ["conv_in", "down_blocks", "mid_block", "up_blocks", "conv_out"]:
        assert name in names
    assert len(ours.down_blocks) == len(ours.up_blocks) == 3


def test_unet_rejects_unknown_blocks():
    config = dict(SD1_UNET, down_block_types=["SimpleCrossAttnDownBlock2D"] + SD1_UNET["down_block_types"][1:])
    with pytest.raises(NotImplementedError, match="SimpleCrossAttnDownBlock2D"):
        pare.UNet.from_config(config)
    with pytest.raises(NotImplementedError, match="class_embed_type"):
        pare.UNet.from_config(dict(SD1_UNET, class_embed_type="timestep"))
