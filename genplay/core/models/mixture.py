"""A Gaussian mixture with full covariances, fitted by EM: a latent model's code density.

A VAE trained with a N(0, I) prior rarely spreads its training codes like N(0, I): its
codes can lie wider than the prior in some directions and leave holes in others, and
decoding prior draws then shows what no training image looked like. Fitting a density to
the training codes after training and drawing from it instead (ex-post density
estimation: Ghosh et al. 2020, "From variational to deterministic autoencoders"; the
two-stage VAE of Dai & Wipf 2019) samples where the decoder learnt to draw.

Everything here is plain tensors: weights (K,), means (K, D) and the lower Cholesky
factors of the covariances (K, D, D).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Mixture:
    weights: torch.Tensor  # (K,), summing to 1
    means: torch.Tensor  # (K, D)
    scale_tril: torch.Tensor  # (K, D, D), lower triangular, positive diagonal

    def log_density(self, z: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
        """log p(z) of each row of z (N, D), in nats."""
        return torch.cat([_component_log_densities(z[i:i + chunk], self).logsumexp(dim=1)
                          for i in range(0, z.shape[0], chunk)]) if len(z) else z.new_zeros(0)

    def sample(self, n: int, generator: torch.Generator | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """n draws (n, D): a component by weight, then its Gaussian with its spread scaled
        by temperature (0: the component means)."""
        device = self.means.device  # drawn on the generator's device, then moved
        drawn = generator.device if generator is not None else device
        pick = torch.multinomial(self.weights.to(drawn), n, replacement=True,
                                 generator=generator).to(device)
        eps = torch.randn((n, self.means.shape[1], 1), generator=generator,
                          device=drawn).to(device)
        return self.means[pick] + temperature * (self.scale_tril[pick] @ eps)[..., 0]


def _component_log_densities(z: torch.Tensor, mix: Mixture) -> torch.Tensor:
    """(N, K): log weight_k + log N(z; mean_k, cov_k)."""
    d = mix.means.shape[1]
    eye = torch.eye(d, dtype=mix.scale_tril.dtype, device=mix.scale_tril.device)
    inverse = torch.linalg.solve_triangular(mix.scale_tril, eye, upper=False)  # (K, D, D)
    # (z - mean_k) whitened: L_k^-1 (z - mean_k) = L_k^-1 z - L_k^-1 mean_k, no (N, K, D, D)
    white = (torch.einsum("kij,nj->nki", inverse, z)
             - torch.einsum("kij,kj->ki", inverse, mix.means)[None])
    log_det = torch.log(torch.diagonal(mix.scale_tril, dim1=-2, dim2=-1)).sum(-1)  # half
    return (torch.log(mix.weights) - log_det - 0.5 * d * _LOG_2PI
            - 0.5 * (white ** 2).sum(-1))


def fit(z: torch.Tensor, components: int, *, iterations: int = 100, floor: float = 1e-2,
        generator: torch.Generator | None = None) -> Mixture:
    """EM on the rows of z (N, D): means started at random rows, every covariance at the
    data's; floor (times the data's mean variance) is added to each covariance's diagonal
    so that no component shrinks onto a few points. A component left with no weight
    restarts at a random row."""
    z = z.detach().double()
    n, d = z.shape
    if not 1 <= components <= n:
        raise ValueError(f"{components} components for {n} codes: between 1 and {n}")
    ridge = floor * z.var(dim=0).mean() * torch.eye(d, dtype=z.dtype)
    data_cov = torch.cov(z.T).reshape(d, d) + ridge
    means = z[torch.randperm(n, generator=generator)[:components]].clone()
    covs = data_cov.expand(components, d, d).clone()
    weights = torch.full((components,), 1.0 / components, dtype=z.dtype)
    for _ in range(iterations):
        mix = Mixture(weights, means, torch.linalg.cholesky(covs))
        log_r = _component_log_densities(z, mix)
        resp = torch.exp(log_r - log_r.logsumexp(dim=1, keepdim=True))  # (N, K)
        mass = resp.sum(dim=0)
        empty = mass < 1e-6 * n
        if bool(empty.any()):  # a dead component: start it again at a random code
            rows = torch.randint(0, n, (int(empty.sum()),), generator=generator)
            means[empty], covs[empty] = z[rows], data_cov
            mass[empty] = 1.0
            weights = torch.where(empty, 1.0 / components, weights)
            weights = weights / weights.sum()
            continue
        weights = mass / n
        means = (resp.T @ z) / mass[:, None]
        diff = z[:, None, :] - means[None]
        covs = torch.einsum("nk,nki,nkj->kij", resp, diff, diff) / mass[:, None, None] + ridge
    mix = Mixture(weights, means, torch.linalg.cholesky(covs))
    return Mixture(*(t.float() for t in (mix.weights, mix.means, mix.scale_tril)))
