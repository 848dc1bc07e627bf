"""User settings (reviewer name, default pack, provider, threshold, last gallery, recent cases,
theme, window layout), kept as versioned JSON in the data folder.

Plain Python so the command line and the tests can read them too. A settings file that cannot
be understood is reported, never silently reset: it is kept beside the new file as
`settings.json.unreadable` the first time new settings are saved.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from desktop.errors import HomewardError
from desktop.fileio import write_atomically
from desktop.userdirs import data_dir

SCHEMA_VERSION = 1
PROVIDERS = ("auto", "cpu", "cuda")
THEMES = ("system", "light", "dark")  # system: follow the desktop's colour scheme
MAX_RECENT = 10


class SettingsError(HomewardError):
    """The settings file exists but cannot be used; defaults are in force until saved."""


@dataclass(frozen=True)
class Settings:
    reviewer: str = ""
    default_pack: str | None = None  # None: the pack store's default
    provider: str = "auto"
    match_threshold: float | None = None  # None: each pack's own threshold
    fps: float = 2.0
    gallery: str | None = None
    recent_cases: tuple[str, ...] = field(default_factory=tuple)
    theme: str = "system"
    window_geometry: str = ""  # Qt's saved geometry (base64): size, position, maximised
    splitters: dict[str, str] = field(default_factory=dict, hash=False)  # name -> saved state

    def with_recent_case(self, folder: Path) -> Settings:
        path = str(Path(folder).resolve())
        recent = (path, *(p for p in self.recent_cases if p != path))[:MAX_RECENT]
        return replace(self, recent_cases=recent)


def settings_path() -> Path:
    return data_dir() / "settings.json"


def _validated(raw: object) -> Settings:
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"schema version {version!r}; this Homeward reads {SCHEMA_VERSION}")
    known = {f.name for f in fields(Settings)}
    values = {k: v for k, v in raw.items() if k in known}
    if "recent_cases" in values:
        values["recent_cases"] = tuple(str(p) for p in values["recent_cases"])
    settings = Settings(**values)
    if settings.provider not in PROVIDERS:
        raise ValueError(f"provider {settings.provider!r} is not one of {', '.join(PROVIDERS)}")
    if settings.match_threshold is not None and not -1.0 <= settings.match_threshold <= 1.0:
        raise ValueError(f"match threshold {settings.match_threshold} is outside [-1, 1]")
    if settings.theme not in THEMES:
        raise ValueError(f"theme {settings.theme!r} is not one of {', '.join(THEMES)}")
    if not isinstance(settings.window_geometry, str) or not isinstance(settings.splitters, dict):
        raise ValueError("the saved window layout is not text")
    if not 0.0 < settings.fps <= 60.0:
        raise ValueError(f"frames per second {settings.fps} is outside (0, 60]")
    return settings


def load_settings(path: Path | None = None) -> Settings:
    """The saved settings; defaults when there is no file; SettingsError when it is broken."""
    path = path or settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise SettingsError(f"The settings file {path} cannot be read.", str(exc)) from exc
    try:
        return _validated(json.loads(text))
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"The settings file {path} is not valid; defaults are used.",
                            str(exc)) from exc


def save_settings(settings: Settings, path: Path | None = None) -> None:
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _validated(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        pass
    except (OSError, ValueError, TypeError):
        bad = path.with_name(path.name + ".unreadable")
        if not bad.exists():
            path.replace(bad)
    payload = {"schema_version": SCHEMA_VERSION, **asdict(settings)}
    payload["recent_cases"] = list(settings.recent_cases)
    write_atomically(path, (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode())
