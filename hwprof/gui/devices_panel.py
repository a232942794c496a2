"""The Devices panel: a tree of what detection found, and the details of the selected node.

It takes a :class:`~hwprof.gui.detection.PartialReport` and fills in as parts arrive: host and
NVIDIA GPUs first, the CPU a second later, TensorFlow's view when its probe answers.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hwprof.core.devices import PartialReport
from hwprof.core.session import DetectionFinished, DetectionProgressed
from hwprof.gui import device_details as dd
from hwprof.gui.session_adapter import QtSessionEvents

KEY_ROLE = Qt.ItemDataRole.UserRole
DETECTING = "detecting…"

NODE_HELP = {
    "host": "This computer: operating system, memory.",
    "cpus": "The machine's processors, with what matters for deep learning.",
    "gpus": "The GPUs: NVIDIA ones as their driver (NVML) reports them, then AMD ones as the "
    "amdgpu driver (or ROCm's amdsmi) reports them, then Intel ones as i915/xe report them, "
    "then a Mac's Apple GPU.",
    "tensorflow": "What TensorFlow sees, asked in a short child process.",
}


class _WrappingDelegate(QStyledItemDelegate):
    """Row heights that fit word-wrapped values (formulas, notes) in the value column's width.

    QTreeView asks the delegate for a size without telling it the column's width, so long values
    would be elided; this delegate measures the text at the width the header gives the column.
    """

    def __init__(self, view: QTreeWidget) -> None:
        super().__init__(view)
        self._view = view

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        """Height of the text wrapped to the column's width."""
        size = super().sizeHint(option, index)
        text = index.data(Qt.ItemDataRole.DisplayRole)
        if not text or self._view.isFirstColumnSpanned(index.row(), index.parent()):
            return size  # section titles span the row and never need wrapping
        width = self._view.header().sectionSize(index.column()) - 12
        if index.column() == 0:
            width -= self._view.indentation() * 2
        if width <= 40:
            return size
        metrics = QFontMetrics(option.font)
        rect = metrics.boundingRect(
            QRect(0, 0, width, 100_000), int(Qt.TextFlag.TextWordWrap), str(text)
        )
        return QSize(size.width(), max(size.height(), rect.height() + 4))


