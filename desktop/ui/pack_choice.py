"""A combo box of the model packs a scan or an enrolment can use; "default" first."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QWidget

from desktop.engine.pack_store import default_pack_id, usable_pack_ids

DEFAULT = "(default)"


class PackChoice(QComboBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.refresh()

    def refresh(self, selected: str | None = None) -> None:
        current = selected if selected is not None else self.pack_id()
        self.clear()
        self.addItem(f"{DEFAULT} {default_pack_id()}", None)
        for pack_id in usable_pack_ids():
            self.addItem(pack_id, pack_id)
        index = self.findData(current)
        self.setCurrentIndex(max(index, 0))

    def pack_id(self) -> str | None:
        """None means the default pack."""
        return self.currentData()
