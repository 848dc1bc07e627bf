"""What a reviewer reads about one hit: where the evidence is (paths, hashes, frame and time),
how strong the match is, its warnings, its decision history, and the face-centred view: every
candidate person of the probe face, ranked, the shown one marked (choosing one jumps to that
hit); and the bar where a decision is made."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.match.hits import SAME_PERSON_TWICE
from desktop.review.calibrated import fmr_text
from desktop.review.decisions import VERDICTS, Decision
from desktop.ui.hits_model import STATUS_COLORS, when
from desktop.ui.plain import markup

HIT_ID_ROLE = Qt.ItemDataRole.UserRole
FLAG_TEXTS = {SAME_PERSON_TWICE: "same person twice in this image: at most one can be right"}
HASHES = ("SHA-256", "MD5")
FIELDS = ("Status", "Match", "Person", "Candidates", "Flags", "Known file", "File", "Also at",
          "Copies", "Video time", "Kind", "SHA-256", "MD5",
          "History")  # what decides first, then where the evidence is


def status_text(item: dict) -> str:
    if item["status"] == "pending":
        return "pending (no decision yet)"
    note = f" — “{item['note']}”" if item.get("note") else ""
    color = STATUS_COLORS.get(item["status"], "#000")
    return (f"<b style='color:{color}'>{markup(item['status'])}</b> by "
            f"{markup(item['reviewer'] or '?')} at {_time(item['decided_at'])}{markup(note)}")


def history_text(decisions: list[Decision]) -> str:
    if not decisions:
        return "—"
    return "<br>".join(
        ("<s>" if d.withdrawn else "")
        + f"{_time(d.decided_at)} · {markup(d.verdict)} by {markup(d.reviewer)}"
        + (f" — “{markup(d.note)}”" if d.note else "")
        + ("</s> (undone)" if d.withdrawn else "") for d in decisions)


def _time(stamp: str | None) -> str:
    """'2026-11-24 23:01:19 UTC' from the stored ISO time (always UTC)."""
    return f"{stamp[:19].replace('T', ' ')} UTC" if stamp else "?"


class HitDetails(QWidget):
    candidate_chosen = Signal(int)  # hit id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        details = QWidget()
        form = QFormLayout(details)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: dict[str, QLabel] = {}
        self.hashes: dict[str, QLineEdit] = {}
        self.candidates = QListWidget()
        self.candidates.setObjectName("candidates")
        self.candidates.setToolTip("Every candidate person of this face, best rank first; ▶ is "
                                   "the one shown. Enter or a click: go to that hit")
        self.candidates.setMaximumHeight(84)
        for chosen in (self.candidates.itemActivated, self.candidates.itemClicked):
            chosen.connect(self._chosen)
        for name in FIELDS:
            if name == "Candidates":
                field: QWidget = self.candidates
            elif name in HASHES:  # one line that scrolls and copies whole, never wrapped
                field = QLineEdit()
                field.setReadOnly(True)
                field.setFrame(False)
                field.setStyleSheet("font-family: monospace; background: transparent;")
                field.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
                self.hashes[name] = field
            else:
                field = QLabel()
                field.setWordWrap(True)
                field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                self.fields[name] = field
            if field is not self.candidates:
                field.setObjectName(f"detail_{name.replace(' ', '_').replace('-', '')}")
            form.addRow(name, field)
        self.fields["Flags"].setStyleSheet("color: #b06000;")
        self.fields["Known file"].setStyleSheet("color: #b00000;")
        scroll = QScrollArea()  # a long history scrolls; the faces above keep their size
        scroll.setWidget(details)
        scroll.setWidgetResizable(True)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.clear()

    def _chosen(self, entry: QListWidgetItem) -> None:
        hit_id = entry.data(HIT_ID_ROLE)
        if hit_id is not None:  # not the "none" line
            self.candidate_chosen.emit(int(hit_id))

    def clear(self) -> None:
        for widget in (*self.fields.values(), *self.hashes.values()):
            widget.setText("")
        self.candidates.clear()

    def show_hit(self, item: dict, decisions: list[Decision],
                 status_of: Callable[[int], str | None]) -> None:
        """The hit's facts; `status_of(hit_id)` gives a rival hit's status (None: unknown)."""
        paths = item.get("locations") or item.get("paths") or []
        copies = item.get("near_duplicates") or []
        video = item.get("timestamp") is not None
        values = {
            "File": paths[0] if paths else "(no path recorded)",
            "Also at": "\n".join(paths[1:]) or "—",
            "Known file": "\n".join(item.get("known") or ()) or "—",
            "Copies": (f"{len(copies)} resized or recompressed "
                       f"{'copy' if len(copies) == 1 else 'copies'} of this image:\n"
                       + "\n".join(f"{c['paths'][0] if c['paths'] else c['sha256']} "
                                    f"({c['distance']} bits apart)" for c in copies)
                       if copies else "—"),
            "Kind": item["kind"] + (f" · track {item['track_id']}" if item.get("track_id") else ""),
            "Video time": when(item) if video else "—",
            "Match": f"score {item['score']:.3f} ({fmr_text(item.get('fmr_estimate'))}) · rank "
                     f"{item['rank']} · threshold {item['threshold']:.3f} · pack {item['pack_id']}",
            "Person": f"{item['person_name']} (gallery id {item['person_id']})",
            "Flags": "; ".join(FLAG_TEXTS.get(f, f) for f in item.get("flags") or ()) or "—",
        }
        for name in HASHES:
            self.hashes[name].setText(item[name.replace("-", "").lower()])
            self.hashes[name].setCursorPosition(0)
        for name, value in values.items():
            self.fields[name].setTextFormat(Qt.TextFormat.PlainText)
            self.fields[name].setText(value)
        self.fields["Status"].setTextFormat(Qt.TextFormat.RichText)
        self.fields["Status"].setText(status_text(item))
        self.fields["History"].setTextFormat(Qt.TextFormat.RichText)
        self.fields["History"].setText(history_text(decisions))
        self.candidates.clear()
        everyone = sorted([*(item.get("other_candidates") or ()), item], key=lambda c: c["rank"])
        for candidate in everyone:
            shown = candidate["hit_id"] == item["hit_id"]
            status = item["status"] if shown else status_of(candidate["hit_id"]) or "?"
            entry = QListWidgetItem(f"{'▶' if shown else ' '} #{candidate['rank']}  "
                                    f"{candidate['person_name']}  {candidate['score']:.3f}  · {status}")
            entry.setData(HIT_ID_ROLE, candidate["hit_id"])
            self.candidates.addItem(entry)
            if shown:
                self.candidates.setCurrentRow(self.candidates.count() - 1)


class DecisionBar(QWidget):
    """The note for the next decision, the reviewer's name and a button per verdict (for
    the mouse; the keys do the same). The buttons take no focus: the list keeps the keys."""

    verdict = Signal(str)
    track = Signal()
    undo = Signal()
    done_typing = Signal()  # Enter in the note or the name: back to the list

    def __init__(self, reviewer: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reviewer = QLineEdit(reviewer)
        self.reviewer.setObjectName("reviewer")
        self.reviewer.setPlaceholderText("your name")
        self.reviewer.setMinimumWidth(120)  # a name stays readable beside the buttons
        self.reviewer.setToolTip("Recorded with every decision; kept in the settings")
        self.note = QLineEdit()
        self.note.setObjectName("note")
        self.note.setPlaceholderText("N: a note for the next decision; Enter returns to the list")
        for field in (self.reviewer, self.note):
            field.returnPressed.connect(self.done_typing)
        note_row = QHBoxLayout()
        note_row.addWidget(QLabel("Note"))
        note_row.addWidget(self.note, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Reviewer"))
        buttons.addWidget(self.reviewer, 1)
        for text, verdict in (("Confirm (C)", "confirm"), ("Reject (R)", "reject"),
                              ("Unsure (U)", "unsure"), ("Track (T)", None),
                              ("Undo (Ctrl+Z)", "undo")):
            button = QPushButton(text)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            if verdict == "undo":
                button.setToolTip("Undo the last decision made here: recorded and audited")
                button.clicked.connect(self.undo)
            elif verdict is None:
                button.setToolTip("This hit's verdict and note for every hit of its video track")
                button.clicked.connect(self.track)
            else:
                button.clicked.connect(lambda _=False, v=verdict: self.verdict.emit(v))
            (buttons if verdict in VERDICTS else note_row).addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(note_row)
        layout.addLayout(buttons)
