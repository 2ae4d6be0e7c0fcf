"""Super-resolution networks of the ESRGAN family, as their published weights need them.

The weights that Upscayl, chaiNNer and ComfyUI users trade (openmodeldb lists hundreds) are
mostly of two architectures, written here in genplay's own code so that their state dicts
load into them directly (core/formats/upscaler_file.py reads the files):

- RRDBNet (Wang et al. 2018, ESRGAN; Real-ESRGAN x4plus/x2plus, BSRGAN, most community
  models): a head convolution, a body of residual-in-residual dense blocks at the low
  resolution, then nearest-neighbour x2 enlargements each followed by a convolution. The
  module names are BasicSR's (conv_first, body.N.rdb1.conv1 ... conv_last), the names
  Real-ESRGAN publishes; the older key styles are renamed to these on reading. Real-ESRGAN's
  x2 and x1 models keep the x4 body and shrink their input first by a pixel unshuffle
  (each 2x2 or 4x4 block of pixels becomes 4 or 16 channels).
- SRVGGNetCompact (Real-ESRGAN's realesr-general-x4v3 and realesr-animevideov3): a plain
  stack of convolutions with PReLU at the low resolution, a sub-pixel convolution to the
  output size, and the nearest-neighbour enlarged input added.

Where the spandrel library is installed, the weights of its other architectures (SwinIR,
HAT, SPAN ...) open through it: ``spandrel`` wraps the network it builds behind the same
Upscaler interface. This module never imports spandrel; core/formats/upscaler_file.py
builds the network and hands it to ``SpandrelUpscaler.attach``.

All three are foreign families (``register(..., foreign=True)``): genplay opens them for
upscaling and never trains them. Images are (N, C, H, W) floats in [0, 1], RGB (the order
both projects' inference scripts hand the networks); their ``image_size`` means nothing to a
fully convolutional network and only fills the field every config has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from genplay.core.errors import GenplayError
from genplay.core.models.base import GenerativeModel, ModelConfig
from genplay.core.models.families import register

CHANNELS = (1, 3, 4)  # grey, RGB, RGBA: what published weights take
RRDB_SCALES = (1, 2, 4, 8)
ACTIVATIONS = ("prelu", "relu", "leakyrelu")
# BOUNDS of the fields every config has, for a network that takes any image size.
_FOREIGN_BOUNDS = ModelConfig.BOUNDS | {"channels": (1, 4), "image_size": (1, 1 << 16)}
_LEAK = 0.2  # ESRGAN's leaky ReLU slope
_RESIDUAL = 0.2  # ESRGAN's residual scaling inside and around each dense block
Shape = tuple[int, ...]


def _conv_shapes(shapes: dict[str, Shape], name: str, cin: int, cout: int) -> None:
    shapes[f"{name}.weight"] = (cout, cin, 3, 3)
    shapes[f"{name}.bias"] = (cout,)


def _check_channels(config: ModelConfig) -> None:
    if config.channels not in CHANNELS:
        raise ValueError(f"channels must be 1, 3 or 4, not {config.channels}")


@dataclass(frozen=True)
class RRDBNetConfig(ModelConfig):
    """RRDBNet as ESRGAN, BSRGAN and Real-ESRGAN publish it. scale * unshuffle = 2 **
    upsamples: Real-ESRGAN's x2 model has 2 upsamples and a 2x2 pixel unshuffle, an old
    ESRGAN x2 model one upsample and no unshuffle."""

    BOUNDS = _FOREIGN_BOUNDS | {
        "in_channels": (1, 4), "out_channels": (1, 4), "features": (1, 1024),
        "blocks": (0, 256), "growth": (1, 1024), "scale": (1, 8), "upsamples": (0, 3)}
    channels: int = 3
    image_size: int = 64
    in_channels: int = 3
    out_channels: int = 3
    features: int = 64  # nf
    blocks: int = 23  # nb: residual-in-residual dense blocks
    growth: int = 32  # gc: channels each dense convolution adds
    scale: int = 4
    upsamples: int = 2  # nearest x2 + conv stages (conv_up1 ...)

    def __post_init__(self) -> None:
        self._check_types_and_bounds()
        _check_channels(self)
        if self.in_channels != self.channels or self.out_channels != self.channels:
            raise ValueError(f"genplay's upscalers give back the channels they take: "
                             f"in_channels {self.in_channels} and out_channels "
                             f"{self.out_channels} must both be channels ({self.channels})")
        if self.scale not in RRDB_SCALES:
            raise ValueError(f"scale must be 1, 2, 4 or 8, not {self.scale}")
        if 2 ** self.upsamples % self.scale or 2 ** self.upsamples // self.scale > 4:
            raise ValueError(f"{self.upsamples} x2 stages cannot make a x{self.scale} net "
                             "(the input is pixel-unshuffled by 2 ** upsamples / scale: 1, 2 "
                             "or 4)")

    @property
    def unshuffle(self) -> int:
        """The pixel-unshuffle factor of the input (1: none)."""
        return 2 ** self.upsamples // self.scale


@dataclass(frozen=True)
class SRVGGConfig(ModelConfig):
    """SRVGGNetCompact as Real-ESRGAN publishes it."""

    BOUNDS = _FOREIGN_BOUNDS | {"num_feat": (1, 1024), "num_conv": (0, 256), "scale": (1, 8)}
    channels: int = 3
    image_size: int = 64
    num_feat: int = 64
    num_conv: int = 16
    scale: int = 4
    activation: str = "prelu"

    def __post_init__(self) -> None:
        self._check_types_and_bounds()
        _check_channels(self)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not "
                             f"{self.activation!r}")


@dataclass(frozen=True)
class SpandrelConfig(ModelConfig):
    """A network that the spandrel library builds from its weights: what genplay needs
    to know of it (architecture is spandrel's id, e.g. "SwinIR")."""

    BOUNDS = _FOREIGN_BOUNDS | {"scale": (1, 16), "multiple_of": (1, 1024),
                                "minimum": (0, 1 << 16)}
    channels: int = 3
    image_size: int = 64
    architecture: str = ""
    scale: int = 4
    multiple_of: int = 1  # the input's sides are padded to a multiple of this
    minimum: int = 0  # ... and to at least this
    square: bool = False  # ... and to a square

    def __post_init__(self) -> None:
        self._check_types_and_bounds()
        _check_channels(self)
        if not self.architecture:
            raise ValueError("architecture must name spandrel's architecture")


# --- the shared Upscaler ---------------------------------------------------------------------
class ForeignUpscaler(GenerativeModel):
    """What the three networks share: the Upscaler capability around a forward pass of
    the network on (N, in_channels, H, W), with genplay's checks, padding and clamping.

    An RGBA network (channels 4) takes RGB too, as opaque (alpha 1): genplay's images have
    no alpha (ops.superres drops it), so its image_shape says 3 channels and the alpha it
    makes is dropped again."""

    # Declared on the class too, so capabilities_of(cls) finds "upscaler" without a model.
    scales: tuple[int, ...] = ()
    # What the network was made for (the model list and errors name it).
    architecture_name: ClassVar[str] = ""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.scales = (int(config.scale),)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.image_shape_for(self.config)

    @staticmethod
    def image_shape_for(config: ModelConfig) -> tuple[int, int, int]:
        """The image_shape of a model of this config, without building it."""
        c = config.channels
        return (3 if c == 4 else c, config.image_size, config.image_size)

    @classmethod
    def weight_shapes(cls, config: ModelConfig) -> dict[str, Shape]:
        """The names and shapes of the network's weights for a config, without building it:
        describing a file stays quick (building a 23-block RRDBNet, even on PyTorch's
        meta device, takes 0.2 s)."""
        raise NotImplementedError

    def _multiple(self) -> int:
        """The input's height and width are padded to a multiple of this."""
        return 1

    def _minimum(self) -> int:
        return 1

    def _square(self) -> bool:
        return False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The network as published: (N, in_channels, H, W) -> unclamped (N, out_channels,
        H * scale, W * scale), H and W multiples of _multiple(). upscale is what ops call."""
        raise NotImplementedError

    def _check(self, lowres: torch.Tensor, scale: int) -> None:
        if scale not in self.scales:
            raise GenplayError(f"this {self.architecture_name} enlarges by {self.scales[0]}x "
                               f"only, not {scale}x")
        c = self.config.channels
        takes = (3, 4) if c == 4 else (c,)
        if lowres.ndim != 4 or lowres.shape[1] not in takes:
            raise GenplayError(f"this {self.architecture_name} takes "
                               f"{' or '.join(map(str, takes))}-channel images as (N, C, H, "
                               f"W); got shape {tuple(lowres.shape)}")
        if 0 in lowres.shape:
            raise GenplayError("an empty image cannot be enlarged")

    # --- Upscaler ---------------------------------------------------------------------------
    @torch.no_grad()
    def upscale(self, lowres: torch.Tensor, scale: int) -> torch.Tensor:
        self._check(lowres, scale)
        x = lowres.to(self.device, torch.float32)
        given = x.shape[1]
        if given < self.config.channels:  # RGB to an RGBA network: opaque
            x = torch.cat([x, x.new_ones(x.shape[0], 1, *x.shape[2:])], 1)
        h, w = x.shape[-2:]
        step, least = self._multiple(), self._minimum()
        height, width = max(least, -(-h // step) * step), max(least, -(-w // step) * step)
        if self._square():
            height = width = max(height, width)
        if (height, width) != (h, w):  # edge pixels repeated, cut off again below
            x = F.pad(x, (0, width - w, 0, height - h), mode="replicate")
        y = self(x)[:, :given, :h * scale, :w * scale]
        return y.clamp(0.0, 1.0)

    # --- training ---------------------------------------------------------------------------
    def train_step(self, x, labels, optimizers: Mapping[str, torch.optim.Optimizer], step):
        raise NotImplementedError(f"genplay opens {self.architecture_name} weights for "
                                  "upscaling but does not train them")


# --- RRDBNet ---------------------------------------------------------------------------------
class DenseBlock(nn.Module):
    """Five 3x3 convolutions, each seeing the block's input and every earlier output
    (growth channels each); the fifth maps back to the input's width, scaled by 0.2 and
    added to it."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, growth, 3, padding=1)
        self.conv2 = nn.Conv2d(features + growth, growth, 3, padding=1)
        self.conv3 = nn.Conv2d(features + 2 * growth, growth, 3, padding=1)
        self.conv4 = nn.Conv2d(features + 3 * growth, growth, 3, padding=1)
        self.conv5 = nn.Conv2d(features + 4 * growth, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = x
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            seen = torch.cat([seen, F.leaky_relu(conv(seen), _LEAK)], 1)
        return x + _RESIDUAL * self.conv5(seen)


class ResidualInResidual(nn.Module):
    """Three dense blocks in a row, their result scaled by 0.2 and added to the input."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.rdb1 = DenseBlock(features, growth)
        self.rdb2 = DenseBlock(features, growth)
        self.rdb3 = DenseBlock(features, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + _RESIDUAL * self.rdb3(self.rdb2(self.rdb1(x)))


@register("rrdbnet", RRDBNetConfig, foreign=True)
class RRDBNet(ForeignUpscaler):
    architecture_name = "RRDBNet"

    def __init__(self, config: RRDBNetConfig) -> None:
        super().__init__(config)
        c = config
        self.unshuffle = c.unshuffle
        self.conv_first = nn.Conv2d(c.in_channels * self.unshuffle ** 2, c.features, 3,
                                    padding=1)
        self.body = nn.Sequential(*[ResidualInResidual(c.features, c.growth)
                                    for _ in range(c.blocks)])
        self.conv_body = nn.Conv2d(c.features, c.features, 3, padding=1)
        for k in range(1, c.upsamples + 1):  # conv_up1, conv_up2 (, conv_up3)
            self.add_module(f"conv_up{k}", nn.Conv2d(c.features, c.features, 3, padding=1))
        self.conv_hr = nn.Conv2d(c.features, c.features, 3, padding=1)
        self.conv_last = nn.Conv2d(c.features, c.out_channels, 3, padding=1)

    @property
    def reach(self) -> int:
        return self.reach_for(self.config)

    @staticmethod
    def reach_for(config: RRDBNetConfig) -> int:
        """How far (in input pixels) an output pixel's inputs lie: at the body's resolution
        (the input's, or 1/unshuffle of it) 1 for conv_first, 15 per block (three dense
        blocks of five convolutions in a row), 1 for conv_body, and 2 for the convolutions
        at the higher resolutions (each x2 stage halves what its convolution reads).
        Pixel-unshuffled, unshuffle input pixels each: the input pixels at the top of a
        block read one block less upwards, those at its bottom one less downwards. A whole
        number of blocks, so tiles whose corners lie on the block grid join exactly.
        Real-ESRGAN's x4plus (23 blocks) reads 349 pixels; its x2plus 698."""
        return config.unshuffle * (15 * config.blocks + 4)

    @classmethod
    def weight_shapes(cls, config: RRDBNetConfig) -> dict[str, Shape]:
        c, shapes = config, {}
        _conv_shapes(shapes, "conv_first", c.in_channels * c.unshuffle ** 2, c.features)
        for i in range(c.blocks):
            for r in (1, 2, 3):
                for j in range(1, 6):
                    _conv_shapes(shapes, f"body.{i}.rdb{r}.conv{j}",
                                 c.features + (j - 1) * c.growth,
                                 c.features if j == 5 else c.growth)
        for name in ["conv_body"] + [f"conv_up{k}" for k in range(1, c.upsamples + 1)] + [
                "conv_hr"]:
            _conv_shapes(shapes, name, c.features, c.features)
        _conv_shapes(shapes, "conv_last", c.features, c.out_channels)
        return shapes

    def _multiple(self) -> int:
        return self.unshuffle

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        h = self.conv_first(x)
        h = h + self.conv_body(self.body(h))
        # In place at the higher resolutions, where the features are largest (a convolution's
        # fresh output: nothing else holds it, and its gradient does not need it).
        for k in range(1, self.config.upsamples + 1):
            up = getattr(self, f"conv_up{k}")
            h = F.leaky_relu(up(F.interpolate(h, scale_factor=2, mode="nearest")), _LEAK,
                             inplace=True)
        return self.conv_last(F.leaky_relu(self.conv_hr(h), _LEAK, inplace=True))


# --- SRVGGNetCompact -------------------------------------------------------------------------
def _activation(name: str, features: int) -> nn.Module:
    if name == "prelu":
        return nn.PReLU(num_parameters=features)
    if name == "leakyrelu":
        return nn.LeakyReLU(0.1)
    return nn.ReLU()


@register("srvgg", SRVGGConfig, foreign=True)
class SRVGGNetCompact(ForeignUpscaler):
    architecture_name = "SRVGGNetCompact"

    def __init__(self, config: SRVGGConfig) -> None:
        super().__init__(config)
        c = config
        layers: list[nn.Module] = [nn.Conv2d(c.channels, c.num_feat, 3, padding=1),
                                   _activation(c.activation, c.num_feat)]
        for _ in range(c.num_conv):
            layers += [nn.Conv2d(c.num_feat, c.num_feat, 3, padding=1),
                       _activation(c.activation, c.num_feat)]
        layers.append(nn.Conv2d(c.num_feat, c.channels * c.scale ** 2, 3, padding=1))
        self.body = nn.ModuleList(layers)  # body.0.weight ... as published

    @property
    def reach(self) -> int:
        return self.reach_for(self.config)

    @staticmethod
    def reach_for(config: SRVGGConfig) -> int:
        """num_conv + 2 convolutions at the input's resolution, 1 pixel each; the sub-pixel
        rearrangement and the enlarged input read no neighbours."""
        return config.num_conv + 2

    @classmethod
    def weight_shapes(cls, config: SRVGGConfig) -> dict[str, Shape]:
        c, shapes = config, {}
        widths = [(c.channels, c.num_feat)] + [(c.num_feat, c.num_feat)] * c.num_conv
        for k, (cin, cout) in enumerate(widths):
            _conv_shapes(shapes, f"body.{2 * k}", cin, cout)
            if c.activation == "prelu":
                shapes[f"body.{2 * k + 1}.weight"] = (c.num_feat,)
        _conv_shapes(shapes, f"body.{2 * len(widths)}", c.num_feat, c.channels * c.scale ** 2)
        return shapes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for layer in self.body:
            h = layer(h)
        scale = self.config.scale
        return F.pixel_shuffle(h, scale) + F.interpolate(x, scale_factor=scale, mode="nearest")


# --- through spandrel ------------------------------------------------------------------------
@register("spandrel", SpandrelConfig, foreign=True)
class SpandrelUpscaler(ForeignUpscaler):
    """A network of another architecture, built by spandrel from the weights
    (core/formats/upscaler_file.py) and attached here. How far its output pixels read is
    not known (attention can reach across a whole tile), so it declares no reach."""

    architecture_name = "spandrel network"

    def __init__(self, config: SpandrelConfig) -> None:
        super().__init__(config)
        self.net: nn.Module | None = None
        self._run: Callable[[torch.Tensor], torch.Tensor] | None = None
        # Where the network goes: a model without one still has a device (and moves).
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    def attach(self, net: nn.Module,
               run: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        """Takes the network spandrel built and loaded, in float32 on this model's device.
        run: how to call it (spandrel's model descriptor, which knows the architecture's
        way of calling its network); None: net(x)."""
        self.net = net.to(self.device, torch.float32).eval()
        self._run = run

    def _multiple(self) -> int:
        return self.config.multiple_of

    def _minimum(self) -> int:
        return self.config.minimum

    def _square(self) -> bool:
        return self.config.square

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.net is None:
            raise GenplayError(f"this {self.config.architecture} model has no weights yet: "
                               "open it from its file")
        y = (self._run or self.net)(x)
        expected = (x.shape[0], self.config.channels, x.shape[2] * self.config.scale,
                    x.shape[3] * self.config.scale)
        if not isinstance(y, torch.Tensor) or tuple(y.shape) != expected:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise GenplayError(f"the {self.config.architecture} network gave {got}, not "
                               f"{expected}: spandrel describes it wrongly")
        return y
