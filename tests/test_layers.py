"""The rooms of ARCHITECTURE.md: each imports only rooms below it; Qt only in desktop/ui (and
the PDF writer, which lays out with Qt on demand); everything else imports and works with
PySide6 unavailable."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO

QT_ALLOWED = {Path("desktop/report/pdf.py")}
HEADLESS_PACKAGES = ["desktop.engine.engine", "desktop.scan.job", "desktop.scan.start",
                     "desktop.storage.database", "desktop.gallery.imports", "desktop.match.hits",
                     "desktop.review.queue", "desktop.review.overview", "desktop.report.export",
                     "desktop.settings", "desktop.cli"]

# Top to bottom: a room imports only rooms in later layers, never one beside or above it.
# As ARCHITECTURE.md orders them, except where today's code is known to differ: cli starts the
# GUI (cli/gui_cmd.py), and the scan job ranks its faces itself (scan/job.py -> match.hits), so
# match sits below scan. Every module directly under desktop/ must have a place.
LAYERS = [{"__main__"}, {"cli"}, {"ui"}, {"demo", "settings"}, {"report", "cluster"}, {"review"}, {"scan"},
          {"match", "people"}, {"gallery", "hashsets"}, {"engine", "media"}, {"hashing"}, {"sources"},
          {"packs"}, {"storage"}, {"logfile"}, {"errors", "fileio", "userdirs"}]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _room(module: str) -> str:
    return module.split(".")[1]


def test_every_room_imports_only_rooms_below_it():
    layer_of = {room: depth for depth, rooms in enumerate(LAYERS) for room in rooms}
    offenders = []
    for path in sorted((REPO / "desktop").rglob("*.py")):
        relative = path.relative_to(REPO)
        room = relative.parts[1].removesuffix(".py")
        if room == "__init__":
            continue
        if room not in layer_of:
            offenders.append(f"{relative}: the room {room!r} has no place in LAYERS")
            continue
        for name in sorted(_imports(path)):
            if not name.startswith("desktop.") or _room(name) == room:
                continue
            if layer_of.get(_room(name), -1) <= layer_of[room]:
                offenders.append(f"{relative} imports {name}")
    assert offenders == []


def test_qt_is_imported_only_by_the_ui_package():
    offenders = []
    for path in sorted((REPO / "desktop").rglob("*.py")):
        relative = path.relative_to(REPO)
        if relative.parts[:2] == ("desktop", "ui") or relative in QT_ALLOWED:
            continue
        if any(name.split(".")[0] == "PySide6" for name in _imports(path)):
            offenders.append(str(relative))
    assert offenders == []


def test_no_service_imports_the_ui():
    offenders = [str(p.relative_to(REPO)) for p in sorted((REPO / "desktop").rglob("*.py"))
                 if p.relative_to(REPO).parts[:2] not in (("desktop", "ui"), ("desktop", "cli"))
                 and any(n.startswith("desktop.ui") for n in _imports(p))]
    assert offenders == []


def test_the_services_import_with_pyside6_blocked():
    code = ("import sys; sys.modules['PySide6'] = None\n"
            + "".join(f"import {name}\n" for name in HEADLESS_PACKAGES)
            + "assert not any(m.startswith('PySide6.') for m in sys.modules)\nprint('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
