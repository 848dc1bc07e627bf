"""`homeward case show --case DIR [--json]`: a case's data and where its work stands."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from desktop.review.overview import case_overview, problem_files
from desktop.scan.case import Case


def register(commands: argparse._SubParsersAction) -> None:
    case = commands.add_parser("case", help="a case's data, scans, counts and problem files")
    verbs = case.add_subparsers(dest="verb", required=True, metavar="VERB")
    show = verbs.add_parser("show", help="case data, files by status, hits by verdict, scans")
    show.add_argument("--case", type=Path, required=True)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)


def run_show(args: argparse.Namespace) -> int:
    case = Case.open(args.case)
    try:
        overview = case_overview(case)
        problems = problem_files(case.db)
    finally:
        case.close()
    if args.json:
        data = {**asdict(overview), "problem_files": problems,
                "last_scan_interrupted": overview.last_scan_interrupted}
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    for key, value in asdict(overview.info).items():
        print(f"{key:>16}: {value}")
    print("           files: " + ", ".join(f"{k} {v}" for k, v in overview.files_by_status.items()))
    print(f"           faces: {overview.faces} ({overview.tracks} video tracks)")
    print(f"            hits: {overview.hits} (" + ", ".join(
        f"{k} {v}" for k, v in overview.verdicts.items()) + ")")
    for scan in overview.scans:
        print(f"         scan {scan['id']}: {scan['status']}, {scan['started_at']} → "
              f"{scan['finished_at'] or '…'}")
    if overview.last_scan_interrupted:
        print("the last scan did not finish: run `homeward scan` again to resume it")
    for problem in problems:
        print(f"  ! {problem['rel_path']}: {problem['status']} ({problem['reason']})")
    return 0
