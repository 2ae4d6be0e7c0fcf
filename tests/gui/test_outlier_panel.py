"""The Outlier panel as a user drives it: drop files, read verdicts, move the threshold,
export, look at the heatmap; bad files and models without a reference."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tests.gui.conftest import scored_copies, shown_window


@pytest.fixture(scope="module")
def scored_checkpoints(tmp_path_factory, tiny_checkpoints):
    """Tiny VAE and PixelCNN with reference scores; a tiny flow without."""
    return scored_copies(tmp_path_factory.mktemp("scored"), tiny_checkpoints,
                         scored=("vae-tiny", "pixelcnn-tiny"), unscored=("flow-tiny",))


@pytest.fixture
def panel_window(qtbot, scored_checkpoints, settings):
    w = shown_window(qtbot, scored_checkpoints, settings, 3)
    w.tabs.setCurrentIndex(w.panels.index(w.outliers))
    yield w
    w.close()


def choose(qtbot, window, name):
    window.select_model(next(i.path for i in window.infos if i.name == name))
    qtbot.waitUntil(lambda: window.outliers.info is not None
                    and window.outliers.info.name == name, timeout=20000)


def wait_scored(qtbot, panel, rows):
    qtbot.waitUntil(lambda: not panel._jobs and len(panel.table_model.files) == rows,
                    timeout=30000)


def image_folder(tmp_path, n=6):
    folder = tmp_path / "pictures"
    (folder / "more").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        where = folder if i % 2 else folder / "more"
        Image.fromarray(rng.integers(0, 256, (20 + i, 16), dtype=np.uint8)).save(
            where / f"img{i}.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (folder / "readme.txt").write_text("not an image")
    return folder


def drop(widget, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_dropped_folder_is_scored_and_bad_files_are_listed(qtbot, panel_window, tmp_path):
    panel = panel_window.outliers
    choose(qtbot, panel_window, "vae-tiny")
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)
    assert panel.hint.isVisible()
    drop(panel.hint, [image_folder(tmp_path)])
    wait_scored(qtbot, panel, 7)  # 6 images and the broken one; the text file is no image
    model = panel.table_model
    names = sorted(model.files)
    assert [n.rsplit("/", 1)[-1] for n in names].count("broken.png") == 1
    broken = model.files.index(next(f for f in model.files if f.endswith("broken.png")))
    assert model.verdict(broken) == "unreadable" and "broken.png" in model.errors[broken]
    scores = model.current_scores()
    assert np.isfinite(np.delete(scores, broken)).all()
    assert panel.table.isVisible() and not panel.hint.isVisible()
    assert "unreadable" in panel.summary.text()
    assert panel_window.messages.isVisible()  # says that a file could not be read
    # the same folder again adds nothing
    drop(panel.table, [tmp_path / "pictures"])
    qtbot.waitUntil(lambda: not panel._jobs, timeout=20000)
    assert len(model.files) == 7


def test_threshold_line_moves_verdicts_and_export_follows(qtbot, panel_window, tmp_path):
    panel = panel_window.outliers
    choose(qtbot, panel_window, "vae-tiny")
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)
    panel.add_paths([str(image_folder(tmp_path))])
    wait_scored(qtbot, panel, 7)
    model = panel.table_model
    scores = model.current_scores()
    readable = np.isfinite(scores)

    panel.histogram.line.setValue(float(np.nanmin(scores)) - 1.0)  # as a drag does
    assert model.flagged()[readable].all()
    assert panel.summary.text().startswith("<b>6</b>")
    low_rate = panel.fpr.value()
    panel.histogram.line.setValue(float(np.nanmax(scores)) + 1.0)
    assert not model.flagged().any()
    assert panel.fpr.value() <= low_rate  # the rate on the test split follows the line
    middle = float(np.nanmedian(scores[readable]))
    panel.set_threshold(middle)
    verdicts = [model.verdict(i) for i in range(7)]
    assert verdicts.count("outlier") == int((scores[readable] > middle).sum())

    # the rate box sets the line
    panel.fpr.setValue(25.0)
    from genplay.core.ops.outlier_figures import threshold_at_fpr

    assert panel.histogram.threshold() == pytest.approx(threshold_at_fpr(panel.reference(), 0.25))

    panel.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    panel.export(tmp_path / "scores.csv", "csv")
    with open(tmp_path / "scores.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 7
    shown = [float(r["score"]) for r in rows if r["score"]]
    assert shown == sorted(shown, reverse=True)  # in the table's order
    for row in rows:
        if row["score"]:
            expected = "outlier" if float(row["score"]) > model.threshold else "inlier"
            assert row["verdict"] == expected
        else:
            assert row["verdict"] == "unreadable" and row["error"]
    panel.export(tmp_path / "scores.json", "json")
    report = json.loads((tmp_path / "scores.json").read_text())
    assert report["method"] == panel.current_method() and len(report["rows"]) == 7
    assert report["fpr"] == pytest.approx(0.25)

    # an unwritable place is a message, not a crash
    (tmp_path / "taken").write_text("a file where a folder should be")
    panel.export(tmp_path / "taken" / "scores.csv", "csv")
    assert "Could not write" in panel_window.messages.label.text()


def test_method_change_and_heatmap(qtbot, panel_window, tmp_path):
    panel = panel_window.outliers
    choose(qtbot, panel_window, "pixelcnn-tiny")
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)
    assert panel.facts["methods"] == ["bpd", "complexity", "typicality"]
    panel.add_paths([str(image_folder(tmp_path))])
    wait_scored(qtbot, panel, 7)
    model = panel.table_model
    panel.method.setCurrentIndex(panel.method.findData("bpd"))
    bpd = model.current_scores().copy()
    panel.method.setCurrentIndex(panel.method.findData("complexity"))
    assert not np.allclose(bpd[np.isfinite(bpd)], model.current_scores()[np.isfinite(bpd)])
    panel.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)
    panel.table.selectRow(0)
    i = panel.selected_index()
    qtbot.waitUntil(lambda: panel.heat is not None, timeout=20000)
    assert panel.heat.shape == model.pixels[i].shape[:2]
    assert "exact" in panel.detail.key.toolTip()  # the exact definition, a hover away
    # the exact heatmap adds up to the image's bits/dim times its size
    assert panel.heat.sum() / panel.heat.size == pytest.approx(bpd[i], rel=1e-4)


def test_model_change_rescores_and_a_missing_reference_is_explained(qtbot, panel_window,
                                                                     tmp_path):
    panel = panel_window.outliers
    choose(qtbot, panel_window, "vae-tiny")
    qtbot.waitUntil(lambda: panel.facts is not None, timeout=20000)
    panel.add_paths([str(image_folder(tmp_path))])
    wait_scored(qtbot, panel, 7)
    vae_scores = panel.table_model.scores["bpd"].copy()
    choose(qtbot, panel_window, "pixelcnn-tiny")
    wait_scored(qtbot, panel, 7)
    assert not np.allclose(np.nan_to_num(vae_scores),
                           np.nan_to_num(panel.table_model.scores["bpd"]))
    panel_window.messages.hide()
    choose(qtbot, panel_window, "flow-tiny")
    qtbot.waitUntil(lambda: "genplay eval" in panel.model_label.text(), timeout=20000)
    assert not panel.add_files_button.isEnabled()
    assert panel.measure_button.isVisible()
    assert not panel_window.messages.isVisible()  # the panel explains it; no error bar
    panel.measure_reference()  # measures the flow's test split, then scores the images
    wait_scored(qtbot, panel, 7)
    assert panel.facts["methods"] == ["bpd", "complexity", "typicality"]
    assert not panel.measure_button.isVisible() and panel.add_files_button.isEnabled()


def test_a_folder_named_like_an_image_is_searched_and_an_empty_one_says_so(
        qtbot, panel_window, tmp_path):
    choose(qtbot, panel_window, "vae-tiny")
    panel = panel_window.outliers
    qtbot.waitUntil(lambda: panel.add_files_button.isEnabled(), timeout=20000)
    named = tmp_path / "x.png"
    named.mkdir()
    Image.new("L", (12, 12), 40).save(named / "inside.png")
    (tmp_path / "empty.png").mkdir()
    drop(panel.hint, [named])
    wait_scored(qtbot, panel, 1)
    assert panel.table_model.files == [str(named / "inside.png")]
    panel_window.messages.hide()
    drop(panel.hint, [tmp_path / "empty.png"])
    qtbot.waitUntil(lambda: "empty.png" in panel_window.messages.text(), timeout=20000)
    assert panel_window.messages.text().startswith("No new images in empty.png")


def test_a_model_opens_on_its_feature_distance_where_it_has_a_feature_bank():
    from genplay.gui.panels.outlier_views import default_score, score_help, score_name

    assert default_score(["bpd", "complexity", "typicality", "features"]) == "features"
    assert default_score(["bpd", "complexity", "features", "profile"]) == "profile"
    assert default_score(["bpd", "complexity", "typicality"]) == "complexity"
    assert score_name("features") == "Feature distance"
    assert "classifier" in score_help("features")
