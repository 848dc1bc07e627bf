"""Archives inside a source, listed as part of it: a zip on a seized disk, a tar.gz inside
that zip... each found by content and listed under its own path ("outer.zip/inner/photo.jpg").

An entry inside a nested archive has the locator ("nested", child_spec, child_locator):
`child_spec` opens the archive it lies in (its `within` names the source and locator of the
archive's own bytes, recursively), `child_locator` is that archive's locator. Any process
opens it with `desktop.sources.detect.open_entry(spec, locator)`. Entries of the outer source keep their
own locators.

Nesting is bounded: past `max_depth` archives get no children (a warning says so), and one
top-level source may hold at most `max_entries` nested entries declaring at most `max_bytes`
in all, so a zip of zips (42.zip) or an archive holding many copies of another cannot
explode; what is refused is listed as "<archive>/(not listed)" with the reason.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import BinaryIO

from desktop.sources.base import EvidenceSource, SourceEntry, SourceError, SourceFacts, SourceSpec
from desktop.sources.detect import NESTED, archive_kind, compression_of, is_tar, open_entry, open_source

log = logging.getLogger(__name__)

NOT_LISTED = b"(not listed)"


def is_nested(locator: tuple) -> bool:
    return len(locator) == 3 and locator[0] == NESTED and isinstance(locator[1], SourceSpec)


class NestedSource(EvidenceSource):
    """`inner`'s entries, each archive among them followed by its own entries, to `max_depth`."""

    def __init__(self, inner: EvidenceSource, max_depth: int = 3, max_entries: int = 1_000_000,
                 max_bytes: int = 1 << 40) -> None:
        self.inner = inner
        self.max_depth = max_depth
        self.max_entries = max_entries
        self.max_bytes = max_bytes

    @property
    def spec(self) -> SourceSpec:
        return self.inner.spec

    def entries(self) -> Iterator[SourceEntry]:
        budget = _Budget(self.max_entries, self.max_bytes)
        top = self.inner.spec
        yield from self._list(self.inner, top, b"", 0, top, budget)

    def _list(self, source: EvidenceSource, source_spec: SourceSpec, prefix: bytes, depth: int,
              top: SourceSpec, budget: _Budget) -> Iterator[SourceEntry]:
        for entry in source.entries():
            listed = entry
            if depth:
                if not budget.take(entry):
                    yield _note(prefix, budget.refusal(), "refused")
                    return
                listed = dataclasses.replace(
                    entry, path_bytes=prefix + b"/" + entry.path_bytes,
                    locator=(NESTED, source_spec, entry.locator) if entry.locator else ())
            yield listed
            if entry.problem is not None or not entry.locator:
                continue
            kind = _archive_kind(source, entry.locator)
            if kind is None:
                continue
            if depth >= self.max_depth:
                log.warning("%s: an archive nested more than %d deep; its contents are not listed",
                            listed.rel_path, self.max_depth)
                continue
            if budget.spent():
                yield _note(listed.path_bytes, budget.refusal(), "refused")
                continue
            scratch = top.option("scratch")
            child_spec = SourceSpec(kind, top.path, (source_spec, entry.locator),
                                    (("scratch", scratch),) if scratch is not None else ())
            try:
                child = open_source(child_spec)
            except SourceError as exc:
                yield _note(listed.path_bytes, f"archive inside cannot be read: {exc}", "unreadable")
                continue
            with child:
                try:
                    yield from self._list(child, child_spec, listed.path_bytes, depth + 1, top, budget)
                except SourceError as exc:
                    yield _note(listed.path_bytes, f"archive inside cannot be listed: {exc}",
                                "unreadable")

    def open(self, locator: tuple) -> BinaryIO:
        if is_nested(locator):
            return open_entry(locator[1], locator[2])
        return self.inner.open(locator)

    def facts(self) -> SourceFacts:
        return self.inner.facts()

    def close(self) -> None:
        self.inner.close()


class _Budget:
    """What nested archives may still add to one top-level source's listing."""

    def __init__(self, entries: int, declared_bytes: int) -> None:
        self.max_entries, self.max_bytes = entries, declared_bytes
        self.entries = self.bytes = 0
        self.exhausted = False

    def take(self, entry: SourceEntry) -> bool:
        """Count one nested entry; False (and spent from now on) when it would go over."""
        size = entry.size or 0
        if self.spent() or self.bytes + size > self.max_bytes:
            self.exhausted = True
            return False
        self.entries += 1
        self.bytes += size
        return True

    def spent(self) -> bool:
        return self.exhausted or self.entries >= self.max_entries

    def refusal(self) -> str:
        return (f"archives nested in this source hold more than {self.max_entries:,} entries "
                f"or {self.max_bytes:,} bytes (a nested-archive bomb?); the rest was not listed")


def _note(archive_path: bytes, problem: str, status: str) -> SourceEntry:
    return SourceEntry(archive_path + b"/" + NOT_LISTED, problem=problem, status=status)


def _archive_kind(source: EvidenceSource, locator: tuple) -> str | None:
    """The archive kind of an entry's content; the first bytes rule most files out cheaply."""
    try:
        with source.open(locator) as stream:
            head = stream.read(512)
            if not (head.startswith(b"PK") or is_tar(head) or compression_of(head)):
                return None
            return archive_kind(stream)
    except (OSError, SourceError):
        return None
