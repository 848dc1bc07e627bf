"""Reading what to import: a folder per person, or a CSV with one row per photo.

Both produce `ImportRow`s; a row that cannot be understood becomes a `Problem` naming its
place and reason, and the rest go on.
"""

from __future__ import annotations

import contextlib
import csv
import io
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop.errors import HomewardError
from desktop.gallery.fields import (
    LABELS,
    MAX_TEXT,
    InvalidField,
    PersonFields,
    is_date,
    split_aliases,
)

REQUIRED_COLUMNS = ("name", "photo")
PERSON_COLUMNS = ("aliases", "sex", "birth_date", "age_min", "age_max", "last_seen_date",
                  "last_seen_place", "case_ref", "notes")
PHOTO_COLUMNS = ("photo_date", "face")
CSV_COLUMNS = REQUIRED_COLUMNS + PERSON_COLUMNS + PHOTO_COLUMNS
# Longest CSV row accepted, in characters (README, "CSV"): every valid row fits, as no field
# may exceed MAX_TEXT (4,000) characters; a longer row is refused on its own.
MAX_ROW_CHARS = 65_536

_FIELD_LIMIT = threading.Lock()  # csv.field_size_limit is one setting for the whole process


class ImportSourceError(HomewardError):
    """The whole source is unusable (missing columns, unreadable folder); nothing imported."""


@dataclass(frozen=True)
class ImportRow:
    where: str  # "row 7" or a path, for the report
    person: PersonFields
    photo: Path | None
    face: int | None = None
    photo_date: str | None = None


@dataclass(frozen=True)
class Problem:
    where: str
    reason: str


def rows_for_person(person: PersonFields, photos: Sequence[tuple[Path, int | None]],
                    photo_date: str | None = None) -> list[ImportRow]:
    """A single add: these (photo, face number) for one person, or the person alone."""
    return ([ImportRow(str(p), person, Path(p), face, photo_date) for p, face in photos]
            or [ImportRow("(no photo)", person, None)])


def rows_from_folder(root: Path) -> tuple[list[ImportRow], list[Problem]]:
    """`<root>/<person name>/<photos...>`: the folder name is the person's name, its
    underscores read as spaces (`Jane_Doe` is Jane Doe: folders are often named that way)."""
    root = Path(root)
    if not root.is_dir():
        raise ImportSourceError(f"{root} is not a folder.")
    rows: list[ImportRow] = []
    problems: list[Problem] = []
    try:
        entries = sorted(root.iterdir())
    except OSError as exc:
        raise ImportSourceError(f"Cannot read the folder {root}", str(exc)) from exc
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            problems.append(Problem(str(entry), "not inside a person's folder"))
            continue
        try:
            person = PersonFields(name=display_name(entry.name))
        except InvalidField as exc:
            problems.append(Problem(str(entry), exc.message))
            continue
        try:
            photos = sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.startswith("."))
        except OSError as exc:
            problems.append(Problem(str(entry), f"cannot be read: {exc.strerror or exc}"))
            continue
        if not photos:
            problems.append(Problem(str(entry), "holds no photos"))
        rows.extend(ImportRow(str(p), person, p) for p in photos)
    return rows, problems


def display_name(folder: str) -> str:
    """A folder's name as a person's name: underscores become spaces, runs of them one."""
    return " ".join(folder.replace("_", " ").split())


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM); bytes that are not UTF-8 survive as surrogates so the
    rows holding them can be reported one by one instead of failing the file."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")


def _has_bad_bytes(values: list[str]) -> bool:
    return any("\udc80" <= c <= "\udcff" for value in values for c in value)


def _delimiter(sample: str) -> str:
    """Comma, semicolon or tab, as the first lines use. Only the delimiter is sniffed: quoting
    is always Excel's (a doubled quote is a quote), which the sniffer cannot tell from a
    sample with no quotes in it, and a later quoted cell would then split into rows."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


@contextlib.contextmanager
def _no_field_limit(text: str) -> Iterator[None]:
    """The csv module's own field limit (128 KiB) raises mid-file and ends the whole import at
    the first long cell; lifted for this text (already in memory), long rows are refused one by
    one against MAX_ROW_CHARS instead."""
    with _FIELD_LIMIT:
        previous = csv.field_size_limit(max(len(text) + 1, csv.field_size_limit()))
        try:
            yield
        finally:
            csv.field_size_limit(previous)


def _row_chars(record: dict[str | None, str | list[str] | None]) -> int:
    """Characters in a parsed row, cells beyond the header's columns included."""
    return sum(len(v) if isinstance(v, str) else sum(map(len, v or ())) for v in record.values())


def rows_from_csv(path: Path) -> tuple[list[ImportRow], list[Problem]]:
    """One row per photo; rows with the same name and case_ref are one person. Photo paths
    are relative to the CSV's folder."""
    path = Path(path)
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        raise ImportSourceError(f"Cannot read {path}", str(exc)) from exc
    with _no_field_limit(text):
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text[:4096]))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        records = list(reader)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportSourceError(f"{path.name} lacks the column(s) {', '.join(missing)}.",
                                f"columns: {', '.join(CSV_COLUMNS)}")
    rows: list[ImportRow] = []
    problems: list[Problem] = []
    for number, record in enumerate(records, start=2):
        where = f"{path.name} row {number}"
        if (size := _row_chars(record)) > MAX_ROW_CHARS:
            problems.append(Problem(where, f"row is longer than {MAX_ROW_CHARS:,} characters "
                                           f"({size:,}); no field may exceed {MAX_TEXT:,}"))
            continue
        values = {k: (v or "").strip() for k, v in record.items() if k in CSV_COLUMNS}
        if _has_bad_bytes(list(values.values())):
            problems.append(Problem(where, "not valid UTF-8 text; save the CSV as UTF-8"))
            continue
        try:
            person = PersonFields(
                name=values.get("name", ""), aliases=split_aliases(values.get("aliases")),
                **{c: values.get(c) or None for c in PERSON_COLUMNS if c != "aliases"})
            face = int(values["face"]) if values.get("face") else None
        except InvalidField as exc:
            problems.append(Problem(where, exc.message))
            continue
        except ValueError:
            problems.append(Problem(where, f"{LABELS['face']} must be a number, not "
                                           f"{values['face']!r}"))
            continue
        if values.get("photo_date") and not is_date(values["photo_date"]):
            problems.append(Problem(where, f"{LABELS['photo_date']} must be YYYY, YYYY-MM or "
                                           "YYYY-MM-DD"))
            continue
        photo = (path.parent / values["photo"]) if values.get("photo") else None
        rows.append(ImportRow(where, person, photo, face, values.get("photo_date") or None))
    return rows, problems
