"""pare.UNet against diffusers' UNet2DConditionModel: same random weights, same outputs."""

import pytest
import torch
from conftest import SD1_UNET, SD2_UNET, assert_close, randomize
from diffusers import UNet2DConditionModel

import pare


def pair(config):
    theirs = randomize(UNet2DConditionModel(**config))
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
