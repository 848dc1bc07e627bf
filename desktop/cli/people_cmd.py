"""`homeward clusters --case DIR`, `homeward cluster VERB` and `homeward search --case DIR
(--face ID | --photo FILE)`: the people of a case, with or without a gallery."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import asdict
from pathlib import Path

from desktop.errors import InvalidArguments
from desktop.scan.case import Case


def register(commands: argparse._SubParsersAction) -> None:
    clusters = commands.add_parser("clusters", help="the people of a case: every face in one "
                                   "cluster, largest first")
    clusters.add_argument("--case", type=Path, required=True)
    clusters.add_argument("--format", choices=["json", "table"], default="table")
    clusters.add_argument("--recluster", action="store_true",
                          help="first cluster every face again from scratch, keeping every "
                          "cluster an examiner has worked on (audited)")
    clusters.add_argument("--examiner", default=getpass.getuser(), help="who asks (--recluster)")
    clusters.set_defaults(handler=run_clusters)
    search = commands.add_parser("search", help="every face of a case like a face of the case "
                                 "or of a photo, best first")
    search.add_argument("--case", type=Path, required=True)
    probe = search.add_mutually_exclusive_group(required=True)
    probe.add_argument("--face", type=int, metavar="FACE_ID", help="a face of the case")
    probe.add_argument("--photo", type=Path, help="a photo the investigator brings")
    search.add_argument("--photo-face", type=int, metavar="N",
                        help="in a photo with several faces, which one (from the left, from 1)")
    search.add_argument("--threshold", type=float, help="lowest score shown (default: the pack's)")
    search.add_argument("--limit", type=int, help="at most this many faces")
    search.add_argument("--format", choices=["json", "table"], default="table")
    search.set_defaults(handler=run_search)
    work = commands.add_parser("cluster", help="the examiner's work on a cluster: name, merge, "
                               "split, not this person, irrelevant (audited)")
    verbs = work.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, text in (("name", "give a cluster a working name"),
                       ("merge", "put all faces of --from into --cluster"),
                       ("split", "these faces (--face, repeatable) are another person, together"),
                       ("not-this", "each of these faces is not the cluster's person"),
                       ("irrelevant", "mark a cluster irrelevant (--undo: relevant again)"),
                       ("to-gallery", "a new gallery person from the cluster's best photo "
                                      "faces, matched in every later scan")):
        op = verbs.add_parser(verb, help=text)
        op.add_argument("--case", type=Path, required=True)
        op.add_argument("--cluster", type=int, required=True)
        op.add_argument("--examiner", default=getpass.getuser())
        if verb == "name":
            op.add_argument("--name", required=True)
        elif verb == "merge":
            op.add_argument("--from", dest="other", type=int, required=True)
        elif verb in ("split", "not-this"):
            op.add_argument("--face", type=int, action="append", required=True)
        elif verb == "to-gallery":
            op.add_argument("--gallery", type=Path, required=True)
            op.add_argument("--name", required=True, help="the new person's name")
            op.add_argument("--photos", type=int, default=3, help="reference photos (default 3)")
        else:
            op.add_argument("--undo", action="store_true")
        op.set_defaults(handler=run_cluster_op)


def run_clusters(args: argparse.Namespace) -> int:
    from desktop.engine.pack_store import resolve_pack
    from desktop.people.case_people import list_clusters, pack_params, recluster_case

    if args.recluster and not args.examiner.strip():
        raise InvalidArguments("--examiner cannot be empty.")
    case = Case.open(args.case)
    try:
        if args.recluster:
            done = recluster_case(case.db, pack_params(resolve_pack(case.info.pack_id)),
                                  args.examiner.strip())
            print(f"re-clustered {done.items} items: {done.faces_moved} faces moved, "
                  f"{done.faces_placed} placed; {done.clusters_kept} clusters kept, "
                  f"{done.clusters_created} created, {done.clusters_emptied} emptied",
                  file=sys.stderr)
        clusters = list_clusters(case.db)
    finally:
        case.close()
    if args.format == "json":
        print(json.dumps([asdict(c) for c in clusters], indent=2, ensure_ascii=False))
        return 0
    for cluster in clusters:
        label = "not clustered yet" if cluster.cluster_id is None else f"cluster {cluster.cluster_id}"
        files = len({f.path for f in cluster.faces})
        print(f"{label:<20} {len(cluster.faces):>5} faces in {files:>4} files  "
              f"{cluster.name or ''}".rstrip())
    return 0


def run_cluster_op(args: argparse.Namespace) -> int:
    from desktop.people import operations

    case = Case.open(args.case)
    try:
        db, who = case.db, args.examiner
        if args.verb == "name":
            operations.name_cluster(db, args.cluster, args.name, who)
            print(f"cluster {args.cluster} named")
        elif args.verb == "merge":
            operations.merge_clusters(db, args.cluster, args.other, who)
            print(f"cluster {args.other} merged into {args.cluster}")
        elif args.verb == "split":
            new = operations.split_faces(db, args.cluster, args.face, who)
            print(f"{len(set(args.face))} face(s) split into cluster {new}")
        elif args.verb == "not-this":
            created = operations.not_this_person(db, args.cluster, args.face, who)
            print(f"{len(created)} face(s) left cluster {args.cluster}")
        elif args.verb == "to-gallery":
            person_id = _to_gallery(case, args)
            print(f"cluster {args.cluster} added to {args.gallery} as person {person_id}")
        else:
            operations.mark_irrelevant(db, args.cluster, who, irrelevant=not args.undo)
            print(f"cluster {args.cluster} marked {'relevant' if args.undo else 'irrelevant'}")
    finally:
        case.close()
    return 0


def _to_gallery(case: Case, args: argparse.Namespace) -> int:
    from desktop.gallery.fields import PersonFields
    from desktop.gallery.gallery import Gallery
    from desktop.people.operations import add_to_gallery
    from desktop.scan.analyze import pack_analyzer

    pack, analyze = pack_analyzer(case.info.pack_id, workers=1)
    gallery = Gallery.open(args.gallery)
    try:
        return add_to_gallery(case.db, Path(case.info.source_root), args.cluster, gallery,
                              PersonFields(name=args.name), analyze, pack, args.examiner,
                              best=args.photos)
    finally:
        gallery.close()


def run_search(args: argparse.Namespace) -> int:
    from desktop.engine.pack_store import resolve_pack
    from desktop.people.case_people import face_vector, pack_params, search_faces

    case = Case.open(args.case)
    try:
        pack = resolve_pack(case.info.pack_id)
        threshold = args.threshold if args.threshold is not None else pack_params(pack).search
        if args.face is not None:
            query = face_vector(case.db, args.face)
            if query is None:
                raise InvalidArguments(f"No face {args.face} in this case.")
        else:
            query = photo_vector(args.photo, args.photo_face, pack)
        hits = search_faces(case.db, query, threshold, args.limit)
    finally:
        case.close()
    if args.format == "json":
        print(json.dumps([asdict(h) for h in hits], indent=2, ensure_ascii=False))
        return 0
    for hit in hits:
        frame = "" if hit.frame is None else f" frame {hit.frame}"
        print(f"{hit.score:.4f}  face {hit.face_id:<7} {hit.path}{frame}")
    print(f"{len(hits)} face(s) at or above {threshold:g}")
    return 0


def photo_vector(photo: Path, face_number: int | None, pack) -> object:
    """The chosen face of an outside photo, with the case's pack (as the gallery chooses)."""
    from desktop.engine.engine import EngineOptions
    from desktop.gallery.enrol import NeedsChoice, Refused, choose_face
    from desktop.scan.analyze import analyze_paths

    if not photo.is_file():
        raise InvalidArguments(f"{photo} is not a file.")
    result = next(iter(analyze_paths([photo], pack, EngineOptions(), 1)))
    face = choose_face(result, face_number)
    if isinstance(face, NeedsChoice):
        raise InvalidArguments(f"{photo.name}: {len(face.faces)} faces found: choose one, "
                               "numbered left to right (--photo-face N)")
    if isinstance(face, Refused):
        raise InvalidArguments(f"{photo.name}: {face.reason}")
    return face.embedding
