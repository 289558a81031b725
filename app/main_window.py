"""The main window: B-mode and regional quality side by side, controls, quality strip and status bar.

`echoquality.commands.gui` opens it. Analysis runs in an `AnalysisWorker` thread; this
module only draws and reacts. Import `fast` before this module (FAST must come before PyQt6).
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QColor, QKeySequence
from PyQt6.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QInputDialog, QLabel,
                             QMainWindow, QMessageBox, QSizePolicy, QToolBar, QToolButton, QVBoxLayout,
                             QWidget)

from echoquality.core.cycle_tracker import CycleTracker, label_spacing, lv_area_mm2
from echoquality.core.quality import DEFAULT_METHOD, PIXEL_METRIC_METHODS
from echoquality.core.view import AUTO
from echoquality.core.vocabulary import VIEWS
from echoquality.outputs.recording import Recorder, is_recording, new_recording_folder, recording_fps, recording_source
from echoquality.paths import DEMO_LOOP, MODELS_DIR
from echoquality.sources import parse_source
from echoquality.sources.base import scanner_source

from . import analysis_worker as aw
from .anatomy import VIEW_CHOICES, VIEW_SHORT, VIEW_TITLES, wall_names
from .cycle_panel import CycleFrame, CyclePanel, CycleReplay
from .icons import make_icon
from .image_panel import ImagePanel, Marker
from .quality_colours import format_score, score_colour
from .quality_panel import GlobalQuality, QualityLegend, RegionScores
from .quality_strip import QualityStrip
from .settings import GuiSettings, default_output_folder, load_settings, qsettings, save_settings
from .stream_stats import StreamStats

log = logging.getLogger(__name__)

METHOD_TITLES = {"gcnr": "gCNR", "cnr": "CNR", "cr": "Contrast ratio", "intensity": "Intensity",
                 "pmax": "Pmax (paper's gCNR)", "e2e": "End-to-end network"}
STATUS_INTERVAL_MS = 250
COMPACT_TOOLBAR_WIDTH = 1500    # narrower windows get an icon-only toolbar
SCANNER_MESSAGES = {
    "connecting": ("Connecting to the scanner at {address}…", QColor(255, 200, 80)),
    "disconnected": ("Scanner lost — reconnecting to {address}…", QColor(255, 110, 90)),
    "frozen": ("Scanner frozen — no new images from {address}", QColor(255, 200, 80)),
}
# The key bindings, in one table: action → (keys, what they do). The actions and the help are made from it.
KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "play": (("Space",), "play / pause"),
    "step": (("Right", "."), "one frame (pauses)"),
    "loop": (("L",), "loop on / off"),
    "record": (("R",), "record on / off"),
    "snapshot": (("P", "Ctrl+S"), "snapshot to PNG"),
    "scores": (("S",), "regional scores on / off"),
    **{f"view_{v}": ((str(i),), "view recognised per frame" if v == AUTO else f"view {v.upper()}")
       for i, v in enumerate(VIEW_CHOICES)},
    "next_method": (("M",), "next quality method"),
    "full": (("F11", "F"), "full screen"),
    "leave_full": (("Esc",), "leave full screen"),
    "open": (("Ctrl+O",), "open a file"),
    "open_recording": (("Ctrl+Shift+O",), "open a recording folder"),
    "connect": (("Ctrl+K",), "connect to a scanner"),
    "help": (("F1",), "keyboard shortcuts"),
    "quit": (("Ctrl+Q",), "quit"),
}


def shortcuts_help() -> str:
    """The key bindings as an HTML table (the help dialog)."""
    shown = {"Right": "→"}
    rows = "".join(f"<tr><td><b>{' or '.join(shown.get(k, k) for k in keys)}</b></td><td>{text}</td></tr>"
                   for keys, text in KEYS.values())
    return f"<table>{rows}</table>"


def _set_checked(action: QAction, checked: bool) -> None:
    """Check or uncheck without running the action's slot."""
    action.blockSignals(True)
    action.setChecked(checked)
    action.blockSignals(False)


def normalise_scanner_address(text: str) -> str:
    """'host:port', 'host' or 'igtl://host:port/device' → 'igtl://…'; ValueError naming the problem."""
    from echoquality.sources.igtl.receiver import parse_igtl_url
    spec = scanner_source(text)
    parse_igtl_url(spec)
    return spec


