"""`homeward scan SOURCE --case DIR [--gallery FILE]` and `homeward hits --case DIR`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from desktop.scan.case import Case


def register(commands: argparse._SubParsersAction) -> None:
    scan = commands.add_parser("scan", help="scan a seized folder: faces, people, and hits "
                               "against the gallery when there is one")
    scan.add_argument("source", type=Path, help="the seized folder (only ever read)")
    scan.add_argument("--case", type=Path, required=True, help="case folder (created if new)")
    scan.add_argument("--gallery", type=Path,
                      help="missing persons to match (default: the case's; none: no hits)")
    scan.add_argument("--pack", help="model pack (default: the default pack); fixed per case")
    scan.add_argument("--fps", type=float,
                      help="video frames sampled per second (a new case's; default 2)")
    scan.add_argument("--threshold", type=float, help="match threshold (default: the pack's)")
    scan.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    scan.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    scan.add_argument("--case-number", help="for a new case (default: the folder's name)")
    scan.add_argument("--examiner", default=getpass.getuser(), help="for a new case")
    scan.add_argument("--quiet", action="store_true", help="no progress lines")
    scan.set_defaults(handler=run_scan)
    hits = commands.add_parser("hits", help="list a case's candidate hits")
    hits.add_argument("--case", type=Path, required=True)
    hits.add_argument("--format", choices=["json", "table"], default="table")
    hits.set_defaults(handler=run_hits)


def run_scan(args: argparse.Namespace) -> int:
    from desktop.engine.providers import runtime_report
    from desktop.scan.job import Progress
    from desktop.scan.start import ScanRequest, prepare_scan

    def show(p: Progress) -> None:
        if args.quiet:
            return
        eta = f", ETA {p.eta_s:.0f} s" if p.eta_s else ""
        print(f"\r{p.stage}: {p.done}/{p.total} ({p.rate:.1f}/s{eta}), faces {p.faces}   ",
              end="\n" if p.stage == "done" else "", file=sys.stderr, flush=True)

    job = prepare_scan(ScanRequest(
        source=args.source, case_dir=args.case, gallery=args.gallery, examiner=args.examiner,
        pack=args.pack, fps=args.fps, threshold=args.threshold, workers=args.workers,
        provider=args.provider, case_number=args.case_number), on_progress=show)
    info = job.case.info
    print(f"case {info.case_number}: pack {job.pack.id}, threshold "
          f"{info.match_threshold:.3f}; {runtime_report(args.provider).lines()[-1]}",
          file=sys.stderr)
    try:
        summary = job.run()
    finally:
        job.case.close()
        if job.gallery is not None:
            job.gallery.close()
    _report_links(args)
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.status_counts.items()))
    print(f"scan {summary.scan_id}: {summary.files} files ({statuses}); "
          f"{summary.new_contents} analysed now, {summary.faces} faces in the case, "
          f"{summary.new_hits} new hits; {summary.seconds:.1f} s")
    return 0


def _report_links(args: argparse.Namespace) -> None:
    """A case registered in a lab index: its new clusters go there, and the unknown people it
    shares with other registered cases are named (leads for review, not identifications)."""
    from desktop.cli.lab_cmd import case_entry
    from desktop.engine.pack_store import resolve_pack
    from desktop.errors import HomewardError
    from desktop.people.lab_index import refresh_after_scan

    case = Case.open(args.case)
    try:
        links = refresh_after_scan(case.db, case_entry(case), resolve_pack(case.info.pack_id),
                                   args.examiner)
    except HomewardError as exc:  # the scan itself is complete and sound
        print(f"warning: the lab index was not updated: {exc}", file=sys.stderr)
        return
    finally:
        case.close()
    if links is None:
        return
    cases = sorted({link.other_case_number for link in links})
    print(f"lab index: {len(links)} cross-case link(s)"
          + (f" with case(s) {', '.join(cases)}" if cases else "")
          + " — leads for review, not identifications (homeward lab links --case DIR)")


def run_hits(args: argparse.Namespace) -> int:
    from desktop.cli.review_cmd import print_items
    from desktop.review.queue import review_items

    print_items(review_items(Case.open(args.case).db), args.format)
    return 0
