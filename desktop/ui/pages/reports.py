"""The Reports page (being written)."""

from __future__ import annotations

from desktop.ui.pages.base import Page


class ReportsPage(Page):
    title = "Reports"
