"""Progress of a long command on stderr, from the scan's one progress object (`Progress`).

On a terminal: one line redrawn in place (stage, done/total, bar, rate, ETA, faces) at most
REDRAW_S apart, each stage's last line kept. Otherwise (a pipe, a CI log, a remote session's
capture): plain lines, at most PLAIN_S apart and at every stage change, so logs stay readable.
Quiet: nothing.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO

from desktop.scan.job import Progress

REDRAW_S = 0.1
PLAIN_S = 5.0
BAR_WIDTH = 24


def clock_time(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe(p: Progress, bar: bool) -> str:
    """One line for `p`. Stages without a count (matching, people) show only their name; a
    finished stage shows no ETA (a positive ETA at 100% was once shown: the rate lagged)."""
    if p.stage == "done":
        return f"done: {p.faces} faces in the case"
    if p.total <= 1 and p.done == 0:
        return f"{p.stage}..."
    total = max(p.total, p.done)
    fraction = p.done / total if total else 1.0
    parts = [f"{p.stage}: {p.done}/{total}"]
    if bar:
        filled = int(fraction * BAR_WIDTH)
        parts.append(f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}]")
    parts.append(f"{fraction:4.0%}")
    parts.append(f"{p.rate:.1f}/s")
    if p.done < total and p.eta_s is not None:
        parts.append(f"ETA {clock_time(p.eta_s)}")
    parts.append(f"faces {p.faces}")
    return " ".join(parts)


class ProgressDisplay:
    """A `Progress` callback that draws on `stream`; `close()` ends a line left open."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False,
                 tty: bool | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty() if tty is None else tty
        self.clock = clock
        self.stage: str | None = None
        self.last = float("-inf")
        self.shown: tuple[str, int] | None = None  # the stage and count last drawn
        self.open_line = False  # a redrawn line is on the terminal, not yet ended

    def __call__(self, p: Progress) -> None:
        if self.quiet:
            return
        now = self.clock()
        changed = p.stage != self.stage
        finished = p.total > 0 and p.done >= p.total
        due = now - self.last >= (REDRAW_S if self.tty else PLAIN_S)
        if not (changed or finished or due) or self.shown == (p.stage, p.done):
            return
        if changed:
            self.close()
        self.stage, self.last, self.shown = p.stage, now, (p.stage, p.done)
        if self.tty:
            width = shutil.get_terminal_size().columns - 1
            self.stream.write("\r" + describe(p, bar=True)[:width] + "\x1b[K")
            self.open_line = True
            if p.stage == "done":
                self.close()
        else:
            self.stream.write(describe(p, bar=False) + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        """A message of its own line, even in the middle of a redrawn bar (quiet or not)."""
        self.close()
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = False
