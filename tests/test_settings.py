"""Settings: versioned JSON, validated, and never silently reset when broken."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from desktop.settings import MAX_RECENT, Settings, SettingsError, load_settings, save_settings


def test_settings_round_trip_and_recent_cases(tmp_path):
    path = tmp_path / "settings.json"
    assert load_settings(path) == Settings()
    settings = replace(Settings(), reviewer="Ana Ferreira", provider="cpu", match_threshold=0.4,
                       default_pack="shared_s", gallery="/cases/missing.db")
    for n in range(MAX_RECENT + 3):
        settings = settings.with_recent_case(tmp_path / f"case{n}")
    settings = settings.with_recent_case(tmp_path / "case5")  # reopened: moves to the front
    save_settings(settings, path)
    loaded = load_settings(path)
    assert loaded == settings
    assert len(loaded.recent_cases) == MAX_RECENT
    assert loaded.recent_cases[0].endswith("case5")
    assert len(set(loaded.recent_cases)) == MAX_RECENT
    assert json.loads(path.read_text())["schema_version"] == 1


@pytest.mark.parametrize("text, reason", [
    ("{broken", "Expecting"),
    ('{"schema_version": 2}', "schema version 2"),
    ('{"schema_version": 1, "provider": "tpu"}', "provider 'tpu'"),
    ('{"schema_version": 1, "match_threshold": 7}', "outside"),
    ('{"schema_version": 1, "fps": 0}', "frames per second"),
    ("[]", "not a JSON object"),
])
def test_a_broken_file_is_reported_then_kept_aside_when_new_settings_are_saved(tmp_path, text,
                                                                               reason):
    path = tmp_path / "settings.json"
    path.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert reason in caught.value.detail
    assert path.read_text() == text  # loading never rewrites it
    save_settings(replace(Settings(), reviewer="J. Doe"), path)
    assert (tmp_path / "settings.json.unreadable").read_text() == text
    assert load_settings(path).reviewer == "J. Doe"
