"""A VAE's code density fitted after training: the mixture, the model with it, genplay prior."""

from __future__ import annotations

import json

import pytest
import torch
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from genplay.cli import main
from genplay.core import checkpoints
from genplay.core.errors import GenplayError
from genplay.core.events import Result, final_value
from genplay.core.models import mixture
from genplay.core.models.vae import VAE, VAEConfig
from genplay.core.ops.code_prior import fit_code_prior


def _two_clusters(n: int = 2000) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.cat([torch.randn(n // 4, 3, generator=g) * 0.5 + 3.0,
                      torch.randn(3 * n // 4, 3, generator=g) - 2.0])


def test_mixture_finds_two_clusters_and_its_density_is_the_textbook_one():
    z = _two_clusters()
    mix = mixture.fit(z, 2, generator=torch.Generator().manual_seed(1))
    order = torch.argsort(mix.weights)
    assert torch.allclose(mix.weights[order], torch.tensor([0.25, 0.75]), atol=0.02)
    assert torch.allclose(mix.means[order], torch.tensor([[3.0] * 3, [-2.0] * 3]), atol=0.1)
    reference = MixtureSameFamily(Categorical(mix.weights),
                                  MultivariateNormal(mix.means, scale_tril=mix.scale_tril))
    assert torch.allclose(mix.log_density(z[:50]), reference.log_prob(z[:50]), atol=1e-4)
    drawn = mix.sample(4000, torch.Generator().manual_seed(2))
    assert torch.allclose(drawn.mean(0), z.mean(0), atol=0.15)
    # temperature 0 draws the component means only
    still = mix.sample(10, torch.Generator().manual_seed(3), temperature=0.0)
    assert all(bool((mix.means - row).abs().sum(1).min() < 1e-5) for row in still)


def test_more_components_than_codes_is_refused():
    with pytest.raises(ValueError, match="between 1 and 3"):
        mixture.fit(torch.zeros(3, 2), 4)


def test_a_vae_without_a_fitted_prior_draws_as_before():
    model = VAE(VAEConfig(image_size=8, base_channels=4, latent_dim=4, n_mix=2))
    drawn = model.prior_sample(5, torch.Generator().manual_seed(7))
    assert torch.equal(drawn, torch.randn((5, 4), generator=torch.Generator().manual_seed(7)))
    assert not any(k.startswith("prior_") for k in model.state_dict())


def test_an_unfitted_mixture_prior_is_the_standard_normal():
    plain = VAE(VAEConfig(image_size=8, base_channels=4, latent_dim=4, n_mix=2))
    mixed = VAE(VAEConfig(image_size=8, base_channels=4, latent_dim=4, n_mix=2,
                          prior_components=3))
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(plain.prior_log_density(z), mixed.prior_log_density(z), atol=1e-5)


def test_the_bound_uses_the_fitted_prior():
    torch.manual_seed(0)
    model = VAE(VAEConfig(image_size=8, base_channels=4, latent_dim=4, n_mix=2,
                          prior_components=1)).eval()
    x = torch.rand(3, 1, 8, 8)
    before = model.log_prob(x, k=4, generator=torch.Generator().manual_seed(0))
    far = mixture.Mixture(torch.ones(1), torch.full((1, 4), 50.0), torch.eye(4)[None])
    model.set_code_prior(far)  # codes near 0 are nearly impossible under N(50, I)
    after = model.log_prob(x, k=4, generator=torch.Generator().manual_seed(0))
    assert bool((after < before - 1000).all())
    with pytest.raises(ValueError, match="prior_means"):
        model.set_code_prior(mixture.Mixture(torch.ones(1), torch.zeros(1, 3), torch.eye(3)[None]))


def test_genplay_prior_writes_a_new_checkpoint_that_draws_from_the_codes(tiny_checkpoints,
                                                                         tmp_path):
    source = tiny_checkpoints / "vae-tiny"
    before = checkpoints.weights_hash(source)
    out = tmp_path / "vae-prior"
    results = [e for e in fit_code_prior(source, out, (1, 2)) if isinstance(e, Result)]
    assert [r.value for r in results] == [out]
    summary = results[0].summary
    assert summary["components"] in (1, 2) and set(summary["held_out_nats"]) == {1, 2}
    assert summary["code_std"] > 0 and summary["posterior_std"] > 0
    assert checkpoints.weights_hash(source) == before  # the old folder is left as it was
    info = checkpoints.read_info(out)
    assert info.config["prior_components"] == summary["components"]
    assert info.training["code_prior"]["codes"] == summary["codes"]
    assert "genplay prior" in info.recipe
    model, _ = checkpoints.load(out)
    old, _ = checkpoints.load(source)
    shared = {k: v for k, v in model.state_dict().items() if not k.startswith("prior_")}
    assert all(torch.equal(v, old.state_dict()[k]) for k, v in shared.items())
    drawn = model.prior_sample(2000, torch.Generator().manual_seed(0))
    assert torch.allclose(drawn.mean(0), model.prior_means.T @ model.prior_weights, atol=0.2)
    images = model.sample(3, torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 8, 8) and bool(torch.isfinite(images).all())
    with pytest.raises(GenplayError, match="already exists"):
        final_value(fit_code_prior(source, out, (1,)))


def test_genplay_prior_refuses_other_families(tiny_checkpoints, tmp_path):
    with pytest.raises(GenplayError, match="a gan model"):
        final_value(fit_code_prior(tiny_checkpoints / "gan-tiny", tmp_path / "x", (1,)))
    assert not (tmp_path / "x").exists()


def test_cli_prior(tiny_checkpoints, tmp_path, capsys):
    out = tmp_path / "cli-prior"
    assert main(["prior", str(tiny_checkpoints / "vae-tiny"), "--components", "1,2",
                 "--threads", "1", "--out", str(out)]) == 0
    assert "components, chosen by" in capsys.readouterr().out
    assert json.loads((out / "config.json").read_text())["config"]["prior_components"] >= 1
    assert main(["prior", str(tiny_checkpoints / "vae-tiny"), "--components", "one",
                 "--out", str(tmp_path / "other")]) == 2
    assert "whole numbers" in capsys.readouterr().err


def test_genplay_prior_caps_the_codes_and_the_memory(tiny_checkpoints, tmp_path, monkeypatch):
    from genplay.core.ops import code_prior

    monkeypatch.setattr(code_prior, "MAX_CODES", 20)
    out = tmp_path / "capped"
    results = [e for e in fit_code_prior(tiny_checkpoints / "vae-tiny", out, (1, 2))
               if isinstance(e, Result)]
    assert results[0].summary["codes"] == 20 < results[0].summary["encoded"]
    # a size whose EM arrays would pass the limit is not tried; none left is one line
    monkeypatch.setattr(code_prior, "MEMORY_LIMIT", 20 * 1 * 4 * 8)
    results = [e for e in fit_code_prior(tiny_checkpoints / "vae-tiny", tmp_path / "small",
                                         (1, 2)) if isinstance(e, Result)]
    assert set(results[0].summary["held_out_nats"]) == {1}
    monkeypatch.setattr(code_prior, "MEMORY_LIMIT", 8)
    with pytest.raises(GenplayError, match="more memory"):
        final_value(fit_code_prior(tiny_checkpoints / "vae-tiny", tmp_path / "none", (1,)))
