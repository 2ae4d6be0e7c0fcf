"""The Super-resolution panel as a user drives it: an image in, bicubic (and the model's own
methods) out, compared, measured, saved, a folder at a time."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from genplay.core.checkpoints import CheckpointInfo
from genplay.core.images import load_image, read_png_metadata
from genplay.core.metrics import psnr, ssim
from genplay.gui.panels.superres import SuperresPanel
from genplay.gui.panels.superres_methods import PHOTO_CHECKPOINT
from genplay.gui.widgets.upscale_comparison import HIGHLIGHT, THUMB_PAD
from tests.gui.conftest import select


@pytest.fixture
def panel(qtbot, standalone):
    """The panel on its own, with no model: everything bicubic can do."""
    p = standalone(SuperresPanel)
    p.resize(900, 600)
    p.show()
    p.set_model(None)
    qtbot.waitUntil(lambda: p.method_names is not None, timeout=20000)  # read off the UI thread
    return p


def colour_picture(h=23, w=31, seed=0) -> np.ndarray:
    """Smooth gradients plus some noise: something bicubic gets nearly, not exactly, right."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)], axis=2)
    return np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def write_png(path, pixels):
    Image.fromarray(pixels).save(path)
    return str(path)


def wait_for_result(qtbot, panel, **request):
    """Until the last request is answered (an earlier one may have answered already)."""
    qtbot.waitUntil(lambda: not panel.engine.is_busy() and panel.result is not None and all(
        panel.request.get(k) == v for k, v in request.items()), timeout=20000)


def test_bicubic_x2_with_simulate_shows_the_result_and_its_psnr_ssim(qtbot, panel, tmp_path):
    original = colour_picture()  # 31x23: simulate crops to 30x22 and shrinks to 15x11
    panel.simulate.setChecked(True)
    panel.load_file(write_png(tmp_path / "picture.png", original))
    qtbot.waitUntil(lambda: panel.source is not None, timeout=20000)
    assert "picture.png" in panel.source_label.text() and "31×23" in panel.source_label.text()
    assert panel.method_key() == "bicubic"
    panel.upscale()
    wait_for_result(qtbot, panel, method="bicubic", scale=2, simulate=True)
    out = panel.result_pixels()
    assert out.shape == (22, 30, 3) and panel.result["input"].shape == (11, 15, 3)
    reference = original[:22, :30]
    text = panel.metrics_label.text()
    assert "PSNR" in text and "SSIM" in text
    assert f"{psnr(out, reference):.2f} dB" in text and f"{ssim(out, reference):.4f}" in text
    assert "15×11 → 30×22" in panel.caption.text()
    # the view compares the result with the input it came from, stretched to its size
    assert panel.view.image_size().width() == 30 and panel.view.labels()[1] == "Result"
    # bicubic is the result itself here: not offered twice
    assert [panel.compare.itemData(i) for i in range(panel.compare.count())] == \
        ["input", "reference"]


def test_x4_without_reference_says_why_there_are_no_figures(qtbot, panel):
    panel.simulate.setChecked(False)
    panel.scale.setCurrentIndex(panel.scale.findData(4))
    panel.set_source(colour_picture(7, 7), "tiny")
    wait_for_result(qtbot, panel, scale=4, simulate=False)
    assert panel.result_pixels().shape == (28, 28, 3)
    assert "No reference" in panel.metrics_label.text()
    assert panel.compare.findData("reference") == -1


def test_a_reference_of_the_wrong_size_is_explained(qtbot, panel, tmp_path):
    panel.simulate.setChecked(False)
    panel.set_source(colour_picture(8, 8), "small")
    panel.load_reference(write_png(tmp_path / "ref.png", colour_picture(10, 10)))
    qtbot.waitUntil(lambda: panel.messages.isVisible(), timeout=20000)
    assert "reference" in panel.messages.text() and "16x16" in panel.messages.text()
    panel.load_reference(write_png(tmp_path / "ref.png", colour_picture(16, 16)))
    wait_for_result(qtbot, panel, simulate=False)
    qtbot.waitUntil(lambda: panel.result.get("metrics") is not None, timeout=20000)
    assert "PSNR" in panel.metrics_label.text()


