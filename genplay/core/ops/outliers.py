"""Outlier scores of images under a model, and how to read them.

Every score is "higher = stranger to the model". Raw likelihood is famously a poor
outlier score (models trained on clothes give digits a higher likelihood, Nalisnick
et al. 2019), so besides bits/dim there are the corrections that fix much of that:
- complexity: bits/dim minus what a generic lossless compressor (PNG) needs for the same
  image, so simple images stop looking "likely" just for being simple (Serrà et al. 2020);
- ratio: bits/dim minus the bits/dim of a background model of the same data trained
  with a fifth of its pixels replaced by noise, which learns the low-level statistics
  (smooth black backgrounds) but not the objects; the difference is what the model
  knows about the objects themselves (the likelihood ratio of Ren et al. 2019). Only
  for checkpoints that hold such a model in their background/ folder;
- typicality: distance of the bits/dim from what the model's own test images get
  (Nalisnick et al. 2019, one image at a time);
- elbo (latent-variable models): the single-sample bound instead of the tighter one;
- recon (latent models): how badly the model reconstructs the image;
- energy (energy-based models): E(x), an unnormalised -log p(x). Its level is arbitrary,
  so it is never turned into bits/dim (nor into the scores built on bits/dim); only
  its place among the test split's energies means something;
- features (any model with a feature bank beside it, core.nearest.FeatureBank): the
  distance from the image to its nearest training image in the dataset classifier's
  features (a middle stage's colour and texture statistics beside the penultimate
  features), not the model's own view: what likelihoods miss (a photo an emoji model
  finds likely is still nothing like any emoji);
- profile (models that give each pixel's bits, with a bits profile beside them,
  BitsProfile): how unusual the way the model spends its bits on the image is, against
  its training images: bits/dim, the spread of the pixels' bits and the share of pixels
  it finds nearly free, read as one point and scored by how rare such points are among
  the training split's (a kernel density estimate). The density of states of Morningstar
  et al. 2021: a garment on black or a photo can get as few bits/dim as an emoji, but
  not spent the way an emoji's are (no white ground the model finds free, an even spread
  of bits over the picture).
A score becomes a percentile against the same score on the model's test split, and a
threshold is set at a chosen false-positive rate on that split.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genplay.core.errors import GenplayError, ImageError
from genplay.core.events import Partial, Progress, Result, relay
from genplay.core.images import load_image, prepare_for_model, to_float_chw
from genplay.core.models.base import bits_per_dim, encode
from genplay.core.models.capabilities import (
    Density,
    Latent,
    PixelBits,
    device_of,
    has_exact_inverse,
    is_importance_weighted,
    is_normalised,
    log_prob_takes_generator,
)


@dataclass(frozen=True)
class ScoreMethod:
    name: str
    capability: type
    description: str


METHODS = {
    "bpd": ScoreMethod("bpd", Density, "bits per dimension under the model"),
    "complexity": ScoreMethod("complexity", Density,
                              "bits/dim minus the PNG-compressed bits/dim of the image"),
    "ratio": ScoreMethod("ratio", Density,
                         "bits/dim minus the bits/dim of a background model trained on noisy "
                         "images (a likelihood ratio)"),
    "typicality": ScoreMethod("typicality", Density,
                              "distance of bits/dim from the test split's mean bits/dim"),
    "elbo": ScoreMethod("elbo", Density, "negative single-sample ELBO in bits/dim"),
    "recon": ScoreMethod("recon", Latent, "mean squared reconstruction error"),
    "energy": ScoreMethod("energy", Density,
                          "energy of the image (an unnormalised -log p: only its rank "
                          "among the test images means something)"),
    "features": ScoreMethod("features", object,
                            "distance to the nearest training image in the dataset "
                            "classifier's features"),
    "profile": ScoreMethod("profile", PixelBits,
                           "rarity among the training images of the image's bits profile "
                           "(bits/dim, spread of the pixels' bits, share of nearly free "
                           "pixels): -log of a kernel density estimate"),
}

# scores that need a file beside the model -> that file's key among load_aids' files
FILE_SCORES = {"features": "bank", "profile": "profile"}


def available_methods(model, background=None, bank=None, profile=None) -> list[str]:
    """Score methods this model (with its background model, feature bank and bits profile,
    if any) can compute, in a fixed order."""
    files = {"bank": bank, "profile": profile}
    names = []
    for name, method in METHODS.items():
        if not isinstance(model, method.capability):
            continue
        if name in FILE_SCORES:
            if files[FILE_SCORES[name]] is not None:
                names.append(name)
            continue
        if method.capability is Density and (name == "energy") == is_normalised(model):
            continue  # bits/dim need a normalised likelihood; an energy is all the rest have
        if name == "elbo" and not is_importance_weighted(model):
            continue  # exact likelihoods have no looser bound to offer
        if name == "ratio" and not (isinstance(background, Density)
                                    and is_normalised(background)):
            continue
        if name == "recon" and has_exact_inverse(model):
            continue  # decode(encode(x)) == x: the error is always zero
        names.append(name)
    return names


BACKGROUND_DIR = "background"


def load_background(folder, device: str = "cpu"):
    """The background model stored in a checkpoint's background/ folder, or None."""
    from genplay.core import checkpoints

    path = Path(folder) / BACKGROUND_DIR
    if not (path / checkpoints.CONFIG_FILE).is_file():
        return None
    background, info = checkpoints.load(path, device=device)
    main = checkpoints.read_info(folder)
    if tuple(info.image_shape) != tuple(main.image_shape) or not isinstance(background,
                                                                            Density):
        raise GenplayError(f"{path}: not a background model for {folder} (it needs a "
                           f"likelihood and images of shape {main.image_shape})")
    return background.eval()


