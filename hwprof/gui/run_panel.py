"""The Run tab: choose a workload and its settings, run it on one or more devices, see the queue.

Every field is a bounded spin box or a list, so most bad values cannot be typed at all; a
combination the run spec refuses (single-stream with training, a size below the workload's
minimum) is shown in red beside the Run button and nothing is queued. Running on several devices
queues one run per device; runs never overlap.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal, Slot
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

from hwprof.core import events
from hwprof.core.catalog import WORKLOADS, get_workload
from hwprof.core.spec import PRECISIONS, RunSpec, validation_problems
from hwprof.gui.detection import PartialReport
from hwprof.gui.runs import RunQueue

PRECISION_LABELS = {
    "fp32": "fp32",
    "mixed_float16": "mixed fp16 (loss scaling)",
    "mixed_bfloat16": "mixed bf16",
}


def validation_text(err: ValidationError) -> str:
    """A pydantic error in plain words, one line per problem."""
    return "\n".join(f"{where.replace('_', ' ')}: {msg}" if where else msg
                     for where, msg in validation_problems(err))


class QtRunPanel(QWidget):
    """The form, Run and Stop, the queue and the progress of the run in progress."""

    run_requested = Signal(object)  # list[RunSpec]

    def __init__(self, queue: RunQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self._steps = 0
        self._timed_s = 0.0

        self.workload = QComboBox()
        self.workload.setObjectName("workload")
        for w in WORKLOADS:
            self.workload.addItem(w.name, w.name)
        self.workload.setToolTip("The TensorFlow workload to run (synthetic data, made on the "
                                 "device so the input pipeline is never what is measured)")
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
        self.precision = QComboBox()
        for p in PRECISIONS:
            self.precision.addItem(PRECISION_LABELS[p], p)
        self.precision.setToolTip("fp32, or Keras mixed precision: fp16 (with loss scaling) or "
                                  "bf16 compute with fp32 variables")
        self.xla = QCheckBox("compile with XLA (jit_compile)")
        self.xla.setToolTip("XLA fuses ops; a big win on some GPUs, sometimes a loss on CPUs")
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

        form = QFormLayout()
        form.addRow("Workload", self.workload)
        form.addRow("", self.description)
        form.addRow("Mode", self.mode)
        form.addRow("Devices", self.devices)
        form.addRow("Batch size", self.batch)
        self.size_label = QLabel("Size")
        form.addRow(self.size_label, self.size_box)
        form.addRow("Precision", self.precision)
        form.addRow("", self.xla)
        form.addRow("Intra-op threads", self.intra)
        form.addRow("Inter-op threads", self.inter)
        form.addRow("Duration", self.duration)
        form.addRow("Warm-up steps", self.warmup)
        form.addRow("Scenario", self.scenario)
        settings = QGroupBox("Workload")
        settings.setLayout(form)

        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("run_button")
        self.run_button.setToolTip("Queue the workload on the ticked devices (Ctrl+R)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop_button")
        self.stop_button.setToolTip("End the run in progress and clear the queue (Esc); what was "
                                    "measured so far is kept as a cancelled result")
        self.stop_button.setEnabled(False)
        self.error = QLabel()
        self.error.setObjectName("form_error")
        self.error.setStyleSheet("color: #c62828")
        self.error.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)

        self.status = QLabel("Nothing running")
        self.status.setObjectName("run_status")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.queue_list = QListWidget()
        self.queue_list.setObjectName("queue")
        self.queue_list.setToolTip("Runs waiting their turn (Delete removes the selected one)")
        progress_box = QGroupBox("Queue")
        pl = QVBoxLayout(progress_box)
        pl.addWidget(self.status)
        pl.addWidget(self.progress)
        pl.addWidget(self.queue_list)

        layout = QVBoxLayout(self)
        layout.addWidget(settings)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        layout.addWidget(progress_box, 1)

        self.workload.currentIndexChanged.connect(self._on_workload_changed)
        self.mode.currentIndexChanged.connect(self._on_mode_changed)
        self.run_button.clicked.connect(self.request_run)
        self.stop_button.clicked.connect(self.queue.stop)
        self.queue.queue_changed.connect(self._on_queue_changed)
        self.queue.started.connect(self._on_started)
        self.queue.run_event.connect(self._on_event)
        self.set_devices(PartialReport())
        self._on_workload_changed()

    @staticmethod
    def _spin(low: int, high: int, special: str, tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        if special:
            box.setSpecialValueText(special)
        box.setToolTip(tip)
        box.setAccelerated(True)
        return box

    # -- the form ---------------------------------------------------------------------------------
    def set_devices(self, report: PartialReport) -> None:
        """The devices detection found: the CPU always, each NVIDIA GPU with its state."""
        checked = {self.devices.item(i).data(Qt.ItemDataRole.UserRole)
                   for i in range(self.devices.count())
                   if self.devices.item(i).checkState() == Qt.CheckState.Checked} or {"cpu"}
        self.devices.clear()
        cpu_name = (report.cpus[0].model_name if report.cpus else None) or "CPU"
        entries = [("cpu", f"cpu — {cpu_name}", True, "")]
        for g in report.gpus or ():
            usable = g.error is None and not g.tensorflow_missing_reason
            why = g.error or ""
            if g.tensorflow_missing_reason:
                why = f"TensorFlow cannot use it: {g.tensorflow_missing_reason}"
            entries.append((f"gpu:{g.index}", f"gpu:{g.index} — {g.name or 'NVIDIA GPU'}", usable,
                            why))
        for key, text, usable, why in entries:
            item = QListWidgetItem(text + (f"  ({why})" if why else ""))
            item.setData(Qt.ItemDataRole.UserRole, key)
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
        self._on_mode_changed()

    @Slot()
    def _on_mode_changed(self) -> None:
        infer = self.mode.currentData() == "infer"
        self.scenario.setEnabled(infer)
        if not infer:
            self.scenario.setCurrentIndex(0)

    def runnable_devices(self) -> list[str]:
        """Every device a run can go to ("cpu", and each GPU TensorFlow can use)."""
        return [str(self.devices.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.devices.count())
                if self.devices.item(i).flags() & Qt.ItemFlag.ItemIsEnabled]

    def selected_devices(self) -> list[str]:
        """The ticked devices, in list order."""
        return [str(self.devices.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.devices.count())
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
            "xla": self.xla.isChecked(),
            "intra_op_threads": self.intra.value() or None,
            "inter_op_threads": self.inter.value() or None,
            "duration_seconds": float(self.duration.value()),
            "warmup_steps": self.warmup.value(),
            "scenario": self.scenario.currentData(),
        }

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
        self.run_requested.emit(specs)
        self.queue.add(specs)

    # -- the queue --------------------------------------------------------------------------------
    @Slot()
    def _on_queue_changed(self) -> None:
        self.queue_list.clear()
        for spec in self.queue.pending:
            self.queue_list.addItem(f"waiting: {spec.label()}")
        self.stop_button.setEnabled(self.queue.busy or bool(self.queue.pending))
        if not self.queue.busy:
            self.status.setText("Nothing running" if not self.queue.pending else "Starting…")
            self.progress.setValue(0)

    @Slot(object)
    def _on_started(self, spec: RunSpec) -> None:
        self._steps, self._timed_s = 0, 0.0
        self.status.setText(f"{spec.label()}: starting the worker (importing TensorFlow)…")
        self.progress.setRange(0, 0)

    @Slot(object, object)
    def _on_event(self, spec: RunSpec, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == events.READY:
            self.status.setText(f"{spec.label()}: building and compiling on "
                                f"{event.get('tf_device')}…")
        elif kind == events.COMPILED:
            self.status.setText(f"{spec.label()}: warming up…")
        elif kind == events.STEPS:
            seconds = event.get("seconds") or []
            self._steps += len(seconds)
            self._timed_s += float(sum(seconds))
            total = spec.duration_seconds or 1.0
            self.progress.setRange(0, 100)
            self.progress.setValue(min(100, int(100 * self._timed_s / total)))
            self.status.setText(f"{spec.label()}: measuring, {self._steps} steps "
                                f"({self._timed_s:.1f} of at most {total:g} s)")
