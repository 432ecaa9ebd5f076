"""The slides' loop with no scheduler, `latents -= ratio * output / N`, and the angle that answers it.

With sqrt(abar_t) = cos(phi_t) and sqrt(1 - abar_t) = sin(phi_t), a DDIM step of a v-model from t to
the next timestep t' is a rotation by delta_t = phi_t - phi_t' (Salimans & Ho 2022, appendix D):

    x_t' = cos(delta_t) x - sin(delta_t) v  ~  x - delta_t v

so the naive loop is DDIM's small-angle form with one constant angle r/N, and the ratio that turns
the latent through DDIM's whole angle is the sum of the deltas, phi(t_first) - phi_final: 1.456 at 25
steps of SD's schedule, 1.466 at 50. Notebook 03 derives it; notebook 07 and tools/eval_offline.py
measure how close the loop comes to DDIM.
"""

import torch


def naive_denoise(model, x_T, timesteps, ratios):
    """No scheduler: at each of the N timesteps subtract ratio / N of `model(latents, t)`, for every
    latent of x_T [B, ...] at every ratio, all in one batch: [R, B, ...]."""
    r = torch.as_tensor(ratios).to(x_T).view(-1, *[1] * x_T.dim())  # [R, 1, ...]
    latents = x_T.expand(len(r), *x_T.shape)
    for t in timesteps:
        latents = latents - r / len(timesteps) * model(latents.flatten(0, 1), t).view(latents.shape)
    return latents


def angle(scheduler, t):
    """phi_t = arccos sqrt(abar_t) of a DDIM scheduler: 0 is the clean picture, pi/2 pure noise
    (t < 0: the level after the last step, `final_alpha_cumprod`)."""
    return torch.arccos(scheduler.abar(int(t)).double().sqrt())


def turns(scheduler):
    """The angle delta_t = phi_t - phi_t' that DDIM turns through at each of its timesteps, as its
    `set_timesteps(n)` chose them."""
    return torch.stack(
        [angle(scheduler, t) - angle(scheduler, scheduler.previous_timestep(t)) for t in scheduler.timesteps]
    )


def total_angle(scheduler):
    """The sum of DDIM's turns, which telescopes to phi(t_first) - phi_final: the naive loop's ratio
    that turns a v-model's latent through the same angle as DDIM in as many steps."""
    return float(angle(scheduler, scheduler.timesteps[0]) - angle(scheduler, -1))
