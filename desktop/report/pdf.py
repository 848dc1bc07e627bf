"""The report as a PDF, laid out by Qt without a browser.

This is the one module outside desktop/ui allowed to import Qt: QTextDocument lays out the
same HTML blocks as the HTML report and QPdfWriter prints them, so both formats say the same
thing. Qt's own pagination cannot keep a block together (it left every hit's heading alone at
the foot of a page), so this module places the blocks itself: one that does not fit in what
is left of a page starts the next page, and a section heading moves with its first entry. Only
a block taller than a whole page (a content found at hundreds of paths) is split, by Qt, at
line boundaries. Every page ends with a footer naming the case, the page and the audit head.

With no GUI running (the command line) it starts a QGuiApplication on the "offscreen"
platform. Images are registered as document resources under local names rather than data:
URIs, so no loader ever needs to interpret a URL.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

from desktop.report.collect import ReportData, ReportError
from desktop.report.html import Block, page_html, report_blocks

log = logging.getLogger(__name__)

DPI = 300
MARGIN_MM = 15
GAP_PT = 6  # between blocks
FOOTER_PT = 14  # the footer line's height
IMAGE_NAME = "homeward-image-{}"

_app: object = None  # a QGuiApplication this module had to start; lives as long as the process


@dataclass(frozen=True)
class Placement:
    """A slice [top, top + height) of block `index`'s layout, drawn at `y` on a page."""

    index: int
    y: float
    top: float
    height: float


def paginate(blocks: list[Block], heights: list[float], page: float,
             gap: float) -> list[list[Placement]]:
    """Blocks onto pages of height `page`: a block that does not fit the rest of a page starts
    the next one, a `keep_with_next` block moves with the start of the next, and a block
    taller than a page (laid out by Qt in page-high steps) takes whole pages of its own."""
    pages: list[list[Placement]] = [[]]
    y = 0.0
    for index, (block, height) in enumerate(zip(blocks, heights, strict=True)):
        need = height
        if block.keep_with_next and index + 1 < len(heights):
            need += gap + min(heights[index + 1], page)
        if y > 0 and y + need > page:
            pages.append([])
            y = 0.0
        top = 0.0
        while height - top > page - y:  # taller than a page: Qt broke it at page-high steps
            pages[-1].append(Placement(index, y, top, page - y))
            pages.append([])
            top, y = top + page - y, 0.0
        pages[-1].append(Placement(index, y, top, height - top))
        y += height - top + gap
        if block.ends_page and index + 1 < len(blocks):
            pages.append([])
            y = 0.0
    return pages


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
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF, QSizeF, Qt, QUrl
    from PySide6.QtGui import (
        QFont,
        QImage,
        QPageLayout,
        QPageSize,
        QPainter,
        QPdfWriter,
        QTextDocument,
    )

    images: dict[str, QImage] = {}

    def resource(picture: bytes) -> str | None:
        image = QImage.fromData(picture)
        if image.isNull():
            log.warning("an image was not embedded in the PDF: unreadable")
            return None
        name = IMAGE_NAME.format(len(images))
        images[name] = image
        return name

    blocks = report_blocks(data, resource)
    output = QByteArray()
    buffer = QBuffer(output)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setResolution(DPI)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
                          QPageLayout.Unit.Millimeter)
    writer.setTitle(f"Homeward report {data.info.case_number}")
    writer.setCreator("Homeward")
    plain = QFont("sans-serif")
    plain.setStyleStrategy(QFont.StyleStrategy.PreferNoShaping)  # no ligatures: "fi" in
    # "confirmed" or "ff" in a hash stay letters that a reader can search for and copy
    width, footer = writer.width(), FOOTER_PT * DPI / 72
    body = writer.height() - footer

    def document(block: Block) -> QTextDocument:
        doc = QTextDocument()
        doc.documentLayout().setPaintDevice(writer)  # fonts and images at the writer's dpi
        doc.setDocumentMargin(0)
        doc.setDefaultFont(plain)
        for name in re.findall(r'src="(homeward-image-\d+)"', block.html):
            doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), images[name])
        doc.setHtml(page_html(block.html, ""))
        doc.setTextWidth(width)
        if doc.size().height() > body:  # let Qt break it between lines, page-high steps
            doc.setPageSize(QSizeF(width, body))
        return doc

    docs = [document(block) for block in blocks]
    pages = paginate(blocks, [d.size().height() for d in docs], body, GAP_PT * DPI / 72)
    painter = QPainter(writer)
    small = QFont(plain)
    small.setPointSize(7)
    painter.setFont(small)
    for number, placements in enumerate(pages, 1):
        if number > 1:
            writer.newPage()
        for placed in placements:
            painter.save()
            painter.translate(0, placed.y - placed.top)
            docs[placed.index].drawContents(painter, QRectF(0, placed.top, width, placed.height))
            painter.restore()
        painter.drawText(QRectF(0, body, width, footer), Qt.AlignmentFlag.AlignBottom,
                         f"Homeward report, case {data.info.case_number} - page {number} of "
                         f"{len(pages)} - audit head {data.audit_head}")
    painter.end()  # the PDF is complete
    buffer.close()
    pdf = bytes(output.data())
    if not pdf.startswith(b"%PDF"):
        raise ReportError("Qt did not produce a PDF.", "QPdfWriter wrote no data")
    return pdf
