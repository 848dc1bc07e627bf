"""`homeward case show|set|rebind --case DIR`: a case's data and where its work stands, and
the explicit, audited changes of its settings and of its gallery."""

from __future__ import annotations

import argparse
import getpass
import json
from dataclasses import asdict
from pathlib import Path

from desktop.errors import InvalidArguments
from desktop.review.overview import case_overview, problem_files, source_summary
from desktop.scan.case import Case


def register(commands: argparse._SubParsersAction) -> None:
    case = commands.add_parser("case", help="a case's data, scans, counts and problem files")
    verbs = case.add_subparsers(dest="verb", required=True, metavar="VERB")
    show = verbs.add_parser("show", help="case data, files by status, hits by verdict, scans")
    show.add_argument("--case", type=Path, required=True)
    show.add_argument("--format", choices=["json", "table"], default="table")
    show.add_argument("--json", action="store_const", const="json", dest="format",
                      help="the same as --format json")
    show.set_defaults(handler=run_show)
    settings = verbs.add_parser("set", help="change the match threshold (faces are matched "
                                "again) or the frame rate for videos not analysed yet; audited")
    settings.add_argument("--case", type=Path, required=True)
    settings.add_argument("--threshold", type=float)
    settings.add_argument("--fps", type=float)
    settings.add_argument("--examiner", default=getpass.getuser(), help="who changes it")
    settings.set_defaults(handler=run_set)
    rebind = verbs.add_parser("rebind", help="bind the case to another gallery and match every "
                              "face against it; audited")
    rebind.add_argument("--case", type=Path, required=True)
    rebind.add_argument("--gallery", type=Path, required=True)
    rebind.add_argument("--examiner", default=getpass.getuser(), help="who re-binds it")
    rebind.set_defaults(handler=run_rebind)


def run_show(args: argparse.Namespace) -> int:
    case = Case.open(args.case)
    try:
        overview = case_overview(case)
        problems = problem_files(case.db)
    finally:
        case.close()
    if args.format == "json":
        data = {**asdict(overview), "problem_files": problems,
                "last_scan_interrupted": overview.last_scan_interrupted}
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    for key, value in asdict(overview.info).items():
        print(f"{key:>16}: {value}")
    print("           files: " + ", ".join(f"{k} {v}" for k, v in overview.files_by_status.items()))
    for source in overview.sources:
        print(f"          source: {source_summary(source)}")
    for known in overview.known:
        what = "PRIORITY, " if known["priority"] else "ignorable, " if known["ignorable"] else ""
        print(f"      known file: {known['contents']} in {known['set_name']} "
              f"v{known['set_version']} ({what}{known['label']})")
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


def run_set(args: argparse.Namespace) -> int:
    from desktop.engine.pack_store import resolve_pack
    from desktop.gallery.gallery import Gallery
    from desktop.scan.binding import change_fps, change_threshold

    if args.threshold is None and args.fps is None:
        raise InvalidArguments("Give --threshold, --fps or both.")
    case = Case.open(args.case)
    try:
        if args.fps is not None:
            change_fps(case, args.fps, args.examiner)
            print(f"frame rate {args.fps:g}/s for videos not analysed yet")
        if args.threshold is not None:
            if not case.info.gallery:
                raise InvalidArguments("This case has no gallery: a match threshold applies "
                                       "once it is scanned with one.")
            gallery = Gallery.open(Path(case.info.gallery))
            try:
                added = change_threshold(case, gallery, resolve_pack(case.info.pack_id),
                                         args.threshold, args.examiner)
            finally:
                gallery.close()
            print(f"threshold {args.threshold:g}: faces matched again, {added} new hits")
    finally:
        case.close()
    return 0


def run_rebind(args: argparse.Namespace) -> int:
    from desktop.engine.pack_store import resolve_pack
    from desktop.gallery.gallery import Gallery
    from desktop.scan.binding import rebind

    case = Case.open(args.case)
    gallery = Gallery.open(args.gallery)
    try:
        added = rebind(case, gallery, resolve_pack(case.info.pack_id), args.examiner)
        identity = gallery.identity
    finally:
        gallery.close()
        case.close()
    print(f"case bound to gallery {args.gallery} (id {identity}); faces matched again, "
          f"{added} new hits")
    return 0
