"""Measuring a checkpoint: bits/dim, FID and KID in genplay's own feature space, accuracy,
PSNR/SSIM of upscalers, and the outlier scores' reference on the test split, written
beside the checkpoint as metrics.json (what `genplay eval` and the Outliers panel run).

The figures themselves are core/metrics.py; this module loads models, data and the
feature network around them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genplay import __version__
from genplay.core import checkpoints, nearest, resize, sketches
from genplay.core.checkpoints import find_feature_net
from genplay.core.data import PHOTOS, ImageDataset, load_dataset, load_photos
from genplay.core.errors import CheckpointError, GenplayError
from genplay.core.events import Progress, Result, final_value, relay
from genplay.core.images import with_channels
from genplay.core.metrics import fid, kid, psnr, ssim
from genplay.core.models.base import ANY_CLASS, CLASS_OPTION, MIXED_CLASS, bits_per_dim
from genplay.core.models.capabilities import (
    Density,
    PixelBits,
    Sampler,
    Upscaler,
    condition_method_of,
    is_importance_weighted,
    is_normalised,
)
from genplay.core.models.features import at_size, image_features
from genplay.core.ops import outlier_figures, outliers
from genplay.core.ops.sampling import sample_images, unconditional

FEATURE_NOTE = ("FID and KID are measured in the feature space of genplay's own classifier "
                "for this dataset; they compare genplay models with each other only.")


# --- feature network --------------------------------------------------------------------
def extract_features(net: torch.nn.Module, images: np.ndarray | torch.Tensor,
                     batch_size: int = 500, size: int | None = None) -> np.ndarray:
    """The feature net's features of images (uint8, or float in [0, 1]), resized to size
    x size first where given and different (a net trained at another size)."""
    x = torch.as_tensor(images)
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    return image_features(net, x, size, batch_size).cpu().numpy()


@torch.no_grad()
def predictions(net: torch.nn.Module, data: ImageDataset, batch_size: int = 500
                ) -> torch.Tensor:
    """The class a classifier reads in each image of data."""
    return torch.cat([net(data.as_float(slice(i, i + batch_size))).argmax(dim=1)
                      for i in range(0, len(data), batch_size)])


def accuracy(net: torch.nn.Module, data: ImageDataset, batch_size: int = 500) -> float:
    return float((predictions(net, data, batch_size) == data.labels[: len(data)]).float().mean())


def accuracy_by_class(net: torch.nn.Module, data: ImageDataset, num_classes: int,
                      batch_size: int = 500) -> list[float | None]:
    """The share of each class's images read as that class (None for a class with no
    images): a split where one class is most of the images hides the others' in the
    overall accuracy."""
    read = predictions(net, data, batch_size)
    labels = torch.as_tensor(data.labels[: len(data)])
    return [float((read[labels == k] == k).float().mean()) if (labels == k).any() else None
            for k in range(num_classes)]


# --- whole-checkpoint evaluation --------------------------------------------------------
def evaluate_checkpoint(
    path: str | os.PathLike, *, features: str | os.PathLike | None = None,
    n_samples: int = 10000, iwae_k: int = 100, limit: int | None = None, seed: int = 0,
    data_root: str | None = None, batch_size: int = 64, quality: bool = True,
    scores: bool = True, slow_scores: bool = False, dataset: str | None = None,
    trust_pickle: bool = False, feature_bank: bool = False, bits_profile: bool = False,
) -> Iterator[Progress | Result]:
    """Measures a checkpoint on its dataset's test split; the Result holds metrics.json.

    quality: accuracy, bits/dim, FID/KID. scores: the outlier scores of the test split,
    the reference a user's images are read against (reconstruction scores of encoders
    by optimisation only with slow_scores); the Result's summary holds them as
    {"reference": (scores by method, typical bpd)} for the caller to save. dataset: the
    data to measure on, for a model that names none (a diffusers pipeline, an upscaler's
    weights) or instead of its own; trust_pickle: as checkpoints.load. feature_bank: make
    the model's feature bank (core.nearest.FeatureBank: the training split in the dataset
    classifier's features, for the "features" outlier score) and measure that score too;
    the summary's "bank" holds it and its classifier's hash for the caller to save. A bank
    saved beside the checkpoint before is used whenever scores are measured. bits_profile:
    likewise the model's bits profile (ops.outliers.BitsProfile: how it spends its bits on
    the training split's images, for the "profile" score), in the summary's "profile".
    """
    model, info = checkpoints.load(path, trust_pickle=trust_pickle)
    info = dataclasses.replace(info, dataset=dataset or info.dataset)
    if not info.dataset:  # a model of another format names no dataset
        raise GenplayError(f"{info.name} does not say what data it was trained on; name "
                           "the dataset to measure it on with --data (e.g. --data emoji)")
    c, size = info.image_shape[0], info.image_shape[1]
    test = load_dataset(info.dataset, "test", size=size, channels=c, root=data_root)
    if limit:
        test = test.subset(torch.arange(min(limit, len(test))))
    metrics: dict[str, Any] = {
        "split": "test", "dataset": info.dataset, "test_images": len(test), "seed": seed,
        "checkpoint_hash": checkpoints.weights_hash(info.path), "genplay_version": __version__,
    }
    reference = {}
    if scores:
        bank = (yield from _make_bank(info, data_root)) if feature_bank else None
        profile = (yield from _make_profile(model, info, data_root)) if bits_profile else None
        reference = yield from _reference_scores(model, test, metrics, seed, slow_scores,
                                                 info.path, bank, profile)
    scored = reference.get("reference", ({}, None))[0]
    if isinstance(model, Density) and not is_importance_weighted(model) and "bpd" in scored:
        # The reference pass scored every test image by bits/dim already: one pass, not two
        # (a diffusion model's bound costs 13 network evaluations per image).
        metrics["bpd"] = float(np.mean(scored["bpd"]))
    if not quality:
        yield Result(metrics, reference)
        return
    if info.family == "classifier":
        yield Progress(0, None, message="accuracy on the test split")
        metrics["test_accuracy"] = accuracy(model, test)
        names = info.class_names or [str(k) for k in range(model.config.num_classes)]
        by_class = accuracy_by_class(model, test, len(names))
        shown = [a for a in by_class if a is not None]
        metrics["test_accuracy_by_class"] = dict(zip(names, by_class, strict=True))
        metrics["test_balanced_accuracy"] = float(np.mean(shown)) if shown else None
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    if isinstance(model, Density) and is_normalised(model) and "bpd" not in metrics:
        weighted = is_importance_weighted(model)
        sums = {"elbo": 0.0, "iwae": 0.0} if weighted else {"bpd": 0.0}
        for i in range(0, len(test), batch_size):
            x = test.as_float(slice(i, i + batch_size))
            if weighted:
                sums["elbo"] += bits_per_dim(model.log_prob(x, k=1, generator=generator),
                                             info.image_shape).sum().item()
                sums["iwae"] += bits_per_dim(model.log_prob(x, k=iwae_k, generator=generator),
                                             info.image_shape).sum().item()
            else:
                sums["bpd"] += bits_per_dim(model.log_prob(x), info.image_shape).sum().item()
            done = min(i + batch_size, len(test))
            yield Progress(done, len(test), message="bits/dim on the test split")
        if weighted:
            metrics.update(elbo_bpd=sums["elbo"] / len(test), iwae_bpd=sums["iwae"] / len(test),
                           iwae_k=iwae_k)
        else:
            metrics["bpd"] = sums["bpd"] / len(test)
    sketch = condition_method_of(type(model)) == "sketch"
    judge = _feature_net(info, features) if isinstance(model, Sampler) or sketch else None
    if isinstance(model, Sampler):
        yield from _sample_quality(model, info, test, metrics, judge, features is not None,
                                   n_samples, seed, data_root)
    if sketch:
        yield from _sketch_fidelity(model, info, test, metrics, judge, seed)
    if isinstance(model, Upscaler):
        # Photos are scored whole: the test split's tiles over-weight flat sky and walls.
        images = (list(load_photos("test").values()) if info.dataset == PHOTOS else
                  [img.permute(1, 2, 0).numpy() for img in test.images])
        metrics["scored_images"] = len(images)
        yield from _upscale_quality(model, [with_channels(i, c) for i in images], metrics)
    yield Result(metrics, reference)


@torch.no_grad()
def _upscale_quality(model: Upscaler, images: list[np.ndarray], metrics: dict) -> Iterator:
    """PSNR/SSIM of the network and of bicubic per scale: each high-resolution image is
    cropped to a multiple of the scale, shrunk the one way genplay shrinks images
    (core.resize), enlarged back, and compared with the crop on 8-bit values."""
    for scale in model.scales:
        sums = dict.fromkeys(("psnr", "ssim", "bicubic_psnr", "bicubic_ssim"), 0.0)
        for i, image in enumerate(images):
            target = resize.modcrop(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255,
                                    scale)
            lowres = resize.downscale(target, scale)
            reference = _to_uint8(target)
            for prefix, out in (("", model.upscale(lowres, scale)),
                                ("bicubic_", resize.upscale_bicubic(lowres, scale))):
                enlarged = _to_uint8(out)
                # capped: one exactly restored image (inf dB) must not make the mean inf
                sums[prefix + "psnr"] += min(psnr(enlarged, reference), 100.0)
                sums[prefix + "ssim"] += ssim(enlarged, reference)
            if (i + 1) % 500 == 0 or i + 1 == len(images):
                yield Progress(i + 1, len(images), message=f"PSNR and SSIM at x{scale}")
        metrics.update({f"{key}_x{scale}": total / len(images) for key, total in sums.items()})


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def store_evaluation(path: str | os.PathLike, metrics: dict[str, Any], reference,
                     *, merge: bool, write: bool = True, bank=None,
                     profile=None) -> dict[str, Any]:
    """Writes what evaluate_checkpoint measured beside the checkpoint: metrics.json, the
    reference scores, a feature bank made (bank: (FeatureBank, classifier hash)) and a
    bits profile made (profile: BitsProfile).
    merge keeps the figures measured before (a scores-only run replaces the score figures
    only). Returns the metrics as written."""
    if merge:
        previous = checkpoints.read_info(path).metrics
        if previous.get("checkpoint_hash") not in (None, metrics["checkpoint_hash"]):
            raise GenplayError("metrics.json was measured for other weights; run a full eval")
        if any(k.startswith("copy_") for k in metrics):  # near-copy figures: all new
            previous = {k: v for k, v in previous.items() if not k.startswith("copy_")}
        metrics = {**previous, **metrics}
        by_class = metrics.get("fid_by_class")
        if by_class and by_class.get("feature_net_hash") != metrics.get("feature_net_hash"):
            del metrics["fid_by_class"]  # read in another classifier's features: stale
    if write:
        if bank is not None:
            bank[0].save(path, bank[1])
        if profile is not None:
            profile.save(path, metrics["checkpoint_hash"])
        if reference:
            outliers.save_reference(path, *reference, metrics["checkpoint_hash"])
        checkpoints.write_metrics(path, metrics)
    return metrics


def measure_reference(path: str | os.PathLike, data_root: str | None = None,
                      ) -> Iterator[Progress | Result]:
    """Measures and stores a checkpoint's reference outlier scores on its test split
    (what `genplay eval --scores-only` does); Result(the methods measured)."""
    for event in evaluate_checkpoint(path, quality=False, data_root=data_root):
        if isinstance(event, Result):
            try:
                store_evaluation(path, event.value, event.summary.get("reference"), merge=True)
            except OSError as exc:  # a read-only or full disk: one line, not a traceback
                raise GenplayError(f"could not write the reference scores into {path}: "
                                   f"{exc.strerror or exc}") from None
            yield Result(sorted(event.value.get("scores", {})))
        else:
            yield event


def _make_bank(info, data_root) -> Iterator[Progress]:
    """(FeatureBank, its classifier's weights hash) of the model's training split at its
    size, for evaluate_checkpoint(feature_bank=True)."""
    net_path = find_feature_net(info.dataset, info.path.parent)
    if net_path is None:
        raise GenplayError(f"a feature bank needs classifier-{info.dataset}, which is not "
                           "found beside the checkpoint or shipped")
    net, net_info = checkpoints.load(net_path, device="cpu")
    c, size = info.image_shape[0], info.image_shape[1]
    yield Progress(0, None, message="the training split in the classifier's features")
    train = load_dataset(info.dataset, "train", size=size, channels=c, root=data_root)
    bank = nearest.FeatureBank.of_split(train, net.eval(), net_info.image_shape[1])
    return bank, checkpoints.weights_hash(net_path)


def _make_profile(model, info, data_root) -> Iterator[Progress]:
    """The BitsProfile of the model's training split, for evaluate_checkpoint(bits_profile=
    True)."""
    if not isinstance(model, PixelBits):
        raise GenplayError(f"{info.name} gives no bits per pixel, so it has no bits profile")
    c, size = info.image_shape[0], info.image_shape[1]
    yield Progress(0, None, message="the training split's bits profile")
    train = load_dataset(info.dataset, "train", size=size, channels=c, root=data_root)
    return (yield from outliers.profile_of_images(model, train.as_float().numpy()))


def _reference_scores(model, test, metrics, seed, slow_scores, folder, made_bank=None,
                      made_profile=None):
    aids, _ = outliers.load_aids(folder)
    background = aids["background"]
    bank = made_bank[0] if made_bank else aids["bank"]
    profile = made_profile or aids["profile"]
    if profile is not None:
        metrics["bits_profile"] = {
            "training_images": len(profile.statistics),
            "note": "profile: -log kernel density, among the training images, of "
                    f"({', '.join(outliers.PROFILE_STATISTICS)}); nearly free: under "
                    f"{outliers.FREE_BITS:g} bits a pixel"}
    if bank is not None:
        metrics["feature_bank"] = {"training_images": len(bank.features),
                                   "note": "features: distance to the nearest training image "
                                           "in the dataset classifier's features (a middle "
                                           "stage's channel statistics and the penultimate "
                                           "features, each of length 1)"}
    if background is not None:
        metrics["background"] = {
            "checkpoint_hash": checkpoints.weights_hash(Path(folder) / outliers.BACKGROUND_DIR),
            "training": checkpoints.read_info(Path(folder) / outliers.BACKGROUND_DIR).training}
    methods, left_out = outliers.split_methods(model, background, slow_scores, bank, profile)
    if left_out:
        metrics["scores_note"] = ("no reference for recon: this model encodes in many steps "
                                  "(genplay eval --slow-scores measures it)")
    if not methods:
        return {}
    result = yield from relay(outliers.score_split(model, test.as_float().numpy(), methods,
                                                      seed=seed, background=background,
                                                      bank=bank, profile=profile))
    values, typical = result.value, result.summary["typical_bpd"]
    metrics["typical_bpd"] = typical
    metrics["scores"] = {
        m: {"mean": float(v.mean()),
            "threshold_at_fpr_0.05": outlier_figures.threshold_at_fpr(v, 0.05)}
        for m, v in values.items()
    }
    return {"reference": (values, typical), **({"bank": made_bank} if made_bank else {}),
            **({"profile": made_profile} if made_profile else {})}


def _feature_net(info, features):
    """(path, net, its CheckpointInfo) of the feature net to measure with: the one given,
    else the dataset's classifier found near the checkpoint or shipped; None if none."""
    path = Path(features) if features else find_feature_net(info.dataset, info.path.parent)
    if path is None:
        return None
    return (path, *checkpoints.load(path))


