"""DiffAugment: what the GAN's discriminator sees, differentiable, per image."""

import pytest
import torch

from genplay.core import registry
from genplay.core.models import augment


def _images(n=6, c=3, size=16, seed=0):
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_empty_policy_is_identity_and_unknown_names_are_refused():
    x = _images()
    assert torch.equal(augment.augment(x, ""), x)
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        augment.parse("colour,flip")
    with pytest.raises(ValueError, match="unknown augmentation"):
        registry.build("gan", image_size=16, augment="rotate")


def test_translation_moves_whole_pixels_and_repeats_the_edge():
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 8, 8] = 1.0  # one bright pixel: where it lands is the shift
    for seed in range(8):
        out = augment.augment(x, "translation", torch.Generator().manual_seed(seed))
        assert out.sum().item() == pytest.approx(1.0, abs=1e-5)  # moved, not blurred
        row, col = divmod(int(out.flatten().argmax()), 16)
        assert abs(row - 8) <= 2 and abs(col - 8) <= 2  # an eighth of 16 px
    ramp = torch.arange(16.0).view(1, 1, 1, 16).expand(1, 1, 16, 16)
    shifted = augment._translation(ramp, torch.Generator().manual_seed(3))
    assert shifted.min() >= 0 and shifted.max() <= 15  # edges repeated, no zeros brought in


def test_cutout_blanks_a_quarter_of_each_image_at_its_own_place():
    x = torch.ones(8, 2, 16, 16)
    out = augment.augment(x, "cutout", torch.Generator().manual_seed(0))
    blank = (out == 0).all(dim=1)
    assert blank.sum(dim=(1, 2)).tolist() == [64] * 8  # an 8x8 square each
    assert len({tuple(b.nonzero()[0].tolist()) for b in blank}) > 1


def test_colour_changes_grey_and_colour_images_per_image_and_keeps_gradients():
    x = _images(c=3).requires_grad_(True)
    out = augment.augment(x, "colour,translation,cutout", torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    means = (out - x).mean(dim=(1, 2, 3))
    assert means.std() > 0.01  # each image drew its own brightness
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    grey = _images(c=1)
    assert not torch.allclose(augment.augment(grey, "colour"), grey)


def test_a_gan_with_diffaugment_trains_and_its_samples_are_not_augmented():
    torch.manual_seed(0)
    model = registry.build("gan", image_size=16, channels=3, base_channels=8, latent_dim=8,
                           augment="colour,translation,cutout")
    optimizers = model.configure_optimizers()
    x = torch.rand(4, 3, 16, 16)
    for step in range(2):
        out = model.train_step(x, torch.zeros(4, dtype=torch.long), optimizers, step)
        assert all(torch.isfinite(torch.tensor(v)) for v in out.values())
    model.eval()
    z = model.prior_sample(2, torch.Generator().manual_seed(0))
    assert torch.equal(model.decode(z), model.decode(z))  # sampling draws no augmentation
