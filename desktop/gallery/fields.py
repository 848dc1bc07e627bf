"""A person's case data as the user types it, checked field by field with clear messages."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, fields
from datetime import date

from desktop.errors import HomewardError

SEXES = ("female", "male", "other", "unknown")
MAX_TEXT = 4000
DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")  # YYYY[-MM[-DD]]


class InvalidField(HomewardError):
    """A user-entered value cannot be stored; the message names the field."""


@dataclass(frozen=True)
class PersonFields:
    name: str
    aliases: tuple[str, ...] = ()
    sex: str | None = None
    birth_date: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    last_seen_date: str | None = None
    last_seen_place: str | None = None
    case_ref: str | None = None
    notes: str | None = None

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "aliases": list(self.aliases)}

    def to_row(self) -> dict[str, object]:
        row = asdict(self)
        row["aliases"] = json.dumps(list(self.aliases), ensure_ascii=False)
        return row


EDITABLE = tuple(f.name for f in fields(PersonFields))


def clean_text(value: str | None, name: str, *, required: bool = False) -> str | None:
    """Trimmed, NFC-normalised text of any script; control characters refused."""
    if value is None or not str(value).strip():
        if required:
            raise InvalidField(f"{name} must not be empty.")
        return None
    text = unicodedata.normalize("NFC", str(value).strip())
    if len(text) > MAX_TEXT:
        raise InvalidField(f"{name} is longer than {MAX_TEXT} characters.")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise InvalidField(f"{name} contains control characters.")
    return text


def is_date(value: str) -> bool:
    """A partial or full calendar date that exists (no 30 February)."""
    if not DATE.match(value):
        return False
    if len(value) == 10:
        try:
            date.fromisoformat(value)
        except ValueError:
            return False
    return True


def parse_age(value: str | int | None, name: str) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        age = int(str(value).strip())
    except ValueError as exc:
        raise InvalidField(f"{name} must be a whole number of years, not {value!r}.") from exc
    if not 0 <= age <= 130:
        raise InvalidField(f"{name} must be between 0 and 130.")
    return age


def validate(person: PersonFields) -> None:
    object.__setattr__(person, "name", clean_text(person.name, "name", required=True))
    for name in ("last_seen_place", "case_ref", "notes"):
        object.__setattr__(person, name, clean_text(getattr(person, name), name))
    aliases = tuple(a for a in (clean_text(a, "alias") for a in person.aliases) if a)
    object.__setattr__(person, "aliases", aliases)
    sex = clean_text(person.sex, "sex")
    if sex is not None and sex.lower() not in SEXES:
        raise InvalidField(f"sex must be one of {', '.join(SEXES)}, not {sex!r}.")
    object.__setattr__(person, "sex", sex.lower() if sex else None)
    for name in ("birth_date", "last_seen_date"):
        value = clean_text(getattr(person, name), name)
        if value is not None and not is_date(value):
            raise InvalidField(f"{name} must be a date as YYYY, YYYY-MM or YYYY-MM-DD, "
                               f"not {value!r}.")
        object.__setattr__(person, name, value)
    age_min, age_max = parse_age(person.age_min, "age_min"), parse_age(person.age_max, "age_max")
    if age_min is not None and age_max is not None and age_min > age_max:
        raise InvalidField(f"age_min ({age_min}) is greater than age_max ({age_max}).")
    object.__setattr__(person, "age_min", age_min)
    object.__setattr__(person, "age_max", age_max)


def split_aliases(text: str | None) -> tuple[str, ...]:
    """Aliases as typed in a CSV cell or on the command line: separated by ';'."""
    return tuple(a.strip() for a in (text or "").split(";") if a.strip())

