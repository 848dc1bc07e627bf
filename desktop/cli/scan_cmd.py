"""`homeward scan SOURCE --case DIR [--gallery FILE]` and `homeward hits --case DIR`."""

from __future__ import annotations

import argparse
import getpass
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.scan.case import Case
from desktop.sources.base import ARCHIVE_DEPTH

if TYPE_CHECKING:
    from desktop.cli.progress import ProgressDisplay


def register(commands: argparse._SubParsersAction) -> None:
    scan = commands.add_parser("scan", help="scan a seized folder: faces, people, and hits "
                               "against the gallery when there is one")
    scan.add_argument("source", type=Path, nargs="+",
                      help="seized evidence, only ever read: folders, zip, tar(.gz), UFDR, raw "
                      "disk images, E01 (first segment); recognised by content")
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
    scan.add_argument("--archive-depth", type=int, default=ARCHIVE_DEPTH,
                      help="open archives inside containers this deep (0: never; default "
                      f"{ARCHIVE_DEPTH})")
    scan.add_argument("--analyse-known", action="store_true",
                      help="analyse faces in files a hash set marks as ignorable (NSRL, VICS "
                      "non-pertinent); by default they are counted and skipped")
    scan.add_argument("--ray", metavar="ADDRESS",
                      help="analyse on a lab's Ray cluster (its head's HOST:PORT), or `local` "
                      "for a private Ray instance on this machine; this machine still writes "
                      "the case (needs the `cluster` extra)")
    scan.add_argument("--quiet", action="store_true", help="no progress display")
    scan.set_defaults(handler=run_scan)
    hits = commands.add_parser("hits", help="list a case's candidate hits")
    hits.add_argument("--case", type=Path, required=True)
    hits.add_argument("--format", choices=["json", "table"], default="table")
    hits.set_defaults(handler=run_hits)


PROBLEM_STATUSES = frozenset({"unreadable", "corrupt", "refused"})  # a file that could not be examined;
# "no_face" and "unsupported" are findings about the file, not problems with it


def run_scan(args: argparse.Namespace) -> int:
    """Exit 0, or 1 when some of the case's files could not be examined; Ctrl-C cancels
    the scan cleanly (it resumes when run again) and exits 130."""
    from desktop.cli.progress import ProgressDisplay
    from desktop.engine.providers import runtime_report
    from desktop.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS, Cancelled
    from desktop.scan.start import ScanRequest, prepare_scan

    display = ProgressDisplay(quiet=args.quiet)
    cancel = threading.Event()
    request = ScanRequest(
        sources=tuple(args.source), case_dir=args.case, gallery=args.gallery, examiner=args.examiner,
        pack=args.pack, fps=args.fps, threshold=args.threshold, workers=args.workers,
        provider=args.provider, case_number=args.case_number, archive_depth=args.archive_depth,
        analyse_known=args.analyse_known)
    with ExitStack() as cluster:
        plan = None
        if args.ray:  # the cluster is checked before the case is created or changed
            from desktop.cluster.analysis import plan_cluster
            from desktop.cluster.runtime import connected

            plan = plan_cluster(cluster.enter_context(connected(args.ray)), args.ray, request)
            print(f"Ray cluster {args.ray}: {len(plan.nodes)} node(s), "
                  f"{sum(n.cpus for n in plan.nodes):g} CPUs, "
                  f"{sum(n.gpus for n in plan.nodes):g} GPUs", file=sys.stderr)
        job = prepare_scan(request, on_progress=display, cancel=cancel)
        if plan is not None:
            plan.apply(job)
        info = job.case.info
        print(f"case {info.case_number}: pack {job.pack.id}, threshold "
              f"{info.match_threshold:.3f}; {runtime_report(args.provider).lines()[-1]}",
              file=sys.stderr)
        try:
            with _ctrl_c_cancels(cancel, display):
                summary = job.run()
        except Cancelled:
            if not cancel.is_set():
                raise
            display.say("interrupted; run the same command again to resume")
            return EXIT_INTERRUPTED
        finally:
            display.close()
            job.case.close()
            if job.gallery is not None:
                job.gallery.close()
    _report_links(args)
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.status_counts.items()))
    print(f"scan {summary.scan_id}: {summary.files} files ({statuses}); "
          f"{summary.new_contents} analysed now, {summary.faces} faces in the case, "
          f"{summary.new_hits} new hits; {summary.seconds:.1f} s")
    problems = sum(n for status, n in summary.status_counts.items() if status in PROBLEM_STATUSES)
    if problems:
        print(f"{problems} file(s) could not be examined (unreadable, corrupt or refused); "
              "`homeward case show --case DIR` lists them", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


@contextmanager
def _ctrl_c_cancels(cancel: threading.Event, display: ProgressDisplay) -> Iterator[None]:
    """While the scan runs, Ctrl-C cancels it: the job stops between files and records the
    scan as cancelled, so the next run resumes. A second Ctrl-C stops at once."""

    def first(_signum: int, _frame: object) -> None:
        cancel.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        display.say("stopping after the files in progress (Ctrl-C again to stop at once)")

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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
    shown = [link for link in links if link.status != "reject"]
    pending = sum(1 for link in shown if link.status == "pending")
    cases = sorted({link.other_case_number for link in shown})
    print(f"lab index: {len(shown)} cross-case link(s), {pending} not reviewed yet"
          + (f", with case(s) {', '.join(cases)}" if cases else "")
          + " — leads for review, not identifications (homeward lab links --case DIR)")


def run_hits(args: argparse.Namespace) -> int:
    from desktop.cli.review_cmd import print_items
    from desktop.review.queue import review_items

    print_items(review_items(Case.open(args.case).db), args.format)
    return 0
