"""`homeward hashsets import|list|remove`: the known-file hash sets (Project VIC / CAID VICS
JSON, NSRL RDSv3, plain lists) that a scan checks every file against."""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path

from desktop.hashsets.categories import LIST_CATEGORIES
from desktop.hashsets.importers import KINDS, ImportReport, import_file
from desktop.hashsets.store import HashSet, HashSetStore, remove_sets

SET_FIELDS = ("id, name, version, current (the version lookups use), kind, source_path, "
              "source_sha256, source_date (VICS: latest DateUpdated; NSRL: release_date; else "
              "null), imported_at (UTC), examiner, md5_count, sha1_count, sha256_count, hashes, "
              "bad_entries, duplicates")
IMPORT_EPILOG = (f"JSON output: {{\"set\": {{{SET_FIELDS}}}, \"bad_entries\": N, \"bad_samples\": "
                 "[{\"where\", \"reason\"}, ... the first 20]}. Exit status: 0 imported, 1 imported "
                 "but some entries were skipped, 2 bad arguments or an unreadable file (nothing "
                 "imported).")
LIST_EPILOG = f"JSON output: a list of sets, every version, each {{{SET_FIELDS}}}."


def register(commands: argparse._SubParsersAction) -> None:
    hashsets = commands.add_parser("hashsets", help="known-file hash sets (Project VIC, CAID, NSRL)")
    verbs = hashsets.add_subparsers(dest="verb", required=True, metavar="VERB")
    imp = verbs.add_parser("import", help="import a VICS JSON, NSRL RDSv3 or plain hash list",
                           epilog=IMPORT_EPILOG)
    imp.add_argument("file", type=Path)
    imp.add_argument("--kind", choices=KINDS, help="default: detected from the content")
    imp.add_argument("--name", help="set name (default: the file name without extension); "
                                    "importing a name again adds a new version")
    imp.add_argument("--category", choices=LIST_CATEGORIES,
                     help="plain lists only: known (default; non-pertinent, may skip face "
                          "analysis), notable, or priority (known victim material)")
    imp.add_argument("--examiner", default=getpass.getuser(), help="who imports it")
    imp.add_argument("--format", choices=["table", "json"], default="table")
    imp.set_defaults(handler=run_import)
    listing = verbs.add_parser("list", help="the imported sets, every version", epilog=LIST_EPILOG)
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(handler=run_list)
    remove = verbs.add_parser("remove", help="remove every version of a named set")
    remove.add_argument("name")
    remove.set_defaults(handler=run_remove)


def _row(s: HashSet) -> str:
    mark = "*" if s.current else " "
    return (f"{mark} {s.name:<24} v{s.version:<3} {s.kind:<5} md5 {s.md5_count:>9} sha1 "
            f"{s.sha1_count:>9} sha256 {s.sha256_count:>9}  bad {s.bad_entries:>6}  "
            f"{s.imported_at}  {s.source_date or '-'}")


def run_import(args: argparse.Namespace) -> int:
    report: ImportReport = import_file(args.file, kind=args.kind, name=args.name,
                                       category=args.category, examiner=args.examiner)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        s = report.hash_set
        print(f"imported {s.name} version {s.version} ({s.kind}): {s.hashes} hashes "
              f"(md5 {s.md5_count}, sha1 {s.sha1_count}, sha256 {s.sha256_count}), "
              f"{s.duplicates} duplicates, {report.bad_entries} bad entries skipped")
        for bad in report.bad_samples:
            print(f"  ! {bad.where}: {bad.reason}")
        if report.bad_entries > len(report.bad_samples):
            print(f"  ... and {report.bad_entries - len(report.bad_samples)} more")
    return 1 if report.bad_entries else 0


def run_list(args: argparse.Namespace) -> int:
    with HashSetStore.open() as store:
        sets = store.sets()
    if args.format == "json":
        print(json.dumps([s.to_dict() for s in sets], indent=2, ensure_ascii=False))
        return 0
    if not sets:
        print("no hash sets imported")
    for s in sets:
        print(_row(s))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    for s in remove_sets(args.name):
        print(f"removed {s.name} version {s.version} ({s.kind}, {s.hashes} hashes, imported "
              f"{s.imported_at})")
    return 0
