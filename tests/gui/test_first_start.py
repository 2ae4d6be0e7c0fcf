"""A new user's first start: no datasets on the computer, no error anywhere; the panels
that need a dataset offer to get it, and getting it (from a local server standing in for
the publishers) lets them go on."""

from __future__ import annotations

import dataclasses

import pytest

from genplay.core import datasets
from tests.served_data import NAME


def show_tab(window, panel) -> None:
    for i in range(window.tabs.count()):
        tab = window.tabs.widget(i)
        if tab is panel or tab.isAncestorOf(panel):
            window.tabs.setCurrentIndex(i)
            return
    raise AssertionError(f"no tab holds {panel}")


@pytest.fixture
def served(published, monkeypatch):
    """The stand-in MNIST, its publisher a local server that pauses half-way in each file."""
    server, _ = published
    spec = datasets.CATALOGUE[NAME]
    monkeypatch.setitem(datasets.CATALOGUE, NAME, dataclasses.replace(
        spec, sources=(server.url + "/slow/",)))
    return server


@pytest.fixture
def bare_window(no_datasets, window):
    """The main window, opened on a computer with no datasets (no_datasets comes first)."""
    return window


def test_the_first_start_shows_no_error_and_offers_the_training_dataset(qtbot, bare_window):
    form = bare_window.training.form
    qtbot.waitUntil(lambda: form.dataset_offer.isVisibleTo(bare_window.training), timeout=20000)
    assert form.dataset_spec() == "fashion-mnist" and form.missing == "fashion-mnist"
    assert "Fashion-MNIST</b> is not on this computer" in form.dataset_offer.text.text()
    assert not bare_window.messages.isVisible()  # the start-up error bar is gone
    for i in range(bare_window.tabs.count()):  # every tab, as a user clicks through them
        bare_window.tabs.setCurrentIndex(i)
        qtbot.wait(50)
    assert not bare_window.messages.isVisible()
    # Start explains itself instead of starting a run that fails
    show_tab(bare_window, bare_window.training)
    assert not bare_window.training.start()
    assert "Get dataset" in bare_window.messages.text()


def test_get_dataset_with_progress_and_cancel_then_the_preview_shows(qtbot, bare_window,
                                                                     served, no_datasets):
    panel = bare_window.training
    show_tab(bare_window, panel)
    form = panel.form
    qtbot.waitUntil(lambda: form.dataset_offer.isVisible(), timeout=20000)
    form.dataset_combo.setCurrentIndex(form.dataset_combo.findText(NAME))
    offer = form.dataset_offer
    qtbot.waitUntil(lambda: form.missing == NAME, timeout=20000)
    offer.get()
    qtbot.waitUntil(lambda: offer.jobs.progress.isVisible() and offer.busy(), timeout=5000)
    assert not offer.get_button.isEnabled()
    qtbot.waitUntil(lambda: "from 127.0.0.1" in offer.caption.text(), timeout=10000)
    offer.jobs.cancel()
    qtbot.waitUntil(lambda: not offer.busy(), timeout=10000)
    assert "Cancelled" in offer.caption.text() and offer.get_button.isEnabled()
    assert datasets.locate(NAME) is None and offer.isVisible()
    assert list((no_datasets / f".{NAME}.download").iterdir())  # kept, to resume

    offer.get()
    qtbot.waitUntil(lambda: "images as the model sees them" in form.data_caption.text(),
                    timeout=20000)
    assert not offer.isVisible() and form.missing is None
    assert datasets.verify(NAME).published
    # the second Get went on from what the first had: no file was fetched from its start twice
    whole = [path for path, r in served.requests if not r]
    assert len(whole) == len(set(whole))
    assert not bare_window.messages.isVisible()


def test_the_outlier_panel_offers_the_test_split_it_needs(qtbot, bare_window, served,
                                                          tiny_checkpoints):
    import shutil

    from genplay.core import checkpoints
    from tests.gui.conftest import select

    # a model of the dataset, without reference scores: measuring them needs its test split
    model, _ = checkpoints.load(tiny_checkpoints / "vae-tiny")
    folder = tiny_checkpoints.parent / "vae-of-mnist"
    shutil.rmtree(folder, ignore_errors=True)
    checkpoints.save(model, folder, dataset=NAME, recipe="test")
    bare_window.open_checkpoint(folder)
    qtbot.waitUntil(lambda: any(i.path == folder for i in bare_window.infos), timeout=20000)
    select(qtbot, bare_window, "vae-of-mnist")
    panel = bare_window.outliers
    show_tab(bare_window, panel)
    qtbot.waitUntil(lambda: panel.dataset_offer.isVisible(), timeout=20000)
    assert not panel.measure_button.isEnabled()
    panel.dataset_offer.get()
    qtbot.waitUntil(lambda: panel.measure_button.isEnabled(), timeout=20000)
    assert not panel.dataset_offer.isVisible()
    # the Training tab's offer of the same dataset learnt it too
    form = bare_window.training.form
    form.dataset_combo.setCurrentIndex(form.dataset_combo.findText(NAME))
    qtbot.waitUntil(lambda: "images as the model sees them" in form.data_caption.text(),
                    timeout=20000)
