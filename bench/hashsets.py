"""Hash-set speed: import time for 10^6 hashes (plain list, VICS JSON, NSRL RDSv3) and lookups/s.

    .venv/bin/python bench/hashsets.py [--hashes 1000000] [--lookups 20000]
The targets (issue 14): an import of 10^6 hashes under 20 s on the 2-core build machine, and a
lookup well under 1 ms (a scan analyses 5-50 files a second; lookups must add < 5%).
All inputs are synthetic and built in a scratch folder; the store lives there too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _md5(n: int) -> str:
    return hashlib.md5(n.to_bytes(8, "little")).hexdigest()


def _sha1(n: int) -> str:
    return hashlib.sha1(n.to_bytes(8, "little")).hexdigest()


def _sha256(n: int) -> str:
    return hashlib.sha256(n.to_bytes(8, "little")).hexdigest()


def build_list(path: Path, count: int) -> None:
    with open(path, "w") as out:
        out.writelines(f"{_md5(n)}\n" for n in range(count))


def build_vics(path: Path, count: int) -> None:
    """count hashes: count/2 Media records with an MD5 and a SHA-1 each."""
    with open(path, "w") as out:
        out.write('{"@odata.context":"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/'
                  'US/$metadata#Media","value":[')
        for n in range(count // 2):
            out.write(("," if n else "") + json.dumps({
                "MediaID": n, "Category": n % 5, "MD5": _md5(n).upper(), "SHA1": _sha1(n).upper(),
                "MediaSize": 1000 + n, "DateUpdated": "2024-01-02T03:04:05.678Z",
                "IsPrecategorized": "true", "VictimIdentified": "false"}))
        out.write("]}")


def build_nsrl(path: Path, count: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT "
                 "NULL, crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL, "
                 "package_id INTEGER NOT NULL)")
    conn.executemany("INSERT INTO FILE VALUES (?, ?, ?, '00000000', ?, 1, 1)",
                     ((_sha256(n).upper(), _sha1(n).upper(), _md5(n).upper(), f"f{n}.dll")
                      for n in range(count)))
    conn.commit()
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashes", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="homeward-bench-hashsets-"))
    os.environ["HOMEWARD_DATA_DIR"] = str(work / "data")

    from desktop.hashsets.importers import import_file
    from desktop.hashsets.store import HashSetStore

    for kind, build in (("list", build_list), ("vics", build_vics), ("nsrl", build_nsrl)):
        source = work / f"{kind}.input"
        build(source, args.hashes)
        started = time.perf_counter()
        report = import_file(source, kind=kind, name=kind)
        took = time.perf_counter() - started
        print(f"import {kind:<4}: {report.hash_set.hashes:>9,} hashes from {source.stat().st_size >> 20} MiB "
              f"in {took:6.2f} s ({report.hash_set.hashes / took:,.0f} hashes/s)")
        source.unlink()
    print(f"store: {(work / 'data' / 'hashsets.db').stat().st_size >> 20} MiB")

    step = max(1, args.hashes // args.lookups)
    known = [(_md5(n), _sha1(n), _sha256(n)) for n in range(0, args.hashes, step)]
    unknown = [(_md5(-n - 1 & 0xFFFFFFFF | 1 << 40), None, _sha256(n + (1 << 41)))
               for n in range(len(known))]
    with HashSetStore.open() as store:
        for label, files in (("known files", known), ("unknown files", unknown)):
            started = time.perf_counter()
            found = sum(bool(store.lookup(*f)) for f in files)
            took = time.perf_counter() - started
            print(f"lookup one at a time, {label}: {len(files) / took:,.0f} lookups/s "
                  f"({took / len(files) * 1e6:.0f} µs each; {found} matched)")
        started = time.perf_counter()
        store.lookup_many(known)
        took = time.perf_counter() - started
        print(f"lookup_many, known files: {len(known) / took:,.0f} files/s "
              f"({took / len(known) * 1e6:.0f} µs each)")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
