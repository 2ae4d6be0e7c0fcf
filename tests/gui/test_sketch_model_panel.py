"""The Sketch panel with a sketch model (issue 21): the dataset's sketch model is offered
before the selected model's own way, its Sketch guidance takes Strength's place, its
candidates come from its own checkpoint; and "Sketch from a picture" puts any picture's
lines on the canvas as a drawing to edit."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from genplay.core import checkpoints
from genplay.core.events import final_value
from genplay.core.images import read_png_metadata
from genplay.core.models.sketch_diffusion import DEFAULT_SKETCH_GUIDANCE, DEFAULT_SKETCH_STEPS
from genplay.gui.panels import sketch_method_choice
from genplay.gui.panels.sketch import SketchPanel
from tests.conftest import train_tiny
from tests.gui.test_sketch_finish import a_bar, generate

TINY = {"image_size": 8, "base_channels": 8, "blocks_per_level": 1, "attention_heads": 2,
        "timesteps": 50, "batch_size": 8}
MODELS = {  # name: (family, dataset, config)
    "sketch-fashion": ("sketch-diffusion", "fashion-mnist", TINY),
    "diffusion-fashion": ("diffusion", "fashion-mnist", TINY),
    "vae-mnist": ("vae", "mnist", {"image_size": 8, "base_channels": 4, "latent_dim": 4,
                                   "n_mix": 2, "batch_size": 8}),
}


@pytest.fixture(scope="module")
def sketch_models(tmp_path_factory, data_home):
    """A folder of tiny checkpoints (1 epoch each): a sketch model and a diffusion model of
    the tiny fashion-mnist, a VAE of the tiny mnist."""
    root = tmp_path_factory.mktemp("sketch-models")
    for name, (family, data, config) in MODELS.items():
        train_tiny(root / name, family, data, config)
    return root


@pytest.fixture
def panel(laptop_panel):
    return laptop_panel(SketchPanel)


def infos_of(root):
    found, broken = checkpoints.scan(root)
    assert broken == []
    return found


def open_model(qtbot, panel, root, name, scanned=None):
    """Gives the panel the scanned checkpoints, as the window does, then selects name."""
    infos = scanned if scanned is not None else infos_of(root)
    panel.set_checkpoints(infos)
    panel.set_model(next(i for i in infos if i.name == name))
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)


def shown(panel, widget) -> bool:
    return widget.isVisibleTo(panel)


def spy_on_jobs(monkeypatch, panel) -> list[tuple[tuple, dict]]:
    """Records (args, keyword arguments) of every job the panel submits."""
    jobs = []
    submit = panel.engine.submit

    def recording(*args, **kwargs):
        jobs.append((args, kwargs))
        return submit(*args, **kwargs)
    monkeypatch.setattr(panel.engine, "submit", recording)
    return jobs


def test_the_datasets_sketch_model_is_offered_first_and_makes_the_candidates(
        qtbot, panel, sketch_models, monkeypatch, tmp_path):
    jobs = spy_on_jobs(monkeypatch, panel)
    open_model(qtbot, panel, sketch_models, "diffusion-fashion")
    assert panel.method_choices() == ["Sketch model (sketch-fashion)", "SDEdit"]
    assert shown(panel, panel.method_box) and panel.target().name == "sketch-fashion"
    assert panel.facts["method"] == "sketch"
    assert panel.method_label.text().startswith("Sketch model")
    # Sketch guidance in Strength's place (a sketch model never noises the drawing)
    assert shown(panel, panel.sketch_guidance) and not shown(panel, panel.strength)
    assert panel.sketch_guidance.value() == DEFAULT_SKETCH_GUIDANCE
    assert panel.sketch_guidance.maximum() == 10
    # a sketch model's own steps (half a sampling run's), not SDEdit's whole schedule
    assert panel.steps.value() == DEFAULT_SKETCH_STEPS
    # what the panel shows before the facts arrive is the same default
    assert sketch_method_choice.GUIDANCE_DEFAULT == DEFAULT_SKETCH_GUIDANCE
    assert panel.sketch_guidance.singleStep() == 0.25
    tip = panel.sketch_guidance.toolTip()
    assert "0 ignores" in tip and "1 follows" in tip and "higher" in tip
    assert panel.fill_button.isEnabled()  # Fill runs the selected (diffusion) model
    panel.live.setChecked(False)
    panel.sketch_guidance.setValue(2.25)
    panel.count.setValue(2)
    panel.steps.setValue(4)
    a_bar(panel)
    generate(qtbot, panel)
    job = [(a, k) for a, k in jobs if k.get("key") == "sketch"][-1]
    sketch_path = next(i.path for i in infos_of(sketch_models) if i.name == "sketch-fashion")
    assert job[1]["checkpoint"] == sketch_path
    options = job[0][-1]
    assert options["sketch_guidance"] == 2.25 and options["steps"] == 4
    # The candidates are the sketch model's, as the op gives them without Qt.
    model, _ = checkpoints.load(sketch_path, device="cpu")
    from genplay.core.ops.sketch import sketch_canvas

    expected = final_value(sketch_canvas(model, panel.canvas.image_array(), 2,
                                         panel.seed.value(), 0.5, options))
    assert np.allclose(panel.images, expected, atol=1e-5)
    assert "sketch-fashion · sketch guidance 2.25" in panel.caption.text()
    panel.save(tmp_path / "pick.png")
    meta = read_png_metadata(tmp_path / "pick.png")
    assert meta["model"] == "sketch-fashion" and meta["method"] == "sketch"
    assert "sketch_guidance" in meta["options"]
    panel.label.setCurrentIndex(1)  # a class, and its guidance, on top of the sketch's
    panel.guidance.setValue(2.0)
    generate(qtbot, panel)
    options = [a for a, k in jobs if k.get("key") == "sketch"][-1][-1]
    assert options["class"] == panel.label.currentText() and options["guidance"] == 2.0
    assert options["sketch_guidance"] == 2.25
    assert panel.images.shape == (2, 1, 8, 8)


def test_the_selected_models_own_way_is_one_choice_away(qtbot, panel, sketch_models,
                                                        monkeypatch):
    jobs = spy_on_jobs(monkeypatch, panel)
    open_model(qtbot, panel, sketch_models, "diffusion-fashion")
    panel.live.setChecked(False)
    qtbot.wait(10)
    field_x = panel.steps.x()
    assert panel.choose_method("sdedit")
    qtbot.waitUntil(lambda: panel.facts is not None and panel.facts["method"] == "sdedit")
    qtbot.wait(10)
    assert panel.steps.x() == field_x  # the form's fields stay put as the rows change
    assert panel.method_label.text().startswith("SDEdit")
    assert shown(panel, panel.strength) and not shown(panel, panel.sketch_guidance)
    panel.steps.setValue(4)
    a_bar(panel)
    generate(qtbot, panel)
    args, kwargs = [(a, k) for a, k in jobs if k.get("key") == "sketch"][-1]
    assert kwargs["checkpoint"].name == "diffusion-fashion"
    assert "sketch_guidance" not in args[-1] and panel.request["strength"] == 0.5
    assert panel.record()["model"] == "diffusion-fashion"
    assert panel.choose_method("sketch")  # and back: nothing to load again
    assert panel.facts["method"] == "sketch" and panel.generate_button.isEnabled()


def test_a_model_of_another_dataset_is_offered_no_sketch_model(qtbot, panel, sketch_models):
    open_model(qtbot, panel, sketch_models, "vae-mnist")
    assert panel.method_choices() == ["Latent fitting"]
    assert not shown(panel, panel.method_box)  # no choice to make: no row
    assert panel.facts["method"] == "latent" and panel.target().name == "vae-mnist"
    assert shown(panel, panel.strength) and not shown(panel, panel.sketch_guidance)
    assert "sketch_guidance" not in panel.options()


def test_a_sketch_model_selected_is_simply_itself(qtbot, panel, sketch_models):
    open_model(qtbot, panel, sketch_models, "sketch-fashion")
    assert panel.method_choices() == ["Sketch model (sketch-fashion)"]
    assert not shown(panel, panel.method_box)
    assert panel.facts["method"] == "sketch" and shown(panel, panel.sketch_guidance)
    assert panel.options()["sketch_guidance"] == DEFAULT_SKETCH_GUIDANCE
    panel.set_mode("fill")  # filling: Strength and Sketch guidance do not apply
    assert "sketch_guidance" not in panel.options()
    assert not panel.sketch_guidance.isEnabled()


def test_a_rescan_that_finds_a_sketch_model_offers_it(qtbot, panel, sketch_models):
    infos = infos_of(sketch_models)
    without = [i for i in infos if i.name != "sketch-fashion"]
    open_model(qtbot, panel, sketch_models, "diffusion-fashion", scanned=without)
    assert panel.method_choices() == ["SDEdit"] and shown(panel, panel.strength)
    panel.set_checkpoints(infos)  # F5 after training one: offered, and chosen
    assert panel.method_choices() == ["Sketch model (sketch-fashion)", "SDEdit"]
    assert panel.target().name == "sketch-fashion"
    qtbot.waitUntil(lambda: panel.facts is not None and panel.facts["method"] == "sketch",
                    timeout=20000)
    assert panel.choose_method("sdedit")
    panel.set_checkpoints(infos)  # another rescan: the user's choice is kept
    assert panel.target().name == "diffusion-fashion" and panel.facts["method"] == "sdedit"
    panel.set_checkpoints(without)  # the sketch model is gone: no choice left
    assert panel.method_choices() == ["SDEdit"] and not shown(panel, panel.method_box)


def test_a_sketch_model_that_fails_to_load_leaves_the_own_way(qtbot, panel, sketch_models,
                                                             tmp_path):
    root = tmp_path / "models"
    for name in ("sketch-fashion", "diffusion-fashion"):
        shutil.copytree(sketch_models / name, root / name)
    (root / "sketch-fashion" / "model.safetensors").write_bytes(b"not weights")
    open_model(qtbot, panel, root, "diffusion-fashion")
    qtbot.waitUntil(lambda: panel.facts is not None and panel.facts["method"] == "sdedit",
                    timeout=20000)
    assert panel.method_choices() == ["SDEdit"]
    assert "sketch-fashion" in panel.messages.text() and panel.generate_button.isEnabled()


def test_sketch_from_a_picture_draws_its_lines_light_on_dark(qtbot, panel, sketch_models,
                                                             tmp_path, monkeypatch):
    from PIL import Image
    from PySide6.QtWidgets import QFileDialog

    open_model(qtbot, panel, sketch_models, "diffusion-fashion")
    panel.live.setChecked(False)
    photo = np.full((120, 120, 3), 250, np.uint8)  # a red box on white paper
    photo[12:108, 12:108] = (200, 30, 30)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *a, **k: (str(tmp_path / "photo.png"), ""))
    assert panel.picture_button.text() == "Sketch from a picture…"
    panel.picture_button.click()
    qtbot.waitUntil(lambda: not panel.canvas.is_empty(), timeout=20000)
    canvas = panel.canvas.canvas_array()
    n = canvas.shape[0]
    assert canvas[0, 0] == 0 and canvas[n // 2, n // 2] < 60  # dark ground, box not filled
    ink = canvas > 127
    assert 0.05 < ink.mean() < 0.5  # its outline, not the box
    assert panel.canvas.can_undo()  # an edit like any other
    seen = panel.canvas.image_array()
    assert seen.shape == (8, 8) and seen.max() > 100  # what the model sees has the lines
    before = panel.canvas.canvas_array()
    (tmp_path / "broken.png").write_bytes(b"not an image")
    panel.sketch_picture(str(tmp_path / "broken.png"))
    qtbot.waitUntil(lambda: panel.messages.isVisible(), timeout=20000)
    assert "broken.png" in panel.messages.text() and "\n" not in panel.messages.text()
    assert np.array_equal(panel.canvas.canvas_array(), before)  # the canvas is unchanged
    generate(qtbot, panel)  # then Generate as usual
    assert panel.images.shape[0] == panel.count.value()


def test_the_panel_still_fits_a_laptop_with_the_method_choice(qtbot, panel, sketch_models):
    open_model(qtbot, panel, sketch_models, "diffusion-fashion")
    assert shown(panel, panel.method_box) and shown(panel, panel.picture_button)
    hint = panel.minimumSizeHint()
    assert hint.width() < 900 and hint.height() < 560
    assert panel.heightForWidth(950) <= 600
