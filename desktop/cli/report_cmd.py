"""`homeward report --case DIR --format html|pdf|csv|json --out FILE [--examiner NAME]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from desktop.report.export import FORMATS, export_report
from desktop.scan.case import Case


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="export reviewed hits (HTML, PDF, CSV, VICS JSON)")
    report.add_argument("--case", type=Path, required=True)
    report.add_argument("--format", choices=FORMATS, required=True)
    report.add_argument("--out", type=Path, required=True, help="the file to write")
    report.add_argument("--examiner", help="who produces the report (default: the case's examiner)")
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    case = Case.open(args.case)
    try:
        done = export_report(case, args.format, args.out, args.examiner)
    finally:
        case.close()
    counts = done.counts
    print(f"wrote {done.path} ({args.format}, sha256 {done.sha256}): {counts['confirmed']} "
          f"confirmed, {counts['unsure']} unsure, {counts['pending']} pending, "
          f"{counts['rejected']} rejected")
    return 0
