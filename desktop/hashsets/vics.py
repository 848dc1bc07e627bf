"""Reading Project VIC / CAID VICS JSON one Media record at a time (files run to gigabytes).

The shapes read (OData JSON; the context annotation comes first, as OData requires):
- VICS 1.x: {"odata.metadata": "http://github.com/ICMEC/ProjectVic/DataModels/1.3.xml#Media",
  "value": [Media, ...]} or "...#Cases" with "value": [{"CaseID": ..., "Media": [...]}, ...]
- VICS 2.0: {"@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/
  US/$metadata#Media", "value": [Media, ...]}, or "#Cases" as above; "/UK/" marks CAID.
A Media record carries "MD5", "SHA1" (hex, usually upper case; either may be empty or null),
"Category" (a number, its text, or null) and more that a known-file check does not need.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from desktop.hashsets.store import HashSetInputError

CONTEXT_KEYS = ("@odata.context", "odata.metadata")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_READ = 1 << 20
_LARGEST_VALUE = 64 << 20  # one Media record (PhotoDNA, file list) is kilobytes; this is not one


@dataclass(frozen=True)
class MediaRecord:
    number: int  # 1-based, in file order
    offset: int  # characters from the start of the file (VicsFile.line_at tells its line)
    value: object  # the decoded record (a dict when well formed)


class _Reader:
    """A sliding window over the text with just enough of a JSON tokenizer to walk the outer
    objects and arrays; each record is decoded whole by the standard decoder."""

    def __init__(self, stream: TextIO, where: str) -> None:
        self.stream = stream
        self.where = where
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.dropped = 0  # characters before buffer[0]
        self.lines_before = 1  # line number of buffer[0]
        self.decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        if self.eof:
            return False
        if self.pos > _READ:
            self.lines_before += self.buffer.count("\n", 0, self.pos)
            self.dropped += self.pos
            self.buffer, self.pos = self.buffer[self.pos:], 0
        chunk = self.stream.read(_READ)
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def line(self) -> int:
        return self.line_at(self.dropped + self.pos)

    def line_at(self, offset: int) -> int:
        """The line of a position not yet dropped from the window (a record just read)."""
        return self.lines_before + self.buffer.count("\n", 0, offset - self.dropped)

    def offset(self) -> int:
        self.peek()
        return self.dropped + self.pos

    def end(self) -> None:
        """Only whitespace may follow the outer object."""
        while True:
            self.pos = _WHITESPACE.match(self.buffer, self.pos).end()
            if self.pos < len(self.buffer):
                raise self.fail("there is more text after the JSON object")
            if not self._fill():
                return

    def fail(self, problem: str) -> HashSetInputError:
        return HashSetInputError(f"{self.where} is not a readable VICS JSON file: {problem}.",
                            f"at line {self.line()}")

    def peek(self) -> str:
        while True:
            self.pos = _WHITESPACE.match(self.buffer, self.pos).end()
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._fill():
                raise self.fail("the file ends too early (truncated?)")

    def take(self, expected: str) -> None:
        found = self.peek()
        if found != expected:
            raise self.fail(f"expected {expected!r}, found {found!r}")
        self.pos += 1

    def value(self) -> object:
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.buffer) - self.pos < _LARGEST_VALUE and self._fill():
                    continue
                cut = self.eof and (exc.pos >= len(self.buffer.rstrip())
                                    or exc.msg.startswith("Unterminated"))
                self.pos = exc.pos
                raise self.fail("the file ends too early (truncated?)" if cut else exc.msg) from exc
            # A number or literal at the very end of the window may continue in the next read.
            if end == len(self.buffer) and self._fill():
                continue
            self.pos = end
            return value

    def members(self) -> Iterator[str]:
        """The keys of the object starting here; the caller consumes each key's value."""
        self.take("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise self.fail("an object key is not a string")
            self.take(":")
            yield key
            if self.peek() == ",":
                self.pos += 1
                continue
            self.take("}")
            return

    def items(self) -> Iterator[None]:
        """Positions at each element of the array starting here; the caller consumes it."""
        self.take("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield None
            if self.peek() == ",":
                self.pos += 1
                continue
            self.take("]")
            return


def scheme_of(context: str) -> str:
    """"caid" for the UK data model, else "projectvic" (US, Canada, Default, 1.x)."""
    return "caid" if "/uk/" in context.lower() else "projectvic"


class VicsFile:
    """An open VICS JSON stream: its context URL, then its Media records in file order."""

    def __init__(self, stream: TextIO, where: str) -> None:
        """Reads up to the context; HashSetInputError when the text is not VICS JSON."""
        self._reader = reader = _Reader(stream, where)
        if reader.peek() != "{":
            raise reader.fail("it does not start with a JSON object")
        self._keys = reader.members()
        first = next(self._keys, None)
        if first not in CONTEXT_KEYS:
            raise reader.fail(f"its first member is {first!r}, not an OData context "
                              f"({' or '.join(CONTEXT_KEYS)})")
        context = reader.value()
        entity = str(context).rstrip("/").rpartition("#")[2]
        if not isinstance(context, str) or entity not in ("Media", "Cases"):
            raise reader.fail(f"its context {context!r} names neither Media nor Cases")
        self.context = context
        self._cases = entity == "Cases"

    def line_at(self, offset: int) -> int:
        return self._reader.line_at(offset)

    def records(self) -> Iterator[MediaRecord]:
        """Each Media record; HashSetInputError where the JSON breaks."""
        reader, number, saw_value = self._reader, 0, False
        for key in self._keys:
            if key != "value":
                reader.value()
                continue
            saw_value = True
            if reader.peek() != "[":
                raise reader.fail('"value" is not an array')
            for _ in reader.items():
                if not self._cases:
                    number += 1
                    yield MediaRecord(number, reader.offset(), reader.value())
                    continue
                if reader.peek() != "{":
                    raise reader.fail("a case is not an object")
                for case_key in reader.members():
                    if case_key != "Media" or reader.peek() != "[":
                        reader.value()
                        continue
                    for _ in reader.items():
                        number += 1
                        yield MediaRecord(number, reader.offset(), reader.value())
        if not saw_value:
            raise reader.fail('it has no "value" array')
        reader.end()
