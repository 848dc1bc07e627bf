"""Text from users and evidence (names, aliases, notes, case numbers, reviewers, paths) is
shown as typed, never as markup.

Qt guesses: a label, message box or tooltip whose text looks like HTML is rendered as rich
text, so a person named `<b>x</b><img src="/local.png">` would show bold and load a local
file. Labels and message boxes showing such text are made plain here; where our own markup
surrounds user text, the user text is escaped; tooltips are converted to escaped rich text.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox


def plain_label(text: str = "", *, wrap: bool = False) -> QLabel:
    """A label that shows its text as typed, whatever that text looks like."""
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    label.setText(text)
    return label


def plain_box(box: QMessageBox) -> QMessageBox:
    """The message box's text and informative text shown as typed."""
    box.setTextFormat(Qt.TextFormat.PlainText)
    return box


def markup(text: object) -> str:
    """User text placed inside our own rich text: escaped, so it can only be text."""
    return escape(str(text), quote=False)


def plain_tooltip(text: str) -> str:
    """A tooltip showing `text` as typed, spaces and line breaks kept (tooltips guess rich
    text as labels do, and have no plain-text setting)."""
    return f'<p style="white-space:pre-wrap">{markup(text)}</p>'