class QtDevicesPanel(QWidget):
    """Device tree (Host, CPUs, GPUs, TensorFlow) above a field/value details pane.

    Signal ``selection_changed(str)`` gives the selected node's key: "host", "cpus", "cpu:0",
    "gpus", "gpu:1", "tensorflow", "tf:/physical_device:CPU:0".
    """

    selection_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, *,
                 events: QtSessionEvents | None = None) -> None:
        super().__init__(parent)
        self.report = PartialReport()
        if events is not None:  # detection fills the tree in as its parts arrive
            events.on(DetectionProgressed, lambda e: self.set_report(e.report), self)
            events.on(DetectionFinished, lambda e: self.set_report(e.report), self)
        self._items: dict[str, QTreeWidgetItem] = {}
        self.tree = QTreeWidget()
        self.tree.setObjectName("devices_tree")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Device", "Summary"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setToolTip("")
        self.tree.setAccessibleName("Devices")
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        # a summary wraps to the column's width rather than ending in "…" on a small screen
        self.tree.setWordWrap(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.tree.setItemDelegate(_WrappingDelegate(self.tree))
        header.sectionResized.connect(lambda *_: self.tree.scheduleDelayedItemsLayout())
        self.details = QTreeWidget()
        self.details.setObjectName("devices_details")
        self.details.setColumnCount(2)
        self.details.setHeaderLabels(["Field", "Value"])
        self.details.setWordWrap(True)
        self.details.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.details.setItemDelegate(_WrappingDelegate(self.details))
        self.details.setAlternatingRowColors(True)
        self.details.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.details.setAccessibleName("Device details")
        self.details.header().setStretchLastSection(True)
        self.details.header().sectionResized.connect(self._on_details_section_resized)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("devices_splitter")
        self.splitter.addWidget(self.tree)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.tree.currentItemChanged.connect(self._on_current_item_changed)
        self._selected_key = "host"
        self._render()

    # -- public API ---------------------------------------------------------------------------
    def set_report(self, report: PartialReport) -> None:
        """Show what detection has found so far (keeps the selection where it can)."""
        self.report = report
        self._render()

    def select(self, key: str) -> bool:
        """Select the node with this key; False when there is none."""
        item = self._find(key)
        if item is None:
            return False
        self.tree.setCurrentItem(item)
        return True

    def selected_key(self) -> str:
        """The selected node's key."""
        return self._selected_key

    def tree_texts(self) -> list[str]:
        """Every text of the tree, both columns, top to bottom (tests and search use it)."""
        out: list[str] = []

        def walk(item: QTreeWidgetItem) -> None:
            for i in range(item.childCount()):
                child = item.child(i)
                if child is not None:
                    out.extend((child.text(0), child.text(1)))
                    walk(child)

        walk(self.tree.invisibleRootItem())
        return out

    def item(self, key: str) -> QTreeWidgetItem | None:
        """The tree item with this key."""
        return self._find(key)

    def details_rows(self) -> list[tuple[str, str]]:
        """(field, value) of every row of the details pane, section titles as (title, "")."""
        out = []
        for i in range(self.details.topLevelItemCount()):
            top = self.details.topLevelItem(i)
            assert top is not None
            out.append((top.text(0), ""))
            for j in range(top.childCount()):
                child = top.child(j)
                if child is not None:
                    out.append((child.text(0), child.text(1)))
        return out

    # -- rendering -----------------------------------------------------------------------------
    def _render(self) -> None:
        r = self.report
        style = self.style()
        self.tree.blockSignals(True)
        self._items = {}
        self.tree.clear()
        host = self._node(None, "host", "Host", "", QStyle.StandardPixmap.SP_ComputerIcon)
        if r.host:
            host.setText(0, f"Host · {r.host.hostname}")
            host.setText(
                1,
                f"{r.host.os_release or r.host.os} · {dd.fmt_bytes(r.host.memory_total_bytes)} RAM",
            )
        else:
            host.setText(1, DETECTING)
            self._mute(host, 1)
        cpus = self._node(None, "cpus", "CPUs", "", QStyle.StandardPixmap.SP_DriveHDIcon)
        if r.cpus is None:
            cpus.setText(1, DETECTING)
            self._mute(cpus, 1)
        else:
            cpus.setText(1, f"{len(r.cpus)} model{'s' if len(r.cpus) != 1 else ''}")
            for i, cpu in enumerate(r.cpus):
                title = cpu.model_name or f"CPU {i}"
                item = self._node(cpus, f"cpu:{i}", title, dd.cpu_summary(cpu))
                item.setToolTip(0, cpu.model_name or "")
            if not r.cpus:
                self._message(cpus, "the CPU could not be read (see the status bar)", "error")
        gpus = self._node(None, "gpus", "GPUs", "", QStyle.StandardPixmap.SP_DriveNetIcon)
        amd_ok = r.amd is not None and r.amd.available
        intel_ok = r.intel is not None and r.intel.available
        intel_ok = intel_ok or (r.apple is not None and r.apple.available)  # or a Mac's GPU
        if r.nvml is None:
            gpus.setText(1, DETECTING)
            self._mute(gpus, 1)
        elif not r.nvml.available and not amd_ok and not intel_ok:
            gpus.setText(1, "none")
            self._message(gpus, r.nvml.message or "NVML unavailable", "muted")
        else:
            gpu_list = r.gpus or ()
            gpus.setText(1, f"{len(gpu_list)} · {self._drivers_text()}")
            if not gpu_list:
                self._message(gpus, "the NVIDIA driver sees no GPUs" if r.nvml.available
                              else "the amdgpu driver shows no GPUs" if amd_ok
                              else "the i915/xe driver shows no GPUs", "muted")
            for g in gpu_list:
                item = self._node(gpus, f"gpu:{g.index}", dd.gpu_title(g), dd.gpu_summary(g))
                if g.error:
                    item.setIcon(0, style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical))
                    item.setToolTip(0, g.error)
                    item.setToolTip(1, g.error)
                    self._tone(item, "error")
                elif g.tensorflow_missing_reason:
                    item.setIcon(0, style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
                    tip = f"Not visible to TensorFlow: {g.tensorflow_missing_reason}"
                    item.setToolTip(0, tip)
                    item.setToolTip(1, tip)
                    self._tone(item, "muted")
        tf_icon = QStyle.StandardPixmap.SP_FileDialogDetailedView
        tf = self._node(None, "tensorflow", "TensorFlow", "", tf_icon)
        if r.tensorflow is None:
            tf.setText(1, "probing…")
            self._mute(tf, 1)
        else:
            tf.setText(1, dd.tensorflow_summary(r.tensorflow))
            if r.tensorflow.status != "ok":
                tf.setIcon(0, style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
                self._message(tf, r.tensorflow.message or r.tensorflow.status, "muted")
            for d in r.tensorflow.devices:
                # "CPU:0": TensorFlow's "/physical_device:" prefix alone would fill a narrow panel
                node = self._node(tf, f"tf:{d.name}", dd.tf_device_short(d.name), d.device_type)
                node.setToolTip(0, d.name)
        self.tree.expandAll()
        self._fit_tree_columns()
        key = self._selected_key if self._find(self._selected_key) else "host"
        self._selected_key = key
        current = self._find(key)
        if current is not None:
            self.tree.setCurrentItem(current)
        self.tree.blockSignals(False)
        self._show_details(key)

    def _drivers_text(self) -> str:
        """The drivers, "driver 550.163.01" on an NVIDIA machine; each named when others are."""
        r = self.report
        nvidia = r.nvml is not None and r.nvml.available
        amd = r.amd is not None and r.amd.available
        intel = r.intel is not None and r.intel.available
        apple = r.apple is not None and r.apple.available
        nv_version = (r.nvml.driver_version if r.nvml else None) or dd.NA
        amd_version = (r.amd.driver_version if r.amd else None) or dd.NA
        if nvidia and not amd and not intel and not apple:
            return f"driver {nv_version}"
        parts = []
        if nvidia:
            parts.append(f"NVIDIA driver {nv_version}")
        if amd:
            parts.append(f"amdgpu {amd_version}")
        if intel and r.intel is not None:
            parts.append(" + ".join(r.intel.drivers) or "Intel driver")
        if apple and r.apple is not None:
            parts.append(r.apple.chip or "Apple GPU")
        return " · ".join(parts)

    def _node(
        self,
        parent: QTreeWidgetItem | None,
        key: str,
        title: str,
        summary: str,
        icon: QStyle.StandardPixmap | None = None,
    ) -> QTreeWidgetItem:
        item = QTreeWidgetItem([title, summary])
        item.setData(0, KEY_ROLE, key)
        self._items[key] = item
        if icon is not None:
            item.setIcon(0, self.style().standardIcon(icon))
        if parent is None:
            self.tree.addTopLevelItem(item)
            font = QFont(item.font(0))
            font.setBold(True)
            item.setFont(0, font)
            item.setToolTip(0, NODE_HELP.get(key, ""))
        else:
            parent.addChild(item)
            item.setToolTip(1, summary)
        return item

    def _message(self, parent: QTreeWidgetItem, text: str, tone: dd.Tone) -> None:
        """A one-line explanation under a node (no NVIDIA driver, probe failed...)."""
        item = QTreeWidgetItem([text, ""])
        item.setData(0, KEY_ROLE, parent.data(0, KEY_ROLE))
        item.setFirstColumnSpanned(True)
        item.setToolTip(0, text)
        font = QFont(item.font(0))
        font.setItalic(True)
        item.setFont(0, font)
        parent.addChild(item)
        item.setFirstColumnSpanned(True)
        self._tone(item, tone)

    def _brush(self, tone: dd.Tone) -> QBrush | None:
        pal = self.palette()
        if tone == "muted":
            # halfway between text and background: readable, yet clearly secondary
            text, base = pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base)
            return QBrush(
                QColor(
                    (text.red() * 11 + base.red() * 9) // 20,
                    (text.green() * 11 + base.green() * 9) // 20,
                    (text.blue() * 11 + base.blue() * 9) // 20,
                )
            )
        if tone == "warning":
            dark = pal.color(QPalette.ColorRole.Base).lightness() < 128
            return QBrush(QColor(0xE0, 0xB0, 0x40) if dark else QColor(0x9A, 0x67, 0x00))
        if tone == "error":
            dark = pal.color(QPalette.ColorRole.Base).lightness() < 128
            return QBrush(pal.color(QPalette.ColorRole.BrightText) if dark else Qt.GlobalColor.red)
        return None

    def _tone(self, item: QTreeWidgetItem, tone: dd.Tone) -> None:
        brush = self._brush(tone)
        if brush is not None:
            for col in range(item.columnCount() or 2):
                item.setForeground(col, brush)

    def _mute(self, item: QTreeWidgetItem, column: int) -> None:
        brush = self._brush("muted")
        assert brush is not None
        item.setForeground(column, brush)

    def _find(self, key: str) -> QTreeWidgetItem | None:
        # from our own table: items taken from a QTreeWidgetItemIterator and kept across a
        # clear() crash PySide6 6.11
        return self._items.get(key)

    def _sections(self, key: str) -> list[dd.Section]:
        r = self.report
        waiting = [dd.Section("", (dd.row("Status", DETECTING, "muted", help=""),))]
        if key == "host":
            return dd.host_sections(r.host) if r.host else waiting
        if key == "cpus" or key.startswith("cpu:"):
            if r.cpus is None:
                return waiting
            index = int(key.split(":")[1]) if ":" in key else 0
            if index < len(r.cpus):
                return dd.cpu_sections(r.cpus[index])
            return [dd.Section("CPU", (dd.row("Error", "the CPU could not be read", "error"),))]
        if key == "gpus":
            if r.nvml is None:
                return waiting
            sections = dd.nvml_sections(r.nvml, r.gpus or ())
            if r.amd is not None:
                sections += dd.amd_sections(r.amd, r.gpus or ())
            if r.intel is not None:
                sections += dd.intel_sections(r.intel, r.gpus or ())
            if r.apple is not None and r.apple.available:
                sections += dd.apple_sections(r.apple)
            return sections
        if key.startswith("gpu:"):
            gpu = next((g for g in r.gpus or () if f"gpu:{g.index}" == key), None)
            return dd.gpu_sections(gpu) if gpu else waiting
        if key == "tensorflow":
            return dd.tensorflow_sections(r.tensorflow) if r.tensorflow else waiting
        if key.startswith("tf:") and r.tensorflow:
            dev = next((d for d in r.tensorflow.devices if f"tf:{d.name}" == key), None)
            if dev:
                return dd.tf_device_sections(dev)
        return waiting

    def _show_details(self, key: str) -> None:
        self.details.clear()
        bold = QFont(self.details.font())
        bold.setBold(True)
        for section in self._sections(key):
            top = QTreeWidgetItem([section.title, ""])
            top.setFont(0, bold)
            top.setFirstColumnSpanned(True)
            self.details.addTopLevelItem(top)
            top.setFirstColumnSpanned(True)
            for r in section.rows:
                child = QTreeWidgetItem([r.field, r.value])
                child.setToolTip(0, r.help)
                child.setToolTip(1, f"{r.help}\n\n{r.value}" if r.help else r.value)
                top.addChild(child)
                self._tone(child, r.tone) if r.tone != "normal" else None
            top.setExpanded(section.expanded)
        self.details.resizeColumnToContents(0)
        self.details.setColumnWidth(0, min(self.details.columnWidth(0) + 16, 240))

    # -- slots -----------------------------------------------------------------------------------
    def _on_current_item_changed(
        self, current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None
    ) -> None:
        if current is None:
            return
        key = str(current.data(0, KEY_ROLE))
        self._selected_key = key
        self._show_details(key)
        self.selection_changed.emit(key)

    def _on_details_section_resized(self, *_: object) -> None:
        # wrapped rows need their heights recomputed for the new column width
        self.details.scheduleDelayedItemsLayout()

    def changeEvent(self, event: QEvent) -> None:
        """Re-colour muted and warning rows when the theme changes."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._render()

    def _fit_tree_columns(self) -> None:
        # the names column takes what it needs, up to 45% of the tree: the summaries keep room
        self.tree.resizeColumnToContents(0)
        room = int(self.tree.viewport().width() * 0.45)
        self.tree.setColumnWidth(0, max(120, min(self.tree.columnWidth(0) + 12, 360, room)))
        self.tree.scheduleDelayedItemsLayout()

    def resizeEvent(self, event: object) -> None:  # noqa: D102 - Qt override
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit_tree_columns()
        self.details.scheduleDelayedItemsLayout()
