"""A person's case data as the user types it, checked field by field with clear messages."""

from __future__ import annotations

import calendar
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, fields
from datetime import date

from desktop.errors import HomewardError

SEXES = ("female", "male", "other", "unknown")
MAX_TEXT = 4000
DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")  # YYYY[-MM[-DD]]


# What the user sees a field called (the form's labels): messages never show internal names.
LABELS = {"name": "Name", "aliases": "Alias", "sex": "Sex", "birth_date": "Birth date",
          "age_min": "Minimum age", "age_max": "Maximum age", "last_seen_date": "Last seen date",
          "last_seen_place": "Last seen place", "case_ref": "Case reference", "notes": "Notes",
          "photo_date": "Photo date", "face": "Face"}


class InvalidField(HomewardError):
    """A user-entered value cannot be stored; the message names the field by its label."""


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

    def warnings(self) -> list[str]:
        """Values that are each valid but contradict one another: stored, and pointed out."""
        return age_contradiction(self, date.today())

    def to_row(self) -> dict[str, object]:
        row = asdict(self)
        row["aliases"] = json.dumps(list(self.aliases), ensure_ascii=False)
        return row


EDITABLE = tuple(f.name for f in fields(PersonFields))


def clean_text(value: str | None, name: str, *, required: bool = False) -> str | None:
    """Trimmed, NFC-normalised text of any script; control characters refused."""
    label = LABELS[name]
    if value is None or not str(value).strip():
        if required:
            raise InvalidField(f"{label} must not be empty.")
        return None
    text = unicodedata.normalize("NFC", str(value).strip())
    if len(text) > MAX_TEXT:
        raise InvalidField(f"{label} is longer than {MAX_TEXT} characters.")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise InvalidField(f"{label} contains control characters.")
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


def date_span(value: str) -> tuple[date, date]:
    """The first and last day a partial date (YYYY, YYYY-MM) or a full one can mean."""
    parts = [int(p) for p in value.split("-")]
    year, month = parts[0], parts[1] if len(parts) > 1 else None
    if len(parts) == 3:
        return date(*parts), date(*parts)
    if month is None:
        return date(year, 1, 1), date(year, 12, 31)
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def age_contradiction(person: PersonFields, today: date) -> list[str]:
    """The birth date against the age range, at the last-seen date (or today without one)."""
    if person.birth_date is None or (person.age_min is None and person.age_max is None):
        return []
    first_born, last_born = date_span(person.birth_date)
    on, (first_day, last_day) = ((f"on the last seen date {person.last_seen_date}",
                                  date_span(person.last_seen_date)) if person.last_seen_date
                                 else ("today", (today, today)))
    if last_day < first_born:
        return [f"Birth date {person.birth_date} is after the last seen date "
                f"{person.last_seen_date}."]
    youngest, oldest = age_on(last_born, first_day), age_on(first_born, last_day)
    low = person.age_min if person.age_min is not None else 0
    high = person.age_max if person.age_max is not None else 130
    if oldest >= low and youngest <= high:
        return []
    ages = str(youngest) if youngest == oldest else f"{youngest}–{oldest}"
    return [f"Birth date {person.birth_date} gives an age of {ages} {on}, outside the age "
            f"range {low}–{high}."]


def parse_age(value: str | int | None, name: str) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    label = LABELS[name]
    try:
        age = int(str(value).strip())
    except ValueError as exc:
        raise InvalidField(f"{label} must be a whole number of years, not {value!r}.") from exc
    if not 0 <= age <= 130:
        raise InvalidField(f"{label} must be between 0 and 130.")
    return age


def validate(person: PersonFields) -> None:
    object.__setattr__(person, "name", clean_text(person.name, "name", required=True))
    for name in ("last_seen_place", "case_ref", "notes"):
        object.__setattr__(person, name, clean_text(getattr(person, name), name))
    aliases = tuple(a for a in (clean_text(a, "aliases") for a in person.aliases) if a)
    object.__setattr__(person, "aliases", aliases)
    sex = clean_text(person.sex, "sex")
    if sex is not None and sex.lower() not in SEXES:
        raise InvalidField(f"Sex must be one of {', '.join(SEXES)}, not {sex!r}.")
    object.__setattr__(person, "sex", sex.lower() if sex else None)
    for name in ("birth_date", "last_seen_date"):
        value = clean_text(getattr(person, name), name)
        if value is not None and not is_date(value):
            raise InvalidField(f"{LABELS[name]} must be a date as YYYY, YYYY-MM or "
                               f"YYYY-MM-DD, not {value!r}.")
        object.__setattr__(person, name, value)
    age_min, age_max = parse_age(person.age_min, "age_min"), parse_age(person.age_max, "age_max")
    if age_min is not None and age_max is not None and age_min > age_max:
        raise InvalidField(f"Minimum age ({age_min}) is greater than maximum age ({age_max}).")
    object.__setattr__(person, "age_min", age_min)
    object.__setattr__(person, "age_max", age_max)


def split_aliases(text: str | None) -> tuple[str, ...]:
    """Aliases as typed in a CSV cell or on the command line: separated by ';'."""
    return tuple(a.strip() for a in (text or "").split(";") if a.strip())