def source_title(spec: str) -> str:
    """Short name of a source for headers and the status bar."""
    parsed = parse_source(spec)
    if parsed.live:
        return "Scanner " + parsed.address
    path = Path(spec)
    if path.parent.name == "frames" and "#" in path.name:
        return f"Recording {path.parent.parent.name}"
    return path.name


class MainWindow(QMainWindow):
    """The application window. Public methods are what the toolbar, menus, shortcuts and tests use."""

    frame_shown = pyqtSignal(object)      # AnalysedFrame, after it was drawn
    analysis_ended = pyqtSignal(str)      # the current analysis finished: its final state (ended, failed, stopped)

    def __init__(self, source: str | None = None, method: str | None = None, view: str | None = None,
                 segmentation: str = "", backend: str = "auto", store: QSettings | None = None,
                 start: bool = True):
        super().__init__()
        self._store = store or qsettings()
        self.settings: GuiSettings = load_settings(self._store)
        self.segmentation = segmentation
        self.backend = backend
        self.view = view if view in VIEW_CHOICES else (self.settings.view if self.settings.view in VIEW_CHOICES
                                                       else AUTO)
        self.shown_view = self.view if self.view in VIEWS else "a4c"   # the view the walls are named after
        self.method = method or self.settings.method or DEFAULT_METHOD
        self.loop = self.settings.loop
        self.show_scores = self.settings.show_scores
        self.source = ""
        self.source_fps: float | None = None
        self.worker: aw.AnalysisWorker | None = None
        self._workers: list[aw.AnalysisWorker] = []
        self.recorder: Recorder | None = None
        self.last_recording: Path | None = None
        self._closing_recorders: list[threading.Thread] = []
        self.last: aw.AnalysedFrame | None = None
        self.frames_shown = 0
        self.cycle_tracker: CycleTracker | None = None   # live cardiac cycles of the current pass
        self._cycle_last_index = -1
        self.replay: CycleReplay | None = None
        self.stats = StreamStats()
        self.failure = ""                 # the last failure shown (empty: none)
        self.headless = False             # a headless run: the settings are not saved on close

        self.setWindowTitle("Regional image quality — echocardiography")
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._build_central()
        self._build_status_bar()
        self._apply_view_labels()
        self.resize(1560, 940)
        if self.settings.geometry is not None:
            self.restoreGeometry(self.settings.geometry)

        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh_status)
        self._timer.start(STATUS_INTERVAL_MS)
        if start:
            source = source or self.settings.last_source
            if source:
                self.open_source(source)

    # ------------------------------------------------------------------ building the window

    def _action(self, text: str, slot, key: str | None = None, checkable: bool = False, icon: str | None = None,
                tip: str = "") -> QAction:
        """An action of the window; its keys come from KEYS[key]."""
        shortcuts = KEYS[key][0] if key else ()
        action = QAction(text, self)
        if icon is not None:
            action.setIcon(make_icon(icon))
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setCheckable(checkable)
        keys = ", ".join(shortcuts)
        action.setToolTip(f"{tip or text} ({keys})" if keys else tip or text)
        (action.toggled if checkable else action.triggered).connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.act_open = self._action("Open file…", self.open_file_dialog, "open", icon="open")
        self.act_open_recording = self._action("Open recording…", self.open_recording_dialog, "open_recording",
                                               icon="open")
        self.act_connect = self._action("Connect to scanner…", self.connect_dialog, "connect", icon="connect")
        self.act_demo = self._action("Demo loop", self.open_demo, tip="Replay the bundled demo loop")
        self.act_output = self._action("Output folder…", self.choose_output_folder,
                                       tip="Folder for recordings and snapshots")
        self.act_quit = self._action("Quit", self.close, "quit")
        self.act_play = self._action("Pause", self.toggle_play, "play", icon="pause",
                                     tip="Play / pause")
        self.act_step = self._action("Step", self.step, "step", icon="step",
                                     tip="One frame forward")
        self.act_loop = self._action("Loop", self.set_loop, "loop", checkable=True, icon="loop",
                                     tip="Replay files in a loop")
        _set_checked(self.act_loop, self.loop)
        self.act_record = self._action("Record", self.set_recording, "record", checkable=True,
                                       icon="record", tip="Record the stream and the results")
        self.act_snapshot = self._action("Snapshot", self.save_snapshot_now, "snapshot",
                                         icon="snapshot", tip="Save the split screen as PNG")
        self.act_scores = self._action("Scores", self.set_show_scores, "scores", checkable=True, icon="scores",
                                       tip="Show each region's score")
        _set_checked(self.act_scores, self.show_scores)
        self.act_full = self._action("Full screen", self.toggle_full_screen, "full",
                                     icon="full")
        self.act_leave_full = self._action("Leave full screen", self.leave_full_screen, "leave_full")
        self.act_next_method = self._action("Next quality method", self.next_method, "next_method")
        self.act_help = self._action("Keyboard shortcuts", self.show_shortcuts, "help")
        self.view_actions = QActionGroup(self)
        for v in VIEW_CHOICES:
            act = self._action(VIEW_TITLES.get(v, "Recognise the view"), lambda checked, v=v: checked and self.set_view(v),
                               f"view_{v}", checkable=True)
            self.view_actions.addAction(act)
            act.setData(v)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Controls", self)
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.addToolBar(bar)
        for act in (self.act_open, self.act_connect):
            bar.addAction(act)
        bar.addSeparator()
        bar.addWidget(self._label("View"))
        self.view_box = QComboBox()
        for v in VIEW_CHOICES:
            self.view_box.addItem(VIEW_SHORT.get(v, "Auto"), v)
        self.view_box.setToolTip("Echo view: recognised (0) or given (1, 2, 3)")
        self.view_box.activated.connect(lambda i: self.set_view(self.view_box.itemData(i)))
        bar.addWidget(self.view_box)
        bar.addWidget(self._label("Quality"))
        self.method_box = QComboBox()
        self.method_box.setMinimumWidth(180)
        for m in PIXEL_METRIC_METHODS + ("e2e",):
            self.method_box.addItem(METHOD_TITLES.get(m, m), m)
        self.method_box.addItem("Quality model folder…", "")
        self.method_box.setToolTip("Quality method (M: next)")
        self.method_box.activated.connect(self._method_chosen)
        bar.addWidget(self.method_box)
        bar.addSeparator()
        for act in (self.act_play, self.act_step, self.act_loop):
            bar.addAction(act)
        bar.addSeparator()
        bar.addAction(self.act_record)
        record_button = bar.widgetForAction(self.act_record)
        if isinstance(record_button, QToolButton):
            record_button.setObjectName("record")
        for act in (self.act_snapshot, self.act_scores, self.act_full):
            bar.addAction(act)
        for box in (self.view_box, self.method_box):
            box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for act in bar.actions():
            widget = bar.widgetForAction(act)
            if widget is not None:
                widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.toolbar = bar

    def _label(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setStyleSheet("color:#aab0ba; padding: 0 4px 0 10px; font-size: 14px;")
        return label

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&Source")
        for act in (self.act_open, self.act_open_recording, self.act_connect, self.act_demo):
            file_menu.addAction(act)
        file_menu.addSeparator()
        file_menu.addAction(self.act_output)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        view_menu = menu.addMenu("&View")
        for act in self.view_actions.actions():
            view_menu.addAction(act)
        view_menu.addSeparator()
        for act in (self.act_scores, self.act_full):
            view_menu.addAction(act)
        play_menu = menu.addMenu("&Playback")
        for act in (self.act_play, self.act_step, self.act_loop, self.act_next_method):
            play_menu.addAction(act)
        record_menu = menu.addMenu("&Record")
        for act in (self.act_record, self.act_snapshot):
            record_menu.addAction(act)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.act_help)

    def _header(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("header")
        return label

    def _build_central(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 6, 8, 4)
        outer.setSpacing(6)

        self.images_area = QWidget()           # what a snapshot shows: both panels, legend, global quality
        grid = QGridLayout(self.images_area)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(3)
        self.left_header = self._header("B-MODE")
        self.left_panel = ImagePanel("Waiting for images…")
        self.right_header = self._header("REGIONAL QUALITY")
        self.right_panel = ImagePanel("")
        self.legend = QualityLegend()
        grid.addWidget(self.left_header, 0, 0)
        grid.addWidget(self.right_header, 0, 1)
        grid.addWidget(self.left_panel, 1, 0)
        grid.addWidget(self.right_panel, 1, 1)
        grid.addWidget(self.legend, 2, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(1, 1)

        side = QVBoxLayout()
        side.setContentsMargins(0, 0, 0, 0)
        side.setSpacing(10)
        self.source_label = QLabel("")
        self.source_label.setObjectName("sourceName")
        self.source_label.setWordWrap(True)
        self.global_quality = GlobalQuality()
        self.region_scores = RegionScores()
        self.region_scores.setVisible(self.show_scores)
        side.addSpacing(22)
        side.addWidget(self.source_label)
        side.addWidget(self.global_quality)
        side.addWidget(self.region_scores)
        side.addStretch(1)
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setFixedWidth(260)
        grid.addWidget(side_widget, 0, 2, 3, 1)

        outer.addWidget(self.images_area, 1)
        self.strip = QualityStrip(self.settings.strip_seconds)
        self.cycle_panel = CyclePanel()
        self.cycle_panel.replay_requested.connect(self.replay_best_cycle)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 0, 0)
        bottom.addWidget(self.strip, 1)
        bottom.addWidget(self.cycle_panel)
        outer.addLayout(bottom)
        self.setCentralWidget(central)
        central.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        central.setFocus()

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_state = QLabel("")
        self.status_fps = QLabel("")
        self.status_latency = QLabel("")
        self.status_dropped = QLabel("")
        self.status_record = QLabel("")
        for label in (self.status_state, self.status_fps, self.status_latency, self.status_dropped,
                      self.status_record):
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
            bar.addPermanentWidget(label)

    # ------------------------------------------------------------------ sources

    def open_source(self, spec: str, fps: float | None = None) -> None:
        """Analyse another source: a file, a recording folder or igtl://HOST:PORT[/DEVICE]."""
        spec = str(spec).strip()
        if not spec:
            return
        if not parse_source(spec).live and Path(spec).is_dir() and is_recording(spec):
            fps = fps or recording_fps(spec)
            spec = recording_source(spec)
        self.set_recording(False)
        self.source = spec
        self.source_fps = fps
        self.settings.last_source = spec
        self.failure = ""
        self.last = None
        self.left_panel.set_image(None)
        self.right_panel.set_image(None)
        self.global_quality.set_scores(None)
        self.region_scores.set_scores(None)
        self.strip.clear()
        self._reset_cycles()
        self._set_stale(False)
        self.left_panel.set_message("")
        self.source_label.setText(source_title(spec))
        self._start()

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open an echo loop", self.settings.open_folder or str(Path.home()),
            "Echo loops (*.mp4 *.avi *.mov *.mkv *.npy *.png *.jpg *.jpeg *.dcm *.mhd);;All files (*)")
        if path:
            self.settings.open_folder = str(Path(path).parent)
            self.open_source(path)

    def open_recording_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a recording", self.output_folder())
        if not folder:
            return
        if not is_recording(folder):
            QMessageBox.warning(self, "Not a recording", f"{folder}: no frames/frame_#.mhd recording in this folder")
            return
        self.open_source(folder)

    def connect_dialog(self) -> None:
        text, ok = QInputDialog.getText(self, "Connect to a scanner", "Scanner address (host:port):",
                                        text=self.settings.scanner_address)
        if not ok or not text.strip():
            return
        try:
            spec = normalise_scanner_address(text)
        except ValueError as error:
            QMessageBox.warning(self, "Scanner address", str(error))
            return
        self.settings.scanner_address = parse_source(spec).address
        self.open_source(spec)

    def open_demo(self) -> None:
        self.open_source(str(DEMO_LOOP))

    def output_folder(self) -> str:
        return self.settings.output_folder or default_output_folder()

    def choose_output_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for recordings and snapshots", self.output_folder())
        if folder:
            self.settings.output_folder = folder

    # ------------------------------------------------------------------ the analysis worker

    def _start(self, start_frame: int = 0, paused: bool = False) -> None:
        self._retire_worker()
        request = aw.AnalysisRequest(self.source, self.view, self.method, self.segmentation, self.backend,
                                     self.loop, start_frame, paused, self.source_fps)
        worker = aw.AnalysisWorker(request)
        worker.analysed.connect(self._on_analysed)
        worker.state_changed.connect(self._on_state)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(self._on_worker_finished)
        if self.recorder is not None:
            worker.set_recorder(self.recorder)
        self.worker = worker
        self._workers.append(worker)
        self.stats.reset(start_frame if start_frame else None)
        worker.start()
        self._update_play_action()
        self.refresh_status()

    def _retire_worker(self) -> None:
        """Stop the current worker without waiting for it (it finishes in the background)."""
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.set_recorder(None)
            worker.stop()

    def _on_worker_finished(self) -> None:
        worker = self.sender()
        if worker in self._workers:
            self._workers.remove(worker)
            worker.deleteLater()
        if worker is self.worker:
            self._update_play_action()
            self.analysis_ended.emit(worker.state)

    def _restart_here(self) -> None:
        """Restart the analysis with the current settings, where the file was (live: from now)."""
        if not self.source:
            return
        worker = self.worker
        paused = worker.paused if worker is not None else False
        start = 0
        if worker is not None and not worker.live and self.last is not None and worker.state not in (aw.ENDED,):
            start = self.last.frame.index + (0 if paused else 1)
        self.failure = ""
        self._start(start, paused)
        if paused and start and self.worker is not None:
            self.worker.step()          # paused: show the same frame analysed with the new settings

    def _on_state(self, state: str) -> None:
        if self.sender() is not self.worker:
            return
        self._update_play_action()
        self.refresh_status()

    def _on_failed(self, message: str) -> None:
        if self.sender() is not self.worker:
            return
        self.failure = message
        self.left_panel.set_message(message, QColor(255, 110, 90))
        self.statusBar().showMessage(message, 10_000)
        self.refresh_status()

    # ------------------------------------------------------------------ showing results

    def _on_analysed(self, analysed: aw.AnalysedFrame) -> None:
        if self.sender() is not self.worker:
            return
        frame = analysed.frame
        scores = analysed.result.scores
        self.last = analysed
        self.frames_shown += 1
        self._set_stale(False)
        self.left_panel.set_image(frame.image, analysed.left_display)
        self.right_panel.set_image(analysed.quality_image if analysed.quality_image is not None else frame.image,
                                   analysed.right_display)
        self.worker.display_sizes = (self.left_panel.display_size, self.right_panel.display_size)
        result = analysed.result
        self.right_panel.set_message("No analysis for this frame" if analysed.error is not None else result.reason,
                                     QColor(255, 200, 80))
        if self.view == AUTO and result.view in VIEWS and result.view != self.shown_view:
            self.shown_view = result.view          # the wall names follow the recognised view
            self._apply_view_labels()
        self._update_markers()
        self.global_quality.set_scores(scores)
        self.region_scores.set_scores(scores)
        self.strip.add(frame.time_s, scores)
        self._update_cycles(analysed)
        latency = self._latency(analysed)
        self.stats.add(time.perf_counter(), frame.index, latency)
        counters = self.worker.counters if self.worker is not None else None
        if counters is not None and latency is not None and hasattr(counters, "record_latency"):
            counters.record_latency(latency)
        if self.recorder is not None:
            self.recorder.add_result(analysed.result)
        self.frame_shown.emit(analysed)

    def _reset_cycles(self) -> None:
        self.cycle_tracker = None
        self._cycle_last_index = -1
        self.cycle_panel.clear()

    def _update_cycles(self, analysed: aw.AnalysedFrame) -> None:
        """Feed the live cycle tracker: ED/ES marks on the strip, best cycles in the cycle panel."""
        frame = analysed.frame
        if self.cycle_tracker is None or frame.index <= self._cycle_last_index:   # new source, or a loop restarts
            fps = (self.worker.fps if self.worker is not None else None) or self.source_fps or 30.0
            self.cycle_tracker = CycleTracker(fps)
        self._cycle_last_index = frame.index
        thumb = analysed.thumbnail
        if thumb is None:
            thumb = aw.cycle_thumbnail(analysed.quality_image if analysed.quality_image is not None else frame.image)
        tracker = self.cycle_tracker
        completed = tracker.n_cycles
        result = analysed.result
        kept = CycleFrame(frame.index, thumb, result.labels, label_spacing(result))
        marks = tracker.push(frame.index, frame.time_s, lv_area_mm2(result), result.scores, kept)
        for mark in marks:
            self.strip.add_mark(tracker.time_of(mark.frame), mark.kind)
        if tracker.n_cycles != completed:
            self.cycle_panel.update_from(tracker)

    def replay_best_cycle(self, measurement: str) -> None:
        """Play the best cycle so far for a measurement in a window of its own."""
        frames = self.cycle_panel.frames.get(measurement)
        if not frames:
            return
        if self.replay is not None:
            self.replay.close()
        fps = self.cycle_tracker.fps if self.cycle_tracker is not None else 30.0
        self.replay = CycleReplay(self.cycle_panel.titles.get(measurement, measurement), frames, fps, self)
        self.replay.show()

    @staticmethod
    def _latency(analysed: aw.AnalysedFrame) -> float | None:
        """Seconds from the frame leaving the scanner (live, sender's clock) or entering the chain to now."""
        if analysed.frame.timestamp is not None:
            return time.time() - analysed.frame.timestamp
        return time.perf_counter() - analysed.sent_at if analysed.sent_at else None

    def _set_stale(self, stale: bool) -> None:
        """Dim the images and read-outs while they no longer show a live image."""
        if self.left_panel.dimmed != stale:
            self.left_panel.dimmed = self.right_panel.dimmed = stale
            self.left_panel.update()
            self.right_panel.update()
        self.global_quality.set_stale(stale)
        self.region_scores.set_stale(stale)

    def _update_markers(self) -> None:
        analysed = self.last
        if analysed is None or not self.show_scores:
            self.right_panel.markers = []
        else:
            scores = analysed.result.scores
            self.right_panel.markers = [Marker(float(x), float(y), format_score(s) if not np.isnan(s) else "×",
                                               score_colour(s))
                                        for (x, y), s in zip(analysed.label_points, scores)]
        self.right_panel.update()

    def _apply_view_labels(self) -> None:
        shown = self.shown_view
        left, right = wall_names(shown)
        recognised = " (RECOGNISED)" if self.view == AUTO else ""
        self.right_panel.corner_left = f"◀ {left}"
        self.right_panel.corner_right = f"{right} ▶"
        self.right_header.setText(f"REGIONAL QUALITY · {VIEW_SHORT[shown]}{recognised} · {METHOD_TITLES.get(self.method, Path(self.method).name).upper()}")
        self.left_header.setText(f"B-MODE · {VIEW_TITLES[shown].upper()}{recognised}")
        self.region_scores.set_view(shown)
        self.strip.set_view(shown)
        self.cycle_panel.set_view(shown)
        index = self.view_box.findData(self.view)
        self.view_box.setCurrentIndex(index)
        for act in self.view_actions.actions():
            act.blockSignals(True)
            act.setChecked(act.data() == self.view)
            act.blockSignals(False)
        self._select_method_item()
        self.right_panel.update()

    def _select_method_item(self) -> None:
        index = self.method_box.findData(self.method)
        if index < 0:
            self.method_box.insertItem(self.method_box.count() - 1, Path(self.method).name, self.method)
            index = self.method_box.findData(self.method)
        self.method_box.setCurrentIndex(index)

    # ------------------------------------------------------------------ controls

    def set_view(self, view: str) -> None:
        """Change the echo view: 'auto' (recognised per frame) or a4c, a2c, alax (names and the division follow)."""
        if view not in VIEW_CHOICES or view == self.view:
            self._apply_view_labels()
            return
        self.view = view
        self.settings.view = view
        if view in VIEWS:
            self.shown_view = view
        self.strip.clear()
        self._reset_cycles()
        self._apply_view_labels()
        self._restart_here()

    def set_method(self, method: str) -> None:
        """Change the quality method: a pixel metric, 'e2e' or a quality model folder."""
        method = method or DEFAULT_METHOD
        if method == self.method:
            return
        self.method = method
        self.settings.method = method
        self.strip.clear()
        self._reset_cycles()
        self._apply_view_labels()
        self._restart_here()

    def next_method(self) -> None:
        methods = [self.method_box.itemData(i) for i in range(self.method_box.count()) if self.method_box.itemData(i)]
        i = methods.index(self.method) if self.method in methods else -1
        self.set_method(methods[(i + 1) % len(methods)])

    def _method_chosen(self, index: int) -> None:
        method = self.method_box.itemData(index)
        if not method:
            folder = QFileDialog.getExistingDirectory(self, "Quality model folder (with model.onnx)",
                                                      str(MODELS_DIR))
            if not folder:
                self._select_method_item()
                return
            method = folder
        self.set_method(method)

    def play(self) -> None:
        worker = self.worker
        if worker is None or worker.state in (aw.ENDED, aw.STOPPED, aw.FAILED):
            if self.source:
                self.failure = ""
                self.left_panel.set_message("")
                self._start(0)
            return
        worker.play()
        self._update_play_action()

    def pause(self) -> None:
        if self.worker is not None:
            self.worker.pause()
        self._update_play_action()

    def toggle_play(self) -> None:
        if self.is_playing():
            self.pause()
        else:
            self.play()

    def is_playing(self) -> bool:
        worker = self.worker
        return worker is not None and not worker.paused and worker.state in (aw.LOADING, aw.OPENING, aw.PLAYING)

    def step(self) -> None:
        """One frame forward (pauses first)."""
        worker = self.worker
        if worker is None or worker.state in (aw.ENDED, aw.STOPPED, aw.FAILED):
            if self.source:
                self._start(0, paused=True)
                if self.worker is not None:
                    self.worker.step()
            return
        worker.step()
        self._update_play_action()

    def set_loop(self, loop: bool) -> None:
        self.loop = bool(loop)
        self.settings.loop = self.loop
        if self.act_loop.isChecked() != self.loop:
            _set_checked(self.act_loop, self.loop)
        if self.worker is not None:
            self.worker.set_loop(self.loop)

    def set_show_scores(self, show: bool) -> None:
        self.show_scores = bool(show)
        self.settings.show_scores = self.show_scores
        if self.act_scores.isChecked() != self.show_scores:
            _set_checked(self.act_scores, self.show_scores)
        self.region_scores.setVisible(self.show_scores)
        self._update_markers()

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    def leave_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()

    def show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", shortcuts_help())

    def _update_play_action(self) -> None:
        playing = self.is_playing()
        self.act_play.setText("Pause" if playing else "Play")
        self.act_play.setIcon(make_icon("pause" if playing else "play"))

    # ------------------------------------------------------------------ recording and snapshots

    def set_recording(self, on: bool) -> None:
        """Start (in a new folder under the output folder) or stop recording."""
        if on and self.recorder is None:
            self.start_recording()
        elif not on and self.recorder is not None:
            self.stop_recording()
        if self.act_record.isChecked() != (self.recorder is not None):
            self.act_record.blockSignals(True)
            self.act_record.setChecked(self.recorder is not None)
            self.act_record.blockSignals(False)

    def start_recording(self, folder: str | Path | None = None) -> Path | None:
        if self.recorder is not None:
            return self.recorder.folder
        if not self.source:
            self.statusBar().showMessage("Nothing to record: open a source first", 5000)
            return None
        folder = Path(folder) if folder else new_recording_folder(self.output_folder())
        fps = self.worker.fps if self.worker is not None else None
        try:
            self.recorder = Recorder(folder, self.source, fps, self.view, self.method)
        except OSError as error:
            QMessageBox.warning(self, "Cannot record", f"{folder}: {error.strerror or error}")
            self.set_recording(False)
            return None
        self._record_started = time.monotonic()
        if self.worker is not None:
            self.worker.set_recorder(self.recorder)
        self.set_recording(True)
        self.statusBar().showMessage(f"Recording to {folder}", 5000)
        return folder

    def stop_recording(self) -> Path | None:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        for worker in self._workers:
            worker.set_recorder(None)
        closer = threading.Thread(target=recorder.close, name="recorder close", daemon=True)
        closer.start()
        self._closing_recorders.append(closer)
        self.last_recording = recorder.folder
        self.set_recording(False)
        self.statusBar().showMessage(f"Recording saved: {recorder.folder}", 8000)
        return recorder.folder

    def wait_for_recordings(self, timeout_s: float = 10.0) -> None:
        """Wait until stopped recordings are completely written."""
        for closer in self._closing_recorders:
            closer.join(timeout_s)
        self._closing_recorders = [c for c in self._closing_recorders if c.is_alive()]

    def save_snapshot(self, path: str | Path) -> Path:
        """Save the split screen (images, legend, global quality) as PNG."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.images_area.grab().save(str(path), "PNG"):
            raise OSError(f"{path}: could not write the PNG")
        return path

    def save_snapshot_now(self) -> Path | None:
        path = Path(self.output_folder()) / f"snapshot_{time.strftime('%Y%m%d_%H%M%S')}.png"
        try:
            self.save_snapshot(path)
        except OSError as error:
            self.statusBar().showMessage(f"Snapshot {path} failed: {error.strerror or error}", 8000)
            return None
        self.statusBar().showMessage(f"Snapshot saved: {path}", 8000)
        return path

    # ------------------------------------------------------------------ status bar

    def refresh_status(self) -> None:
        worker = self.worker
        now = time.perf_counter()
        if worker is None:
            self.status_state.setText("no source")
        else:
            state = worker.state
            scanner = worker.source_state
            if scanner is not None and state in (aw.PLAYING, aw.PAUSED):
                text = f"scanner: {scanner}" + (" · paused" if worker.paused else "")
                template = SCANNER_MESSAGES.get(scanner)
                if template and not self.failure:
                    address = parse_source(self.source).address
                    self.left_panel.set_message(template[0].format(address=address), template[1])
                elif not self.failure:
                    self.left_panel.set_message("")
                self._set_stale(scanner in ("disconnected", "frozen"))
            else:
                text = state
                if state == aw.LOADING and not self.left_panel.has_image():
                    self.left_panel.set_message("Loading the models…", QColor(170, 190, 220))
                elif state in (aw.PLAYING, aw.PAUSED) and not self.failure and self.left_panel.message:
                    self.left_panel.set_message("")
                if state == aw.ENDED:
                    text = "end of loop — Space replays"
            if self.last is not None and not worker.live:
                total = f"/{worker.n_frames}" if worker.n_frames and not self.loop else ""
                text += f" · frame {self.last.frame.index + 1}{total}"
            self.status_state.setText(text)
        fps = self.stats.fps(now)
        self.status_fps.setText(f"{fps:.1f} frames/s")
        median, p95 = self.stats.latency_ms()
        self.status_latency.setText("latency –" if np.isnan(median) else f"latency {median:.0f} ms (p95 {p95:.0f})")
        self.status_dropped.setText(f"dropped {self.stats.dropped}")
        if self.recorder is not None:
            seconds = time.monotonic() - self._record_started
            self.status_record.setText(f"● REC {int(seconds) // 60:02d}:{int(seconds) % 60:02d} · "
                                       f"{self.recorder.frames_written} frames")
            self.status_record.setStyleSheet("color: #ff5a4e; font-weight: bold;")
            if self.recorder.error:
                self.statusBar().showMessage(self.recorder.error, 10_000)
                self.set_recording(False)
        else:
            self.status_record.setText("")

    # ------------------------------------------------------------------ closing

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop analysis and recording; wait for the threads (bounded)."""
        self._timer.stop()
        self.set_recording(False)
        self._retire_worker()
        for worker in list(self._workers):
            worker.stop()
        deadline = time.monotonic() + timeout_s
        for worker in list(self._workers):
            worker.wait(max(1, int((deadline - time.monotonic()) * 1000)))
        self.wait_for_recordings(timeout_s)

    def resizeEvent(self, event) -> None:
        """Icons only on narrow screens (the tooltips keep the names and shortcuts)."""
        super().resizeEvent(event)
        style = (Qt.ToolButtonStyle.ToolButtonTextBesideIcon if self.width() >= COMPACT_TOOLBAR_WIDTH
                 else Qt.ToolButtonStyle.ToolButtonIconOnly)
        if self.toolbar.toolButtonStyle() != style:
            self.toolbar.setToolButtonStyle(style)

    def closeEvent(self, event) -> None:
        if not self.headless:
            self.settings.geometry = self.saveGeometry()
            save_settings(self.settings, self._store)
        self.shutdown()
        super().closeEvent(event)
