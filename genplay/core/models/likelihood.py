"""Discretized logistic mixture over 8-bit pixel values.

Every one of the 256 values gets a proper probability (the end bins take the
tails), so a model trained with it reports an honest bits/dim, comparable with
flows and autoregressive models.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_HALF_BIN = 1.0 / 255.0  # half the width of one 8-bit bin on the [-1, 1] scale


def param_channels(channels: int, n_mix: int) -> int:
    """Output channels a network needs: logits, means and log-scales per mixture component."""
    return channels * 3 * n_mix


def _split(params: torch.Tensor, channels: int, n_mix: int):
    n, _, h, w = params.shape
    p = params.view(n, channels, 3 * n_mix, h, w)
    logits = p[:, :, :n_mix]
    means = p[:, :, n_mix : 2 * n_mix]
    log_scales = p[:, :, 2 * n_mix :].clamp(min=-7.0)
    return logits, means, log_scales


def log_prob(x: torch.Tensor, params: torch.Tensor, n_mix: int) -> torch.Tensor:
    """Per-pixel log-probability (nats) of images x in [0, 1], shape (N, C, H, W)."""
    channels = x.shape[1]
    logits, means, log_scales = _split(params, channels, n_mix)
    xs = (x * 2.0 - 1.0).unsqueeze(2)
    centered = xs - means
    inv_scale = torch.exp(-log_scales)
    plus_in = inv_scale * (centered + _HALF_BIN)
    min_in = inv_scale * (centered - _HALF_BIN)
    log_cdf_plus = plus_in - F.softplus(plus_in)  # log P(value <= 0 bin), used for x = 0
    log_one_minus_cdf_min = -F.softplus(min_in)  # log P(value >= 255 bin), used for x = 255
    cdf_delta = torch.sigmoid(plus_in) - torch.sigmoid(min_in)
    mid_in = inv_scale * centered
    # Where the bin mass underflows, use density * bin width instead.
    log_pdf_mid = mid_in - log_scales - 2.0 * F.softplus(mid_in) + math.log(2 * _HALF_BIN)
    inner = torch.where(
        cdf_delta > 1e-5, torch.log(cdf_delta.clamp(min=1e-12)), log_pdf_mid
    )
    per_component = torch.where(
        xs < -0.999, log_cdf_plus, torch.where(xs > 0.999, log_one_minus_cdf_min, inner)
    )
    return torch.logsumexp(per_component + F.log_softmax(logits, dim=2), dim=2)


def mean(params: torch.Tensor, channels: int, n_mix: int) -> torch.Tensor:
    """Expected image in [0, 1] (component means clamped to the pixel range)."""
    logits, means, _ = _split(params, channels, n_mix)
    weights = F.softmax(logits, dim=2)
    return ((weights * means.clamp(-1.0, 1.0)).sum(dim=2) + 1.0) / 2.0


def sample(
    params: torch.Tensor, channels: int, n_mix: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draws 8-bit images in [0, 1] from the mixture."""
    logits, means, log_scales = _split(params, channels, n_mix)
    u = torch.rand(logits.shape, generator=generator, device=logits.device)
    gumbel = -torch.log(-torch.log(u.clamp(1e-6, 1 - 1e-6)))
    pick = F.one_hot((logits + gumbel).argmax(dim=2), n_mix).permute(0, 1, 4, 2, 3).to(means)
    m = (means * pick).sum(dim=2)
    s = torch.exp((log_scales * pick).sum(dim=2))
    u = torch.rand(m.shape, generator=generator, device=m.device).clamp(1e-5, 1 - 1e-5)
    xs = (m + s * (torch.log(u) - torch.log1p(-u))).clamp(-1.0, 1.0)
    return torch.round((xs + 1.0) / 2.0 * 255.0) / 255.0
