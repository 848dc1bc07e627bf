"""A zoomable image with labelled face boxes: the evidence context in review, the face
choice in the gallery. Wheel or +/- zooms, 0 fits, dragging pans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QImageReader, QKeyEvent, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget


@dataclass(frozen=True)
class Box:
    box: Sequence[float]  # x1, y1, x2, y2 in the image's pixels (orientation applied)
    label: str = ""
    color: str = "#ff3b30"


def load_image(path: Path | str) -> QImage:
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    return reader.read()


class ImageView(QGraphicsView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.placeholder = "no image"
        self._fitted = True

    def show_image(self, image: QImage | Path | str | None, boxes: Sequence[Box] = ()) -> bool:
        """Show the image with its boxes, fitted; False (and a placeholder) if unreadable."""
        scene = self.scene()
        scene.clear()
        if image is not None and not isinstance(image, QImage):
            image = load_image(image)
        if image is None or image.isNull():
            scene.addText(self.placeholder)
            scene.setSceneRect(scene.itemsBoundingRect())
            return False
        scene.addPixmap(QPixmap.fromImage(image))
        width = max(2.0, max(image.width(), image.height()) / 300)
        for item in boxes:
            x1, y1, x2, y2 = (float(v) for v in item.box[:4])
            pen = QPen(QColor(item.color), width)
            scene.addRect(QRectF(x1, y1, x2 - x1, y2 - y1), pen)
            if item.label:
                text = scene.addSimpleText(item.label)
                text.setBrush(QColor(item.color))
                text.setScale(width / 1.5)
                text.setPos(x1, max(0.0, y1 - text.boundingRect().height() * text.scale()))
        scene.setSceneRect(QRectF(image.rect()))
        self.fit()
        return True

    def fit(self) -> None:
        self._fitted = True
        self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self, factor: float) -> None:
        self._fitted = False
        self.scale(factor, factor)

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(1.25)
        elif key == Qt.Key.Key_Minus:
            self.zoom(0.8)
        elif key == Qt.Key.Key_0:
            self.fit()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self.fit()
