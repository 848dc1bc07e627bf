"""The application's look: its icon and resources (found in a source checkout and in the
PyInstaller bundle alike), and the light or dark palette, following the desktop's colour
scheme where Qt can tell it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

# Beside the `desktop` package: the checkout's resources/, or the bundle's copy (homeward.spec).
RESOURCES = Path(__file__).resolve().parents[2] / "resources"


def resource(name: str) -> Path:
    return RESOURCES / name


def app_icon() -> QIcon:
    icon = QIcon(str(resource("homeward.svg")))
    icon.addFile(str(resource("homeward.png")))
    return icon


def dark_palette() -> QPalette:
    """Muted greys, not black: easier on the eyes over a long review session."""
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#2b2d30", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1f22", QPalette.ColorRole.AlternateBase: "#26282b",
        QPalette.ColorRole.ToolTipBase: "#3c3f41", QPalette.ColorRole.ToolTipText: "#e6e6e6",
        QPalette.ColorRole.PlaceholderText: "#8c8c8c", QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#3c3f41", QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.BrightText: "#ff6b6b", QPalette.ColorRole.Link: "#7aa7ff",
        QPalette.ColorRole.Highlight: "#2f65ca", QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Mid: "#4a4d50", QPalette.ColorRole.Dark: "#1a1b1d",
        QPalette.ColorRole.Light: "#505357", QPalette.ColorRole.Shadow: "#000000",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                 QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
    return palette


def is_dark(choice: str) -> bool:
    """"system" follows the desktop's colour scheme (Qt 6.5+ knows it on Windows, macOS and
    GNOME/KDE); where Qt cannot tell, light."""
    if choice != "system":
        return choice == "dark"
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, choice: str) -> None:
    """Fusion style with a light or dark palette: the same look on every platform, and a dark
    palette that every widget honours (native styles ignore some palette roles)."""
    app.setStyle(QStyleFactory.create("Fusion"))
    palette = dark_palette() if is_dark(choice) else app.style().standardPalette()
    app.setPalette(palette)
    app.setProperty("homewardTheme", "dark" if is_dark(choice) else "light")
