"""A VAE's code density fitted after training (`genplay prior`): the second stage.

A VAE's codes for its training images rarely lie like the N(0, I) it trained against
(the emoji VAE's spread 1.6 times wider, each a point 0.025 wide), so decoding prior draws
shows pictures between the ones it learnt. Here the training split is encoded (the
posterior means), Gaussian mixtures of a few sizes are fitted to 90% of the codes and
compared by the mean log-density of the other 10% (chosen on training codes, never on
the test split), the best size is fitted again to all the codes, and a new checkpoint is
written: the same weights with ``prior_components`` set and the mixture beside them.
The old folder is left as it was.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from genplay.core import checkpoints
from genplay.core.data import ImageDataset, load_dataset
from genplay.core.errors import GenplayError
from genplay.core.events import Progress, Result, relay
from genplay.core.models import mixture
from genplay.core.models.vae import VAE

COMPONENTS = (1, 3, 10, 30, 100, 300)  # the sizes tried by default
HELD_OUT = 0.1  # share of the training codes that choose the size
# EM holds a (codes, components, latent_dim) float64 array a few times over: at most
# MAX_CODES codes are fitted (a seeded random choice of the training split's), and a size
# whose array would pass MEMORY_LIMIT bytes is not tried.
MAX_CODES = 12_000
MEMORY_LIMIT = 2**31
NOTICE = "NOTICE.md"  # credits travel with the weights


def _encode(model: VAE, train: ImageDataset, batch: int) -> Iterator[Progress | Result]:
    """Progress, then Result((the posterior means, the posteriors' mean standard
    deviation))."""
    means, spread = [], 0.0
    with torch.no_grad():
        for i in range(0, len(train), batch):
            mu, logvar = model.posterior(train.as_float(slice(i, i + batch)).to(model.device))
            means.append(mu.cpu())
            spread += float(torch.exp(0.5 * logvar).mean(dim=1).sum())
            yield Progress(min(i + batch, len(train)), len(train),
                           message="encoding the training split")
    yield Result((torch.cat(means), spread / max(1, len(train))))


def fit_code_prior(path: str | os.PathLike, out: str | os.PathLike,
                   components: Sequence[int] = COMPONENTS, *, data_root: str | None = None,
                   seed: int = 0, batch_size: int = 500) -> Iterator[Progress | Result]:
    """Fits the mixture and writes the checkpoint `out` (a folder that must not exist or
    be empty). Result(out, {"components": K chosen, "held_out_nats": {K: mean log p} of
    each size tried, "codes": the training codes fitted, "encoded": those encoded,
    "code_std": the codes' standard deviation averaged over dimensions, "posterior_std":
    the posteriors' likewise}). A size larger than the codes it is fitted to, or past
    MEMORY_LIMIT, is skipped."""
    source, out = Path(path), Path(out)
    if out.is_symlink() or (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        raise GenplayError(f"{out} already exists; genplay prior writes a new folder")
    if not components or any(k < 1 for k in components):
        raise GenplayError("--components: one or more whole numbers from 1")
    info = checkpoints.read_info(source)
    if info.family != "vae":
        raise GenplayError(f"{source} is a {info.family} model; genplay prior fits the code "
                           "density of a VAE")
    model, _ = checkpoints.load(source)
    assert isinstance(model, VAE)
    model.eval()
    c, size = info.image_shape[0], info.image_shape[1]
    train = load_dataset(info.dataset, "train", size=size, channels=c, root=data_root)
    codes, posterior_std = (yield from relay(_encode(model, train, batch_size))).value
    encoded = len(codes)
    if encoded > MAX_CODES:  # its own generator: a split under the cap draws as before
        pick = torch.Generator().manual_seed(seed + 1)
        codes = codes[torch.randperm(encoded, generator=pick)[:MAX_CODES]]
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(codes), generator=generator)
    n_held = max(1, int(len(codes) * HELD_OUT))
    held, fitted = codes[order[:n_held]], codes[order[n_held:]]

    def fits(k: int) -> bool:
        return len(codes) * k * codes.shape[1] * 8 <= MEMORY_LIMIT

    sizes = sorted({k for k in components if k <= len(fitted) and fits(k)})
    if not sizes:
        why = (f"{len(codes)} training codes are too few for {min(components)} components"
               if all(fits(k) for k in components) else
               f"a mixture of {min(components)} components over {codes.shape[1]} latent "
               f"dimensions needs more memory than genplay gives it; try fewer components")
        raise GenplayError(why)
    scores: dict[int, float] = {}
    for i, k in enumerate(sizes):
        yield Progress(i, len(sizes) + 1, message="fitting mixtures of the codes")
        candidate = mixture.fit(fitted, k, generator=torch.Generator().manual_seed(seed + k))
        scores[k] = float(candidate.log_density(held).mean())
    best = max(sizes, key=lambda k: scores[k])
    yield Progress(len(sizes), len(sizes) + 1, message="fitting mixtures of the codes")
    chosen = mixture.fit(codes, best, generator=torch.Generator().manual_seed(seed + best))
    yield Progress(len(sizes) + 1, len(sizes) + 1, message="fitting mixtures of the codes")

    config = dataclasses.replace(model.config, prior_components=best)
    staged = VAE(config)
    own = {k: v for k, v in model.state_dict().items() if not k.startswith("prior_")}
    missing, unexpected = staged.load_state_dict(own, strict=False)
    assert not unexpected and all(k.startswith("prior_") for k in missing)
    staged.set_code_prior(chosen)
    # how the codes lie against N(0, I): their spread per dimension, and each posterior's
    summary = {"components": best, "held_out_nats": scores, "codes": len(codes),
               "encoded": encoded,
               "code_std": float(codes.std(dim=0).mean()), "posterior_std": posterior_std}
    tried = ",".join(str(k) for k in sizes)
    recipe = (f"{info.recipe}; then " if info.recipe else "") + (
        f"genplay prior {source} --components {tried} --seed {seed} --out {out}")
    out.mkdir(parents=True, exist_ok=True)
    checkpoints.save(staged, out, dataset=info.dataset, recipe=recipe,
                     training={**info.training, "code_prior": summary},
                     class_names=info.class_names)
    if (source / NOTICE).is_file():
        shutil.copyfile(source / NOTICE, out / NOTICE)
    yield Result(out, summary)
