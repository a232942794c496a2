"""The Run tab: choose a workload and its settings, run it on one or more devices, see the queue.

Every field is a bounded spin box or a list, so most bad values cannot be typed at all; a
combination the run spec refuses (single-stream with training, a size below the workload's
minimum) is shown in red beside the Run button and nothing is queued. Running on several devices
queues one run per device; runs never overlap. The queue lists the run in progress and every run
waiting; a waiting run can be removed (Delete), and Stop ends only the run in progress, after
asking (the window asks). The form is remembered between launches.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.catalog import WORKLOADS, get_workload
from hwprof.core.devices import VENDOR_NAMES, PartialReport
from hwprof.core.session import (
    DetectionFinished,
    DetectionProgressed,
    QueueChanged,
    RunFinished,
    RunProgressed,
    RunStarted,
)
from hwprof.core.spec import (
    DEFAULT_TRACE_STEPS,
    PIPELINE_WORKLOADS,
    PRECISIONS,
    TFLITE_PRECISIONS,
    TFLITE_WORKLOADS,
    RunSpec,
    validation_problems,
)
from hwprof.gui.session_adapter import QtSessionEvents
from hwprof.gui.settings import open_settings
from hwprof.services.session import Session

PRECISION_LABELS = {
    "fp32": "fp32",
    "mixed_float16": "mixed fp16 (loss scaling)",
    "mixed_bfloat16": "mixed bf16",
}
TFLITE_PRECISION_LABELS = {
    "fp32": "fp32",
    "fp16": "fp16 weights",
    "int8_dynamic": "int8 dynamic-range",
    "int8": "int8 full integer (calibrated)",
}
RUNTIME_LABELS = {"tf": "TensorFlow", "tflite": "TensorFlow Lite"}
ID_ROLE = Qt.ItemDataRole.UserRole


def validation_text(err: ValidationError) -> str:
    """A pydantic error in plain words, one line per problem."""
    return "\n".join(f"{where.replace('_', ' ')}: {msg}" if where else msg
                     for where, msg in validation_problems(err))


class QtRunPanel(QWidget):
    """The form, Run and Stop, the queue and the progress of the run in progress.

    Signal ``stop_requested`` asks the window to stop the run in progress (it asks first).
    """

    stop_requested = Signal()

    def __init__(self, session: Session, events: QtSessionEvents,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session

        self.workload = QComboBox()
        self.workload.setObjectName("workload")
        for w in WORKLOADS:
            self.workload.addItem(w.name, w.name)
        self.workload.setToolTip("The TensorFlow workload to run (synthetic data made on the "
                                 "device unless Data says the JPEG pipeline)")
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setObjectName("workload_description")
        self.mode = QComboBox()
        self.mode.setToolTip("train: forward, backward and an optimizer step; infer: the frozen "
                             "graph, as a model is served")
        self.devices = QListWidget()
        self.devices.setObjectName("devices")
        self.devices.setMaximumHeight(90)
        self.devices.setToolTip("Tick one or more devices: one run is queued per device")
        self.batch = self._spin(0, 65536, "default", "Samples per step (0: the workload's default)")
        self.size_box = self._spin(0, 100_000, "default",
                                   "The workload's size knob (matrix side, image side, sequence "
                                   "length, width); 0: the default")
        self.runtime = QComboBox()
        self.runtime.setObjectName("runtime")
        for key, label in RUNTIME_LABELS.items():
            self.runtime.addItem(label, key)
        self.precision = QComboBox()
        self.precision.setObjectName("precision")
        self.xla = QCheckBox("compile with XLA (jit_compile)")
        self._report = PartialReport()
        self.intra = self._spin(0, 1024, "default", "TensorFlow intra-op threads (0: TF decides)")
        self.inter = self._spin(0, 1024, "default", "TensorFlow inter-op threads (0: TF decides)")
        self.duration = self._spin(1, 3600, "", "Longest timed phase; the run ends sooner once "
                                   "its throughput is steady")
        self.duration.setSuffix(" s")
        self.duration.setValue(10)
        self.warmup = self._spin(0, 1000, "", "Untimed steps after the first (compiling) step")
        self.warmup.setValue(3)
        self.scenario = QComboBox()
        self.scenario.addItem("offline (throughput)", "offline")
        self.scenario.addItem("single-stream (batch 1, latency)", "single-stream")
        self.scenario.setToolTip("Inference only: offline measures throughput at the batch size; "
                                 "single-stream runs batch 1 and reports latency percentiles")
        self.trace = QCheckBox("trace where the time goes")
        self.trace.setObjectName("trace")
        self.trace.setToolTip("After the timed steps, trace a few more with TensorFlow's profiler: "
                              "the top ops, op categories, each step's split and a verdict "
                              "(Results, Where the time goes). The timed figures are never "
                              "traced steps: tracing slows every op down")
        self.trace_steps = self._spin(1, 1000, "", "How many steps to trace (after the timed ones)")
        self.trace_steps.setObjectName("trace_steps")
        self.trace_steps.setSuffix(" steps")
        self.trace_steps.setValue(DEFAULT_TRACE_STEPS)
        self.trace_steps.setEnabled(False)
        trace_row = QHBoxLayout()
        trace_row.addWidget(self.trace)
        trace_row.addWidget(self.trace_steps)
        trace_row.addStretch(1)

        form = QFormLayout()
        form.addRow("Workload", self.workload)
        form.addRow("", self.description)
        form.addRow("Mode", self.mode)
        form.addRow("Runtime", self.runtime)
        form.addRow("Devices", self.devices)
        form.addRow("Batch size", self.batch)
        self.size_label = QLabel("Size")
        form.addRow(self.size_label, self.size_box)
        form.addRow("Data", self._data_row())
        form.addRow("Precision", self.precision)
        form.addRow("", self.xla)
        form.addRow("Intra-op threads", self.intra)
        form.addRow("Inter-op threads", self.inter)
        form.addRow("Duration", self.duration)
        form.addRow("Warm-up steps", self.warmup)
        form.addRow("Scenario", self.scenario)
        form.addRow("Trace", trace_row)
        settings = QGroupBox("Workload")
        settings.setLayout(form)

        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("run_button")
        self.run_button.setToolTip("Queue the workload on the ticked devices (Ctrl+R)")
        self.error = QLabel()
        self.error.setObjectName("form_error")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setStyleSheet("color: #d32f2f")
        self.error.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addStretch(1)

        self.status = QLabel("Nothing running")
        self.status.setObjectName("run_status")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.queue_list = QListWidget()
        self.queue_list.setObjectName("queue")
        self.queue_list.setToolTip("The run in progress and the runs waiting their turn. Select a "
                                   "waiting run and press Delete (or Remove) to take it off")
        self.stop_button = QPushButton("Stop run…")
        self.stop_button.setObjectName("stop_button")
        self.stop_button.setToolTip("End the run in progress (asks first); what it measured so far "
                                    "is kept as a cancelled result, and the queue goes on")
        self.stop_button.setEnabled(False)
        self.remove_button = QPushButton("Remove from queue")
        self.remove_button.setObjectName("remove_button")
        self.remove_button.setToolTip("Take the selected waiting run off the queue (Delete)")
        self.remove_button.setEnabled(False)
        queue_buttons = QHBoxLayout()
        queue_buttons.addWidget(self.stop_button)
        queue_buttons.addWidget(self.remove_button)
        queue_buttons.addStretch(1)
        progress_box = QGroupBox("Queue")
        pl = QVBoxLayout(progress_box)
        pl.addWidget(self.status)
        pl.addWidget(self.progress)
        pl.addWidget(self.queue_list)
        pl.addLayout(queue_buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(settings)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        layout.addWidget(progress_box, 1)

        self.workload.currentIndexChanged.connect(self._on_workload_changed)
        self.data.currentIndexChanged.connect(self._on_data_changed)
        self.mode.currentIndexChanged.connect(self._on_mode_changed)
        self.runtime.currentIndexChanged.connect(self._on_runtime_changed)
        self.run_button.clicked.connect(self.request_run)
        self.trace.toggled.connect(self.trace_steps.setEnabled)
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self.remove_button.clicked.connect(self.remove_selected)
        self.queue_list.itemSelectionChanged.connect(self._update_buttons)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.queue_list)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.remove_selected)
        events.on(QueueChanged, self._on_queue_changed, self)
        events.on(RunStarted, self._on_started, self)
        events.on(RunProgressed, self._on_progressed, self)
        events.on(RunFinished, self._on_finished, self)
        events.on(DetectionProgressed, lambda e: self.set_devices(e.report), self)
        events.on(DetectionFinished, lambda e: self.set_devices(e.report), self)
        self.set_devices(PartialReport())
        self._on_workload_changed()
        self.restore_form()

    @staticmethod
    def _spin(low: int, high: int, special: str, tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        if special:
            box.setSpecialValueText(special)
        box.setToolTip(tip)
        box.setAccelerated(True)
        return box

    def _data_row(self) -> QHBoxLayout:
        """The input: synthetic, or the JPEG pipeline with its threads and source size."""
        self.data = QComboBox()
        self.data.setObjectName("data")
        self.data.addItem("synthetic", "synthetic")
        self.data.addItem("JPEG pipeline", "pipeline")
        self.data.setToolTip(
            "synthetic: a fixed batch made on the device, so the input never hides the "
            "hardware. JPEG pipeline: every step a tf.data pipeline decodes JPEG images on the "
            "CPU, crops them at random to the image side, flips them and converts them to "
            "float, as a training input pipeline does; with too few threads the device waits "
            f"for it (trace the run to see). For {', '.join(PIPELINE_WORKLOADS)}")
        self.pipeline_threads = self._spin(
            0, 4096, "threads auto", "The pipeline's threads (map parallelism, tf.data's "
            "thread pool) and batches prefetched; 0: auto (tf.data.AUTOTUNE)")
        self.pipeline_threads.setObjectName("pipeline_threads")
        self.pipeline_threads.setPrefix("threads ")
        self.pipeline_source = self._spin(
            0, 8192, "JPEG 2 × side", "Side of the JPEG images the pipeline decodes "
            "(pixels), at least the image side; bigger costs more to decode. 0: twice the "
            "image side")
        self.pipeline_source.setObjectName("pipeline_source_size")
        self.pipeline_source.setPrefix("JPEG ")
        self.pipeline_source.setSuffix(" px")
        row = QHBoxLayout()
        row.addWidget(self.data)
        row.addWidget(self.pipeline_threads)
        row.addWidget(self.pipeline_source)
        row.addStretch(1)
        return row

    @Slot()
    def _on_data_changed(self) -> None:
        pipeline = self.data.isEnabled() and self.data.currentData() == "pipeline"
        self.pipeline_threads.setEnabled(pipeline)
        self.pipeline_source.setEnabled(pipeline)

    # -- the form ---------------------------------------------------------------------------------
    def set_devices(self, report: PartialReport) -> None:
        """The devices detection found: the CPU always, each GPU (any vendor) with its state."""
        self._report = report
        checked = {self.devices.item(i).data(ID_ROLE) for i in range(self.devices.count())
                   if self.devices.item(i).checkState() == Qt.CheckState.Checked}
        if self.tflite and self.devices.count():
            # TFLite disabled the GPUs: a GPU ticked before stays wanted for TensorFlow
            checked |= set(getattr(self, "_wanted_devices", ())) - {"cpu"}
        if not checked:
            checked = set(getattr(self, "_wanted_devices", ())) or {"cpu"}
        self.devices.clear()
        from hwprof.services.detect import device_label  # not at start-up: it imports NVML

        entries = [("cpu", f"cpu — {device_label(report, 'cpu')}", True, "")]
        for g in report.gpus or ():
            usable = g.error is None and not g.tensorflow_missing_reason
            why = g.error or ""
            if g.tensorflow_missing_reason:
                why = f"TensorFlow cannot use it: {g.tensorflow_missing_reason}"
            if usable and self.tflite:
                usable, why = False, self.tflite_refusal(f"gpu:{g.index}")
            name = g.name or f"{VENDOR_NAMES.get(g.vendor, g.vendor)} GPU"
            entries.append((f"gpu:{g.index}", f"gpu:{g.index} — {name}", usable, why))
        for key, text, usable, why in entries:
            item = QListWidgetItem(text + (f"  ({why})" if why else ""))
            item.setData(ID_ROLE, key)
            flags = Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable
            if usable:
                flags |= Qt.ItemFlag.ItemIsEnabled
            item.setFlags(flags)
            item.setCheckState(Qt.CheckState.Checked if key in checked and usable
                               else Qt.CheckState.Unchecked)
            if why:
                item.setToolTip(why)
            self.devices.addItem(item)

    @Slot()
    def _on_workload_changed(self) -> None:
        info = get_workload(str(self.workload.currentData()))
        self.description.setText(info.description)
        current = self.mode.currentData()
        self.mode.blockSignals(True)
        self.mode.clear()
        for m in info.modes:
            self.mode.addItem(m, m)
        if current in info.modes:
            self.mode.setCurrentIndex(info.modes.index(current))
        self.mode.blockSignals(False)
        self.size_label.setText(f"Size: {info.size_label}")
        self.size_box.setSpecialValueText(f"default ({info.default_size})")
        self.size_box.setMinimum(0)
        self.batch.setSpecialValueText(f"default ({info.default_batch_size})")
        images = info.name in PIPELINE_WORKLOADS  # the pipeline decodes images
        if not images:
            self.data.setCurrentIndex(0)
        self.data.setEnabled(images)
        self._on_data_changed()
        converts = info.name in TFLITE_WORKLOADS
        if not converts:
            self.runtime.setCurrentIndex(0)
        self.runtime.setEnabled(converts)
        self.runtime.setToolTip(
            "TensorFlow: the frozen TensorFlow graph; TensorFlow Lite: the model converted to "
            "TFLite and run by its interpreter (XNNPACK on the CPU), as it is deployed; "
            "inference only" if converts else
            f"TensorFlow Lite runs a converted Keras model: {', '.join(TFLITE_WORKLOADS)}")
        self._on_runtime_changed()

    @property
    def tflite(self) -> bool:
        """Whether the form asks for a TensorFlow Lite run."""
        return self.runtime.currentData() == "tflite"

    def tflite_refusal(self, device: str) -> str:
        """Why a TFLite run cannot go to ``device`` (the run spec's own words)."""
        try:
            RunSpec(workload="mlp", mode="infer", runtime="tflite", device=device)
        except ValidationError as err:
            return validation_text(err)
        return ""

    @Slot()
    def _on_runtime_changed(self) -> None:
        tflite = self.tflite
        current = self.precision.currentData()
        labels = TFLITE_PRECISION_LABELS if tflite else PRECISION_LABELS
        self.precision.blockSignals(True)
        self.precision.clear()
        for p in TFLITE_PRECISIONS if tflite else PRECISIONS:
            self.precision.addItem(labels[p], p)
        index = self.precision.findData(current)
        self.precision.setCurrentIndex(max(index, 0))
        self.precision.blockSignals(False)
        self.precision.setToolTip(
            "TFLite stores the model in fp32, with fp16 weights, with int8 weights "
            "(dynamic-range: activations quantized on the fly), or fully in int8 (calibrated on "
            "seeded synthetic inputs); accuracy is measured against the fp32 model" if tflite
            else "fp32, or Keras mixed precision: fp16 (with loss scaling) or bf16 compute with "
            "fp32 variables")
        # TFLite serves a model: inference only, and XLA (a TensorFlow compiler) does not apply
        if tflite:
            i = self.mode.findData("infer")
            if i >= 0:
                self.mode.setCurrentIndex(i)
            self.xla.setChecked(False)
        self.mode.setEnabled(not tflite)
        self.mode.setToolTip("TensorFlow Lite runs inference only" if tflite else
                             "train: forward, backward and an optimizer step; infer: the frozen "
                             "graph, as a model is served")
        self.xla.setEnabled(not tflite)
        # the interpreter is fed from memory and TensorFlow's profiler does not see inside it
        images = self.workload.currentData() in PIPELINE_WORKLOADS
        if tflite:
            self.data.setCurrentIndex(0)
            self.trace.setChecked(False)
        self.data.setEnabled(images and not tflite)
        self.trace.setEnabled(not tflite)
        self.trace_steps.setEnabled(self.trace.isChecked())
        self._on_data_changed()
        self.xla.setToolTip("XLA compiles TensorFlow graphs; a TFLite model runs in its "
                            "interpreter" if tflite else
                            "XLA fuses ops; a big win on some GPUs, sometimes a loss on CPUs")
        self.set_devices(self._report)
        self._on_mode_changed()

    @Slot()
    def _on_mode_changed(self) -> None:
        infer = self.mode.currentData() == "infer"
        self.scenario.setEnabled(infer)
        if not infer:
            self.scenario.setCurrentIndex(0)

    def runnable_devices(self) -> list[str]:
        """Every device a run can go to ("cpu", and each GPU TensorFlow can use)."""
        return [str(self.devices.item(i).data(ID_ROLE)) for i in range(self.devices.count())
                if self.devices.item(i).flags() & Qt.ItemFlag.ItemIsEnabled]

    def selected_devices(self) -> list[str]:
        """The ticked devices, in list order."""
        return [str(self.devices.item(i).data(ID_ROLE)) for i in range(self.devices.count())
                if self.devices.item(i).checkState() == Qt.CheckState.Checked]

    def specs(self) -> list[RunSpec]:
        """The runs the form describes, one per ticked device (ValueError / ValidationError)."""
        devices = self.selected_devices()
        if not devices:
            raise ValueError("tick at least one device")
        fields = self._fields()
        return [RunSpec(device=d, **fields) for d in devices]

    def base_spec(self) -> RunSpec:
        """The form's run on the CPU: what a study's targets start from (ValidationError)."""
        return RunSpec(device="cpu", **self._fields())

    def _fields(self) -> dict[str, Any]:
        return {
            "workload": self.workload.currentData(),
            "mode": self.mode.currentData(),
            "batch_size": self.batch.value() or None,
            "size": self.size_box.value() or None,
            "precision": self.precision.currentData(),
            "runtime": self.runtime.currentData(),
            "xla": self.xla.isChecked(),
            "intra_op_threads": self.intra.value() or None,
            "inter_op_threads": self.inter.value() or None,
            "duration_seconds": float(self.duration.value()),
            "warmup_steps": self.warmup.value(),
            "scenario": self.scenario.currentData(),
            "trace_steps": self.trace_steps.value() if self.trace.isChecked() else None,
            **self._data_fields(),
        }

    def _data_fields(self) -> dict[str, Any]:
        if not self.pipeline_threads.isEnabled():  # synthetic, or a workload without images
            return {"data": "synthetic", "pipeline_threads": None, "pipeline_source_size": None}
        return {"data": "pipeline", "pipeline_threads": self.pipeline_threads.value() or None,
                "pipeline_source_size": self.pipeline_source.value() or None}

    @Slot()
    def request_run(self) -> None:
        """Queue the form's runs, or say in red why not."""
        try:
            specs = self.specs()
        except ValidationError as err:
            self.error.setText(validation_text(err))
            return
        except ValueError as err:
            self.error.setText(str(err))
            return
        self.error.clear()
        self.save_form()
        self.session.enqueue(specs)

    # -- remembered between launches ------------------------------------------------------------
    def save_form(self) -> None:
        """Remember the form (the next launch starts with it)."""
        s = open_settings()
        for key, value in self._fields().items():
            s.setValue(f"run/{key}", "" if value is None else value)
        s.setValue("run/devices", ",".join(self.selected_devices()))

    def restore_form(self) -> None:
        """The form as it was last used; anything unreadable keeps its default."""
        s = open_settings()

        def get(key: str) -> str:
            value = s.value(f"run/{key}", "")
            return "" if value is None else str(value)

        def pick(box: QComboBox, key: str) -> None:
            i = box.findData(get(key))
            if i >= 0:
                box.setCurrentIndex(i)

        def number(box: QSpinBox, key: str) -> None:
            text = get(key)
            with contextlib.suppress(ValueError):
                box.setValue(int(float(text)) if text else box.minimum())

        if not get("workload"):
            return
        pick(self.workload, "workload")
        pick(self.runtime, "runtime")
        pick(self.mode, "mode")
        pick(self.precision, "precision")
        self.xla.setChecked(get("xla").lower() == "true")
        for box, key in ((self.batch, "batch_size"), (self.size_box, "size"),
                         (self.intra, "intra_op_threads"), (self.inter, "inter_op_threads"),
                         (self.duration, "duration_seconds"), (self.warmup, "warmup_steps")):
            number(box, key)
        pick(self.scenario, "scenario")
        pick(self.data, "data")
        number(self.pipeline_threads, "pipeline_threads")
        number(self.pipeline_source, "pipeline_source_size")
        self.trace.setChecked(bool(get("trace_steps")))
        if get("trace_steps"):
            number(self.trace_steps, "trace_steps")
        self._wanted_devices = [d for d in get("devices").split(",") if d]

    # -- the queue --------------------------------------------------------------------------------
    def _on_queue_changed(self, e: QueueChanged) -> None:
        selected = self.selected_queue_id()
        self.queue_list.clear()
        if e.current is not None:
            item = QListWidgetItem(f"▶ running: {e.current.label()}")
            item.setData(ID_ROLE, -e.current.id)  # negative: the run in progress
            font = item.font()
            font.setBold(True)
            item.setFont(font)
            self.queue_list.addItem(item)
        for queued in e.pending:
            item = QListWidgetItem(f"waiting: {queued.label()}")
            item.setData(ID_ROLE, queued.id)
            self.queue_list.addItem(item)
            if queued.id == selected:
                item.setSelected(True)
        if e.current is None:
            self.status.setText("Nothing running" if not e.pending else "Starting…")
            self.progress.setRange(0, 100)
            self.progress.setValue(0)
        self._update_buttons()

    def selected_queue_id(self) -> int | None:
        """The id of the selected waiting run, if one is selected."""
        for item in self.queue_list.selectedItems():
            value = int(item.data(ID_ROLE))
            if value > 0:
                return value
        return None

    @Slot()
    def remove_selected(self) -> None:
        """Take the selected waiting run off the queue."""
        run_id = self.selected_queue_id()
        if run_id is not None:
            self.session.remove_pending(run_id)

    @Slot()
    def _update_buttons(self) -> None:
        self.stop_button.setEnabled(self.session.busy)
        self.remove_button.setEnabled(self.selected_queue_id() is not None)

    def _on_started(self, e: RunStarted) -> None:
        self.status.setText(e.progress.status())
        self.progress.setRange(0, 0)

    def _on_progressed(self, e: RunProgressed) -> None:
        self.status.setText(e.progress.status())
        fraction = e.progress.fraction
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(int(100 * fraction))

    def _on_finished(self, e: RunFinished) -> None:
        r = e.record.result
        self.status.setText(f"{e.item.spec.label()}: {r.status}" + (f": {r.reason}"
                                                                   if r.reason else ""))
