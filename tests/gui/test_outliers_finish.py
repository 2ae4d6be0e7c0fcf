"""The Outliers panel finished: each model opens on its own default score, the typed
false-positive rate survives score switches, the rate box covers every rate the line can
have, a table and detail readable at laptop sizes, plain captions, no stale hint or
selection."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from tests.gui.conftest import scored_copies, shown_window
from tests.gui.test_outlier_panel import choose, drop, wait_scored


@pytest.fixture(scope="module")
def scored(tmp_path_factory, tiny_checkpoints):
    """Tiny EBM (energy only), PixelCNN and VAE, each with reference scores."""
    return scored_copies(tmp_path_factory.mktemp("scored-finish"), tiny_checkpoints,
                         scored=("ebm-tiny", "pixelcnn-tiny", "vae-tiny"))


@pytest.fixture
def win(qtbot, scored, settings):
    w = shown_window(qtbot, scored, settings, 3, size=(1280, 800))
    w.tabs.setCurrentIndex(w.panels.index(w.outliers))
    yield w
    w.close()


def ready(qtbot, window, name):
    choose(qtbot, window, name)
    panel = window.outliers
    qtbot.waitUntil(lambda: panel.facts is not None and panel.add_files_button.isEnabled(),
                    timeout=20000)
    return panel


def pictures(folder, n=4, broken_first=False, long_names=False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    for i in range(n):
        stem = f"a-rather-long-file-name-from-a-camera-{i:04d}" if long_names else f"img{i}"
        Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(
            folder / f"{stem}.png")
    if broken_first:  # sorted first in the folder, so it is the first row scored
        (folder / "0-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


def line_in_view(panel):
    lo, hi = panel.histogram.viewRange()[0]
    return lo <= panel.histogram.threshold() <= hi


# --- 1. each model opens on its own default score ---------------------------------------------
def test_after_an_energy_model_the_next_opens_on_its_corrected_default(qtbot, win):
    panel = ready(qtbot, win, "ebm-tiny")
    assert panel.current_method() == "energy"
    panel = ready(qtbot, win, "pixelcnn-tiny")
    assert panel.current_method() == "complexity"  # not raw bits/dim
    # a score the user picks is kept for the next model that has it ...
    panel.method.setCurrentIndex(panel.method.findData("typicality"))
    panel = ready(qtbot, win, "ebm-tiny")
    assert panel.current_method() == "energy"  # ... a model without it shows its own ...
    panel = ready(qtbot, win, "vae-tiny")
    assert panel.current_method() == "typicality"  # ... and the choice did not leak away


# --- 2. the typed rate is kept across score switches ----------------------------------------
@pytest.mark.parametrize("typed", [5.0, 1.0, 25.0])
def test_typed_false_positive_rate_survives_switching_score_and_back(qtbot, win, typed):
    from genplay.core.ops.outlier_figures import false_positive_rate

    panel = ready(qtbot, win, "vae-tiny")
    panel.fpr.setValue(typed)
    panel.method.setCurrentIndex(panel.method.findData("bpd"))
    assert panel.fpr.value() == pytest.approx(typed)
    panel.method.setCurrentIndex(panel.method.findData("complexity"))
    assert panel.fpr.value() == pytest.approx(typed)
    threshold = panel.histogram.threshold()
    # the threshold is the one for the typed rate on this score: it flags at most that share
    assert false_positive_rate(panel.reference(), threshold) <= typed / 100 + 1e-9
    assert threshold == pytest.approx(panel.table_model.threshold)
    assert line_in_view(panel)


# --- 3. the rate box covers every rate the line can give -------------------------------------
def test_false_positive_box_follows_the_line_over_the_whole_range(qtbot, win):
    from genplay.core.ops.outlier_figures import false_positive_rate

    panel = ready(qtbot, win, "vae-tiny")
    ref = np.sort(panel.reference())
    assert panel.fpr.maximum() == pytest.approx(100.0)
    panel.histogram.line.setValue(float(ref[5] + ref[6]) / 2)  # as a drag does: 10 of 16 above
    assert panel.fpr.value() == pytest.approx(100 * false_positive_rate(ref, ref[5] + 1e-9),
                                              abs=0.01)
    assert panel.fpr.value() > 50
    panel.histogram.line.setValue(float(ref[-1]) + 0.5)  # above every test image
    assert panel.fpr.value() == 0.0
    panel.fpr.setValue(100.0)  # every test image flagged
    assert false_positive_rate(ref, panel.histogram.threshold()) == 1.0
    assert line_in_view(panel)
    panel.fpr.setValue(75.0)
    assert false_positive_rate(ref, panel.histogram.threshold()) == pytest.approx(0.75)


# --- 4. readable at the default window size ---------------------------------------------------
@pytest.mark.parametrize("size", [(1280, 800), (1366, 768)])
def test_table_and_detail_are_readable_at_laptop_sizes(qtbot, win, tmp_path, size):
    panel = ready(qtbot, win, "pixelcnn-tiny")
    win.resize(*size)
    panel.add_paths([str(pictures(tmp_path / "long", n=5, long_names=True))])
    wait_scored(qtbot, panel, 5)
    qtbot.waitUntil(lambda: panel.heat is not None, timeout=20000)
    for _ in range(5):
        qtbot.wait(10)
    table, header = panel.table, panel.table.horizontalHeader()
    assert table.horizontalScrollBar().maximum() == 0  # no sideways scrolling
    metrics = header.fontMetrics()
    for column in range(panel.table_model.columnCount()):
        text = panel.table_model.headerData(column, header.orientation())
        assert header.sectionSize(column) >= metrics.horizontalAdvance(text) + 8, text
    assert header.sectionSize(1) >= 140  # the file name column
    assert table.iconSize().width() >= 48
    # the detail view takes a good share of the panel, and its tiles fill it
    view = panel.detail.view
    assert view.height() >= 0.4 * panel.height()
    rect = view.image_rect()
    assert rect.width() >= 0.6 * view.width() or rect.height() >= 0.6 * view.height()
    assert panel.minimumSizeHint().width() < 900 and panel.minimumSizeHint().height() < 560


# --- 5. plain captions, exact definitions in tooltips -----------------------------------------
def test_captions_are_plain_and_definitions_are_in_tooltips(qtbot, win, tmp_path):
    from genplay.core.ops.outliers import METHODS

    panel = ready(qtbot, win, "pixelcnn-tiny")
    for method in panel.facts["methods"]:
        panel.method.setCurrentIndex(panel.method.findData(method))
        help_text = panel.method_help.text()
        for formula in ("bits/dim", "minus", "-log", "ELBO", "p(x"):
            assert formula not in help_text, (method, help_text)
        assert METHODS[method].description in panel.method_help.toolTip()
    panel.add_paths([str(pictures(tmp_path / "p", n=2))])
    wait_scored(qtbot, panel, 2)
    qtbot.waitUntil(lambda: panel.heat is not None, timeout=20000)
    caption = panel.detail_caption.text()
    assert "log2" not in caption and "bits per pixel" not in caption
    assert "log2" in panel.detail.key.toolTip()  # the exact note is a hover away


# --- 6. the drop hint goes while files are scored ----------------------------------------------
def test_drop_hint_gives_way_to_progress_while_scoring(qtbot, win, tmp_path):
    panel = ready(qtbot, win, "vae-tiny")
    assert panel.hint.isVisible() and panel.hint.text().startswith("Drop")
    drop(panel.hint, [pictures(tmp_path / "p", n=3)])
    # at once, before the first images are scored: no invitation to drop
    assert not (panel.hint.isVisible() and panel.hint.text().startswith("Drop"))
    wait_scored(qtbot, panel, 3)
    assert panel.table.isVisible()


# --- 7. an unreadable row is never auto-selected -----------------------------------------------
def test_unreadable_row_is_not_auto_selected_and_detail_agrees(qtbot, win, tmp_path):
    panel = ready(qtbot, win, "vae-tiny")
    panel.add_paths([str(pictures(tmp_path / "p", n=2, broken_first=True))])
    wait_scored(qtbot, panel, 3)
    i = panel.selected_index()
    assert i is not None and not panel.table_model.errors[i]
    assert panel.table_model.files[i].endswith("img0.png")
    # choosing the unreadable row: the detail says so, not "Select an image"
    broken = next(k for k, e in enumerate(panel.table_model.errors) if e)
    panel.table.selectRow(panel.table_model.row_of(broken))
    assert "could not be read" in panel.detail.view.placeholder.lower()
    assert panel.detail.view.pixels() is None
    assert "0-broken.png" in panel.detail_caption.text()


def test_only_unreadable_files_select_nothing(qtbot, win, tmp_path):
    panel = ready(qtbot, win, "vae-tiny")
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.png").write_bytes(b"not a png")
    panel.add_paths([str(folder)])
    wait_scored(qtbot, panel, 1)
    assert panel.selected_index() is None
    assert panel.detail_caption.text() == ""


# --- and nothing stale -----------------------------------------------------------------------
def test_switching_model_leaves_no_stale_threshold_or_detail(qtbot, win, tmp_path):
    panel = ready(qtbot, win, "vae-tiny")
    panel.add_paths([str(pictures(tmp_path / "p", n=4))])
    wait_scored(qtbot, panel, 4)
    panel.fpr.setValue(25.0)
    panel.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    win.select_model(next(i.path for i in win.infos if i.name == "pixelcnn-tiny"))
    # while the new model loads, nothing of the old one's reading is shown
    assert panel.detail.view.pixels() is None and panel.detail_caption.text() == ""
    assert panel.threshold_label.text() == ""
    panel = ready(qtbot, win, "pixelcnn-tiny")
    wait_scored(qtbot, panel, 4)
    assert panel.fpr.value() == pytest.approx(25.0)
    flagged = int(np.sum(panel.table_model.current_scores() > panel.histogram.threshold()))
    assert panel.summary.text().startswith(f"<b>{flagged}</b>")
    assert panel.histogram.threshold() == pytest.approx(panel.table_model.threshold)
    # the rows are still in the order the header shows: the new model's scores, descending
    model = panel.table_model
    shown = [model.current_scores()[model.data_index(r)] for r in range(4)]
    assert shown == sorted(shown, reverse=True)


def test_the_histogram_leaves_room_for_its_legend_above_the_bars(qtbot):
    from genplay.gui.widgets.score_histogram import ScoreHistogram

    plot = ScoreHistogram()
    qtbot.addWidget(plot)
    plot.resize(500, 260)
    plot.show()
    plot.set_reference(np.random.default_rng(0).normal(size=2000), "score")
    plot.set_user(np.array([-1.0, 0.5, 3.0]))
    _, tallest = plot.reference_curve.getData()
    (_, _), (bottom, top) = plot.viewRange()
    assert top >= 1.4 * tallest.max() and bottom < 0  # legend above, the rug whole below 0
    legend, box = plot.plotItem.legend, plot.plotItem.legend.boundingRect()
    corner = plot.plotItem.vb.mapSceneToView(legend.mapToScene(box.bottomLeft()))
    edges, heights = plot.reference_curve.getData()
    under = heights[edges[1:] > corner.x()]  # the bars under the legend
    assert corner.y() > under.max()  # the legend sits above them
