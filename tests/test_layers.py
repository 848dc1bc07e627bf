"""The rooms of ARCHITECTURE.md: Qt only in desktop/ui (and the PDF writer, which lays out
with Qt on demand); everything else imports and works with PySide6 unavailable."""

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


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


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
