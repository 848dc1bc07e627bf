"""Cases: create a case, open one (or a recent one, listed by case number), see its data
and where it stands, and browse and verify its audit trail."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
)

from desktop.engine.pack_store import default_pack_id, resolve_pack
from desktop.errors import HomewardError
from desktop.gallery.gallery import Gallery
from desktop.review.overview import case_overview
from desktop.scan.case import DB_NAME, CaseError
from desktop.scan.sources import CaseSource, case_sources, verification_words
from desktop.scan.start import ScanRequest, case_exists, open_case_for
from desktop.ui.audit_browser import AuditBrowser
from desktop.ui.dialogs import attempt
from desktop.ui.pack_choice import NO_EMBEDDINGS, PackChoice, gallery_packs
from desktop.ui.pages.base import Page, ScreenshotView
from desktop.ui.path_field import PathField
from desktop.ui.plain import markup, plain_label, plain_tooltip
from desktop.ui.settings_dialog import NO_THRESHOLD, threshold_box, threshold_value
from desktop.ui.source_list import KIND_NAMES, SourceList


class CasesPage(Page):
    title = "Cases"

    def __init__(self, state, tasks) -> None:
        super().__init__(state, tasks)
        open_button = QPushButton("Open case folder…")
        open_button.clicked.connect(self.choose_case)
        self.recent = QListWidget()
        self.recent.setObjectName("recentCases")
        self.recent.itemActivated.connect(lambda item: self.open_case(Path(item.data(
            Qt.ItemDataRole.UserRole))))
        left = QVBoxLayout()
        left.addWidget(open_button)
        left.addWidget(QLabel("Recent cases (Enter opens):"))
        left.addWidget(self.recent, 1)
        left.addWidget(self._new_case_form())
        self.details = QTextBrowser()
        self.details.setObjectName("caseDetails")
        self.audit_button = QPushButton("Audit trail…")
        self.audit_button.setToolTip("Browse the case's audit trail and verify it")
        self.audit_button.clicked.connect(self.open_audit_trail)
        right = QVBoxLayout()
        right.addWidget(self.details, 1)
        right.addWidget(self.audit_button, 0, Qt.AlignmentFlag.AlignRight)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 2)
        layout.addLayout(right, 3)
        state.case_changed.connect(self.activated)
        state.settings_changed.connect(self._show_recent)
        state.settings_changed.connect(self._new_case_defaults)
        state.packs_changed.connect(self._new_case_defaults)
        state.gallery_changed.connect(self._show_gallery_packs)
        state.decisions_changed.connect(self.activated)
        state.hits_changed.connect(self.activated)
        self._new_case_defaults()
        self.activated()

    def _new_case_form(self) -> QGroupBox:
        box = QGroupBox("New case")
        form = QFormLayout(box)
        self.new_folder = PathField("folder", "Case folder (new or empty)")
        self.new_number = QLineEdit()
        self.new_examiner = QLineEdit()
        self.new_source = SourceList()  # folders and containers, only ever read
        self.new_gallery = PathField("open", "Gallery file", "Gallery (*.db)")
        self.new_gallery.edit.textChanged.connect(self._show_gallery_packs)
        self.new_pack = PackChoice()
        self.gallery_packs = plain_label(wrap=True)  # pack ids, or why the gallery cannot be read
        self.gallery_packs.setObjectName("galleryPacks")
        self.new_threshold = threshold_box()
        self.new_fps = QDoubleSpinBox()
        self.new_fps.setRange(0.1, 60.0)
        create = QPushButton("Create case")
        create.clicked.connect(self.create_case)
        for label, widget in (("Folder", self.new_folder), ("Case number", self.new_number),
                              ("Examiner", self.new_examiner), ("Sources", self.new_source),
                              ("Gallery", self.new_gallery),
                              ("Gallery embedded with", self.gallery_packs),
                              ("Model pack", self.new_pack),
                              ("Match threshold", self.new_threshold),
                              ("Video frames/s", self.new_fps)):
            form.addRow(label, widget)
        form.addRow(create)
        return box

    def activated(self) -> None:
        self._show_recent()
        if self.state.gallery is not None and not self.new_gallery.path():
            self.new_gallery.set_path(self.state.gallery.path)
        if not self.new_examiner.text():
            self.new_examiner.setText(self.state.settings.reviewer)
        self._show_case()

    def _new_case_defaults(self) -> None:
        """Settings give the new-case form its pack, threshold and frame rate."""
        settings = self.state.settings
        self.new_pack.refresh(settings.default_pack or self.new_pack.pack_id())
        self.new_threshold.setValue(NO_THRESHOLD if settings.match_threshold is None
                                    else settings.match_threshold)
        self.new_fps.setValue(settings.fps)

    def _show_gallery_packs(self) -> None:
        """Which packs the chosen gallery has embeddings for; the others are marked in the
        pack list and cannot be chosen (a scan with one would fail at its first match)."""
        path = self.new_gallery.path()
        if path is None or not path.is_file():
            self.gallery_packs.setText("—")
            self.new_pack.check_against(None)
            return
        open_now = self.state.gallery
        try:
            gallery = open_now if open_now is not None and Path(
                open_now.path).resolve() == path.resolve() else Gallery.open(path)
        except (HomewardError, OSError, sqlite3.Error) as exc:
            self.gallery_packs.setText(f"cannot be read: {getattr(exc, 'message', exc)}")
            self.new_pack.check_against(None)
            return
        try:
            counts = gallery_packs(gallery)
            empty = not gallery.persons()
        finally:
            if gallery is not open_now:
                gallery.close()
        if empty:  # nothing to match yet: every pack will do
            self.gallery_packs.setText("no persons yet")
            self.new_pack.check_against(None)
            return
        self.gallery_packs.setText(", ".join(f"{pack} ({n} photos)" for pack, n in
                                             sorted(counts.items())) or f"none — {NO_EMBEDDINGS}")
        self.new_pack.check_against(counts)

    def _show_recent(self) -> None:
        """Each recent case by its case number, its folder as the second line and tooltip."""
        self.recent.clear()
        for folder in self.state.settings.recent_cases:
            number = recent_case_number(Path(folder))
            item = QListWidgetItem(f"{number}\n{folder}" if number else f"{folder}  (missing)")
            item.setData(Qt.ItemDataRole.UserRole, folder)
            item.setToolTip(plain_tooltip(folder))
            if number is None:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.recent.addItem(item)

    def choose_case(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open case folder")
        if folder:
            self.open_case(Path(folder))

    def open_case(self, folder: Path) -> None:
        attempt(self, lambda: self.state.open_case(folder))

    def create_case(self) -> None:
        """The same path as `homeward scan` takes for a new case folder; every source named is
        recorded in the case at once, so the first scan reads them all."""
        def create() -> None:
            folder, sources, gallery = (self.new_folder.path(), self.new_source.paths(),
                                        self.new_gallery.path())
            examiner = self.new_examiner.text().strip()
            missing = [name for name, value in (("case folder", folder), ("source", sources),
                                                ("gallery", gallery), ("examiner", examiner))
                       if not value]
            if missing:
                raise CaseError(f"A new case needs: {', '.join(missing)}.")
            request = ScanRequest(
                sources=sources, case_dir=folder, gallery=gallery,
                examiner=examiner, pack=self.new_pack.pack_id(),
                fps=self.new_fps.value(), threshold=threshold_value(self.new_threshold),
                case_number=self.new_number.text().strip() or None)
            if case_exists(folder):
                raise CaseError(f"{folder} already holds a case; open it instead.")
            embedded = self.new_pack.embedded
            pack_id = request.pack or default_pack_id()
            if embedded is not None and not embedded[pack_id]:
                raise CaseError(f"The gallery has no embeddings for pack '{pack_id}'.",
                                "choose a pack it has embeddings for, or embed its photos with "
                                "this one first (Tools ▸ Reindex gallery for a pack…)")
            open_case_for(request, resolve_pack(request.pack)).close()
            self.state.open_case(folder)
        attempt(self, create)

    def _show_case(self) -> None:
        case = self.state.case
        if case is None:
            self.details.setHtml("<h2>No case open</h2><p>Open a case folder, pick a recent "
                                 "case, or create a new case on the left.</p>")
            return
        overview = case_overview(case)
        rows = "".join(f"<tr><th align=left>{k.replace('_', ' ')}</th><td>{_text(v)}</td></tr>"
                       for k, v in asdict(overview.info).items())
        files = ", ".join(f"{k}: {v}" for k, v in overview.files_by_status.items()) or "none yet"
        verdicts = ", ".join(f"{k}: {v}" for k, v in overview.verdicts.items())
        scans = "".join(f"<li>scan {s['id']}: {_text(s['status'])}, {_text(s['started_at'])} → "
                        f"{_text(s['finished_at'] or '…')}</li>" for s in overview.scans)
        resume = ("<p><b>The last scan did not finish; start it again on the Scan page to "
                  "resume.</b></p>" if overview.last_scan_interrupted else "")
        self.details.setHtml(
            f"<h2>Case {_text(overview.info.case_number)}</h2><p>{_text(case.folder)}</p>"
            f"<table cellspacing=4>{rows}</table>{resume}<h3>Where it stands</h3>"
            f"<p>Files — {files}<br>Faces: {overview.faces} ({overview.tracks} video tracks)"
            f"<br>Hits: {overview.hits} — {verdicts}</p><h3>Sources</h3>"
            f"{_sources_html(case_sources(case.db))}<h3>Scans</h3><ul>{scans}</ul>"
            f"<h3>Reports exported</h3><ul>" + "".join(
                f"<li>{_text(e['at'])} {_text(e['format'])} by {_text(e['actor'])}: "
                f"{_text(e['out'])}</li>" for e in overview.exports) + "</ul>")

    def open_audit_trail(self) -> AuditBrowser | None:
        if self.state.case is None:
            return None
        browser = AuditBrowser(self.state.case, self)
        browser.open()
        return browser

    def screenshot_views(self) -> list[ScreenshotView]:
        return [ScreenshotView("audit-trail", self.open_audit_trail)] if self.state.case else []


def recent_case_number(folder: Path) -> str | None:
    """The case number recorded in a case folder, read without opening the case for work
    (listing must not upgrade or lock it); None when there is no readable case there."""
    if not case_exists(folder):
        return None
    try:
        with closing(sqlite3.connect(f"{(folder / DB_NAME).resolve().as_uri()}?mode=ro",
                                     uri=True)) as db:
            row = db.execute("SELECT value FROM case_info WHERE key = 'case_number'").fetchone()
    except sqlite3.Error:
        return None
    return str(json.loads(row[0])) if row else None


def _sources_html(sources: list[CaseSource]) -> str:
    """Each source with its kind, path and container hashes in full (to compare with the
    acquisition paperwork), and an E01's verification in words; user text escaped."""
    if not sources:
        return "<p>None recorded yet: the first scan records the case's source.</p>"
    rows = []
    for source in sources:
        kind = source.format or KIND_NAMES.get(source.kind, source.kind)
        if source.sha256:
            hashes = f"SHA-256 <tt>{_text(source.sha256)}</tt><br>MD5 <tt>{_text(source.md5)}</tt>"
        elif source.kind == "folder":
            hashes = "a folder: each of its files is hashed, not the folder"
        else:
            hashes = "not hashed yet: the next scan hashes it"
        lines = [_text(kind), _text(source.path), hashes]
        if source.kind == "e01":
            lines.append(_text(verification_words(source.details)))
        lines += [f"problem: {_text(p)}" for p in source.details.get("problems", [])]
        rows.append(f"<tr><th align=left valign=top>{_text(source.label)}</th>"
                    f"<td>{'<br>'.join(lines)}</td></tr>")
    return f"<table cellspacing=4>{''.join(rows)}</table>"


def _text(value: object) -> str:
    """A case value (examiner, case number, paths: typed by users) as text inside our HTML."""
    if isinstance(value, dict):
        return "<br>".join(f"{markup(k)}: {markup(v)}" for k, v in value.items())
    return markup(value)