def test_bad_files_give_a_message_not_a_crash(qtbot, panel, tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not an image")
    panel.load_file(str(tmp_path / "broken.png"))
    qtbot.waitUntil(lambda: panel.messages.isVisible(), timeout=20000)
    assert "broken.png" in panel.messages.text()
    assert panel.source is None and not panel.save_button.isEnabled()
    panel.load_file(str(tmp_path))  # a folder
    qtbot.waitUntil(lambda: "folder" in panel.messages.text(), timeout=20000)


def test_a_dropped_file_and_a_sample_are_loaded(qtbot, panel, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(write_png(tmp_path / "dropped.png", colour_picture()))])
    panel.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                               Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: panel.source_name == "dropped.png", timeout=20000)
    samples = panel.sample_button.menu().actions()
    assert {a.text() for a in samples} >= {"mnist", "fashion-mnist"}
    first = next(a for a in samples if a.text() == "mnist").menu().actions()[0]
    first.trigger()
    qtbot.waitUntil(lambda: panel.source_name.endswith(".png")
                    and panel.source_name != "dropped.png", timeout=20000)
    assert panel.source.shape == (28, 28)


def test_dragging_the_divider_shows_more_of_the_input(qtbot, panel):
    small = np.zeros((6, 6, 3), np.uint8)
    small[..., 0] = 255  # red input ...
    panel.simulate.setChecked(False)
    panel.set_source(small, "red")
    wait_for_result(qtbot, panel, simulate=False)
    blue = np.zeros((12, 12, 3), np.uint8)
    blue[..., 2] = 255  # ... and, to tell the sides apart, a blue "result"
    panel.result["images"] = [blue]
    panel.select(0)
    view = panel.view
    rect = view.image_rect()
    y = round(rect.bottom() - 5)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(round(view.divider_x()), y))
    qtbot.mouseMove(view, QPoint(round(rect.left() + 0.8 * rect.width()), y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton,
                       pos=QPoint(round(rect.left() + 0.8 * rect.width()), y))
    assert view.split() == pytest.approx(0.8, abs=0.02)
    image = view.grab().toImage()
    left = image.pixelColor(round(rect.left() + 0.7 * rect.width()), y)
    right = image.pixelColor(round(rect.left() + 0.9 * rect.width()), y)
    assert (left.red(), left.blue()) == (255, 0) and (right.red(), right.blue()) == (0, 255)


def test_save_writes_a_png_with_its_record(qtbot, panel, tmp_path):
    panel.set_source(colour_picture(), "picture.png")
    wait_for_result(qtbot, panel)
    assert panel.save(tmp_path / "up.png")
    saved = load_image(tmp_path / "up.png")
    assert np.array_equal(saved, panel.result_pixels())
    meta = read_png_metadata(tmp_path / "up.png")
    assert meta["method"] == "bicubic" and meta["scale"] == "2" and meta["source"] == "picture.png"
    assert "Saved" in panel.messages.text()
    (tmp_path / "a-file").write_text("not a folder")
    assert not panel.save(tmp_path / "a-file" / "up.png")
    assert "Could not save" in panel.messages.text()


def test_without_a_model_only_bicubic_is_offered_and_the_rest_say_why(panel):
    enabled = {panel.method.itemData(i): panel.method.model().item(i).isEnabled()
               for i in range(panel.method.count())}
    assert enabled == {"net": False, "diffusion": False, "photo": False, "bicubic": True}
    photo = panel.method.findData("photo")
    assert PHOTO_CHECKPOINT in panel.method.model().item(photo).toolTip()
    assert not panel.set_method("net") and panel.method_key() == "bicubic"


def test_a_shipped_photo_upscaler_is_offered_when_the_scan_finds_one(panel, tmp_path):
    info = CheckpointInfo(path=tmp_path / PHOTO_CHECKPOINT, family="superres", config={},
                          dataset="photos", image_shape=(3, 64, 64), class_names=None,
                          recipe="", training={}, capabilities=["upscaler"])
    panel.set_checkpoints([info])
    assert panel.method.model().item(panel.method.findData("photo")).isEnabled()
    panel.set_checkpoints([])
    assert not panel.method.model().item(panel.method.findData("photo")).isEnabled()


def test_a_newer_request_wins(qtbot, panel):
    panel.simulate.setChecked(False)
    panel.set_source(colour_picture(64, 64), "big")
    panel.scale.setCurrentIndex(panel.scale.findData(4))  # supersedes the x2 already queued
    wait_for_result(qtbot, panel, scale=4)
    qtbot.wait(200)  # nothing stale lands afterwards
    assert panel.request["scale"] == 4 and panel.result_pixels().shape == (256, 256, 3)


def test_a_folder_is_upscaled_and_unreadable_files_are_reported(qtbot, panel, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    write_png(folder / "a.png", colour_picture(8, 10))
    write_png(folder / "b.png", colour_picture(5, 5))
    (folder / "c.png").write_bytes(b"garbage")
    panel.batch_folder(str(folder), str(out))
    qtbot.waitUntil(lambda: "Wrote" in panel.caption.text(), timeout=20000)
    assert sorted(p.name for p in out.iterdir()) == ["a_x2.png", "b_x2.png"]
    assert load_image(out / "a_x2.png").shape == (16, 20, 3)
    assert "c.png" in panel.messages.text() and panel.messages.kind == "error"
    assert len(panel.batch_log) == 3
    assert not panel.progress.isVisible()


# --- in the main window, with the tiny models -------------------------------------------------
def open_superres(qtbot, window, name):
    select(qtbot, window, name)
    panel = window.superres
    window.tabs.setCurrentIndex(window.panels.index(panel))
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)
    return panel


def test_the_tab_sits_between_sketch_and_outliers_and_takes_any_model(qtbot, window):
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles.index("Super-resolution") == titles.index("Sketch") + 1
    assert titles.index("Outliers") == titles.index("Super-resolution") + 1
    stack, panel, _needs = window._stacks[window.panels.index(window.superres)]
    for name in ("classifier-tiny", "pixelcnn-tiny"):  # neither can generate: bicubic only
        open_superres(qtbot, window, name)
        assert stack.currentWidget() is panel
        assert panel.facts["methods"] == ["bicubic"]
        assert not panel.set_method("diffusion")
    open_superres(qtbot, window, "vae-tiny")  # a latent space can guide
    assert "diffusion" in panel.facts["methods"]
    texts = [panel.method.itemText(i) for i in range(panel.method.count())]
    assert "Latent-guided" in texts and "Diffusion-guided" not in texts  # says what it does
    open_superres(qtbot, window, "flow-tiny")  # its "scales" attribute is its layers
    assert panel.facts["scales"] == [] and not window.messages.isVisible()
    assert panel.method.currentText() == "Bicubic"  # the slow method is never the default


def test_diffusion_gives_candidates_labelled_as_alternatives(qtbot, window):
    panel = open_superres(qtbot, window, "diffusion-tiny")
    assert "Diffusion-guided" in [panel.method.itemText(i) for i in range(panel.method.count())]
    assert panel.set_method("diffusion")
    assert panel.count.isVisible()
    panel.count.setValue(3)
    panel.simulate.setChecked(True)
    panel.set_source(colour_picture(8, 8)[..., 0], "eight")  # the tiny model is 8x8 gray
    assert panel.result is None  # the slow method waits for the button
    panel.upscale()
    wait_for_result(qtbot, panel, method="diffusion")
    assert len(panel.result["images"]) == 3 and panel.result_pixels().shape == (8, 8, 1)
    assert panel.candidates_box.isVisible() and "not the truth" in panel.candidates_label.text()
    panel.select(2)
    assert panel.view.labels()[1] == "Alternative 2"
    strip = panel.comparison.candidates.pixels()
    tile = 8 + THUMB_PAD  # the chosen one is framed, in the padding around it
    assert tuple(strip[0, 2 * tile + 1]) == HIGHLIGHT and tuple(strip[0, 1]) != HIGHLIGHT
    assert np.array_equal(strip[THUMB_PAD:THUMB_PAD + 8, 2 * tile + THUMB_PAD:][:, :8, 0],
                          panel.result_pixels()[..., 0])
    panel.compare.setCurrentIndex(panel.compare.findData("reference"))
    assert panel.view.labels()[0] == "Reference"
    assert panel.compare.findData("bicubic") >= 0
    text = panel.metrics_label.text()
    assert "Alternative 2" in text and "Bicubic" in text
    assert panel.record()["index"] == 2


def test_another_panels_image_can_be_upscaled(qtbot, window):
    select(qtbot, window, "vae-tiny")
    window.sampling.count.setValue(4)
    window.sampling.generate()
    qtbot.waitUntil(lambda: window.sampling.images is not None, timeout=20000)
    panel = window.superres
    panel._fill_from_menu()
    actions = {a.text(): a for a in panel.from_menu.actions()}
    assert actions["Sampling"].isEnabled()
    actions["Sampling"].trigger()
    assert panel.source_name == "from Sampling"
    assert np.array_equal(panel.source, window.sampling.current_image()[0])


@pytest.fixture
def sr_checkpoint(tmp_path):
    """A tiny SR network saved as a checkpoint, untrained: its tails start at zero, so it
    enlarges exactly as bicubic does, which makes its output checkable."""
    from genplay.core import checkpoints, registry

    def make(name: str, scales=(2,)):
        model = registry.build("superres", image_size=16, features=4, blocks=1,
                               channels=3, scales=list(scales))
        checkpoints.save(model, tmp_path / name, dataset="tiny", recipe="test")
        return checkpoints.read_info(tmp_path / name)
    return make


def test_an_sr_network_is_offered_with_its_scales_and_used(qtbot, panel, sr_checkpoint):
    from genplay.core.events import final_value
    from genplay.core.ops.superres import upscale_steps

    panel.set_model(sr_checkpoint("sr-tiny", scales=(2,)))
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)
    assert panel.facts == {"methods": ["net", "bicubic"], "scales": [2], "guided": None}
    assert panel.method_key() == "net"  # a network, when there is one, is the default
    x4 = panel.scale.findData(4)
    assert not panel.scale.model().item(x4).isEnabled()  # not trained for x4
    panel.simulate.setChecked(True)
    picture = colour_picture(16, 16)
    panel.set_source(picture, "sixteen")
    wait_for_result(qtbot, panel, method="net", scale=2)
    assert panel.result_pixels().shape == (16, 16, 3)
    bicubic = final_value(upscale_steps(None, panel.result["input"], 2, "bicubic"))
    assert np.abs(panel.result_pixels().astype(int) - bicubic["images"][0]).max() <= 1
    assert "Bicubic" in panel.metrics_label.text()  # the baseline beside the network
    assert panel.record()["model"] == "sr-tiny"


def test_the_photo_upscaler_runs_on_its_own_checkpoint(qtbot, panel, sr_checkpoint):
    panel.set_checkpoints([sr_checkpoint(PHOTO_CHECKPOINT, scales=(2, 4))])
    assert panel.info is None  # no model selected: the photo upscaler needs none
    assert panel.set_method("photo")
    qtbot.waitUntil(lambda: panel.photo_facts is not None, timeout=20000)
    panel.scale.setCurrentIndex(panel.scale.findData(4))
    panel.simulate.setChecked(False)
    panel.set_source(colour_picture(6, 5), "tiny")
    wait_for_result(qtbot, panel, method="net", scale=4)
    assert panel.result_pixels().shape == (24, 20, 3)
    assert panel.request["checkpoint"] == PHOTO_CHECKPOINT
