"""Latent panel: interpolate between two endpoints, and drag sliders through latent space.

Works for every model with the Latent capability through the common interface:
endpoints are seeds, samples picked in the Sampling panel, or the user's own images
encoded by the model; sliders move along the principal directions of what the
model draws (computed once per checkpoint and cached beside it) or along raw
latent dimensions. Slider drags go to the engine as latest-wins jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from genplay.core.images import IMAGE_FILTER, make_grid, to_uint8_hwc
from genplay.gui.panels.base import Panel
from genplay.gui.widgets.drops import AcceptsFileDrops
from genplay.gui.widgets.labels import muted_label
from genplay.gui.widgets.pixel_view import PixelView

SLIDER_STEPS = 100  # slider units per standard deviation
SLIDER_RANGE = 3.0  # standard deviations each way
N_DIRECTIONS = 8


# --- jobs (run in the engine thread) ----------------------------------------------------------
def _encode(model, path: str, dataset: str):
    from genplay.core.data import invert_policy
    from genplay.core.ops.interpolation import encode_file

    yield from encode_file(model, path, invert=invert_policy(dataset))


def _interpolate(model, start, end, frames: int, spherical: bool):
    from genplay.core.ops.interpolation import interpolate_endpoints

    yield from interpolate_endpoints(model, start, end, frames=frames, spherical=spherical)


def _latent_of(model, spec):
    from genplay.core.ops.interpolation import endpoint_latent

    yield from endpoint_latent(model, spec)


def _directions(model, folder: str):
    from genplay.core import checkpoints
    from genplay.core.ops.interpolation import load_or_compute_directions_steps

    yield from load_or_compute_directions_steps(model, folder, checkpoints.weights_hash(folder),
                                                k=N_DIRECTIONS)


def _decode(model, z: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        image = model.decode(torch.from_numpy(z).to(model.device)[None])[0]
    return to_uint8_hwc(image.float().cpu().numpy())


# --- endpoint box -----------------------------------------------------------------------------
class EndpointBox(AcceptsFileDrops, QGroupBox):
    """One end of an interpolation: a seed, a picked sample, or an image file."""

    image_dropped = Signal(str)

    def __init__(self, title: str) -> None:
        super().__init__(title)
        self.setAcceptDrops(True)
        self.source = QComboBox()
        self.source.addItems(["Seed", "Sample from the Sampling panel", "Your image"])
        self.seed = QSpinBox(maximum=2**31 - 1)
        self.sample_label = QLabel("Right-click a sample in the Sampling panel", wordWrap=True)
        self.open_button = QPushButton("Open image…")
        self.image_label = QLabel("or drop an image here", wordWrap=True)
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
        self.sample: tuple | None = None
        self.latent: np.ndarray | None = None
        self.image_path = ""

    def spec(self) -> Any:
        """What endpoint_latent() needs, or None when this end is not chosen yet."""
        index = self.source.currentIndex()
        if index == 0:
            return self.seed.value()
        if index == 1:
            return self.sample
        return self.latent

    def set_sample(self, seed: int, index: int, temperature: float) -> None:
        self.sample = ("sample", seed, index, temperature)
        self.sample_label.setText(f"Seed {seed}, sample {index}"
                                  + (f", temperature {temperature:g}" if temperature != 1 else ""))
        self.source.setCurrentIndex(1)

    def set_encoded(self, path: str, latent: np.ndarray, seen: np.ndarray,
                    reconstruction: np.ndarray, inverted: bool) -> None:
        self.latent, self.image_path = latent, path
        note = " (inverted: dark on light)" if inverted else ""
        self.image_label.setText(Path(path).name + note)
        self.seen.set_image(seen)
        self.reconstruction.set_image(reconstruction)
        self.source.setCurrentIndex(2)

    def reset(self) -> None:
        self.sample, self.latent, self.image_path = None, None, ""
        self.sample_label.setText("Right-click a sample in the Sampling panel")
        self.image_label.setText("or drop an image here")
        self.seen.clear()
        self.reconstruction.clear()
        if self.source.currentIndex() != 0:
            self.source.setCurrentIndex(0)

    def files_dropped(self, paths: list[str]) -> None:
        self.image_dropped.emit(paths[0])


# --- the panel --------------------------------------------------------------------------------
class LatentPanel(AcceptsFileDrops, Panel):
    title = "Latent space"
    capability = "latent"

    def __init__(self, engine, settings, messages) -> None:
        super().__init__(engine, settings, messages)
        self.setAcceptDrops(True)
        self.latent_dim = 0
        self.frames: np.ndarray | None = None
        self.frame_latents: np.ndarray | None = None
        self._anim_index = 0
        tabs = QTabWidget()
        tabs.addTab(self._build_interpolation(), "Interpolation")
        tabs.addTab(self._build_sliders(), "Sliders")
        self.tabs = tabs
        self._directions_wanted = False
        self._directions_job: int | None = None
        tabs.currentChanged.connect(lambda _index: self._find_directions())
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        self.timer = QTimer(self, interval=100, timeout=self._next_frame)

    # --- interpolation ------------------------------------------------------------------
    def _build_interpolation(self) -> QWidget:
        self.ends = {"A": EndpointBox("Start (A)"), "B": EndpointBox("End (B)")}
        self.ends["B"].seed.setValue(1)
        for which, box in self.ends.items():
            box.open_button.clicked.connect(lambda _=False, w=which: self._open_endpoint_image(w))
            box.image_dropped.connect(lambda path, w=which: self.encode_endpoint(w, path))
        self.spherical = QCheckBox("Spherical (slerp)", checked=True)
        self.spherical.setToolTip("Follow the sphere where a Gaussian prior puts its mass; "
                                  "linear paths pass through unlikely, washed-out latents")
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
        controls.addWidget(self.ends["A"])
        controls.addWidget(self.ends["B"])
        controls.addLayout(options)
        controls.addWidget(self.interpolate_button)
        row = QHBoxLayout()
        row.addWidget(self.gif_button)
        row.addWidget(self.npz_button)
        controls.addLayout(row)
        controls.addStretch()
        self.strip = PixelView(placeholder="Choose two endpoints and press Interpolate")
        self.animation = PixelView()
        self.animation.setMinimumSize(200, 200)
        results = QVBoxLayout()
        results.addWidget(QLabel("Filmstrip"))
        results.addWidget(self.strip, 1)
        results.addWidget(QLabel("Animation"))
        results.addWidget(self.animation, 2)
        page = QWidget()
        layout = QHBoxLayout(page)
        left = QWidget()
        left.setFixedWidth(270)
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

        self.engine.submit(_encode, path, self.info.dataset, checkpoint=self.info.path,
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
        self.engine.submit(
            _interpolate, start, end, self.frame_count.value(), self.spherical.isChecked(),
            checkpoint=self.info.path, key="interpolation", label="interpolating",
            on_result=self.for_model(self._show_frames),
            on_done=lambda cancelled: self.interpolate_button.setEnabled(True),
        )

    def _show_frames(self, frames: np.ndarray, summary: dict) -> None:
        self.frames = to_uint8_hwc(frames)
        self.frame_latents = summary["latents"]
        n, h, w = self.frames.shape[:3]
        self.strip.set_grid(make_grid(self.frames, nrow=n), h, w, 2, n,
                            [f"frame {i + 1} of {n}" for i in range(n)])
        self._anim_index = 0
        self._next_frame()
        self.timer.start()
        self.gif_button.setEnabled(True)
        self.npz_button.setEnabled(True)

    def _next_frame(self) -> None:
        if self.frames is None:
            return
        n = len(self.frames)
        cycle = list(range(n)) + list(range(n - 2, 0, -1))  # forth and back, ends once
        self.animation.set_image(self.frames[cycle[self._anim_index % len(cycle)]])
        self._anim_index += 1

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

    def _guarded(self, write, path: str) -> None:
        from genplay.core.errors import GenplayError

        try:
            write()
        except (GenplayError, OSError, ValueError) as exc:
            self.show_error(f"Could not write {path}: {exc}")
        else:
            self.messages.show_message(f"Saved {path}", "info", 4000)

    # --- sliders ------------------------------------------------------------------------
    def _build_sliders(self) -> QWidget:
        self.live = PixelView(placeholder="Loading the model…")
        self.live.setMinimumSize(280, 280)
        self.base_seed = QSpinBox(maximum=2**31 - 1)
        self.base_seed.valueChanged.connect(lambda s: self.set_base(s))
        randomise = QPushButton("Randomise")
        randomise.clicked.connect(self.randomise)
        reset = QPushButton("Reset")
        reset.setToolTip("Back to the seed's latent, every direction at 0")
        reset.clicked.connect(lambda: self.set_base(self.base_seed.value()))
        from_image = QPushButton("Set from image…")
        from_image.clicked.connect(self._open_slider_image)
        top = QHBoxLayout()
        top.addWidget(QLabel("Seed"))
        top.addWidget(self.base_seed)
        top.addWidget(randomise)
        top.addWidget(reset)
        top.addWidget(from_image)
        top.addStretch()
        self.direction_sliders: list[QSlider] = []
        self.direction_labels: list[QLabel] = []
        self.direction_box = QWidget()
        self.direction_grid = QGridLayout(self.direction_box)
        self.raw_box = QWidget()
        self.raw_grid = QGridLayout(self.raw_box)
        self.raw_sliders: list[QSlider] = []
        self._value_labels: dict[QSlider, QLabel] = {}
        slider_tabs = QTabWidget()
        for widget, name in ((self.direction_box, "Principal directions"),
                             (self.raw_box, "Raw dimensions")):
            scroll = QScrollArea(widgetResizable=True)
            scroll.setWidget(widget)
            slider_tabs.addTab(scroll, name)
        self.slider_note = muted_label()
        left = QVBoxLayout()
        left.addWidget(slider_tabs, 1)
        left.addWidget(self.slider_note)
        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addWidget(self.live, 2)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        self.z = np.zeros(0, np.float32)  # the latent the raw sliders show, flattened
        self.latent_shape: tuple[int, ...] = (0,)
        self.amounts = np.zeros(0, np.float32)  # positions along the directions, in stds
        self.directions = None
        return page

    def _slider(self, on_change) -> QSlider:
        s = QSlider(Qt.Orientation.Horizontal, minimum=-int(SLIDER_RANGE * SLIDER_STEPS),
                    maximum=int(SLIDER_RANGE * SLIDER_STEPS))
        s.valueChanged.connect(on_change)
        return s

    def _value_label(self, slider: QSlider) -> QLabel:
        """A label that follows the slider's value, in standard deviations."""
        label = QLabel("+0.00 sd", minimumWidth=64)
        self._value_labels[slider] = label
        slider.valueChanged.connect(lambda v: label.setText(f"{v / SLIDER_STEPS:+.2f} sd"))
        return label

    def _build_slider_rows(self, dim: int) -> None:
        for grid in (self.direction_grid, self.raw_grid):
            while grid.count():
                grid.takeAt(0).widget().deleteLater()
        self.direction_sliders, self.direction_labels, self.raw_sliders = [], [], []
        self._value_labels: dict[QSlider, QLabel] = {}
        for i in range(min(N_DIRECTIONS, dim)):
            label = QLabel(f"Direction {i + 1}")
            slider = self._slider(lambda v, i=i: self._direction_moved(i, v))
            self.direction_grid.addWidget(label, i, 0)
            self.direction_grid.addWidget(slider, i, 1)
            self.direction_grid.addWidget(self._value_label(slider), i, 2)
            self.direction_sliders.append(slider)
            self.direction_labels.append(label)
        for i in range(dim):
            slider = self._slider(lambda v, i=i: self._raw_moved(i, v))
            self.raw_grid.addWidget(QLabel(f"z[{i}]"), i, 0)
            self.raw_grid.addWidget(slider, i, 1)
            self.raw_grid.addWidget(self._value_label(slider), i, 2)
            self.raw_sliders.append(slider)
        self.direction_grid.setRowStretch(len(self.direction_sliders), 1)

    def _open_slider_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an image", "", IMAGE_FILTER)
        if path:
            self.set_base_from_image(path)

    def set_base_from_image(self, path: str) -> None:
        if self.info is None:
            return
        self.engine.submit(_encode, path, self.info.dataset, checkpoint=self.info.path,
                           label=f"encoding {Path(path).name}", on_error=self.show_error,
                           on_result=self.for_model(lambda z, summary: self._set_latent(z)))

    def randomise(self) -> None:
        self.base_seed.setValue(int(np.random.default_rng().integers(0, 100_000)))

    def set_base(self, seed: int) -> None:
        if self.info is None:
            return
        self.engine.submit(_latent_of, int(seed), checkpoint=self.info.path, key="latent-base",
                           on_result=self.for_model(lambda z, summary: self._set_latent(z)))

    def _set_latent(self, z: np.ndarray) -> None:
        z = np.asarray(z, np.float32)
        self.latent_shape = z.shape
        if len(self.raw_sliders) != z.size:
            self._build_slider_rows(z.size)
            self._label_directions()
        self.z = z.reshape(-1).copy()
        self.amounts = np.zeros(len(self.direction_sliders), np.float32)
        for slider, value in zip(self.raw_sliders, self.z):
            self._quietly(slider, value)
        for slider in self.direction_sliders:
            self._quietly(slider, 0.0)
        self.update_live()

    def _quietly(self, slider: QSlider, value_in_std: float) -> None:
        """Moves a slider without asking for a new image (its label still follows)."""
        value = int(round(np.clip(value_in_std, -SLIDER_RANGE, SLIDER_RANGE) * SLIDER_STEPS))
        slider.blockSignals(True)
        slider.setValue(value)
        slider.blockSignals(False)
        if slider in self._value_labels:
            self._value_labels[slider].setText(f"{value / SLIDER_STEPS:+.2f} sd")

    def _direction_moved(self, i: int, value: int) -> None:
        self.amounts[i] = value / SLIDER_STEPS
        self.update_live()

    def _raw_moved(self, i: int, value: int) -> None:
        self.z[i] = value / SLIDER_STEPS
        self.update_live()

    def current_latent(self) -> np.ndarray:
        z = self.z.copy()
        if self.directions is not None and len(self.amounts):
            d = self.directions
            k = len(self.amounts)
            z += (self.amounts * d.stds[:k]) @ d.directions[:k]
        return z

    def update_live(self) -> None:
        if self.info is None or not len(self.z):
            return
        show = self.for_model(lambda image, summary: self.live.set_image(image))
        self.engine.submit(_decode, self.current_latent().reshape(self.latent_shape),
                           checkpoint=self.info.path, key="latent-slider", on_result=show,
                           on_error=self.show_error)

    def _label_directions(self) -> None:
        if self.directions is None:
            return
        for i, label in enumerate(self.direction_labels):
            if i < len(self.directions.explained):
                label.setText(f"Direction {i + 1} ({self.directions.explained[i]:.0%})")
                label.setToolTip("share of the variance of the model's images along this "
                                 "direction")

    def _on_directions(self, directions, _summary) -> None:
        if len(self.z) and directions.directions.shape[1] != len(self.z):
            return  # computed for a model the user has since left
        self.directions = directions
        self._label_directions()
        self.slider_note.setText(
            "Directions: principal components of the images the model draws, mapped back "
            "into its latent space; each slider spans ±3 standard deviations. Computed once "
            "per checkpoint and cached next to it.")
        self.update_live()

    # --- model --------------------------------------------------------------------------
    def model_changed(self, info) -> None:
        self.timer.stop()
        self.frames, self.frame_latents = None, None
        self.strip.clear()
        self.animation.clear()
        self.gif_button.setEnabled(False)
        self.npz_button.setEnabled(False)
        for box in self.ends.values():
            box.reset()
        self.directions = None
        self.z = np.zeros(0, np.float32)
        self.live.clear()
        self.slider_note.setText("Computing the principal directions…")
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
        info = self.info
        job: list[int] = []  # its id, for the callback (which runs after submit returns)
        self._directions_job = self.engine.submit(
            _directions, str(info.path), checkpoint=info.path, key="latent-directions",
            label="finding latent directions", on_result=self.for_model(self._on_directions),
            on_error=self.show_error, on_done=lambda _cancelled: self._directions_done(job[0]))
        job.append(self._directions_job)

    def _directions_done(self, job_id: int) -> None:
        if self._directions_job == job_id:
            self._directions_job = None

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._find_directions()

    def hideEvent(self, event) -> None:
        # Leaving the panel gives the engine back to the panel the user went to; the
        # search starts again (or reads the cache) when this one is shown again.
        super().hideEvent(event)
        if self._directions_job is not None:
            self.engine.cancel(self._directions_job)
            self._directions_wanted = True

    def current_image(self):
        pixels = self.live.pixels() if self.tabs.currentIndex() == 1 else self.strip.pixels()
        return None if pixels is None else (pixels, None)

    def save_dialog(self) -> None:
        from genplay.core.images import save_png

        current = self.current_image()
        if current is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save PNG", "latent.png", "PNG (*.png)")
        if path:
            meta = {"model": self.info.name if self.info else ""}
            self._guarded(lambda: save_png(path, current[0], meta), path)

    # --- drops --------------------------------------------------------------------------
    def files_dropped(self, paths: list[str]) -> None:
        self.drop_image(paths[0])

    def drop_image(self, path: str) -> None:
        """An image dropped on the panel: an endpoint, or the sliders' starting point."""
        if self.tabs.currentIndex() == 1:
            self.set_base_from_image(path)
        else:
            which = "A" if self.ends["A"].latent is None else "B"
            self.encode_endpoint(which, path)
