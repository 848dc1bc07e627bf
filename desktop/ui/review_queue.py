"""The review queue as the Review page holds it, read in the background.

The page filters this list in memory with the review package's `filter_items` (the
database read is the slow part: about 2 s for 100,000 hits), and updates its items in place
after each decision with `with_decision`.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from desktop.review.queue import review_items
from desktop.scan.case import Case


@dataclass(frozen=True)
class Queue:
    """The whole review queue, indexed by hit id, and (person id, name, hits) of each person
    in it: prepared in the background, so 100,000 hits arrive without a pause."""

    items: list[dict]
    by_id: dict[int, dict]
    persons: list[tuple[int, str, int]]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Creating 100,000 dicts sets off full garbage collections, which stop every thread,
    the GUI's too (150 ms pauses measured); none of these objects is cyclic garbage. Once
    made they are frozen out of the collector: a later full collection (any allocation may
    start one, while the reviewer scrolls) would walk them all again, 100-280 ms measured."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()  # the objects made so far live as long as the queue; refcounts free them
        if was_enabled:
            gc.enable()


def read_queue(folder: Path) -> Queue:
    """On the task's own connection: SQLite connections are per thread."""
    with collector_paused():
        case = Case.open(folder)
        try:
            items = review_items(case.db)
        finally:
            case.close()
        counts = Counter(item["person_id"] for item in items)
        names = {item["person_id"]: item["person_name"] for item in items}
        persons = sorted(((pid, names[pid], n) for pid, n in counts.items()),
                         key=lambda p: (p[1].casefold(), p[0]))
        return Queue(items, {item["hit_id"]: item for item in items}, persons)
