"""`homeward scan SOURCE --case DIR --gallery FILE` and `homeward hits --case DIR`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from desktop.scan.case import DB_NAME, Case, CaseError, CaseInfo


def register(commands: argparse._SubParsersAction) -> None:
    scan = commands.add_parser("scan", help="scan a seized folder against the gallery")
    scan.add_argument("source", type=Path, help="the seized folder (only ever read)")
    scan.add_argument("--case", type=Path, required=True, help="case folder (created if new)")
    scan.add_argument("--gallery", type=Path, required=True)
    scan.add_argument("--pack", help="model pack (default: the default pack); fixed per case")
    scan.add_argument("--fps", type=float, default=2.0, help="video frames sampled per second")
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


def _open_or_create(args: argparse.Namespace, pack) -> Case:
    source = args.source.resolve()
    if not source.is_dir():
        raise CaseError(f"{args.source} is not a folder.")
    if (args.case / DB_NAME).exists():
        case = Case.open(args.case)
        if Path(case.info.source_root) != source:
            raise CaseError(f"This case belongs to the source {case.info.source_root}.",
                            "use a new case folder for another source")
        return case
    from desktop.storage.database import utc_now

    threshold = pack.manifest.match_threshold if args.threshold is None else args.threshold
    return Case.create(args.case, CaseInfo(
        case_number=args.case_number or args.case.resolve().name, examiner=args.examiner,
        source_root=str(source), gallery=str(args.gallery.resolve()), pack_id=pack.id,
        model_hashes=pack.manifest.model_hashes, match_threshold=threshold, fps=args.fps,
        created_at=utc_now()))


def run_scan(args: argparse.Namespace) -> int:
    from desktop.engine.engine import EngineOptions
    from desktop.engine.pack_store import resolve_pack
    from desktop.engine.providers import runtime_report
    from desktop.gallery.gallery import Gallery
    from desktop.scan.job import Progress, ScanJob

    gallery = Gallery.open(args.gallery)
    existing = (args.case / DB_NAME).exists()
    pack = resolve_pack(Case.open(args.case).info.pack_id if existing and not args.pack
                        else args.pack)
    case = _open_or_create(args, pack)
    print(f"case {case.info.case_number}: pack {pack.id}, threshold "
          f"{case.info.match_threshold:.3f}; {runtime_report(args.provider).lines()[-1]}",
          file=sys.stderr)

    def show(p: Progress) -> None:
        if args.quiet:
            return
        eta = f", ETA {p.eta_s:.0f} s" if p.eta_s else ""
        print(f"\r{p.stage}: {p.done}/{p.total} ({p.rate:.1f}/s{eta}), faces {p.faces}   ",
              end="\n" if p.stage == "done" else "", file=sys.stderr, flush=True)

    job = ScanJob(case, pack, gallery, options=EngineOptions(provider=args.provider),
                  workers=args.workers, on_progress=show, examiner=args.examiner)
    summary = job.run()
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.status_counts.items()))
    print(f"scan {summary.scan_id}: {summary.files} files ({statuses}); "
          f"{summary.new_contents} analysed now, {summary.faces} faces in the case, "
          f"{summary.new_hits} new hits; {summary.seconds:.1f} s")
    return 0


def run_hits(args: argparse.Namespace) -> int:
    from desktop.cli.review_cmd import print_items
    from desktop.review.queue import review_items

    print_items(review_items(Case.open(args.case).db), args.format)
    return 0
