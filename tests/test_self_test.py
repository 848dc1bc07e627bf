"""`homeward self-test`: real packs on the built-in check face, no network, non-zero on damage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktop.cli import main
from desktop.engine.engine import EngineOptions
from desktop.engine.pack_store import resolve_pack
from desktop.engine.self_test import check_pack, run_self_test

# Run before Homeward is imported: records and refuses every attempt to reach a network.
# Creating a socket is allowed, and so is binding one to loopback: urllib3 (imported by
# insightface through requests) probes IPv6 support at import with a bind to ::1, port 0.
NO_NETWORK = """
import os, sys
NETWORK = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
           "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo",
           "http.client.connect", "urllib.Request"}

def watch(event, args):
    if event in NETWORK or event == "socket.bind" and args[1][0] not in ("127.0.0.1", "::1"):
        with open(os.environ["NETWORK_LOG"], "a") as log:
            log.write(f"{event} {args[1:]!r}\\n")
        raise PermissionError(f"network use: {event}")

sys.addaudithook(watch)
"""


def run_watched(code: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, str]:
    log = tmp_path / "network.log"
    env = {**os.environ, "NETWORK_LOG": str(log)}
    done = subprocess.run([sys.executable, "-c", NO_NETWORK + code], capture_output=True,
                          text=True, env=env, timeout=120)
    return done, log.read_text() if log.exists() else ""


@pytest.fixture
def own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_pack) -> Path:
    """A data folder of its own holding copies of `open` and the shared test pack."""
    data = tmp_path / "data"
    for pack in (resolve_pack("open"), test_pack):
        shutil.copytree(pack.root, data / "packs" / pack.root.name)
    monkeypatch.setenv("HOMEWARD_DATA_DIR", str(data))
    return data


def test_every_installed_pack_passes_and_is_reported(test_pack):
    seen = []
    report = run_self_test("cpu", progress=seen.append)
    assert report.ok, report.failures
    assert list(report.checks) == seen
    names = [check.name for check in report.checks]
    assert names[0] == "runtime" and "CPUExecutionProvider" in report.checks[0].detail
    for pack in ("open", test_pack.id):
        assert f"{pack}: files" in names
    faces = {check.name: check.detail for check in report.checks}
    assert "128-D unit embedding, repeatable" in faces["open: faces"]
    assert "512-D unit embedding, repeatable" in faces[f"{test_pack.id}: faces"]


def test_an_image_without_a_face_fails_the_check(test_pack):
    blank = np.full((240, 240, 3), 128, np.uint8)
    files, faces = check_pack(test_pack, blank, EngineOptions(provider="cpu"))
    assert files.ok
    assert not faces.ok and faces.detail == "no face found in the check image"


def test_a_corrupted_pack_file_fails_the_self_test(own_data_dir, test_pack, capsys):
    model = own_data_dir / "packs" / test_pack.root.name / test_pack.manifest.recognizer.file
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the hash can tell
    model.write_bytes(bytes(data))
    assert main(["self-test", "--provider", "cpu"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  {test_pack.id}: files: {model.name} hash" in out
    assert "ok    open: faces:" in out  # the intact pack is still checked
    assert "self-test FAILED: 1 of 4 checks" in out


def test_self_test_never_touches_the_network(tmp_path):
    done, attempts = run_watched(
        "from desktop.cli import main; sys.exit(main(['self-test', '--provider', 'cpu']))",
        tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test passed" in done.stdout
    assert attempts == ""


def test_the_network_watch_catches_a_connection_attempt(tmp_path):
    done, attempts = run_watched(
        "import socket\ntry:\n    socket.socket().connect(('127.0.0.1', 9))\n"
        "except PermissionError:\n    pass\n", tmp_path)
    assert done.returncode == 0, done.stderr
    assert attempts.startswith("socket.connect")


def test_self_test_refuses_an_open_pack_rebuilt_differently(own_data_dir, capsys):
    """Issue 12 fault 11: self-test compared the open pack with its self-computed hash; a
    rebuild with other bytes (manifest agreeing) passed. It must fail naming both hashes."""
    import dataclasses

    import onnx

    from desktop.engine.manifest import load_manifest
    from desktop.hashing import sha256_file

    root = own_data_dir / "packs" / "open"
    manifest = load_manifest(root / "pack.json")
    path = root / manifest.recognizer.file
    model = onnx.load(str(path))
    model.producer_version = "rebuilt-differently"
    onnx.save(model, str(path))
    new = sha256_file(path)
    (root / "pack.json").write_text(dataclasses.replace(manifest, recognizer=dataclasses.replace(
        manifest.recognizer, sha256=new, size=path.stat().st_size)).dumps(), encoding="utf-8")
    assert main(["self-test", "--provider", "cpu"]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("FAIL  open: files"))
    assert manifest.recognizer.sha256 in line and new in line
