"""A combo box of the model packs a scan or an enrolment can use; "default" first. Where a
gallery is chosen, packs it has no embeddings for are marked and cannot be picked: a case
scanned with one would fail at its first match."""

from __future__ import annotations

from collections import Counter

from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QWidget

from desktop.engine.pack_store import default_pack_id, usable_pack_ids
from desktop.gallery.gallery import Gallery

DEFAULT = "(default)"
NO_EMBEDDINGS = "no gallery embeddings: reindex first"


def gallery_packs(gallery: Gallery) -> Counter[str]:
    """Reference photos embedded, by pack id."""
    return Counter(pack for photo in gallery.photos() for pack in photo["packs"])


class PackChoice(QComboBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.embedded: Counter[str] | None = None  # None: no gallery to check against
        self.refresh()

    def refresh(self, selected: str | None = None) -> None:
        current = selected if selected is not None else self.pack_id()
        self.clear()
        default = default_pack_id()
        self.addItem(f"{DEFAULT} {default}", None)
        for pack_id in usable_pack_ids():
            self.addItem(pack_id, pack_id)
        model = self.model()
        assert isinstance(model, QStandardItemModel)
        for row in range(self.count()):
            pack_id = self.itemData(row) or default
            if self.embedded is not None and not self.embedded[pack_id]:
                self.setItemText(row, f"{self.itemText(row)} — {NO_EMBEDDINGS}")
                model.item(row).setEnabled(False)
        index = self.findData(current)
        if index < 0 or not model.item(index).isEnabled():
            index = next((r for r in range(self.count()) if model.item(r).isEnabled()), 0)
        self.setCurrentIndex(index)

    def check_against(self, embedded: Counter[str] | None) -> None:
        """Mark the packs a gallery has no embeddings for (None: no gallery chosen)."""
        self.embedded = embedded
        self.refresh()

    def pack_id(self) -> str | None:
        """None means the default pack."""
        return self.currentData()