def _copy_figures(index: nearest.TrainingNeighbours, gen_features: np.ndarray,
                  test_features: np.ndarray, metrics: dict) -> None:
    """Near-copies among the first COPY_SAMPLES samples (core/nearest.py): the share whose
    nearest training image is within the copy threshold; the test images that are
    pictures of the training split themselves; for the emoji, the two-styles yardstick."""
    n = min(nearest.COPY_SAMPLES, len(gen_features))
    samples = torch.as_tensor(gen_features[:n])
    real = torch.as_tensor(test_features[:nearest.COPY_SAMPLES])
    threshold, twins = nearest.copy_threshold(index, real)
    metrics.update(copy_fraction=nearest.copy_fraction(index, samples, threshold),
                   copy_samples=n, copy_threshold=threshold, copy_test_twins=twins,
                   copy_note=f"samples whose nearest training image is closer than the "
                             f"{nearest.THRESHOLD_NOTE}")
    by_style = nearest.style_threshold(index)
    if by_style is not None:  # the emoji's other yardstick, and what it makes of real images
        metrics.update(copy_fraction_styles=nearest.copy_fraction(index, samples, by_style),
                       copy_fraction_styles_test=nearest.copy_fraction(index, real, by_style),
                       copy_threshold_styles=by_style)


def copies_only(path: str | os.PathLike, *, features: str | os.PathLike | None = None,
                seed: int = 0, data_root: str | None = None) -> Iterator[Progress | Result]:
    """Only the near-copy figures of a sampler (what `genplay eval --copies-only` merges
    into metrics.json): COPY_SAMPLES samples, the same first ones a full eval draws."""
    model, info = checkpoints.load(path)
    if not isinstance(model, Sampler):
        raise GenplayError(f"{info.name} cannot sample: it makes no copies to look for")
    judge = _feature_net(info, features)
    if judge is None:
        raise GenplayError(f"no feature network for {info.dataset}")
    _, net, net_info = judge
    c, size, net_size = info.image_shape[0], info.image_shape[1], net_info.image_shape[1]
    test = load_dataset(info.dataset, "test", size=size, channels=c, root=data_root)
    made = yield from relay(sample_images(model, nearest.COPY_SAMPLES, seed,
                                          **unconditional(model)))
    yield Progress(0, None, message="nearest training images of the samples")
    train = load_dataset(info.dataset, "train", size=size, channels=c, root=data_root)
    index = nearest.TrainingNeighbours(train, net, net_size)
    metrics: dict[str, Any] = {"checkpoint_hash": checkpoints.weights_hash(info.path)}
    _copy_figures(index, extract_features(net, made.value, size=net_size),
                  extract_features(net, test.images[:nearest.COPY_SAMPLES], size=net_size),
                  metrics)
    yield Result(metrics, {})


