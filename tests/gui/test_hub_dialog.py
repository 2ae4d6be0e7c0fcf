"""The "Download from the Hub" dialog, downloading from a local stand-in for the Hub
(tests/hub_server.py) in the engine's downloads thread."""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import Qt

from tests.hub_server import pipeline_files

REPO = "google/ddpm-tiny"
WEIGHTS = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture
def dialog(qtbot):
    from genplay.gui.engine import Engine
    from genplay.gui.widgets.hub_dialog import HubDialog

    engine = Engine()
    d = HubDialog(engine)
    qtbot.addWidget(d)
    d.show()
    yield d
    assert engine.shutdown(5000)


def test_the_dialog_downloads_a_model_and_hands_it_over(stand_in_hub, dialog, qtbot, tmp_path):
    files = pipeline_files(random.Random(0).randbytes(200_000))
    stand_in_hub.add(REPO, files)
    assert dialog.repo.placeholderText() == "google/ddpm-cifar10-32"
    progress = []
    dialog.progress.valueChanged.connect(progress.append)
    qtbot.keyClicks(dialog.repo, f"hf://{REPO}")
    with qtbot.waitSignal(dialog.pulled, timeout=20000) as pulled:
        qtbot.keyClick(dialog.repo, Qt.Key.Key_Return)  # Download is the default button
        assert dialog.busy() and not dialog.download_button.isEnabled()
    folder = tmp_path / "models" / "google--ddpm-tiny"
    assert pulled.args == [folder]
    assert (folder / WEIGHTS).read_bytes() == files[WEIGHTS]
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=5000)
    assert dialog.message.text().startswith(f"Ready: {folder} (4 files, ")
    assert progress and dialog.download_button.isEnabled() and dialog.progress.isHidden()

    with qtbot.waitSignal(dialog.pulled, timeout=20000):
        dialog.download()  # the same model again: it is there
    assert dialog.message.text() == f"Already here: {folder}"


def test_mistakes_and_failures_are_said_in_the_dialog(stand_in_hub, dialog, qtbot):
    dialog.download()
    assert dialog.message.text() == "Type a model's name on the Hub, as google/ddpm-cifar10-32."
    dialog.repo.setText("no-owner")
    dialog.download()
    assert "give the model as OWNER/NAME" in dialog.message.text() and not dialog.busy()

    dialog.repo.setText("google/no-such-model")
    dialog.download()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=20000)
    assert dialog.message.text().startswith("no model google/no-such-model on 127.0.0.1:")
    assert dialog.download_button.isEnabled() and dialog.repo.isEnabled()


def test_cancel_leaves_no_model_and_the_next_download_goes_on(stand_in_hub, dialog, qtbot,
                                                             tmp_path):
    files = pipeline_files(random.Random(1).randbytes(3_000_000))
    stand_in_hub.add(REPO, files)
    stand_in_hub.slow.add(WEIGHTS)  # about 2 s of small pieces
    dialog.repo.setText(REPO)
    dialog.download()
    qtbot.waitUntil(lambda: dialog.message.text() == f"Downloading {WEIGHTS}"
                    and dialog.progress.value() > 0, timeout=20000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=20000)
    assert dialog.message.text() == "Cancelled; Download goes on from where it stopped."
    assert not (tmp_path / "models" / "google--ddpm-tiny").exists()

    stand_in_hub.slow.clear()
    with qtbot.waitSignal(dialog.pulled, timeout=20000):
        dialog.download()
    assert stand_in_hub.downloads(WEIGHTS)[-1].startswith("bytes=")
    folder = tmp_path / "models" / "google--ddpm-tiny"
    assert (folder / WEIGHTS).read_bytes() == files[WEIGHTS]
