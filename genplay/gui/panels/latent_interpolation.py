"""The Latent panel's Interpolation tab: two endpoints, the frames between them, exports.

Endpoints are seeds, samples picked in the Sampling panel, or the user's own images
encoded by the model. The frames show as a filmstrip laid out in as many rows as makes
them largest in the space it has, and as an animation going there and back. A position
slider under the animation stops it and draws any point between the ends, live (a
LiveDecoder: quick previews while a slow model's slider is held, full quality on release);
a slow model's strip shows quick frames first, while the full ones are decoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import IMAGE_FILTER, make_grid, to_uint8_hwc
from genplay.core.ops.endpoints import Endpoint, LatentEndpoint, SampleEndpoint, SeedEndpoint
from genplay.core.ops.sliders import Between
from genplay.gui.panels.base import op
from genplay.gui.panels.latent_live import RENDER_BETWEEN, LiveDecoder
from genplay.gui.panels.latent_sliders import ENCODE
from genplay.gui.widgets.drops import AcceptsFileDrops
from genplay.gui.widgets.labels import muted_label
from genplay.gui.widgets.pixel_view import PixelView, best_columns

PADDING = 2  # pixels between filmstrip frames
SAMPLE_HINT = "Right-click a sample in the Sampling panel and choose it as an end"
IMAGE_HINT = "or drop an image here"
POSITIONS = 1000  # the position slider's steps from A to B


INTERPOLATE = op("ops.interpolation:interpolate_endpoints")


class Filmstrip(PixelView):
    """The frames of an interpolation, wrapped into rows to fill the space it has.

    pixels() (what Save writes) stays the single-row strip, whatever the layout shown.
    """

    def __init__(self, placeholder: str = "") -> None:
        super().__init__(placeholder=placeholder)
        self._frames: np.ndarray | None = None
        self._strip: np.ndarray | None = None
        self.columns = 0

    def set_frames(self, frames: np.ndarray) -> None:
        self._frames = frames
        self._strip = make_grid(frames, nrow=len(frames), padding=PADDING)
        self.columns = 0
        self._lay_out()

    def clear(self) -> None:
        self._frames, self._strip, self.columns = None, None, 0
        super().clear()

    def pixels(self) -> np.ndarray | None:
        return self._strip

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._lay_out()

    def _lay_out(self) -> None:
        if self._frames is None:
            return
        n, h, w = self._frames.shape[:3]
        cols = best_columns(n, h, w, max(1, self.width()), max(1, self.height()), PADDING)
        if cols != self.columns:
            self.columns = cols
            self.set_grid(make_grid(self._frames, nrow=cols, padding=PADDING), h, w, PADDING,
                          n, [f"frame {i + 1} of {n}" for i in range(n)])


def _elided(label: QLabel, text: str, width: int) -> None:
    label.setText(label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, width))


class EndpointBox(AcceptsFileDrops, QGroupBox):
    """One end of an interpolation: a seed, a picked sample, or an image file."""

    image_dropped = Signal(str)

    def __init__(self, title: str) -> None:
        super().__init__(title)
        self.setAcceptDrops(True)
        self.source = QComboBox()
        self.source.addItems(["Seed", "Sample from the Sampling panel", "Your image"])
        self.source.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(12)
        self.seed = QSpinBox(maximum=2**31 - 1)
        self.sample_label = QLabel(SAMPLE_HINT, wordWrap=True)
        self.open_button = QPushButton("Open image…")
        self.image_label = QLabel(IMAGE_HINT, wordWrap=True)
        pages = QStackedWidget()
        seed_page = QWidget()
        seed_layout = QVBoxLayout(seed_page)
        seed_layout.setContentsMargins(0, 0, 0, 0)
        seed_layout.addWidget(self.seed)
        seed_layout.addStretch()
        pages.addWidget(seed_page)
        pages.addWidget(self.sample_label)
        image_page = QWidget()
        image_layout = QVBoxLayout(image_page)
        image_layout.setContentsMargins(0, 0, 0, 0)
        image_layout.addWidget(self.open_button)
        image_layout.addWidget(self.image_label)
        pages.addWidget(image_page)
        self.source.currentIndexChanged.connect(pages.setCurrentIndex)
        pages.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.seen = PixelView()
        self.reconstruction = PixelView()
        for view in (self.seen, self.reconstruction):
            view.setFixedSize(84, 84)
        self.views = QWidget()  # shown for images only: what the model saw and made of it
        views = QGridLayout(self.views)
        views.setContentsMargins(0, 0, 0, 0)
        views.addWidget(QLabel("model sees"), 0, 0)
        views.addWidget(QLabel("reconstruction"), 0, 1)
        views.addWidget(self.seen, 1, 0)
        views.addWidget(self.reconstruction, 1, 1)
        self.views.hide()
        self.source.currentIndexChanged.connect(lambda i: self.views.setVisible(i == 2))
        layout = QVBoxLayout(self)
        layout.addWidget(self.source)
        layout.addWidget(pages)
        layout.addWidget(self.views)
        self.sample: SampleEndpoint | None = None
        self.latent: np.ndarray | None = None
        self.image_path = ""

    def spec(self) -> Endpoint | None:
        """What endpoint_latent() needs, or None when this end is not chosen yet."""
        index = self.source.currentIndex()
        if index == 0:
            return SeedEndpoint(self.seed.value())
        if index == 1:
            return self.sample
        return None if self.latent is None else LatentEndpoint(self.latent)

    def set_sample(self, seed: int, index: int, temperature: float) -> None:
        self.sample = SampleEndpoint(seed, index, temperature)
        self.sample_label.setText(f"Seed {seed}, sample {index}"
                                  + (f", temperature {temperature:g}" if temperature != 1 else ""))
        self.source.setCurrentIndex(1)

    def set_encoded(self, path: str, latent: np.ndarray, seen: np.ndarray,
                    reconstruction: np.ndarray, inverted: bool) -> None:
        self.latent, self.image_path = latent, path
        note = " (inverted: dark on light)" if inverted else ""
        self.image_label.setWordWrap(False)  # elided to the box's width instead
        _elided(self.image_label, Path(path).name + note, 220)
        self.image_label.setToolTip(path + note)
        self.seen.set_image(seen)
        self.reconstruction.set_image(reconstruction)
        self.source.setCurrentIndex(2)

    def reset(self) -> None:
        self.sample, self.latent, self.image_path = None, None, ""
        self.sample_label.setText(SAMPLE_HINT)
        self.image_label.setWordWrap(True)
        self.image_label.setText(IMAGE_HINT)
        self.image_label.setToolTip("")
        self.seen.clear()
        self.reconstruction.clear()
        if self.source.currentIndex() != 0:
            self.source.setCurrentIndex(0)

    def files_dropped(self, paths: list[str]) -> None:
        self.image_dropped.emit(paths[0])


class InterpolationTab:
    """Mixin for LatentPanel: builds and runs the Interpolation tab."""

    def _build_interpolation(self) -> QWidget:
        self.frames: np.ndarray | None = None
        self.frame_latents: np.ndarray | None = None
        self.spherical_used = True  # how the strip shown went from A to B
        self._anim_index = 0
        self._interpolation_job: int | None = None
        self.timer = QTimer(self, interval=100, timeout=self._next_frame)
        self.ends = {"A": EndpointBox("Start (A)"), "B": EndpointBox("End (B)")}
        self.ends["B"].seed.setValue(1)
        for which, box in self.ends.items():
            box.open_button.clicked.connect(lambda _=False, w=which: self._open_endpoint_image(w))
            box.image_dropped.connect(lambda path, w=which: self.encode_endpoint(w, path))
        self.spherical = QCheckBox("Spherical (slerp)", checked=True)
        self.spherical.setToolTip("Follow the sphere where a Gaussian prior puts its mass; "
                                  "a straight path passes through unlikely, washed-out latents")
        self.frame_count = QSpinBox(minimum=2, maximum=64, value=10)
        self.interpolate_button = QPushButton("Interpolate")
        self.interpolate_button.clicked.connect(self.interpolate)
        self.gif_button = QPushButton("Export GIF…", enabled=False)
        self.gif_button.clicked.connect(self.export_gif)
        self.npz_button = QPushButton("Export latents…", enabled=False)
        self.npz_button.clicked.connect(self.export_latents)
        options = QFormLayout()
        options.addRow("Frames", self.frame_count)
        options.addRow(self.spherical)
        controls = QVBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.ends["A"])
        controls.addWidget(self.ends["B"])
        controls.addLayout(options)
        controls.addWidget(self.interpolate_button)
        row = QHBoxLayout()
        row.addWidget(self.gif_button)
        row.addWidget(self.npz_button)
        controls.addLayout(row)
        controls.addStretch()
        self.strip = Filmstrip(placeholder="Choose two endpoints and press Interpolate")
        self.animation = PixelView()
        self.animation.setMinimumSize(160, 160)
        self.play_button = QPushButton("Play", enabled=False)
        self.play_button.setToolTip("Play the frames there and back, or hold them")
        self.play_button.clicked.connect(self._toggle_play)
        self.position = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=POSITIONS,
                                enabled=False)
        self.position.setToolTip("Any point between A and B, drawn as you drag")
        self.position.valueChanged.connect(self._position_moved)
        self.position.sliderReleased.connect(self._position_released)
        self.position_label = QLabel()
        self.position_label.setFixedWidth(self.position_label.fontMetrics()
                                          .horizontalAdvance("t = 0.000") + 4)
        scrub = QHBoxLayout()
        scrub.addWidget(self.play_button)
        scrub.addWidget(QLabel("A"))
        scrub.addWidget(self.position, 1)
        scrub.addWidget(QLabel("B"))
        scrub.addWidget(self.position_label)
        self.between_cue = QProgressBar(textVisible=False, maximumHeight=6, minimum=0,
                                        maximum=0)
        self.between_cue.hide()
        self.strip_caption = muted_label()
        self.between_caption = muted_label()
        for caption in (self.strip_caption, self.between_caption):
            # One line that never asks for width: a word-wrapped label's height for its
            # width would make the scroll area size the page by its views' preferred
            # heights, and scroll at 1280x800.
            caption.setWordWrap(False)
            caption.setMinimumWidth(1)
        self.between_decoder = LiveDecoder(self, self.animation, self.between_cue,
                                           self.between_caption, RENDER_BETWEEN,
                                           key="latent-between")
        results = QVBoxLayout()
        results.addWidget(QLabel("Filmstrip"))
        results.addWidget(self.strip, 1)
        results.addWidget(self.strip_caption)
        results.addWidget(QLabel("Animation"))
        results.addWidget(self.animation, 1)
        results.addWidget(self.between_cue)
        results.addLayout(scrub)
        results.addWidget(self.between_caption)
        page = QWidget()
        layout = QHBoxLayout(page)
        left = QWidget()
        left.setFixedWidth(260)
        left.setLayout(controls)
        layout.addWidget(left)
        layout.addLayout(results, 1)
        return page

    def _open_endpoint_image(self, which: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an image", "", IMAGE_FILTER)
        if path:
            self.encode_endpoint(which, path)

    def encode_endpoint(self, which: str, path: str) -> None:
        if self.info is None:
            return

        def done(latent, summary):
            recon = to_uint8_hwc(summary["reconstruction"])
            self.ends[which].set_encoded(path, latent, summary["seen"], recon, summary["inverted"])

        self.engine.submit(ENCODE, path, self.info.dataset, checkpoint=self.info.path,
                           label=f"encoding {Path(path).name}", on_result=self.for_model(done),
                           on_error=self.show_error)

    def set_endpoint_from_sample(self, which: str, seed: int, index: int,
                                 options: dict[str, float]) -> None:
        self.tabs.setCurrentIndex(0)
        self.ends[which].set_sample(seed, index, float(options.get("temperature", 1.0)))

    def interpolate(self) -> None:
        if self.info is None:
            return
        start, end = self.ends["A"].spec(), self.ends["B"].spec()
        if start is None or end is None:
            self.show_error("Choose both endpoints first: a seed, a sample or an image.")
            return
        self.interpolate_button.setEnabled(False)
        self.interpolate_button.setText("Interpolating…")
        self._interpolation_job = self.engine.submit(
            INTERPOLATE, start, end, self.frame_count.value(), self.spherical.isChecked(),
            True, checkpoint=self.info.path, key="interpolation", label="interpolating",
            on_result=self.for_model(self._show_frames),
            on_preview=self.for_model(self._show_quick_frames), on_error=self.show_error,
            on_done=lambda cancelled: self._interpolation_done(),
        )

    def _interpolation_done(self) -> None:
        self._interpolation_job = None
        self.interpolate_button.setEnabled(True)
        self.interpolate_button.setText("Interpolate")
        self.strip_caption.clear()

    def _show_quick_frames(self, frames: np.ndarray) -> None:
        """A slow model's quick frames, while the full ones are decoded."""
        self.strip.set_frames(frames)
        self.strip_caption.setText("Quick frames; full quality on its way…")

    def _show_frames(self, frames: np.ndarray, summary: dict) -> None:
        self.frames = to_uint8_hwc(frames)
        self.frame_latents = summary["latents"]
        self.spherical_used = bool(summary["spherical"])
        self.strip.set_frames(self.frames)
        self.strip_caption.clear()
        self.between_decoder.reset(summary.get("seconds_per_frame"))
        self.position.setEnabled(True)
        self.play_button.setEnabled(True)
        self._anim_index = 0
        self._play(True)
        self.gif_button.setEnabled(True)
        self.npz_button.setEnabled(True)

    def _next_frame(self) -> None:
        if self.frames is None:
            return
        n = len(self.frames)
        cycle = list(range(n)) + list(range(n - 2, 0, -1))  # forth and back, ends once
        frame = cycle[self._anim_index % len(cycle)]
        self.animation.set_image(self.frames[frame])
        self._set_position_quietly(round(POSITIONS * frame / max(1, n - 1)))
        self._anim_index += 1

    # --- the position slider ------------------------------------------------------------
    def _play(self, on: bool) -> None:
        if on:
            self._next_frame()
            self.timer.start()
        else:
            self.timer.stop()
        self.play_button.setText("Pause" if on else "Play")

    def _toggle_play(self) -> None:
        self._play(not self.timer.isActive())

    def _set_position_quietly(self, value: int) -> None:
        self.position.blockSignals(True)
        self.position.setValue(value)
        self.position.blockSignals(False)
        self.position_label.setText(f"t = {value / POSITIONS:.3f}")

    def between_state(self) -> Between | None:
        """The point the position slider names, between the strip's two ends."""
        if self.frame_latents is None:
            return None
        return Between(self.frame_latents[0], self.frame_latents[-1],
                       self.position.value() / POSITIONS, self.spherical_used)

    def _position_moved(self, value: int) -> None:
        self.position_label.setText(f"t = {value / POSITIONS:.3f}")
        state = self.between_state()
        if state is None:
            return
        if self.timer.isActive():
            self._play(False)
        self.between_decoder.request(state, dragging=self.position.isSliderDown())

    def _position_released(self) -> None:
        state = self.between_state()
        if state is not None and (self.between_decoder.showing_preview
                                  or self.between_decoder.busy()):
            self.between_decoder.request(state, dragging=False)  # full quality

    def _interpolation_model_changed(self) -> None:
        if self._interpolation_job is not None:  # the old model's frames would be dropped
            self.engine.cancel(self._interpolation_job)
        self._play(False)
        self.between_decoder.reset()
        self.frames, self.frame_latents = None, None
        self.strip.clear()
        self.strip_caption.clear()
        self.animation.clear()
        self._set_position_quietly(0)
        self.position.setEnabled(False)
        self.play_button.setEnabled(False)
        self.gif_button.setEnabled(False)
        self.npz_button.setEnabled(False)
        for box in self.ends.values():
            box.reset()

    def export_gif(self) -> None:
        from genplay.core.ops.interpolation import save_gif

        path, _ = QFileDialog.getSaveFileName(self, "Export GIF", "interpolation.gif",
                                              "GIF (*.gif)")
        if path and self.frames is not None:
            self._guarded(lambda: save_gif(path, self.frames, fps=10), path)

    def export_latents(self) -> None:
        from genplay.core.ops.interpolation import save_latents_npz

        path, _ = QFileDialog.getSaveFileName(self, "Export latents", "interpolation.npz",
                                              "NumPy archive (*.npz)")
        if path and self.frame_latents is not None:
            self._guarded(lambda: save_latents_npz(
                path, self.frame_latents, spherical=self.spherical.isChecked(),
                checkpoint=str(self.info.path) if self.info else ""), path)
