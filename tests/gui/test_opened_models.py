"""Models of other projects in the window: a diffusers pipeline folder dropped on it opens,
is listed with what it is, and samples; pickled weights are loaded only when the user
agrees."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMessageBox

diffusers = pytest.importorskip("diffusers")


def pipeline_folder(folder: Path, safe: bool = True) -> Path:
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(
        sample_size=8, in_channels=3, out_channels=3, block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"), layers_per_block=1,
        norm_num_groups=4, attention_head_dim=4)
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=50)
    diffusers.DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(
        folder, safe_serialization=safe)
    return folder


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