def compression_bpd(images: np.ndarray) -> np.ndarray:
    """Bits per dimension PNG (zlib level 9) needs for each uint8 (N, H, W, C) image."""
    sizes = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
            buffer, format="PNG", optimize=True)
        sizes.append(len(buffer.getvalue()) * 8 / image.size)
    return np.asarray(sizes, dtype=np.float64)


_ROLES = ("bpd", "elbo")


def _draws(seed: int, start: int, role: str) -> torch.Generator:
    """The random draws of one stochastic estimate (role) of the batch at start: seeded by
    the three alone, so no other estimate's draws shift them."""
    state = np.random.SeedSequence([seed, start, _ROLES.index(role)]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


@torch.no_grad()
def _bpd(model, x: torch.Tensor, generator: torch.Generator, k: int | None) -> torch.Tensor:
    kwargs = {"generator": generator} if log_prob_takes_generator(model) else {}
    if k is not None:
        kwargs["k"] = k
    return bits_per_dim(model.log_prob(x, **kwargs), tuple(x.shape[1:]))


def score_images(
    model, images: np.ndarray, method: str = "bpd", *, batch_size: int = 64,
    typical_bpd: float | None = None, iwae_k: int = 16, seed: int = 0, background=None,
    bank=None, profile=None,
) -> Iterator[Progress | Result]:
    """Scores float (N, C, H, W) images in [0, 1] by one method; Result(float64 (N,))."""
    for event in score_many(model, images, [method], batch_size=batch_size,
                            typical_bpd=typical_bpd, iwae_k=iwae_k, seed=seed,
                            background=background, bank=bank, profile=profile):
        if isinstance(event, Result):
            yield Result(event.value[method], {"method": method})
        else:
            yield event


def score_many(
    model, images: np.ndarray, methods: list[str], *, batch_size: int = 64,
    typical_bpd: float | None = None, iwae_k: int = 16, seed: int = 0, background=None,
    bank=None, profile=None,
) -> Iterator[Progress | Result]:
    """Scores images by several methods in one pass; Result({method: float64 (N,)}).

    bits/dim is computed once and shared by bpd, complexity and typicality.
    typical_bpd (the mean bits/dim of the test split) is needed by "typicality", the
    background model (load_background) by "ratio", the feature bank (load_bank) by
    "features", the bits profile (load_profile) by "profile".
    Seeded: the same call gives the same scores (stochastic bounds draw their samples
    per batch, so a different batch_size gives slightly different estimates). Each
    stochastic estimate draws from a generator of its own per batch (see _draws), so a
    score does not depend on which other scores are asked for in the same pass.
    """
    for method in methods:
        if method not in METHODS:
            raise GenplayError(f"unknown score method {method!r}; known: {', '.join(METHODS)}")
        can = available_methods(model, background, bank, profile)
        if method not in can:
            raise GenplayError(f"this model cannot compute the {method!r} score "
                               f"(it can: {', '.join(can) or 'none'})")
    if "typicality" in methods and typical_bpd is None:
        raise GenplayError("the typicality score needs the test split's mean bits/dim")
    x_all = torch.as_tensor(np.asarray(images, dtype=np.float32))
    x_all = torch.round(x_all.clamp(0, 1) * 255) / 255  # the models see 8-bit images
    k = iwae_k if "bpd" in available_methods(model) and is_importance_weighted(model) else None
    parts: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    for start in range(0, len(x_all), batch_size):
        x = x_all[start : start + batch_size].to(device_of(model))
        bpd = None
        if {"bpd", "complexity", "typicality", "ratio"} & set(methods):
            bpd = _bpd(model, x, _draws(seed, start, "bpd"), k)
        for method in methods:
            if method == "recon":
                with torch.enable_grad():  # encoders by optimisation need gradients
                    z = encode(model, x)
                with torch.no_grad():
                    part = (model.decode(z) - x).pow(2).mean(dim=(1, 2, 3))
            elif method == "energy":
                with torch.no_grad():
                    part = -model.log_prob(x)
            elif method == "elbo":
                part = _bpd(model, x, _draws(seed, start, "elbo"), 1)
            elif method == "complexity":
                pixels = (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
                part = bpd - torch.from_numpy(compression_bpd(pixels)).to(bpd)
            elif method == "typicality":
                part = (bpd - typical_bpd).abs()
            elif method == "features":
                part = torch.from_numpy(bank.distance(x))
            elif method == "profile":
                part = torch.from_numpy(profile.rarity(pixel_bits(model, x), x.shape[1]))
            elif method == "ratio":
                k_bg = iwae_k if is_importance_weighted(background) else None
                # the background's bits/dim as it would score on its own
                part = bpd - _bpd(background, x, _draws(seed, start, "bpd"), k_bg).to(bpd)
            else:
                part = bpd
            parts[method].append(part.double().cpu().numpy())
        yield Progress(min(start + batch_size, len(x_all)), len(x_all),
                       message=f"scores: {', '.join(methods)}")
    yield Result({m: np.concatenate(p) if p else np.zeros(0) for m, p in parts.items()})


def split_methods(model, background=None, slow: bool = False,
                  bank=None, profile=None) -> tuple[list[str], list[str]]:
    """(methods worth scoring a whole split by, methods left out): every available one,
    but recon only with slow=True for models that encode by optimisation."""
    methods = available_methods(model, background, bank, profile)
    if "recon" in methods and not slow and iterative_encoder(model):
        methods.remove("recon")
        return methods, ["recon"]
    return methods, []


def score_split(
    model, images: np.ndarray, methods: list[str], *, typical_bpd: float | None = None,
    seed: int = 0, background=None, bank=None, profile=None,
) -> Iterator[Progress | Result]:
    """score_many for a whole split, with typicality derived from the one bpd pass:
    against typical_bpd, or the split's own mean bits/dim when None.
    Result({method: scores}, {"typical_bpd": the centre used, or None without bpd})."""
    direct = [m for m in methods if m != "typicality"]
    if "typicality" in methods and "bpd" not in direct:
        direct.insert(0, "bpd")
    result = yield from relay(score_many(model, images, direct, seed=seed,
                                         background=background, bank=bank,
                                         profile=profile))
    values = result.value
    typical = typical_bpd
    if typical is None and "bpd" in values:
        typical = float(values["bpd"].mean())
    if "typicality" in methods:
        values["typicality"] = np.abs(values["bpd"] - typical)
    yield Result({m: values[m] for m in methods}, {"typical_bpd": typical})


def score_files(
    model, files: list[Path], methods: list[str], *, typical_bpd: float | None = None,
    chunk: int = 256, batch_size: int = 64, seed: int = 0, background=None,
    invert: bool | None = None, bank=None, profile=None,
) -> Iterator[Progress | Partial | Result]:
    """Loads and scores image files a chunk at a time, so memory stays bounded however
    many there are; unreadable files become rows with their error, never a failure.
    invert: as prepare_for_model() takes it; data.invert_policy() says which the model
    needs (a model of a folder of pictures scores them as they are, never inverted).

    Each chunk yields Partial({"start", "files", "errors", "pixels", "scores"}): the
    file names, "" or the reason a file could not be read, the images as the model
    sees them (uint8 (n, H, W, C), zeros where unreadable) and {method: float64 (n,)}
    (NaN where unreadable). The Result is {"scored": count, "unreadable": count}.
    """
    channels, size = model.image_shape[0], model.image_shape[1]
    counts = {"scored": 0, "unreadable": 0}
    for start in range(0, len(files), chunk):
        names = [str(f) for f in files[start : start + chunk]]
        pixels = np.zeros((len(names), size, size, channels), dtype=np.uint8)
        errors = [""] * len(names)
        for i, name in enumerate(names):
            try:
                pixels[i], _ = prepare_for_model(load_image(name), size=size, channels=channels,
                                                 invert=invert)
            except ImageError as exc:
                errors[i] = str(exc)
        ok = np.array([not e for e in errors], dtype=bool)
        scores = {m: np.full(len(names), np.nan) for m in methods}
        if ok.any():
            x = np.stack([to_float_chw(p) for p in pixels[ok]])
            for event in score_many(model, x, methods, batch_size=batch_size,
                                    typical_bpd=typical_bpd, seed=seed + start,
                                    background=background, bank=bank,
                                    profile=profile):
                if isinstance(event, Result):
                    for m, values in event.value.items():
                        scores[m][ok] = values
                else:
                    yield Progress(start + event.step, len(files),
                                   message=f"scoring {len(files)} images")
        counts["scored"] += int(ok.sum())
        counts["unreadable"] += int((~ok).sum())
        yield Partial({"start": start, "files": names, "errors": errors, "pixels": pixels,
                       "scores": scores})
        yield Progress(start + len(names), len(files), message=f"scoring {len(files)} images")
    yield Result(counts)


def pixel_bits(model, x: torch.Tensor) -> np.ndarray | None:
    """Bits each pixel costs under the model, float (N, H, W), or None if it gives none.

    Exact for autoregressive models; what other models give is described by their
    ``pixel_bits_note`` (the PixelBits hook).
    """
    if not isinstance(model, PixelBits):
        return None
    x = torch.round(x.clamp(0, 1) * 255) / 255
    with torch.no_grad():
        return model.pixel_nll(x.to(device_of(model))).double().cpu().numpy()


def iterative_encoder(model) -> bool:
    """Whether encoding goes by optimisation (many steps: slow on a whole test split)."""
    if not isinstance(model, Latent):
        return False
    x = torch.zeros((1, *model.image_shape), device=device_of(model))
    steps = model.encode_steps(x)
    next(steps)
    try:
        next(steps)
    except StopIteration:
        return False
    finally:
        steps.close()
    return True


# --- reference distributions, stored beside a checkpoint ---------------------------------
REFERENCE_FILE = "reference_scores.npz"


def save_reference(folder, scores: dict[str, np.ndarray], typical_bpd: float | None,
                   weights_hash: str) -> None:
    """The test split's scores, which make a user's score a percentile (written by eval)."""
    from genplay.core.checkpoints import atomic_write

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, weights_hash=np.array(weights_hash),
                     typical_bpd=np.array(np.nan if typical_bpd is None else typical_bpd),
                     **{f"score_{m}": np.sort(v) for m, v in scores.items()})

    atomic_write(Path(folder) / REFERENCE_FILE, write)


def load_reference(folder, weights_hash: str) -> tuple[dict[str, np.ndarray], float | None]:
    """(scores by method, typical bpd) of a checkpoint; a clear error if missing or stale."""
    from genplay.core import checkpoints

    path = Path(folder) / REFERENCE_FILE

    def hint() -> str:  # only when something is wrong: it reads the checkpoint's config
        # a model of another format names no dataset: say which to measure on
        data = "" if checkpoints.read_info(folder).dataset else " --data NAME"
        return (f"run `genplay eval {folder}{data} --scores-only` to measure them (add "
                "--slow-scores for models that encode by optimisation)")

    if not path.is_file():
        raise GenplayError(f"{folder} has no reference scores; {hint()}")
    try:
        with np.load(path, allow_pickle=False) as data:
            stored_hash = str(data["weights_hash"])
            typical = float(data["typical_bpd"])
            scores = {name[len("score_"):]: data[name] for name in data.files
                      if name.startswith("score_")}
    except Exception as exc:  # unreadable: say so, the user can re-measure
        raise GenplayError(f"{path}: unreadable ({exc}); {hint()}") from None
    if stored_hash != weights_hash:
        raise GenplayError(f"{path} was measured for other weights; {hint()}")
    return scores, None if math.isnan(typical) else typical


# --- what the Outliers panel runs (in the engine's thread) ---------------------------------
def outlier_facts(model, folder: str) -> dict:
    """What the Outliers panel needs of a model: its reference scores and what it can
    compute. A missing reference is a state the panel explains, not an error."""
    from genplay.core import checkpoints
    from genplay.core.models.capabilities import pixel_bits_note

    try:
        reference, typical = load_reference(folder, checkpoints.weights_hash(folder))
    except GenplayError as exc:
        return {"missing": str(exc)}
    aids, notes = load_aids(folder)
    methods = [m for m in available_methods(model, **aids) if m in reference]
    return {"reference": {m: reference[m] for m in methods}, "typical": typical,
            "methods": methods, "descriptions": {m: METHODS[m].description for m in methods},
            "pixel_note": pixel_bits_note(model), "bank_note": notes.get("features", ""),
            "profile_note": notes.get("profile", "")}


def load_aids(folder, device: str = "cpu", methods=None) -> tuple[dict, dict[str, str]]:
    """The files beside a checkpoint that some scores need, loaded once for every caller:
    ({"background": ..., "bank": ..., "profile": ...} as score_files, score_split,
    available_methods and split_methods take them, None where absent or unusable;
    {method: why the file for it there cannot serve}). A stale or broken bank or profile
    costs its own score only. methods: load only what these need (None: all)."""
    def wanted(method: str) -> bool:
        return methods is None or method in methods

    background = load_background(folder, device=device) if wanted("ratio") else None
    bank, bank_note = load_bank(folder) if wanted("features") else (None, "")
    profile, profile_note = load_profile(folder) if wanted("profile") else (None, "")
    notes = {m: note for m, note in (("features", bank_note), ("profile", profile_note)) if note}
    return {"background": background, "bank": bank, "profile": profile}, notes


def unserved(aids: dict) -> set[str]:
    """The scores whose file beside the model is missing or unusable (their stored
    reference cannot be scored against)."""
    return {m for m, key in FILE_SCORES.items() if aids[key] is None}


def load_bank(folder) -> tuple[object | None, str]:
    """(the feature bank beside a checkpoint or None, "" or why one there cannot serve):
    a stale or broken bank costs the "features" score, never the other scores."""
    from genplay.core.nearest import load_feature_bank

    try:
        return load_feature_bank(folder), ""
    except GenplayError as exc:
        return None, str(exc)


# --- the bits profile: how a model spends its bits, against its training images ----------
PROFILE_FILE = "bits_profile.npz"
FREE_BITS = 0.5  # a pixel (all its channels) this cheap is one the model finds nearly free
PROFILE_STATISTICS = ("bits/dim", "spread of the pixels' bits", "share of nearly free pixels")


def profile_statistics(bits: np.ndarray, channels: int) -> np.ndarray:
    """Per-pixel bits (N, H, W) -> float64 (N, 3): bits/dim, the standard deviation of
    the pixels' bits and the share of pixels costing under FREE_BITS."""
    flat = np.asarray(bits, dtype=np.float64).reshape(len(bits), -1)
    return np.stack([flat.mean(1) / channels, flat.std(1), (flat < FREE_BITS).mean(1)], 1)


@dataclass(frozen=True)
class BitsProfile:
    """The training split's profile_statistics, and how rare an image's are among them."""

    statistics: np.ndarray  # float (N_train, 3)

    def rarity(self, bits: np.ndarray, channels: int, chunk: int = 512) -> np.ndarray:
        """-log density of the images' statistics (their per-pixel bits (N, H, W)) under a
        Gaussian kernel density estimate of the training images', each statistic scaled
        by its spread among them; the bandwidth by Scott's rule. Higher = rarer."""
        train = torch.as_tensor(self.statistics, dtype=torch.float64)
        mean, spread = train.mean(0), train.std(0).clamp_min(1e-12)
        train = (train - mean) / spread
        n, dims = train.shape
        width = n ** (-1.0 / (dims + 4))
        query = (torch.as_tensor(profile_statistics(bits, channels)) - mean) / spread
        log_norm = math.log(n) + dims * math.log(width * math.sqrt(2 * math.pi))
        parts = [torch.logsumexp(-torch.cdist(q, train).pow(2) / (2 * width * width), 1)
                 for q in query.split(chunk)]
        return (log_norm - torch.cat(parts)).numpy() if parts else np.zeros(0)

    def save(self, folder, weights_hash: str) -> None:
        from genplay.core.checkpoints import atomic_write

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, weights_hash=np.array(weights_hash), free_bits=np.array(FREE_BITS),
                         statistics=self.statistics.astype(np.float32))

        atomic_write(Path(folder) / PROFILE_FILE, write)


