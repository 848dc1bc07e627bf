"""Lab scale (issue 16): a case scanned through Ray on a real local Ray instance records what a
workstation scan records; a killed Ray worker is retried; a killed examiner's process resumes;
a node without the pack, or with other model files, is refused before any work; pause holds
the cluster's work and cancel stops it."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from conftest import TEST_PACK, pack_source
from test_scan import GALLERY, _person, build_seized, counts, homeward

from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import PackInfo, import_rows
from desktop.gallery.sources import ImportRow
from desktop.match.hits import list_hits
from desktop.scan.case import Case


@pytest.fixture(scope="module")
def lab(tmp_path_factory, test_pack):
    """The realistic seized folder, its gallery, and a workstation scan of it as reference
    (run in a fresh process that must not import Ray)."""
    from conftest import FACEDATA

    from desktop.engine.engine import EngineOptions
    from desktop.scan.analyze import analyze_paths

    # The `cluster` extra is a declared test dependency (a missing one fails); not imported
    # here: Homeward sets Ray's environment (usage statistics, token mode) before its import.
    assert find_spec("ray") is not None, "Ray is missing: install the `cluster` extra"
    base = tmp_path_factory.mktemp("lab")
    build_seized(base / "source")
    gallery = Gallery.create(base / "gallery.db")
    rows = [ImportRow(person, _person(person), FACEDATA / photo) for person, photo in GALLERY.items()]
    import_rows(gallery, rows, lambda p: analyze_paths(p, test_pack, EngineOptions()),
                PackInfo(test_pack.id, test_pack.manifest.model_hashes), "tester")
    gallery.close()
    local = subprocess.run(
        [sys.executable, "-c", "import sys; from desktop.cli import main; code = main(sys.argv[1:]); "
         "print('ray imported' if 'ray' in sys.modules else 'ray not imported'); sys.exit(code)",
         *scan_args(base, "workstation")], capture_output=True, text=True, timeout=600)
    assert local.returncode == 1, local.stderr  # the fixture's corrupt file
    assert "ray not imported" in local.stdout
    return base, record_of(base / "workstation")


def scan_args(base: Path, case: str, *more: str) -> list[str]:
    return ["scan", str(base / "source"), "--case", str(base / case), "--gallery",
            str(base / "gallery.db"), "--pack", TEST_PACK, "--workers", "2", "--quiet", *more]


def record_of(folder: Path) -> dict:
    """What a scan wrote: files and statuses, faces (with their crop files), embeddings, hits."""
    case = Case.open(folder)
    try:
        db = case.db
        faces = sorted((r["rel_path"], r["frame_index"], tuple(round(v) for v in json.loads(r["box"])),
                        r["crop"], r["thumbnail"]) for r in db.query(
            "SELECT f.rel_path, x.frame_index, x.box, x.crop, x.thumbnail FROM faces x "
            "JOIN files f ON f.content_id = x.content_id"))
        for *_, crop, thumbnail in faces:
            assert (folder / "crops" / crop).is_file() and (folder / "thumbs" / thumbnail).is_file()
        embeddings = {(r["sha256"], r["frame_index"], r["box"]): np.frombuffer(r["embedding"], np.float32)
                      for r in db.query("SELECT c.sha256, x.frame_index, x.box, x.embedding FROM faces x "
                                        "JOIN contents c ON c.id = x.content_id")}
        return {"statuses": sorted((r["rel_path"], r["status"]) for r in db.query("SELECT * FROM files")),
                "faces": faces, "embeddings": embeddings,
                "hits": sorted((tuple(sorted(h["paths"])), h["frame"], h["person_name"], round(h["score"], 4))
                               for h in list_hits(db)),
                "analysis": [json.loads(r["settings"])["analysis"]
                             for r in db.query("SELECT settings FROM scans ORDER BY id")]}
    finally:
        case.close()


def assert_same_record(got: dict, want: dict) -> None:
    assert got["statuses"] == want["statuses"]
    assert got["faces"] == want["faces"]
    assert got["hits"] == want["hits"] and len(want["hits"]) >= 10
    assert got["embeddings"].keys() == want["embeddings"].keys()
    worst = max(float(np.abs(got["embeddings"][k] - want["embeddings"][k]).max()) for k in want["embeddings"])
    assert worst < 1e-5


def audit_intact(folder: Path) -> None:
    verified = homeward("audit", "verify", "--case", str(folder))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_ray_scan_records_exactly_what_a_workstation_scan_records(lab):
    base, want = lab
    done = homeward(*scan_args(base, "on-ray", "--ray", "local"))
    assert done.returncode == 1, done.stderr
    assert "Ray cluster local: 1 node(s)" in done.stderr
    got = record_of(base / "on-ray")
    assert_same_record(got, want)
    assert want["analysis"] == [{"machine": "this workstation", "workers": 2}]
    assert [a["machine"] for a in got["analysis"]] == ["Ray cluster"]
    audit_intact(base / "on-ray")


def _ray_processes(title: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(title.encode()):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _wait_for_commits(case_db: Path, at_least: int, process: subprocess.Popen) -> int:
    deadline = time.time() + 300
    while counts(case_db)[0] < at_least and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    return counts(case_db)[0]


def test_a_killed_ray_worker_is_retried_and_the_scan_completes_the_same(lab):
    base, want = lab
    process = subprocess.Popen([sys.executable, "-m", "desktop", *scan_args(base, "worker-killed",
                                                                              "--ray", "local")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    assert _wait_for_commits(base / "worker-killed" / "case.db", 4, process) >= 4
    engines = _ray_processes("ray::MapWorker")
    assert engines, "the engine actors run as Ray workers"
    os.kill(engines[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 1, stderr
    assert counts(base / "worker-killed" / "case.db")[0] > 4  # the kill landed mid-scan
    assert_same_record(record_of(base / "worker-killed"), want)
    audit_intact(base / "worker-killed")


def test_a_killed_examiners_process_resumes_on_ray_like_a_local_scan(lab):
    base, want = lab
    args = [sys.executable, "-m", "desktop", *scan_args(base, "driver-killed", "--ray", "local")]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    partial = _wait_for_commits(base / "driver-killed" / "case.db", 8, process)
    process.kill()  # the examiner's process only: its Ray instance is left to notice
    process.wait()
    assert 8 <= partial < len(want["statuses"]) - 4, "the kill must land in the middle of the scan"
    resumed = homeward(*scan_args(base, "driver-killed", "--ray", "local"))
    assert resumed.returncode == 1, resumed.stderr
    assert_same_record(record_of(base / "driver-killed"), want)
    audit_intact(base / "driver-killed")


def test_pause_holds_the_clusters_work_and_cancel_stops_it(lab):
    """In this process: the scan's own pause and cancel events, through the gate actor."""
    from desktop.cluster.analysis import plan_cluster
    from desktop.cluster.runtime import connected
    from desktop.errors import Cancelled
    from desktop.scan.start import ScanRequest, prepare_scan

    base, want = lab
    request = ScanRequest((base / "source",), base / "paused", base / "gallery.db", "tester",
                          pack=TEST_PACK)
    pause, cancel, ended = threading.Event(), threading.Event(), []
    with connected("local") as cluster:
        # Batches of 2: what a pause lets finish (a batch per engine) stays well below the rest.
        plan = dataclasses.replace(plan_cluster(cluster, "local", request), images_per_batch=2)

        def run() -> None:  # the case is opened, written and closed in the scan's thread
            job = prepare_scan(request, pause=pause, cancel=cancel)
            plan.apply(job)
            try:
                job.run()
                ended.append("finished")
            except Cancelled:
                ended.append("cancelled")
            finally:
                job.case.close()
                job.gallery.close()

        worker = threading.Thread(target=run)
        worker.start()
        db = base / "paused" / "case.db"
        while counts(db)[0] < 1 and worker.is_alive():
            time.sleep(0.05)
        pause.set()
        time.sleep(4)  # what was already past the gate comes back and is committed
        held = counts(db)[0]
        time.sleep(3)
        assert counts(db)[0] == held < len(want["statuses"]) - 10  # nothing new while paused
        assert ended == []
        cancel.set()
        worker.join(timeout=120)
    assert ended == ["cancelled"]
    case = Case.open(base / "paused")
    assert [r["status"] for r in case.db.query("SELECT status FROM scans")] == ["cancelled"]
    case.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_node_without_the_pack_or_with_other_model_files_is_refused_before_any_work(
        lab, tmp_path):
    """A second node's data folder: a Ray head started with another HOMEWARD_DATA_DIR."""
    base, _ = lab
    node_data = tmp_path / "node-data"
    port = _free_port()
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", f"--port={port}",
         "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats", "--block"],
        env={**os.environ, "HOMEWARD_DATA_DIR": str(node_data), "RAY_USAGE_STATS_ENABLED": "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        missing = homeward(*scan_args(base, "refused", "--ray", address))
        assert missing.returncode == 3, missing.stderr
        assert f"pack {TEST_PACK}" in missing.stderr and "not installed" in missing.stderr
        assert not (base / "refused").exists()  # refused before the case was even created
        doctor = homeward("doctor", "--ray", address, "--format", "json")
        assert doctor.returncode == 1
        report = json.loads(doctor.stdout)
        [node] = report["cluster"]["nodes"]
        assert node["cpus"] == 1 and node["homeward"] and node["onnxruntime"]
        assert any(f"pack {TEST_PACK}" in problem for problem in report["problems"])
        other = pack_source(tmp_path / "other", detector="scrfd_2.5g_kps.onnx")
        imported = subprocess.run([sys.executable, "-m", "desktop", "models", "import", str(other),
                                   "--id", TEST_PACK], capture_output=True, text=True, timeout=300,
                                  env={**os.environ, "HOMEWARD_DATA_DIR": str(node_data)})
        assert imported.returncode == 0, imported.stderr
        different = homeward(*scan_args(base, "refused", "--ray", address))
        assert different.returncode == 3, different.stderr
        assert "different model files (detector)" in different.stderr
        assert not (base / "refused").exists()
    finally:
        head.send_signal(signal.SIGTERM)  # --block: stopping the command stops its processes
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


def test_without_ray_installed_a_cluster_scan_says_how_to_get_it(lab):
    """The desktop installers carry no Ray: `--ray` must explain, not fail with a traceback."""
    base, _ = lab
    blocked = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['ray'] = None; from desktop.cli import main; "
         "sys.exit(main(sys.argv[1:]))", *scan_args(base, "no-ray", "--ray", "local")],
        capture_output=True, text=True, timeout=300)
    assert blocked.returncode == 3, blocked.stderr
    assert "Ray is not installed" in blocked.stderr and "cluster" in blocked.stderr
    assert "Traceback" not in blocked.stderr
    assert not (base / "no-ray").exists()
