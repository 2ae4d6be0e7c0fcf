"""A small image classifier whose penultimate layer is genplay's feature space.

FID and KID need a feature network. Inception features mean little on 28x28
grey clothes and digits, and cannot be downloaded here, so each dataset gets
its own classifier, trained and shipped as a checkpoint. FIDs measured with it
compare genplay models with each other only, not with published numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genplay.core.models.base import GenerativeModel, ModelConfig
from genplay.core.models.families import register


def at_size(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """Float images (N, C, H, W) in [0, 1] resized (bicubic, antialiased) to size x size,
    as a classifier trained at that size sees them; as they are when size is None or
    theirs already."""
    if size is None or x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bicubic", antialias=True,
                         align_corners=False).clamp(0.0, 1.0)


@torch.no_grad()
def image_features(net: nn.Module, images: torch.Tensor, size: int | None = None,
                   batch: int = 500, layered: bool = False) -> torch.Tensor:
    """net.features (net.layered_features when layered) of float images (N, C, H, W) in
    [0, 1], in batches, at_size(size)."""
    features = net.layered_features if layered else net.features
    parts = []
    for i in range(0, len(images), batch):
        parts.append(features(at_size(images[i:i + batch].float(), size)))
    return torch.cat(parts) if parts else torch.zeros(0)


@dataclass(frozen=True)
class ClassifierConfig(ModelConfig):
    BOUNDS = ModelConfig.BOUNDS | {"num_classes": (1, 100_000), "base_channels": (1, 1024),
                                   "feature_dim": (1, 4096), "max_shift": (0, 16),
                                   "dropout": (0.0, 1.0), "class_balance": (0.0, 1.0),
                                   "stages": (1, 6)}
    num_classes: int = 10
    base_channels: int = 32
    # Halvings of the image before the last block: each stage is two 3x3 convolutions and
    # a 2x2 max-pool, its channels twice the stage before. Two stages see about 20 pixels
    # around each point (local strokes and colours); four see the whole of a 64 px image,
    # which the shape of an emoji's category needs.
    stages: int = 2
    feature_dim: int = 128
    dropout: float = 0.3
    lr: float = 1e-3
    batch_size: int = 128
    cosine_lr: bool = True
    max_shift: int = 2  # random translation (pixels) used as augmentation in training
    hflip: bool = False  # mirror half of each training batch (a category survives mirroring)
    # How much a rare class's images weigh in the loss: each class's weight is its share
    # of the images seen so far to the power -class_balance (0: every image alike; 1: every
    # class alike). A dataset where one class is most of the images (emoji: People & Body
    # is 60%) otherwise gives a classifier that barely reads the small classes.
    class_balance: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.image_size >> self.stages < 1:
            raise ValueError(f"{self.stages} stages would halve {self.image_size}x"
                             f"{self.image_size} images to nothing; at most "
                             f"{self.image_size.bit_length() - 1}")


def _conv_block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


@register("classifier", ClassifierConfig)
class Classifier(GenerativeModel):
    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__(config)
        layers: list[nn.Module] = []
        cin = config.channels
        for stage in range(config.stages):
            cout = config.base_channels * 2 ** stage
            layers += [*_conv_block(cin, cout), *_conv_block(cout, cout), nn.MaxPool2d(2)]
            cin = cout
        last = config.base_channels * 2 ** config.stages
        self.body = nn.Sequential(
            *layers, *_conv_block(cin, last), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(last, config.feature_dim), nn.ReLU(),
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.feature_dim, config.num_classes)
        # labels seen in training (for class_balance); not saved: a resumed run recounts
        self.register_buffer("seen", torch.zeros(config.num_classes), persistent=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features of images in [0, 1]."""
        return self.body(x * 2.0 - 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))

    def layered_features(self, x: torch.Tensor) -> torch.Tensor:
        """What an image looks like at two depths, for telling strangers apart: each
        channel's mean and spread at the end of the second stage (colour, stroke and
        texture statistics: where photos and garments differ from every emoji) beside the
        penultimate features (what the image shows), each part scaled to length 1 so
        both weigh alike in a distance."""
        h = x * 2.0 - 1.0
        stage = None
        pools = 0
        for layer in self.body:
            if isinstance(layer, nn.MaxPool2d):
                pools += 1
                if pools == 2:  # the second stage ends here
                    stage = torch.cat([h.mean(dim=(2, 3)), h.std(dim=(2, 3), correction=0)], dim=1)
            h = layer(h)
        return torch.cat([F.normalize(stage, dim=1), F.normalize(h, dim=1)], dim=1)

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.hflip:
            mirrored = torch.rand(x.shape[0], device=x.device) < 0.5
            x = torch.where(mirrored[:, None, None, None], x.flip(3), x)
        s = self.config.max_shift
        if s == 0:
            return x
        # The border repeated, not black: emoji sit on white, the grey sets on black.
        padded = F.pad(x, (s, s, s, s), mode="replicate")
        dx, dy = torch.randint(0, 2 * s + 1, (2,)).tolist()
        return padded[:, :, dy : dy + x.shape[2], dx : dx + x.shape[3]]

    def train_step(self, x, labels, optimizers: Mapping[str, torch.optim.Optimizer], step):
        if labels is None:
            raise ValueError("the classifier needs a labelled dataset")
        loss = F.cross_entropy(self(self._augment(x)), labels, weight=self._class_weights(labels))
        opt = optimizers["main"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def _class_weights(self, labels: torch.Tensor) -> torch.Tensor | None:
        """Per-class loss weights from the shares of the labels seen so far (None when
        class_balance is 0); normalised so an image of average weight weighs 1."""
        b = self.config.class_balance
        if b == 0:
            return None
        self.seen += torch.bincount(labels, minlength=self.config.num_classes).to(self.seen)
        share = (self.seen + 1) / (self.seen.sum() + self.config.num_classes)
        weight = share ** -b
        return weight / (share * weight).sum()

    @torch.no_grad()
    def validation_metrics(self, x, labels):
        return {"accuracy": (self(x).argmax(dim=1) == labels).float().mean().item()}