def feature_figures(path: str | os.PathLike, *, features: str | os.PathLike | None = None,
                    n_samples: int = 10000, limit: int | None = None, seed: int = 0,
                    data_root: str | None = None) -> Iterator[Progress | Result]:
    """Only the figures read in the feature network's space, as a full eval measures them
    (what `genplay eval --features-only` merges into metrics.json once the dataset's
    classifier has changed): FID, KID and their real-vs-real floor, the near-copies, and a
    sketch model's class agreement (with the edge F1 of the same outputs)."""
    model, info = checkpoints.load(path)
    sketch = condition_method_of(type(model)) == "sketch"
    if not (isinstance(model, Sampler) or sketch):
        raise GenplayError(f"{info.name} makes no images: nothing of it is read in a "
                           "feature network's space")
    judge = _feature_net(info, features)
    if judge is None:
        raise GenplayError(f"no feature network for {info.dataset}")
    c, size = info.image_shape[0], info.image_shape[1]
    test = load_dataset(info.dataset, "test", size=size, channels=c, root=data_root)
    if limit:
        test = test.subset(torch.arange(min(limit, len(test))))
    metrics: dict[str, Any] = {"checkpoint_hash": checkpoints.weights_hash(info.path)}
    torch.manual_seed(seed)
    if isinstance(model, Sampler):
        yield from _sample_quality(model, info, test, metrics, judge, features is not None,
                                   n_samples, seed, data_root)
    if sketch:
        yield from _sketch_fidelity(model, info, test, metrics, judge, seed)
    yield Result(metrics, {})


