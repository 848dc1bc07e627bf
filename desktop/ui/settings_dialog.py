"""Settings… (Ctrl+,): reviewer name, default pack, provider, default match threshold and
video frame rate for new cases, and the theme (System / Light / Dark). Validation is the
settings module's; saving is the state's."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QWidget,
)

from desktop.errors import HomewardError
from desktop.settings import PROVIDERS, THEMES, Settings
from desktop.ui.pack_choice import PackChoice
from desktop.ui.plain import plain_label
from desktop.ui.state import AppState

NO_THRESHOLD = -1.0  # the spin box's "pack default"


def threshold_box() -> QDoubleSpinBox:
    """A match threshold in [-1, 1] whose lowest value means "the pack's own threshold"."""
    box = QDoubleSpinBox()
    box.setRange(NO_THRESHOLD, 1.0)
    box.setDecimals(3)
    box.setSingleStep(0.01)
    box.setSpecialValueText("pack default")
    return box


def threshold_value(box: QDoubleSpinBox) -> float | None:
    return None if box.value() <= NO_THRESHOLD else box.value()


class SettingsDialog(QDialog):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.state = state
        current = state.settings
        self.reviewer = QLineEdit(current.reviewer)
        self.pack = PackChoice()
        self.pack.refresh(current.default_pack)
        self.provider = QComboBox()
        self.provider.addItems(PROVIDERS)
        self.provider.setCurrentText(current.provider)
        self.threshold = threshold_box()
        self.threshold.setValue(NO_THRESHOLD if current.match_threshold is None
                                else current.match_threshold)
        self.fps = QDoubleSpinBox()
        self.fps.setRange(0.1, 60.0)
        self.fps.setValue(current.fps)
        self.theme = QComboBox()
        for theme in THEMES:
            self.theme.addItem(theme.capitalize(), theme)
        self.theme.setCurrentIndex(THEMES.index(current.theme))
        self.theme.setToolTip("Dark is easier on the eyes over a long review; System follows "
                              "the desktop's colour scheme where Qt can tell it")
        self.problem = plain_label()  # an error's message may quote a path
        self.problem.setStyleSheet("color: #b00020")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Reviewer name", self.reviewer)
        form.addRow("Default model pack", self.pack)
        form.addRow("Run inference on", self.provider)
        form.addRow("Match threshold for new cases", self.threshold)
        form.addRow("Video frames/s for new cases", self.fps)
        form.addRow("Theme", self.theme)
        form.addRow(self.problem)
        form.addRow(buttons)

    def chosen(self) -> Settings:
        return replace(self.state.settings, reviewer=self.reviewer.text().strip(),
                       default_pack=self.pack.pack_id(), provider=self.provider.currentText(),
                       match_threshold=threshold_value(self.threshold), fps=self.fps.value(),
                       theme=self.theme.currentData())

    def save(self) -> None:
        try:
            self.state.update_settings(self.chosen())
        except (HomewardError, OSError) as exc:
            self.problem.setText(f"Not saved: {getattr(exc, 'message', exc)}")
            return
        self.accept()
