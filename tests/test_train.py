"""The training script: its recipe, its losses, and a run that stops and resumes ends where one run would."""

import dataclasses
import functools
import json

import pytest
import torch
import transformers

import pare
from pare import train


def test_a_stopped_run_resumes_exactly(tmp_path):
    """A run killed mid-way (a session ending), then started again, ends where one run would."""
    data = torch.randn(64, 3)

    def run(out, die_at=None):
        torch.manual_seed(0)
        model, calls = torch.nn.Linear(3, 1), []

        def loss(g):
            calls.append(1)
            if len(calls) == die_at:
                raise KeyboardInterrupt
            return (model(data[torch.randint(0, 64, (8,), generator=g)]) ** 2).mean()

        return train.fit("toy", [model], loss, 10, 0.1, out, ema=True, every=0)

    (whole,), losses = run(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", die_at=5)
    (resumed,), resumed_losses = run(tmp_path / "b")
    assert losses == resumed_losses and len(losses) == 10
    assert torch.equal(whole.weight, resumed.weight) and torch.equal(whole.bias, resumed.bias)


def test_each_parameterisation_trains_on_its_own_target():
    """A UNet that returns the exact target of its parameterisation has zero loss."""
    x0, eps = torch.randn(4, 4, 2, 2), torch.randn(4, 4, 2, 2)

    class Oracle(torch.nn.Module):  # reads t and x_t, answers with the true target
        def __init__(self, kind, scheduler):
            super().__init__()
            self.kind, self.scheduler = kind, scheduler

        def forward(self, x_t, t, context):
            if self.kind == "flow_prediction":
                return eps - x0
            abar = self.scheduler.alphas_cumprod[t.long()][:, None, None, None]
            return eps if self.kind == "epsilon" else abar.sqrt() * eps - (1 - abar).sqrt() * x0

    class Text(torch.nn.Module):
        def forward(self, ids):
            return type("Out", (), {"last_hidden_state": torch.zeros(len(ids), 77, 8)})

    for kind in ("v_prediction", "epsilon", "flow_prediction"):
        scheduler = train.scheduler_for(kind)
        g = torch.Generator().manual_seed(0)
        eps.copy_(torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)))  # the draw training_loss makes
        assert train.training_loss(Oracle(kind, scheduler), Text(), scheduler, x0, torch.zeros(4, 77), g) < 1e-10, kind
        zero = lambda x_t, t, context: torch.zeros_like(x_t)  # noqa: E731
        assert (
            train.training_loss(zero, Text(), scheduler, x0, torch.zeros(4, 77), torch.Generator().manual_seed(0)) > 0.1
        )


def test_min_snr_and_snr_plus_one_weights():
    """Both weightings, for v and eps, against the formulas: min-SNR-5 weighs each sample's error
    in x_0 by min(SNR, 5), "SNR+1" by SNR + 1, which for v is the plain mean squared error."""
    x0 = torch.randn(8, 4, 2, 2)
    g = torch.Generator().manual_seed(0)
    eps = torch.randn(x0.shape, generator=g)
    t = torch.randint(0, 1000, (8,), generator=g)
    zero = lambda x_t, t, context: torch.zeros_like(x_t)  # noqa: E731
    text = lambda ids: type("Out", (), {"last_hidden_state": torch.zeros(len(ids), 77, 8)})  # noqa: E731
    for kind in ("v_prediction", "epsilon"):
        scheduler = train.scheduler_for(kind)
        abar = scheduler.alphas_cumprod[t][:, None, None, None]
        target = abar.sqrt() * eps - (1 - abar).sqrt() * x0 if kind == "v_prediction" else eps
        snr = (abar / (1 - abar)).flatten()
        per_error = snr + 1 if kind == "v_prediction" else snr  # what an x_0 error costs in the unweighted loss
        error = (target**2).mean(dim=(1, 2, 3))

        def loss(min_snr, scheduler=scheduler):
            return train.training_loss(
                zero, text, scheduler, x0, torch.zeros(8, 77), torch.Generator().manual_seed(0), min_snr
            )

        assert torch.allclose(loss(True), (snr.clamp(max=5) / per_error * error).mean()), kind
        assert torch.allclose(loss(False), ((snr + 1) / per_error * error).mean()), kind
        assert loss(True) < loss(False), kind
        if kind == "v_prediction":  # SNR+1 on v is the plain loss
            assert torch.allclose(loss(False), (target**2).mean())


