"""The Latent panel's Sliders tab: one image, moved along latent directions or raw dimensions.

Sliders move along the principal directions of what the model draws (computed once per
checkpoint and cached beside it, with a progress bar and Cancel while that runs) or
along the latent's raw dimensions. What the sliders show is decoded by a LiveDecoder:
one job at a time, the newest position next, quick previews while a slow model's slider
is held and full quality when it is let go (latent_live.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import IMAGE_FILTER, to_uint8_hwc
from genplay.core.ops.sliders import N_DIRECTIONS, SliderState, moved
from genplay.gui.panels.base import op
from genplay.gui.panels.latent_live import LiveDecoder
from genplay.gui.widgets.labels import muted_label
from genplay.gui.widgets.pixel_view import PixelView

SLIDER_STEPS = 100  # slider units per standard deviation
SLIDER_RANGE = 3.0  # standard deviations each way
DIRECTIONS_NOTE = ("Directions: the main ways the model's images vary, found from images it "
                   "draws; each slider spans 3 standard deviations either way. Found once per "
                   "model and saved next to it.")


# --- jobs (run in the engine thread): core.ops.sliders ----------------------------------------
ENCODE = op("ops.sliders:encode_for_model")
START = op("ops.sliders:start_from_seed")
DIRECTIONS = op("ops.sliders:directions_for")


# --- the tab ----------------------------------------------------------------------------------
class SlidersTab:
    """Mixin for LatentPanel: builds and runs the Sliders tab."""

    def _build_sliders(self) -> QWidget:
        self.live = PixelView(placeholder="Loading the model…")
        self.live.setMinimumSize(240, 240)
        self.live_cue = QProgressBar(textVisible=False, maximumHeight=6, minimum=0, maximum=0)
        self.live_cue.hide()
        self.live_caption = muted_label()
        self.live_decoder = LiveDecoder(self, self.live, self.live_cue, self.live_caption)
        self.base_seed = QSpinBox(maximum=2**31 - 1)
        self.base_seed.valueChanged.connect(lambda s: self.set_base(s))
        randomise = QPushButton("Randomise")
        randomise.clicked.connect(self.randomise)
        reset = QPushButton("Reset")
        reset.setToolTip("Back to the starting point, every slider at 0")
        reset.clicked.connect(self.reset_sliders)
        from_image = QPushButton("Set from image…")
        from_image.setToolTip("Start from your own picture, encoded by the model")
        from_image.clicked.connect(self._open_slider_image)
        self.base_label = muted_label()
        top = QHBoxLayout()
        top.addWidget(QLabel("Seed"))
        top.addWidget(self.base_seed)
        top.addWidget(randomise)
        top.addWidget(reset)
        top.addWidget(from_image)
        top.addWidget(self.base_label, 1)

        self.direction_sliders: list[QSlider] = []
        self.direction_labels: list[QLabel] = []
        self.raw_sliders: list[QSlider] = []
        self._value_labels: dict[QSlider, QLabel] = {}
        self.direction_box = QWidget()
        self.direction_grid = QGridLayout(self.direction_box)
        self.raw_box = QWidget()
        self.raw_grid = QGridLayout(self.raw_box)
        self.directions_progress = QProgressBar(maximumHeight=14, format="%v of %m images")
        self.directions_cancel = QPushButton("Cancel")
        self.directions_cancel.clicked.connect(lambda: self.cancel_directions())
        self.find_directions_button = QPushButton("Find directions")
        self.find_directions_button.clicked.connect(lambda: self.find_directions_now())
        self.slider_note = muted_label()
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.directions_progress, 1)
        progress_row.addWidget(self.directions_cancel)
        progress_row.addWidget(self.find_directions_button)
        self._show_directions_progress(False)
        self.find_directions_button.hide()
        directions_page = QWidget()
        page_layout = QVBoxLayout(directions_page)
        page_layout.addLayout(progress_row)
        page_layout.addWidget(self.direction_box, 1)
        page_layout.addWidget(self.slider_note)
        raw_scroll = QScrollArea(widgetResizable=True)
        raw_scroll.setWidget(self.raw_box)
        self.slider_tabs = QTabWidget()
        self.slider_tabs.addTab(directions_page, "Principal directions")
        self.slider_tabs.addTab(raw_scroll, "Raw dimensions")
        self.slider_tabs.currentChanged.connect(lambda _index: self._build_raw_rows())
        self._dim = 0  # the latent's size the rows are built for

        right = QVBoxLayout()
        right.addWidget(self.live, 1)
        right.addWidget(self.live_cue)
        right.addWidget(self.live_caption)
        body = QHBoxLayout()
        body.addWidget(self.slider_tabs, 2)
        body.addLayout(right, 3)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        self.z = np.zeros(0, np.float32)  # the latent the raw sliders show, flattened
        self.base_z = np.zeros(0, np.float32)  # the starting point Reset goes back to
        self.latent_shape: tuple[int, ...] = (0,)
        self.amounts = np.zeros(0, np.float32)  # positions along the directions, in stds
        self.directions = None
        self._directions_wanted = False
        self._directions_job: int | None = None
        self._directions_stopped_by_user = False
        self._directions_timer = QTimer(self, singleShot=True, interval=200,
                                        timeout=lambda: self._show_directions_progress(True))
        return page

    # --- rows -----------------------------------------------------------------------------
    def _slider(self, on_change) -> QSlider:
        s = QSlider(Qt.Orientation.Horizontal, minimum=-int(SLIDER_RANGE * SLIDER_STEPS),
                    maximum=int(SLIDER_RANGE * SLIDER_STEPS))
        s.valueChanged.connect(on_change)
        s.sliderReleased.connect(self._slider_released)
        return s

    def _value_label(self, slider: QSlider) -> QLabel:
        """A label that follows the slider's value, in standard deviations."""
        label = QLabel("+0.00 sd")
        # A fixed size, that of the widest value: a label whose text may change its size
        # makes every slider move relayout the whole panel (7 ms a move, measured).
        widest = label.fontMetrics().horizontalAdvance(f"{-SLIDER_RANGE:+.2f} sd")
        label.setFixedSize(widest + 8, label.sizeHint().height())
        self._value_labels[slider] = label
        slider.valueChanged.connect(lambda v: label.setText(f"{v / SLIDER_STEPS:+.2f} sd"))
        return label

    @staticmethod
    def _empty(grid: QGridLayout) -> None:
        while grid.count():
            grid.takeAt(0).widget().deleteLater()
        for row in range(grid.rowCount()):
            grid.setRowStretch(row, 0)

    def _build_slider_rows(self, dim: int) -> None:
        """The direction rows now; the raw rows when their tab is first opened (a
        28x28 latent has 784 of them, half a second of building)."""
        self._empty(self.direction_grid)
        self._empty(self.raw_grid)
        self.direction_sliders, self.direction_labels, self.raw_sliders = [], [], []
        self._value_labels = {}
        self._dim = dim
        for i in range(min(N_DIRECTIONS, dim)):
            label = QLabel(f"Direction {i + 1}")
            slider = self._slider(lambda v, i=i: self._direction_moved(i, v))
            self.direction_grid.addWidget(label, i, 0)
            self.direction_grid.addWidget(slider, i, 1)
            self.direction_grid.addWidget(self._value_label(slider), i, 2)
            self.direction_grid.setRowStretch(i, 1)  # the rows share the tab's height
            self.direction_sliders.append(slider)
            self.direction_labels.append(label)
        self._label_directions()
        self._build_raw_rows()

    def _build_raw_rows(self) -> None:
        if self.slider_tabs.currentIndex() != 1 or len(self.raw_sliders) == self._dim:
            return
        for i in range(self._dim):
            slider = self._slider(lambda v, i=i: self._raw_moved(i, v))
            self.raw_grid.addWidget(QLabel(f"z[{i}]"), i, 0)
            self.raw_grid.addWidget(slider, i, 1)
            self.raw_grid.addWidget(self._value_label(slider), i, 2)
            self.raw_sliders.append(slider)
        for slider, value in zip(self.raw_sliders, self.z):
            self._quietly(slider, value)

    def _label_directions(self) -> None:
        """Percentages beside the rows once this model's directions are known; plain
        names and disabled sliders until then, never a previous model's figures."""
        known = self.directions is not None
        for i, (label, slider) in enumerate(zip(self.direction_labels, self.direction_sliders)):
            if known and i < len(self.directions.explained):
                label.setText(f"Direction {i + 1} ({self.directions.explained[i]:.0%})")
                label.setToolTip("share of the variation of the model's images along this "
                                 "direction")
            else:
                label.setText(f"Direction {i + 1}")
                label.setToolTip("")
            slider.setEnabled(known)

    # --- the starting point ---------------------------------------------------------------
    def _open_slider_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an image", "", IMAGE_FILTER)
        if path:
            self.set_base_from_image(path)

    def set_base_from_image(self, path: str) -> None:
        if self.info is None:
            return
        name = Path(path).name

        def done(z, summary) -> None:
            self._set_latent(z, to_uint8_hwc(summary["reconstruction"]))
            self.base_label.setText(f"Starting from {name}")
            self.base_label.setToolTip(path)

        self.engine.submit(ENCODE, path, self.info.dataset, checkpoint=self.info.path,
                           label=f"encoding {name}", on_error=self.show_error,
                           on_result=self.for_model(done))

    def randomise(self) -> None:
        self.base_seed.setValue(int(np.random.default_rng().integers(0, 100_000)))

    def set_base(self, seed: int) -> None:
        if self.info is None:
            return

        def done(value, _summary) -> None:
            z, facts = value
            self._set_latent(z, facts["image"], facts["seconds"])
            self.base_label.setText("")
            self.base_label.setToolTip("")

        self.engine.submit(START, int(seed), checkpoint=self.info.path, key="latent-base",
                           label="drawing", on_result=self.for_model(done),
                           on_error=self.show_error)

    def reset_sliders(self) -> None:
        if len(self.base_z):
            self._set_latent(self.base_z.reshape(self.latent_shape).copy())

    def _set_latent(self, z: np.ndarray, image: np.ndarray | None = None,
                    seconds: float | None = None) -> None:
        """A new starting point, every slider back at it; its image when already made."""
        z = np.asarray(z, np.float32)
        self.latent_shape = z.shape
        if self._dim != z.size:
            self._build_slider_rows(z.size)
        self.z = z.reshape(-1).copy()
        self.base_z = self.z.copy()
        self.amounts = np.zeros(len(self.direction_sliders), np.float32)
        for slider, value in zip(self.raw_sliders, self.z):
            self._quietly(slider, value)
        for slider in self.direction_sliders:
            self._quietly(slider, 0.0)
        if image is None:
            self.update_live()
        else:
            self.live_decoder.show_full(image, seconds)

    def _quietly(self, slider: QSlider, value_in_std: float) -> None:
        """Moves a slider without asking for a new image (its label still follows)."""
        value = int(round(np.clip(value_in_std, -SLIDER_RANGE, SLIDER_RANGE) * SLIDER_STEPS))
        slider.blockSignals(True)
        slider.setValue(value)
        slider.blockSignals(False)
        if slider in self._value_labels:
            self._value_labels[slider].setText(f"{value / SLIDER_STEPS:+.2f} sd")

    # --- moving ---------------------------------------------------------------------------
    def _direction_moved(self, i: int, value: int) -> None:
        self.amounts[i] = value / SLIDER_STEPS
        self.update_live(dragging=self.direction_sliders[i].isSliderDown())

    def _raw_moved(self, i: int, value: int) -> None:
        self.z[i] = value / SLIDER_STEPS
        self.update_live(dragging=self.raw_sliders[i].isSliderDown())

    def _slider_released(self) -> None:
        if self.live_decoder.showing_preview or self.live_decoder.busy():
            self.update_live()  # full quality where the drag showed previews

    def slider_state(self) -> SliderState:
        """Everything the image depends on: the start (with the raw sliders' moves) and
        the direction sliders; core.ops.sliders.render_sliders draws it."""
        return SliderState(self.z.reshape(self.latent_shape).copy(),
                           tuple(float(a) for a in self.amounts), self.directions)

    def current_latent(self) -> np.ndarray:
        """The latent shown, flattened (as the engine's render of slider_state() computes it)."""
        state = self.slider_state()
        return moved(state.start, state.amounts, state.directions).reshape(-1)

    def update_live(self, dragging: bool = False) -> None:
        if self.info is None or not len(self.z):
            return
        self.live_decoder.request(self.slider_state(), dragging)

    # --- directions -----------------------------------------------------------------------
    def _sliders_model_changed(self) -> None:
        """Clears everything the previous model left on this tab, at once."""
        self.live_decoder.reset()
        self.cancel_directions(by_user=False)
        self.directions = None
        self.z = np.zeros(0, np.float32)
        self.base_z = np.zeros(0, np.float32)
        self.live.clear()
        self.base_label.setText("")
        self._label_directions()
        for slider in self.direction_sliders:
            self._quietly(slider, 0.0)
        self.slider_note.setText("")
        self.find_directions_button.hide()
        # The first latent tells the latent's shape; the slider rows are built from it.
        self.set_base(self.base_seed.value())
        self._directions_wanted = True
        self._find_directions()

    def _find_directions(self) -> None:
        """Directions are found when the Sliders tab is open, not on every model change:
        for a model without them cached (a diffusion model decodes 2000 images by 25 DDIM
        steps each), the one engine thread would be busy for minutes, and the jobs of
        other panels would wait behind it. "Open" means shown: the Sliders tab stays the
        current one while the user works in another panel."""
        if (not self._directions_wanted or self.info is None or self.tabs.currentIndex() != 1
                or not self.isVisible()):
            return
        self._directions_wanted = False
        self._directions_stopped_by_user = False
        self.find_directions_button.hide()
        self.directions_progress.setRange(0, 0)
        self.slider_note.setText("Finding the principal directions: the model draws 2000 "
                                 "images once, then they are saved beside it.")
        self._directions_timer.start()  # a cached result comes at once: no flash
        info = self.info
        job: list[int] = []  # its id, for the callbacks (which run after submit returns)
        self._directions_job = self.engine.submit(
            DIRECTIONS, str(info.path), checkpoint=info.path, key="latent-directions",
            label="finding latent directions", on_result=self.for_model(self._on_directions),
            on_progress=self.for_model(self._directions_progressed), on_error=self.show_error,
            on_done=lambda cancelled: self._directions_done(job[0], cancelled))
        job.append(self._directions_job)

    def find_directions_now(self) -> None:
        self._directions_wanted = True
        self._find_directions()

    def cancel_directions(self, by_user: bool = True) -> None:
        if self._directions_job is not None:
            self._directions_stopped_by_user = by_user
            self.engine.cancel(self._directions_job)

    def _directions_progressed(self, step: int, total: int | None, _message: str) -> None:
        if total:
            self.directions_progress.setRange(0, total)
            self.directions_progress.setValue(step)

    def _show_directions_progress(self, show: bool) -> None:
        self.directions_progress.setVisible(show)
        self.directions_cancel.setVisible(show)

    def _directions_done(self, job_id: int, cancelled: bool) -> None:
        if self._directions_job != job_id:
            return
        self._directions_job = None
        self._directions_timer.stop()
        self._show_directions_progress(False)
        if self.directions is not None:
            return
        if cancelled and not self._directions_stopped_by_user:
            self._directions_wanted = True  # left the panel: found again when back
            self.slider_note.setText("")
            return
        self.slider_note.setText("Stopped before the directions were found. The raw "
                                 "dimensions work without them." if cancelled else
                                 "The directions could not be found.")
        self.find_directions_button.show()

    def _on_directions(self, directions, _summary) -> None:
        if len(self.z) and directions.directions.shape[1] != len(self.z):
            return  # computed for a model the user has since left
        self.directions = directions
        self._label_directions()
        self.slider_note.setText(DIRECTIONS_NOTE)
        if self.amounts.any():  # sliders are held at 0 until now: usually nothing to redo
            self.update_live()
