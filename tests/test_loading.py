"""Loading: local folders and the Hub cache in diffusers layout, strictly, with clear errors."""

import re
import shutil
import socket
from pathlib import Path

import huggingface_hub
import pytest
import torch
from conftest import SD2_UNET, assert_close, randomize
from diffusers import UNet2DConditionModel
from safetensors.torch import load_file, save_file

import pare
from pare import loading

UNET_FILE = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture
def model(tmp_path):
    """A copy of the offline model that a test may break."""
    return shutil.copytree(pare.TINY_MODEL, tmp_path / "model")


def test_folder_written_by_diffusers_loads_and_matches(tmp_path):
    theirs = randomize(UNet2DConditionModel(**SD2_UNET))
    theirs.save_pretrained(tmp_path / "unet")  # config.json + diffusion_pytorch_model.safetensors
    ours = pare.UNet.from_pretrained(tmp_path, subfolder="unet")
    x, context = torch.randn(1, 4, 16, 16), torch.randn(1, 77, SD2_UNET["cross_attention_dim"])
    with torch.no_grad():
        assert_close(ours(x, 10, context), theirs(x, 10, context).sample)


def test_fp16_weights_load_straight_into_fp16(tmp_path):
    theirs = randomize(UNet2DConditionModel(**SD2_UNET))
    theirs.save_pretrained(tmp_path / "unet")
    state = {k: v.half() for k, v in load_file(tmp_path / UNET_FILE).items()}
    save_file(state, tmp_path / "unet" / "diffusion_pytorch_model.fp16.safetensors")
    (tmp_path / UNET_FILE).unlink()
    unet = pare.UNet.from_pretrained(tmp_path, subfolder="unet", dtype=torch.float16)
    assert all(p.dtype == torch.float16 for p in unet.parameters())
    assert torch.equal(unet.conv_in.weight, state["conv_in.weight"])


def test_missing_key_is_named(model):
    state = load_file(model / UNET_FILE)
    del state["conv_out.bias"]
    save_file(state, model / UNET_FILE)
    with pytest.raises(ValueError, match=r"missing: conv_out\.bias"):
        pare.Pipeline.from_pretrained(model)


def test_unexpected_and_wrongly_shaped_keys_are_named(model):
    state = load_file(model / UNET_FILE)
    state["extra.weight"] = torch.zeros(1)
    state["conv_in.bias"] = torch.zeros(3)
    save_file(state, model / UNET_FILE)
    with pytest.raises(ValueError, match=r"unexpected: extra\.weight.*wrong shape: conv_in\.bias"):
        pare.UNet.from_pretrained(model, subfolder="unet")


@pytest.mark.parametrize(
    "part",
    [
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
        "text_encoder/model.safetensors",
    ],
)
def test_truncated_weights_are_named(model, part):
    data = (model / part).read_bytes()
    (model / part).write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        pare.Pipeline.from_pretrained(model)


def test_missing_part_is_named(model):
    shutil.rmtree(model / "vae")
    with pytest.raises(FileNotFoundError, match="vae"):
        pare.Pipeline.from_pretrained(model)


def test_missing_folder_is_named():
    with pytest.raises(FileNotFoundError, match="No model folder"):
        pare.Pipeline.from_pretrained("/no/such/model/folder")


def test_unknown_repo_offline_fails_without_touching_the_network(tmp_path, monkeypatch):
    """Offline, an unknown repo id is an error at once: no connection tried, so no retries to wait
    through (how long loading takes is `make bench`'s to measure, not a test's)."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    tried = []

    def refuse(*args, **kwargs):
        tried.append(args)
        raise OSError("this test allows no network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    with pytest.raises(FileNotFoundError, match="not on disk and the Hub cannot be reached"):
        pare.Pipeline.from_pretrained("nobody/no-such-model")
    assert tried == []


def fake_hub_cache(cache, repo, folder):
    """Lay `folder` out as huggingface_hub caches a downloaded repo: refs/main -> snapshots/<commit>/."""
    root = cache / f"models--{repo.replace('/', '--')}"
    commit = "0" * 40
    shutil.copytree(folder, root / "snapshots" / commit)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)


def test_hub_repo_loads_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    fake_hub_cache(tmp_path, "someone/tiny-sd", pare.TINY_MODEL)
    pipe = pare.Pipeline.from_pretrained("someone/tiny-sd", progress=False)
    local = pare.Pipeline.from_pretrained(pare.TINY_MODEL, progress=False)
    assert (
        pipe("a cat", generator=0, num_inference_steps=2)[0].tobytes()
        == local("a cat", generator=0, num_inference_steps=2)[0].tobytes()
    )
    assert isinstance(pare.UNet.from_pretrained("someone/tiny-sd", subfolder="unet"), pare.UNet)


def test_hub_downloads_only_what_a_pipeline_needs(tmp_path, monkeypatch):
    asked = []

    def snapshot_download(repo, allow_patterns):
        asked.append(allow_patterns)
        return str(tmp_path)  # an empty folder: as if the repo had no fp16 weights

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    loading.resolve("someone/sd", fp16=True)
    patterns = asked[0]
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in patterns
    assert "text_encoder/model.fp16.safetensors" in patterns
    assert not any(p.endswith((".ckpt", ".bin")) or p == "*" for p in patterns)
    assert len(asked) == 2  # no .fp16 files came: it asked for the full ones
    assert "unet/diffusion_pytorch_model.safetensors" in asked[1]
    loading.resolve("someone/sd", ["unet"])
    assert all(p.startswith("unet/") or p == "model_index.json" for p in asked[-1])


@pytest.mark.parametrize(
    "mistyped, meant",
    [("./pare/models/tiny-sd3", r"pare/models/tiny-sd[12]"), ("pare/models/tiny_sd2", r"pare/models/tiny-sd2")],
)
def test_mistyped_local_path_is_named_with_the_nearest_folder(mistyped, meant, monkeypatch):
    """A path that is not a folder is also no repo id ('owner/name'): the error names it and
    suggests the existing folder nearest to it, not the Hub."""
    monkeypatch.chdir(Path(pare.TINY_MODEL).parents[2])  # the checkout: pare/models/ is here
    with pytest.raises(FileNotFoundError) as error:
        pare.Pipeline.from_pretrained(mistyped)
    message = str(error.value)
    assert mistyped in message and "Hub cannot be reached" not in message
    assert re.search(meant, message), message  # an existing folder, a letter or two away


def test_non_ema_copy_beside_the_weights_is_not_loaded(model):
    """A whole-repository download (SD 1.5's) leaves `.non_ema` copies beside the weights: not the ones to load."""
    state = load_file(model / UNET_FILE)
    save_file(
        {k: torch.zeros_like(v) for k, v in state.items()}, model / "unet/diffusion_pytorch_model.non_ema.safetensors"
    )
    unet = pare.UNet.from_pretrained(model, subfolder="unet")
    assert torch.equal(unet.conv_in.weight, state["conv_in.weight"])