def test_offset_noise_adds_one_constant_per_channel():
    """With offset noise the UNet is asked to undo eps + offset * c, c ~ N(0, 1) one per picture and
    channel, drawn after eps: an oracle of that noise scores zero, one of plain eps does not."""
    x0, offset = torch.randn(64, 4, 16, 16), 0.1  # the models' latent size
    g = torch.Generator().manual_seed(0)
    eps = torch.randn(x0.shape, generator=g)
    shift = offset * torch.randn(64, 4, 1, 1, generator=g)
    scheduler = train.scheduler_for("epsilon")
    text = lambda ids: type("Out", (), {"last_hidden_state": torch.zeros(len(ids), 77, 8)})  # noqa: E731

    def loss(noise, offset_noise):
        oracle = lambda x_t, t, context: noise  # noqa: E731
        return train.training_loss(
            oracle, text, scheduler, x0, torch.zeros(64, 77), torch.Generator().manual_seed(0), False, offset_noise
        )

    assert loss(eps + shift, offset) < 1e-10 and loss(eps, 0.0) < 1e-10
    assert loss(eps, offset) > 0.5 * offset**2  # the shift is in the target: eps alone misses it
    # the noise's mean over a channel's 256 pixels varies by sqrt(1/256 + 0.1^2) = 0.118, not 1/16
    assert 0.1 < (eps + shift).mean(dim=(2, 3)).std() < 0.14 and (eps.mean(dim=(2, 3)).std() - 1 / 16).abs() < 0.01


def test_the_recipe_is_the_one_the_shipped_models_were_trained_by():
    """STAGES says what training_log.json recorded for every stage, ships the folders in pare/models,
    and trains tiny-sd2's three stages one after the other, then tiny-sd1 and tiny-flow side by side."""
    log = json.loads((train.MODELS / "training_log.json").read_text())
    for stage in train.STAGES:
        logged = [log[stage.name][k] for k in ("target", "start_from", "unet_steps", "min_snr", "offset_noise", "lr")]
        assert logged == [stage.target, stage.start_from, stage.steps, stage.min_snr, stage.offset_noise, stage.lr]
        assert stage.batch == 32, stage.name  # the model card's "steps of 32 latents"
    shipped = sorted(folder.parent.name for folder in train.MODELS.glob("*/model_index.json"))
    assert sorted(stage.name for stage in train.STAGES if stage.shipped) == shipped
    rounds = [[stage.name for stage in side_by_side] for side_by_side in train.rounds(train.STAGES)]
    assert rounds == [["tiny-sd2-min-snr"], ["tiny-sd2-plain"], ["tiny-sd2"], ["tiny-sd1", "tiny-flow"]]


def test_a_bad_stage_is_an_error_that_names_it():
    with pytest.raises(ValueError, match="'v-prediction' is not one of v_prediction"):
        train.Stage("x", "v-prediction", 10, 1e-3)
    with pytest.raises(ValueError, match="'y' starts from 'tiny-sd3'"):
        train.rounds([train.Stage("y", "epsilon", 10, 1e-3, "tiny-sd3")])


