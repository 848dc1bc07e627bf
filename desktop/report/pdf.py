"""The report as a PDF, laid out by Qt without a browser.

This is the one module outside desktop/ui allowed to import Qt: QTextDocument lays out the
same HTML as the HTML report and QPdfWriter prints it, so both formats say the same thing.
With no GUI running (the command line) it starts a QGuiApplication on the "offscreen"
platform. Images are registered as document resources under local names rather than data:
URIs, so no loader ever needs to interpret a URL.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from desktop.report.collect import ReportData, ReportError
from desktop.report.html import render_html

log = logging.getLogger(__name__)

DPI = 300


_app: object = None  # a QGuiApplication this module had to start; lives as long as the process


def _ensure_application() -> None:
    global _app
    if "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is None:
        _app = QGuiApplication([])


def render_pdf(data: ReportData) -> bytes:
    """The PDF file's bytes (A4, 300 dpi)."""
    _ensure_application()
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QUrl
    from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPdfWriter, QTextDocument

    images: dict[str, QImage] = {}

    def resource(path: Path) -> str | None:
        image = QImage(str(path))
        if image.isNull():
            log.warning("image %s not embedded in the PDF: unreadable", path)
            return None
        name = f"homeward-image-{len(images)}"
        images[name] = image
        return name

    text = render_html(data, resource)
    document = QTextDocument()
    for name, image in images.items():
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
    document.setHtml(text)
    output = QByteArray()
    buffer = QBuffer(output)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setResolution(DPI)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter)
    writer.setTitle(f"Homeward report {data.info.case_number}")
    writer.setCreator("Homeward")
    document.print_(writer)
    del writer
    buffer.close()
    pdf = bytes(output.data())
    if not pdf.startswith(b"%PDF"):
        raise ReportError("Qt did not produce a PDF.", "QPdfWriter wrote no data")
    return pdf
