"""Models of other projects in the window: a diffusers pipeline folder dropped on it opens,
is listed with what it is, and samples; pickled weights are loaded only when the user
agrees."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMessageBox

pytest.importorskip("diffusers")

from tests.foreign_models import pipeline_folder  # noqa: E402


def drop(window, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPointF(10, 10).toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))


@pytest.fixture
def empty_window(qtbot, tmp_path, settings):
    from genplay.gui.main_window import MainWindow

    (tmp_path / "none").mkdir()
    w = MainWindow(checkpoint_dirs=[tmp_path / "none"], settings=settings)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_a_dropped_diffusers_folder_opens_and_samples(qtbot, tmp_path, empty_window):
    window = empty_window
    folder = pipeline_folder(tmp_path / "my-ddpm")
    drop(window, folder)
    qtbot.waitUntil(lambda: window.current is not None, timeout=20000)
    info = window.current
    assert (info.name, info.family, info.format) == ("my-ddpm", "diffusers", "diffusers")
    entry = window.model_list.currentItem().data(Qt.ItemDataRole.UserRole + 1)
    assert any("diffusers UNet2DModel 8x8 RGB" in line for line in entry["lines"])
    assert {"sampler", "latent", "density", "conditional"} <= set(info.capabilities)

    sampling = window.sampling
    qtbot.waitUntil(sampling.generate_button.isEnabled, timeout=20000)
    sampling.generate()
    qtbot.waitUntil(lambda: sampling.images is not None, timeout=60000)
    assert sampling.images.shape[1:] == (3, 8, 8)


def test_pickled_weights_load_only_when_the_user_agrees(qtbot, tmp_path, empty_window,
                                                        monkeypatch):
    window = empty_window
    folder = pipeline_folder(tmp_path / "old-ddpm", safe=False)
    assert (folder / "unet" / "diffusion_pytorch_model.bin").is_file()
    asked = []

    def answer(reply):
        def question(*args, **kwargs):
            asked.append(args[2])
            return reply
        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    window.open_checkpoint(folder)
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=20000)
    assert "pickle" in asked[0]

    def refused() -> bool:
        item = window.model_list.item_for(folder)
        entry = item.data(Qt.ItemDataRole.UserRole + 1) if item is not None else {}
        return "could not be loaded" in entry.get("badges", [])

    qtbot.waitUntil(refused, timeout=20000)
    assert not window.sampling.generate_button.isEnabled()

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    window.model_list.setCurrentRow(-1)  # the user picks it again
    window.select_model(folder)
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=20000)
    qtbot.waitUntil(window.sampling.generate_button.isEnabled, timeout=20000)
    window.sampling.generate()
    qtbot.waitUntil(lambda: window.sampling.images is not None, timeout=60000)


def test_an_esrgan_file_upscales_in_the_panel_at_its_own_scale(qtbot, tmp_path, standalone):
    from genplay.core import checkpoints
    from genplay.gui.panels.superres import SuperresPanel
    from tests.core.test_upscaler_files import rrdb_new, write
    from tests.gui.test_superres_panel import colour_picture, wait_for_result

    weights = write(tmp_path / "8x_grey.pth", rrdb_new(channels=1, upsamples=3))  # x8, grey
    info = checkpoints.read_info(weights)
    assert "RRDBNet" in info.architecture and "8x" in info.architecture
    panel = standalone(SuperresPanel)
    panel.resize(900, 600)
    panel.show()
    panel.set_model(info)
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)
    assert panel.facts["scales"] == [8]
    x8 = panel.scale.findData(8)
    assert x8 >= 0 and panel.scale.model().item(x8).isEnabled()
    assert not panel.scale.model().item(panel.scale.findData(2)).isEnabled()
    panel.scale.setCurrentIndex(x8)
    panel.set_source(colour_picture(12, 12), "twelve")
    wait_for_result(qtbot, panel, method="net", scale=8)
    assert panel.result_pixels().shape == (96, 96, 3)  # colour, through the grey net's luma
    # no "learnt from 64x64 grey images" warning: the net of another project names no size
    assert panel.domain_bar.isHidden()