def _drawn_with(model) -> dict[str, Any]:
    """How samples are drawn (a sampler's defaults can change; a figure must not be read
    as another's): the model's default sampler and steps, as sample_images uses them."""
    return {o.name: o.default for o in model.sample_options() if o.name in ("sampler", "steps")}


def class_counts(labels: np.ndarray, num_classes: int, n: int) -> list[int]:
    """n split over the classes in the proportions of labels (largest remainders)."""
    share = np.bincount(labels, minlength=num_classes)[:num_classes] / max(len(labels), 1)
    counts = np.floor(share * n).astype(int)
    rest = np.argsort(-(share * n - counts), kind="stable")[:n - counts.sum()]
    counts[rest] += 1
    return counts.tolist()


def class_feature_figures(path: str | os.PathLike, guidance: float, *,
                          features: str | os.PathLike | None = None, n_samples: int = 10000,
                          seed: int = 0, data_root: str | None = None
                          ) -> Iterator[Progress | Result]:
    """FID and KID of a class-conditional model's samples drawn class by class, in the
    training split's proportions, at the given classifier-free guidance: the images a
    user who picks a class sees (what `genplay eval --class-fid` merges into
    metrics.json as fid_by_class). The unconditional FID is the model's other figure."""
    model, info = checkpoints.load(path)
    options = {o.name: o for o in model.sample_options()} if isinstance(model, Sampler) else {}
    if "guidance" not in options:
        raise GenplayError(f"{info.name} draws no class with guidance: its FID is the "
                           "unconditional one")
    judge = _feature_net(info, features)
    if judge is None:
        raise GenplayError(f"no feature network for {info.dataset}")
    net_path, net, net_info = judge
    c, size, net_size = info.image_shape[0], info.image_shape[1], net_info.image_shape[1]
    names = [c for c in options[CLASS_OPTION].choices if c not in (ANY_CLASS, MIXED_CLASS)]
    train = load_dataset(info.dataset, "train", size=size, channels=c, root=data_root)
    counts = class_counts(np.asarray(train.labels), len(names), n_samples)
    made, done = [], 0
    for k, (name, count) in enumerate(zip(names, counts)):
        if not count:
            continue
        for event in sample_images(model, count, seed + 1000 * (k + 1), **{
                CLASS_OPTION: name, "guidance": guidance}):
            if isinstance(event, Result):
                made.append(event.value)
            elif isinstance(event, Progress) and event.total:
                yield Progress(done + event.step, n_samples,
                               message=f"drawing {n_samples} samples class by class")
        done += count
    test = load_dataset(info.dataset, "test", size=size, channels=c, root=data_root)
    yield Progress(0, None, message="features of samples and test images")
    gen_features = extract_features(net, np.concatenate(made), size=net_size)
    test_features = extract_features(net, test.images, size=net_size)
    kid_mean, kid_std = kid(gen_features, test_features, seed=seed)
    figure = {"fid": fid(gen_features, test_features), "kid": kid_mean, "kid_std": kid_std,
              "guidance": guidance, "samples": n_samples, "sampling": _drawn_with(model),
              "classes": dict(zip(names, counts)), "feature_net": net_info.name,
              "feature_net_hash": checkpoints.weights_hash(net_path),
              "note": "samples drawn class by class in the training split's proportions"}
    if not math.isfinite(figure["fid"]):
        raise CheckpointError("FID is not finite: the samples or features contain NaN")
    yield Result({"checkpoint_hash": checkpoints.weights_hash(info.path),
                  "fid_by_class": figure}, {})


