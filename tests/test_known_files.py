"""Issue 14 point 5: known-file hash sets in the scan. A file in an ignorable set (an
examiner's "known" list) is counted and not analysed; a file in Project VIC category 1
(known victim material) is flagged, reviewed first, and exported with its category. Real
photos, a real scan through the `homeward` command, real hash-set files imported with
`homeward hashsets import`."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import FACEDATA, require_shared

PEOPLE = FACEDATA / "face_recognition"
VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


def homeward(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def known_case(tmp_path_factory, test_pack):
    require_shared()
    base = tmp_path_factory.mktemp("known")
    env = {**os.environ, "HOMEWARD_DATA_DIR": str(base / "data")}
    # The scan uses the test pack, installed in the session's data folder: link it here.
    (base / "data").mkdir()
    shutil.copytree(os.environ["HOMEWARD_DATA_DIR"], base / "data", dirs_exist_ok=True)
    seized = base / "seized"
    seized.mkdir()
    photos = {"ignorable.jpg": PEOPLE / "Barack_Obama" / "obama.jpg",
              "victim.jpg": PEOPLE / "Barack_Obama" / "obama2.jpg",
              "other.jpg": PEOPLE / "Joseph_Biden" / "biden.jpg"}
    for name, photo in photos.items():
        shutil.copyfile(photo, seized / name)
    digest = {name: hashlib.sha256((seized / name).read_bytes()).hexdigest() for name in photos}
    victim = (seized / "victim.jpg").read_bytes()
    (base / "known.txt").write_text(f"# examiner's list\n{digest['ignorable.jpg']}\n")
    (base / "vics.json").write_text(json.dumps({"@odata.context": VICS_CONTEXT, "value": [{
        "MediaID": 7, "Category": 1, "MD5": hashlib.md5(victim).hexdigest().upper(),
        "SHA1": hashlib.sha1(victim).hexdigest().upper(), "MediaSize": len(victim)}]}))
    for path in ("known.txt", "vics.json"):
        done = homeward("hashsets", "import", base / path, env=env)
        assert done.returncode == 0, done.stderr
    gallery = base / "g.db"
    assert homeward("gallery", "create", "--gallery", gallery, env=env).returncode == 0
    done = homeward("gallery", "add", "--gallery", gallery, "--name", "Barack Obama", "--pack",
                    test_pack.id, PEOPLE / "Barack_Obama" / "obama3.jpg", env=env)
    assert done.returncode == 0, done.stderr
    done = homeward("scan", seized, "--case", base / "case", "--gallery", gallery, "--pack",
                    test_pack.id, "--workers", "1", env=env)
    assert done.returncode == 0, done.stderr
    return base, env


def test_a_file_in_an_ignorable_set_is_counted_and_not_analysed(known_case):
    base, env = known_case
    shown = json.loads(homeward("case", "show", "--case", base / "case", "--format", "json",
                                env=env).stdout)
    assert shown["files_by_status"]["known"] == 1
    assert {(k["set_name"], k["ignorable"], k["priority"], k["contents"]) for k in shown["known"]} \
        == {("known", 1, 0, 1), ("vics", 0, 1, 1)}
    from desktop.scan.case import Case

    case = Case.open(base / "case")
    try:
        row = next(case.db.query(
            "SELECT c.status, c.reason, (SELECT COUNT(*) FROM faces WHERE content_id = c.id) AS "
            "faces FROM files f JOIN contents c ON c.id = f.content_id WHERE f.rel_path = ?",
            ["ignorable.jpg"]))
        assert row["status"] == "known" and row["faces"] == 0 and "known" in row["reason"]
    finally:
        case.close()


def test_known_victim_material_is_flagged_reviewed_first_and_exported_with_its_category(known_case):
    base, env = known_case
    hits = json.loads(homeward("hits", "--case", base / "case", "--format", "json", env=env).stdout)
    assert hits[0]["path"] == "victim.jpg" and hits[0]["priority"] is True
    assert hits[0]["known"] == ["vics v1: " + hits[0]["known"][0].split(": ", 1)[1]]
    decided = homeward("review", "decide", "--case", base / "case", "--hit", hits[0]["hit_id"],
                       "--decision", "confirm", "--reviewer", "Ada", env=env)
    assert decided.returncode == 0, decided.stderr
    out = base / "vics.json"
    done = homeward("report", "--case", base / "case", "--out", out, "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    media = json.loads(out.read_text())["value"][0]["Media"]
    assert [(m["Category"], m["IsPrecategorized"]) for m in media] == [(1, True)]
