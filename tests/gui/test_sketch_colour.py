"""The Sketch panel with a colour sketch model (issue 22): a palette of inks, a colour
canvas, and strokes whose colours reach the model as colour hints; a grey model gets its
two inks and a grey canvas back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genplay.core import checkpoints
from genplay.core.events import final_value
from genplay.gui.panels.sketch import COLOUR_INKS, GREY_INKS, SketchPanel
from tests.conftest import train_tiny
from tests.gui.test_colour_models import assert_colour, colour_folder
from tests.gui.test_sketch_finish import generate
from tests.gui.test_sketch_model_panel import TINY, infos_of, open_model


@pytest.fixture(scope="module")
def models(tmp_path_factory, data_home):
    """A tiny colour sketch model (lines and colour hints) of a colour folder, and a grey
    sketch model of the tiny fashion-mnist."""
    data = colour_folder(tmp_path_factory.mktemp("colour") / "pictures")
    root = tmp_path_factory.mktemp("colour-sketch")
    for name, source, channels, extra in (("sketch-colour", data, 3, {"sketch_channels": 5}),
                                          ("sketch-grey", "fashion-mnist", 1, {})):
        train_tiny(root / name, "sketch-diffusion", source, {**TINY, **extra},
                   channels=channels, recipe=f"test {name}")
    return root


@pytest.fixture
def panel(laptop_panel):
    return laptop_panel(SketchPanel)


def a_yellow_ring(panel):
    panel.choose_ink("Yellow")
    n = panel.canvas.canvas_size()
    yy, xx = np.mgrid[:n, :n]
    r = np.hypot(yy - n / 2, xx - n / 2)
    ring = np.zeros((n, n, 3), np.uint8)
    ring[(r > n * 0.2) & (r < n * 0.45)] = panel.canvas.ink_colour()  # 2 px at 8x8
    panel.canvas.load_image(ring)


def test_a_colour_model_gets_a_palette_and_its_strokes_colours(qtbot, panel, models):
    open_model(qtbot, panel, models, "sketch-colour")
    assert panel.ink_names() == [name for name, _ in COLOUR_INKS]
    assert panel.canvas.colour()
    panel.eraser_button.setChecked(True)
    a_yellow_ring(panel)
    assert panel.pen_button.isChecked()  # picking an ink picks the pen
    assert panel.canvas.ink_colour() == dict(COLOUR_INKS)["Yellow"]
    assert_colour(panel.model_view.pixels(), (8, 8, 3))  # what the model sees, in colour
    panel.live.setChecked(False)
    panel.count.setValue(2)
    panel.steps.setValue(2)
    generate(qtbot, panel)
    assert panel.images.shape == (2, 3, 8, 8)
    # the drawing reached the model in colour: its hints hold the yellow of the ring
    path = next(i.path for i in infos_of(models) if i.name == "sketch-colour")
    model, _ = checkpoints.load(path, device="cpu")
    from genplay.core.ops.sketch import canvas_tensor, sketch_canvas

    drawing = panel.canvas.image_array()
    hints = model.sketch_input(canvas_tensor(model, drawing))[:, 1:]
    assert hints[:, 3].sum() > 0
    yellow = torch.tensor(dict(COLOUR_INKS)["Yellow"]) / 255
    assert (hints[0, :3, hints[0, 3] > 0].T - yellow).abs().max() < 0.2
    expected = final_value(sketch_canvas(model, drawing, 2, panel.seed.value(), 0.5,
                                         panel.options()))
    assert np.allclose(panel.images, expected, atol=1e-5)


def test_a_grey_model_gets_white_and_black_back(qtbot, panel, models):
    open_model(qtbot, panel, models, "sketch-colour")
    a_yellow_ring(panel)
    open_model(qtbot, panel, models, "sketch-grey")
    qtbot.waitUntil(lambda: not panel.canvas.colour(), timeout=20000)
    assert panel.ink_names() == [name for name, _ in GREY_INKS]
    assert panel.inks.checkedButton().objectName() == "White"
    assert panel.canvas.ink_colour() == (255, 255, 255)
    assert panel.canvas.image_array().ndim == 2  # the ring's luma, for a grey model
    assert panel.model_view.pixels().shape[2] == 1
    with pytest.raises(ValueError, match="no ink 'Yellow'"):
        panel.choose_ink("Yellow")