def _sample_quality(model, info, test, metrics, judge, given, n_samples, seed, data_root):
    if judge is None:
        metrics["fid"] = None
        metrics["fid_note"] = f"no feature network for dataset {info.dataset!r}"
        return
    net_path, net, net_info = judge
    c, size = info.image_shape[0], info.image_shape[1]
    if net_info.image_shape[0] != c:
        if not given:  # e.g. a diffusers model measured on a dataset of other channels
            metrics["fid"] = None
            metrics["fid_note"] = (f"no feature network for {info.dataset} images of shape "
                                   f"{tuple(info.image_shape)} (the one found sees "
                                   f"{tuple(net_info.image_shape)}); give one with --features")
            return
        raise CheckpointError(f"{net_path} sees {net_info.image_shape} images, the model makes "
                              f"{info.image_shape}")
    # A net of another size sees samples and real images alike resized to its own.
    net_size = net_info.image_shape[1]
    yield Progress(0, n_samples, message=f"drawing {n_samples} samples for FID/KID")
    drawn_with = _drawn_with(model)
    if drawn_with:
        metrics["fid_sampling"] = drawn_with
    images = None
    for event in sample_images(model, n_samples, seed, **unconditional(model)):
        if isinstance(event, Result):
            images = event.value
        else:
            yield event
    yield Progress(0, None, message="features of samples, test and train images")
    gen_features = extract_features(net, images, size=net_size)
    test_features = extract_features(net, test.images, size=net_size)
    train = load_dataset(info.dataset, "train", size=size, channels=c, root=data_root)
    index = nearest.TrainingNeighbours(train, net, net_size)
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:len(test)]
    train_features = index.train_features[pick].numpy()
    kid_mean, kid_std = kid(gen_features, test_features, seed=seed)
    floor_mean, _ = kid(train_features, test_features, seed=seed)
    metrics.update(
        fid=fid(gen_features, test_features), kid=kid_mean, kid_std=kid_std,
        fid_real_floor=fid(train_features, test_features), kid_real_floor=floor_mean,
        fid_samples=n_samples, feature_net=net_info.name,
        feature_net_hash=checkpoints.weights_hash(net_path), fid_note=FEATURE_NOTE,
    )
    if net_size != size:
        metrics["feature_net_size"] = net_size
    _copy_figures(index, gen_features, test_features, metrics)
    if not math.isfinite(metrics["fid"]):
        raise CheckpointError("FID is not finite: the samples or features contain NaN")


