"""`homeward lab register|unregister|list|links|decide|search`: the same unknown person across cases,
through a lab index file (the user data folder's by default, or --index on a shared volume)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.errors import InvalidArguments
from desktop.people.link_review import VERDICTS, review_text
from desktop.scan.case import Case

if TYPE_CHECKING:
    from desktop.people.lab_index import Link

LEADS = ("Investigative leads for human review, not identifications: a match means only that "
         "two clusters look alike.")


def register(commands: argparse._SubParsersAction) -> None:
    lab = commands.add_parser("lab", help="the lab index: link unknown people across cases")
    actions = lab.add_subparsers(dest="lab_command", required=True, metavar="ACTION")

    def action(name: str, help_text: str, handler, case: bool | None) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text)
        if case is not None:
            sub.add_argument("--case", type=Path, required=case)
        sub.add_argument("--index", type=Path, help="the lab index file (default: "
                         "lab_index.db in the user data folder)")
        sub.set_defaults(handler=handler)
        return sub

    for name, verb, handler in (("register", "add (or refresh) a case's clusters in",
                                 run_register),
                                ("unregister", "remove a case's clusters from", run_unregister)):
        sub = action(name, f"{verb} the lab index (audited in the case)", handler, True)
        sub.add_argument("--examiner", default=getpass.getuser(), help="who does it")
    listing = action("list", "the cases registered", run_list, None)
    listing.add_argument("--format", choices=["json", "table"], default="table")
    links = action("links", "clusters of a case like clusters of other registered cases",
                   run_links, True)
    links.add_argument("--threshold", type=float,
                       help="lowest template cosine shown (default: the pack's)")
    links.add_argument("--format", choices=["json", "table"], default="table")
    decide = action("decide", "confirm, reject or mark unsure a link of `lab links` (the "
                    "latest decision counts; audited in the case)", run_decide, True)
    decide.add_argument("--link", required=True, metavar="KEY",
                        help="the link's key, as `lab links` prints it")
    decide.add_argument("--decision", choices=VERDICTS, required=True)
    decide.add_argument("--reviewer", default=getpass.getuser())
    decide.add_argument("--note")
    decide.add_argument("--threshold", type=float,
                        help="the threshold the link was listed at (default: the pack's)")
    search = action("search", "a face across every registered case's clusters", run_search,
                    False)
    probe = search.add_mutually_exclusive_group(required=True)
    probe.add_argument("--photo", type=Path, help="a photo the investigator brings")
    probe.add_argument("--face", type=int, metavar="FACE_ID", help="a face of --case")
    search.add_argument("--photo-face", type=int, metavar="N",
                        help="in a photo with several faces, which one (from the left, from 1)")
    search.add_argument("--threshold", type=float, help="lowest score shown (default: the pack's)")
    search.add_argument("--limit", type=int, help="at most this many clusters")
    search.add_argument("--format", choices=["json", "table"], default="table")


def _index_path(args: argparse.Namespace) -> Path:
    from desktop.people.lab_index import default_index_path

    if args.index is not None:
        return args.index
    path = default_index_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def case_entry(case: Case):
    from desktop.people.lab_index import CaseEntry

    info = case.info
    return CaseEntry(info.case_id, info.case_number, str(case.folder.resolve()), info.pack_id,
                     info.model_hashes)


def run_register(args: argparse.Namespace) -> int:
    from desktop.people.lab_index import register_case

    case = Case.open(args.case)
    try:
        done = register_case(_index_path(args), case_entry(case), case.db, args.examiner)
        number = case.info.case_number
    finally:
        case.close()
    verb = "re-registered" if done.replaced else "registered"
    skipped = (f" ({done.without_template} of only low-quality faces left out)"
               if done.without_template else "")
    print(f"case {number} {verb} in {done.index}: {done.clusters} cluster(s){skipped}")
    return 0


def run_unregister(args: argparse.Namespace) -> int:
    from desktop.people.lab_index import unregister_case

    case = Case.open(args.case)
    try:
        removed = unregister_case(_index_path(args), case_entry(case), case.db, args.examiner)
        number = case.info.case_number
    finally:
        case.close()
    print(f"case {number} unregistered: {removed} cluster(s) removed from the lab index")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from desktop.people.lab_index import reading, registered_cases

    with reading(_index_path(args)) as index:
        cases = registered_cases(index)
    if args.format == "json":
        print(json.dumps([asdict(c) for c in cases], indent=2, ensure_ascii=False))
        return 0
    for c in cases:
        print(f"{c.case_number:<16} {c.clusters:>6} clusters {c.faces:>7} faces  {c.pack_id:<10} "
              f"{c.registered_at[:19]} by {c.registered_by}  {c.folder}")
    print(f"{len(cases)} case(s) registered")
    return 0


def _links(args: argparse.Namespace, case: Case) -> tuple[list[Link], float]:
    """The case's links in --index at --threshold (default: the pack's), each with its
    decision, and that threshold; a note on stderr when the index holds older clusters."""
    from desktop.engine.pack_store import resolve_pack
    from desktop.people.lab_index import case_links, is_current, link_threshold, reading

    path = _index_path(args)
    entry = case_entry(case)
    with reading(path) as index:
        threshold = (args.threshold if args.threshold is not None
                     else link_threshold(resolve_pack(entry.pack_id)))
        links = case_links(path, index, entry, case.db, threshold)
        current = is_current(index, entry.case_id, case.db)
    if not current:
        print(f"note: the clusters of case {entry.case_number} changed since it was registered; "
              "run `homeward lab register` again to compare what it holds now.", file=sys.stderr)
    return links, threshold


def run_links(args: argparse.Namespace) -> int:
    case = Case.open(args.case)
    try:
        links, threshold = _links(args, case)
    finally:
        case.close()
    if args.format == "json":
        print(json.dumps([{**asdict(k), "link": k.text_key} for k in links], indent=2,
                         ensure_ascii=False))
        return 0
    print(LEADS)
    for k in links:
        print(f"{k.score:.4f}  cluster {k.cluster_id:<6} ~ case {k.other_case_number} "
              f"cluster {k.other_cluster_id:<6} {review_text(k)}\n        link {k.text_key}")
    print(f"{len(links)} link(s) at or above {threshold:g}")
    return 0


def run_decide(args: argparse.Namespace) -> int:
    from desktop.people.link_review import decide_link

    case = Case.open(args.case)
    try:
        links, threshold = _links(args, case)
        link = next((k for k in links if k.text_key == args.link.strip()), None)
        if link is None:
            raise InvalidArguments(f"No link {args.link!r} of case {case.info.case_number} at or "
                                   f"above {threshold:g}.",
                                   "the keys are those `homeward lab links --case DIR` prints")
        decision = decide_link(case.db, link, args.decision, args.reviewer, args.note)
    finally:
        case.close()
    print(f"recorded: {decision.verdict} by {decision.reviewer} for cluster {link.cluster_id} ~ "
          f"case {link.other_case_number} cluster {link.other_cluster_id} (a lead, not an "
          "identification)")
    return 0


def run_search(args: argparse.Namespace) -> int:
    from desktop.engine.pack_store import resolve_pack
    from desktop.people.case_people import face_vector, pack_params
    from desktop.people.lab_index import LabIndexError, index_pack, reading, search_index

    if args.face is not None and args.case is None:
        raise InvalidArguments("--face names a face of a case: give --case DIR too.")
    path = _index_path(args)
    with reading(path) as index:
        held = index_pack(index)
        if held is None:
            raise LabIndexError(f"No case is registered in the lab index {path}.")
        pack = resolve_pack(held[0])
        if pack.manifest.model_hashes != held[1]:
            raise LabIndexError(f"The installed pack {held[0]!r} has other models than the cases "
                                f"of the lab index {path}: their faces cannot be compared.")
        if args.face is not None:
            case = Case.open(args.case)
            try:
                info = case.info
                if (info.pack_id, info.model_hashes) != held:
                    raise LabIndexError(
                        f"Case {info.case_number} was scanned with pack {info.pack_id!r}; the lab "
                        f"index {path} holds cases of pack {held[0]!r} (or other models).",
                        "faces of different packs are never compared")
                query = face_vector(case.db, args.face)
            finally:
                case.close()
            if query is None:
                raise InvalidArguments(f"No face {args.face} in this case.")
        else:
            from desktop.cli.people_cmd import photo_vector

            query = photo_vector(args.photo, args.photo_face, pack)
        threshold = args.threshold if args.threshold is not None else pack_params(pack).search
        hits = search_index(index, query, threshold, args.limit)
    if args.format == "json":
        print(json.dumps([asdict(h) for h in hits], indent=2, ensure_ascii=False))
        return 0
    print(LEADS)
    for h in hits:
        print(f"{h.score:.4f}  case {h.case_number:<16} cluster {h.cluster_id:<6} "
              f"{h.faces:>5} faces  {h.case_folder}")
    print(f"{len(hits)} cluster(s) at or above {threshold:g}")
    return 0
