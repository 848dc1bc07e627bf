"""`homeward review list|decide|undo --case DIR` and `homeward audit verify --case DIR`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from desktop.errors import EXIT_OK, EXIT_REFUSED, InvalidArguments
from desktop.review.decisions import VERDICTS, decide, undo
from desktop.review.queue import hits_of_person, hits_of_track, review_items
from desktop.scan.case import Case
from desktop.storage.record import verify_case


def register(commands: argparse._SubParsersAction) -> None:
    review = commands.add_parser("review", help="list hits and record reviewers' decisions")
    verbs = review.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="the review queue (pending first, best first)")
    listing.add_argument("--case", type=Path, required=True)
    listing.add_argument("--format", choices=["json", "table"], default="table")
    listing.add_argument("--status", choices=["pending", *VERDICTS])
    listing.add_argument("--person", type=int, help="only hits of this gallery person id")
    listing.add_argument("--min-score", type=float)
    listing.set_defaults(handler=run_list)
    decision = verbs.add_parser("decide", help="confirm, reject or mark unsure")
    decision.add_argument("--case", type=Path, required=True)
    target = decision.add_mutually_exclusive_group(required=True)
    target.add_argument("--hit", type=int, action="append", help="hit id (repeatable)")
    target.add_argument("--person", type=int, help="every hit of this gallery person")
    target.add_argument("--track", type=int, metavar="HIT",
                        help="this hit and every hit of the same video track and person")
    decision.add_argument("--decision", choices=VERDICTS, required=True)
    decision.add_argument("--reviewer", default=getpass.getuser())
    decision.add_argument("--note")
    decision.set_defaults(handler=run_decide)
    taking_back = verbs.add_parser(
        "undo", help="withdraw decisions (recorded and audited; the earlier verdict, or pending, "
        "is current again)")
    taking_back.add_argument("--case", type=Path, required=True)
    taking_back.add_argument("--decision", type=int, action="append", required=True,
                             help="decision id, as `review decide` printed it (repeatable)")
    taking_back.add_argument("--reviewer", default=getpass.getuser())
    taking_back.set_defaults(handler=run_undo)
    trail = commands.add_parser("audit", help="check a case's audit trail")
    trail_verbs = trail.add_subparsers(dest="verb", required=True, metavar="VERB")
    verify = trail_verbs.add_parser(
        "verify", help="check the chain and every table it seals; exit 0 and the head hash if "
        "intact, 1 with every mismatch named")
    verify.add_argument("--case", type=Path, required=True)
    verify.add_argument("--expect-head", metavar="HASH",
                        help="a head recorded earlier (a report quotes one): it must be in the chain")
    verify.add_argument("--format", choices=["json", "table"], default="table")
    verify.set_defaults(handler=run_verify)


def run_list(args: argparse.Namespace) -> int:
    items = review_items(Case.open(args.case).db, status=args.status, person_id=args.person,
                         min_score=args.min_score)
    print_items(items, args.format)
    return 0


def print_items(items: list[dict], form: str) -> None:
    if form == "json":
        print(json.dumps(items, indent=2, ensure_ascii=False))
        return
    for h in items:
        where = h["path"] + (f" @ {h['timestamp']:.1f}s" if h["timestamp"] is not None else "")
        flags = f" [{', '.join(h['flags'])}]" if h["flags"] else ""
        print(f"{h['hit_id']:>6}  {h['status']:<8} {h['score']:.3f}  #{h['rank']}  "
              f"{h['person_name']:<28} {where}{flags}")


def run_decide(args: argparse.Namespace) -> int:
    db = Case.open(args.case).db
    if args.hit:
        hit_ids = args.hit
    elif args.track is not None:
        hit_ids = hits_of_track(db, args.track)
    else:
        hit_ids = hits_of_person(db, args.person)
    ids = decide(db, hit_ids, args.decision, args.reviewer, args.note)
    print(f"recorded {len(ids)} decision(s): {args.decision} by {args.reviewer.strip()} "
          f"(decision ids {', '.join(map(str, ids))}; `review undo --decision ID` withdraws)")
    return 0


def run_undo(args: argparse.Namespace) -> int:
    hit_ids = undo(Case.open(args.case).db, args.decision, args.reviewer)
    print(f"withdrew {len(args.decision)} decision(s) on hit(s) {', '.join(map(str, hit_ids))}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    expect = args.expect_head.strip().lower() if args.expect_head else None
    if expect is not None and (len(expect) != 64 or any(c not in "0123456789abcdef" for c in expect)):
        raise InvalidArguments("--expect-head takes a SHA-256: 64 hexadecimal digits.")
    case = Case.open(args.case)
    try:
        report = verify_case(case.db, expect)
    finally:
        case.close()
    if args.format == "json":
        print(json.dumps({"ok": report.ok, "rows": report.rows, "head": report.head,
                          "problems": report.problems}, indent=2, ensure_ascii=False))
    else:
        for problem in report.problems:
            print(f"TAMPERED {problem}", file=sys.stderr)
        print(f"audit trail: {report.rows} rows, head {report.head}, "
              f"{'intact' if report.ok else f'{len(report.problems)} problem(s)'}")
    return EXIT_OK if report.ok else EXIT_REFUSED