# Each stage of STAGES, from scratch, 3 steps of 4 latents: the losses that pare/train.py gave before it was
# written as a table of stages (git 731bf01, train_unet(name, ..., min_snr, offset_noise, lr, batch=4)), frozen.
ORIGINAL_LOSSES = {
    "tiny-sd2-min-snr": [0.39860427379608154, 0.36246544122695923, 0.32674747705459595],
    "tiny-sd2-plain": [1.163752555847168, 1.1562494039535522, 1.107006311416626],
    "tiny-sd2": [1.1786028146743774, 1.126457691192627, 1.0586957931518555],
    "tiny-sd1": [21.938236236572266, 1.917876124382019, 73.1438980102539],
    "tiny-flow": [2.1888210773468018, 2.092716693878174, 2.153475046157837],
}


@pytest.mark.skipif(
    int(transformers.__version__.split(".")[0]) < 5,
    reason="the frozen losses were made with transformers 5, whose CLIPTextModel draws its random start differently",
)
@pytest.mark.parametrize("stage", train.STAGES, ids=lambda stage: stage.name)
def test_each_stage_s_loss_curve_is_the_original_s(stage, tmp_path):
    """The same random draws in the same order, the same arithmetic: the losses of the code before the
    stage table. (The flow loss noises with FlowMatchEuler.add_noise at t / T, which can differ from
    the old (1 - s) x_0 + s eps by one float32 rounding; the tolerance allows that, not a new draw.)"""
    g = torch.Generator().manual_seed(0)
    mean, std = torch.randn(8, 4, 16, 16, generator=g), torch.rand(8, 4, 16, 16, generator=g) / 10
    short = dataclasses.replace(stage, steps=3, batch=4, start_from=None)
    *_, losses = train.train_unet(short, (mean, std), ["a cat", "a rocket on a blue background"] * 4, tmp_path)
    assert losses == pytest.approx(ORIGINAL_LOSSES[stage.name], rel=1e-5)


def test_the_whole_recipe_stops_resumes_and_ends_with_models_that_load(tmp_path, monkeypatch):
    """Every stage of STAGES, 2 steps each on 32 pictures: a run stopped in the middle of a stage (a
    session ending) and started again ends where one run would, and each shipped folder loads in
    pare.Pipeline and draws."""
    stages = [dataclasses.replace(stage, steps=2, batch=2) for stage in train.STAGES]
    sizes = dict(images=32, vae_steps=2)
    v_stages = [stage for stage in stages if stage.target == "v_prediction"]  # the fine-tunes follow from them
    train.train_all(tmp_path / "whole", "cpu", 1, v_stages, **sizes)

    calls, loss, out = [], train.training_loss, tmp_path / "resumed"

    def dying_loss(*args):
        calls.append(1)
        if len(calls) == 4:  # tiny-sd2-plain's second step
            raise KeyboardInterrupt
        return loss(*args)

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(train, "fit", functools.partial(train.fit, every=0))  # a checkpoint at every step
        patch.setattr(train, "training_loss", dying_loss)
        train.train_all(out, "cpu", 1, stages, **sizes)
    assert (out / "tiny-sd2-min-snr.json").exists() and not (out / "tiny-sd2-plain.json").exists()
    assert len(torch.load(out / "tiny-sd2-plain.ckpt", weights_only=False)["losses"]) == 1
    log = train.train_all(out, "cpu", 1, stages, **sizes)

    assert [name for name in log if name.startswith("tiny")] == [stage.name for stage in stages]
    for stage in v_stages:
        whole, resumed = (
            torch.load(run / f"{stage.name}.ckpt", weights_only=False) for run in (tmp_path / "whole", out)
        )
        assert whole["losses"] == resumed["losses"] and len(resumed["losses"]) == 2, stage.name
        for file in ("unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"):
            assert (tmp_path / "whole" / stage.name / file).read_bytes() == (out / stage.name / file).read_bytes()
    for stage in stages:
        if stage.shipped:
            pipe = pare.Pipeline.from_pretrained(out / stage.name, progress=False)
            assert pipe.scheduler.config.prediction_type == stage.target
            assert pipe("a cat", num_inference_steps=2, generator=0)[0].size == (64, 64)
