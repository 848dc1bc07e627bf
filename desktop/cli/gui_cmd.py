"""`homeward gui [--case DIR] [--gallery FILE] [--screenshot DIR]`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    gui = commands.add_parser("gui", help="open the desktop application")
    gui.add_argument("--case", type=Path, help="open this case folder")
    gui.add_argument("--gallery", type=Path, help="open this gallery file")
    gui.add_argument("--screenshot", type=Path, metavar="DIR",
                     help="render every page offscreen to PNG files in DIR, then exit")
    gui.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from desktop.ui.app import run_gui

    return run_gui(args.case, args.gallery, args.screenshot)
