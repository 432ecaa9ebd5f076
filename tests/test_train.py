"""The training script: its losses, and a run that stops and resumes ends where one run would."""

import pytest
import torch

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
        zero = lambda x_t, t, context: torch.zeros_like(x_t)
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

        def loss(min_snr):
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
