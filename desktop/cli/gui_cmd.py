"""`homeward gui [--case DIR] [--gallery FILE] [--screenshot DIR] [--size WxH]`."""

from __future__ import annotations

import argparse
import re
from pathlib import Path


def window_size(text: str) -> tuple[int, int]:
    """"1366x768" -> (1366, 768)."""
    match = re.fullmatch(r"\s*(\d{3,5})\s*[xX×]\s*(\d{3,5})\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a window size such as 1366x768")
    return int(match[1]), int(match[2])


def register(commands: argparse._SubParsersAction) -> None:
    gui = commands.add_parser("gui", help="open the desktop application")
    gui.add_argument("--case", type=Path, help="open this case folder")
    gui.add_argument("--gallery", type=Path, help="open this gallery file")
    gui.add_argument("--screenshot", type=Path, metavar="DIR",
                     help="render every page (and its extra views) offscreen to PNG files in "
                          "DIR, then exit")
    gui.add_argument("--size", type=window_size, metavar="WxH",
                     help="the window's size, e.g. 1366x768 (default: fits the screen)")
    gui.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from desktop.ui.app import run_gui

    return run_gui(args.case, args.gallery, args.screenshot, args.size)
