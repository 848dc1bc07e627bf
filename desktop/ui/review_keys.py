"""Single-key commands for the review page, caught by an event filter on the widgets that
take no text (the hit list, the candidates, the context image).

An event filter rather than QShortcuts: a letter shortcut would have to be kept from firing
while the reviewer types a note, and the filter acts only where it is installed, whatever
window is active (offscreen tests included).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent

Key = tuple[Qt.Key, Qt.KeyboardModifier]
PLAIN = Qt.KeyboardModifier.NoModifier


class KeyCommands(QObject):
    def __init__(self, commands: dict[Key, Callable[[], None]],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.commands = commands

    def watch(self, *widgets: QObject) -> None:
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        key = Qt.Key(event.key())
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        command = self.commands.get((key, modifiers))
        if command is None and modifiers == Qt.KeyboardModifier.ShiftModifier:
            command = self.commands.get((key, PLAIN))  # '+' is Shift+= on many layouts
        if command is None:
            return False
        command()
        return True


# Every key of the Review page, as the F1 sheet lists it (the page binds the same keys).
REVIEW_KEYS = (
    ("J / Down", "next hit"), ("K / Up", "previous hit"),
    ("Home / End", "first / last hit"), ("PgUp / PgDn", "a page up / down"),
    ("Shift+arrows, Shift+click", "select a range of hits"),
    ("Ctrl+click, Ctrl+Space", "add a hit to the selection, or take it out"),
    ("C", "confirm the selected hit(s)"), ("R", "reject the selected hit(s)"),
    ("U", "mark the selected hit(s) unsure"),
    ("N", "type a note for the next decision (Enter returns to the list)"),
    ("T", "give the selected hit's verdict and note to every hit of its video track"),
    ("Ctrl+Z", "undo the last decision made here (recorded, audited)"),
    ("G", "switch between the table and the grid of faces"),
    ("Ctrl+F", "the filters (Escape returns to the list)"),
    ("+ / - / 0", "zoom the context image in / out / fit"),
    ("Header click", "sort by that column (again: reverse; a third time: queue order)"),
    ("F1", "this sheet"),
)