def profile_of_images(model, images, batch_size: int = 100) -> Iterator[Progress]:
    """The BitsProfile of images (an ImageDataset's float (N, C, H, W) in [0, 1]) under a
    model that gives each pixel's bits: returns it (yield from)."""
    parts = []
    for start in range(0, len(images), batch_size):
        x = torch.as_tensor(np.asarray(images[start : start + batch_size], dtype=np.float32))
        parts.append(profile_statistics(pixel_bits(model, x), x.shape[1]))
        yield Progress(min(start + batch_size, len(images)), len(images),
                       message="the training split's bits profile")
    return BitsProfile(np.concatenate(parts) if parts else np.zeros((0, 3)))


def load_profile(folder) -> tuple[BitsProfile | None, str]:
    """(the bits profile beside a checkpoint or None, "" or why the one there cannot serve):
    one made for other weights, or unreadable, costs the "profile" score, never the rest."""
    from genplay.core import checkpoints

    path = Path(folder) / PROFILE_FILE
    if not path.is_file():
        return None, ""
    again = f"run `genplay eval {folder} --scores-only --bits-profile` to make it again"
    try:
        with np.load(path, allow_pickle=False) as data:
            made_for, statistics = str(data["weights_hash"]), data["statistics"]
            free = float(data["free_bits"])
    except Exception as exc:
        return None, f"{path}: unreadable ({exc}); {again}"
    if (made_for != checkpoints.weights_hash(folder) or free != FREE_BITS
            or statistics.ndim != 2 or statistics.shape[1] != len(PROFILE_STATISTICS)
            or len(statistics) < 2):
        return None, f"{path} was made for other weights or another profile; {again}"
    return BitsProfile(statistics.astype(np.float64)), ""


def score_paths(model, folder: str, paths: list[str], known: set[str], methods: list[str],
                typical: float | None) -> Iterator:
    """Scores the images in paths (files or folders) not already in known, as
    `genplay outliers` scores them against the checkpoint in folder."""
    from genplay.core import checkpoints
    from genplay.core.data import invert_policy
    from genplay.core.images import find_images

    yield Progress(0, None, message="looking for images…")
    aids, _ = load_aids(folder, device=str(model.device), methods=methods)
    files = [f for f in find_images(paths) if str(f) not in known]
    invert = invert_policy(checkpoints.read_info(folder).dataset)
    yield from score_files(model, files, methods, typical_bpd=typical, invert=invert, **aids)


def pixel_bits_of(model, pixels: np.ndarray) -> np.ndarray | None:
    """uint8 (H, W, C) pixels -> bits per pixel (H, W), or None for a model without them."""
    bits = pixel_bits(model, torch.from_numpy(to_float_chw(pixels))[None])
    return None if bits is None else bits[0]