SKETCH_IMAGES = 1000  # test images a sketch model is measured on


@torch.no_grad()
def sketch_outputs(model, images: torch.Tensor, seed: int = 0, batch: int = 50,
                   **opts: Any) -> Iterator[Progress | Result]:
    """What a sketch model is measured on: images (N, C, H, W) in [0, 1] drawn in the
    style held out of its training (core/sketches.py HELD_OUT), one image made from each
    sketch (opts: condition_steps' options; its defaults otherwise; no class given).
    Result((drawn (N, 1, H, W), outputs float32 (N, C, H, W))), Progress on the way."""
    n = len(images)
    drawn = sketches.sketch(images, sketches.HELD_OUT, torch.Generator().manual_seed(seed))
    outs = []
    for i in range(0, n, batch):
        generator = torch.Generator(device=model.device).manual_seed(seed + i)
        outs.append(torch.from_numpy(final_value(model.condition_steps(
            drawn[i:i + batch], 1.0, generator=generator, **opts))))
        yield Progress(min(i + batch, n), n, message=f"images from {sketches.HELD_OUT} sketches")
    yield Result((drawn, torch.cat(outs)), {"style": sketches.HELD_OUT})


@torch.no_grad()
def _sketch_fidelity(model, info, test, metrics, judge, seed):
    """A sketch model's figures on the first SKETCH_IMAGES test images (sketch_outputs at
    the model's defaults): the fraction the dataset's classifier reads as the class of the
    source image, and edge F1 (the output drawn again in the same style and seed against
    the input sketch, 1-pixel tolerance, and exact)."""
    n = min(SKETCH_IMAGES, len(test))
    made = yield from relay(sketch_outputs(model, test.as_float(slice(0, n)), seed))
    drawn, out = made.value
    f1 = sketches.faithfulness(out, drawn, sketches.HELD_OUT, seed)
    metrics.update(sketch_style=sketches.HELD_OUT, sketch_images=n,
                   sketch_guidance=model.default_sketch_guidance,
                   sketch_steps=model.condition_default_steps,
                   sketch_edge_f1=f1["edge_f1"], sketch_edge_f1_exact=f1["edge_f1_exact"])
    if judge is None or test.labels is None:
        return
    _, net, net_info = judge
    if net_info.family == "classifier" and net_info.class_names == info.class_names:
        # seen at the classifier's own size, as FID sees the samples
        net_size = net_info.image_shape[1]
        predicted = torch.cat([net(at_size(out[i:i + 500], net_size)).argmax(1)
                               for i in range(0, n, 500)])
        metrics["sketch_class_agreement"] = float((predicted == test.labels[:n]).float().mean())
