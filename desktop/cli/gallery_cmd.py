"""`homeward gallery create|add|import|list|show|edit|remove|pending|reindex --gallery FILE`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from desktop.gallery.fields import EDITABLE, PersonFields, split_aliases
from desktop.gallery.gallery import Gallery
from desktop.gallery.imports import (
    ImportReport,
    add_photos,
    import_rows,
    reindex,
    resolve_pending,
)
from desktop.gallery.sources import rows_from_csv, rows_from_folder

PERSON_OPTIONS = ("sex", "birth_date", "age_min", "age_max", "last_seen_date",
                  "last_seen_place", "case_ref", "notes")


def register(commands: argparse._SubParsersAction) -> None:
    gallery = commands.add_parser("gallery", help="the missing-persons gallery")
    verbs = gallery.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, help_text: str, handler, engine: bool = False) -> argparse.ArgumentParser:
        parser = verbs.add_parser(name, help=help_text)
        parser.add_argument("--gallery", type=Path, required=True, help="gallery .db file")
        parser.add_argument("--user", default=getpass.getuser(), help="who makes the change")
        if engine:
            parser.add_argument("--pack", help="model pack (default: the default pack)")
            parser.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
            parser.add_argument("--workers", type=int)
        parser.set_defaults(handler=handler)
        return parser

    verb("create", "create an empty gallery", run_create)
    add = verb("add", "add a person with photos, or photos to a person", run_add, engine=True)
    add.add_argument("photos", nargs="*", type=Path)
    add.add_argument("--name")
    add.add_argument("--person", type=int, help="add the photos to this person id")
    add.add_argument("--face", type=int, help="in a photo with several faces, face N (from left)")
    add.add_argument("--photo-date", help="when the photos were taken (YYYY[-MM[-DD]])")
    add.add_argument("--aliases", help="separated by ';'")
    for option in PERSON_OPTIONS:
        add.add_argument(f"--{option.replace('_', '-')}", dest=option)
    imp = verb("import", "import persons from a folder per person or a CSV", run_import,
               engine=True)
    source = imp.add_mutually_exclusive_group(required=True)
    source.add_argument("--folder", type=Path, help="<folder>/<person name>/<photos>")
    source.add_argument("--csv", type=Path, help="name,photo[,aliases,sex,...] (see README)")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    listing = verb("list", "list persons with photo and face counts", run_list)
    listing.add_argument("--json", action="store_true")
    show = verb("show", "one person's data, photos and history", run_show)
    show.add_argument("person", type=int)
    show.add_argument("--json", action="store_true")
    edit = verb("edit", "change a person's case data", run_edit)
    edit.add_argument("person", type=int)
    edit.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                      help=f"fields: {', '.join(EDITABLE)}")
    remove = verb("remove", "remove a person (the history keeps a record)", run_remove)
    remove.add_argument("person", type=int)
    remove_photo = verb("remove-photo", "remove one reference photo (the history keeps a record)",
                        run_remove_photo)
    remove_photo.add_argument("photo", type=int, help="photo id (see `gallery show`)")
    pending = verb("pending", "photos awaiting the choice of a face, and choosing it", run_pending,
                   engine=True)
    pending.description = (
        "A photo showing several faces is kept, with its person, until someone says which face "
        "is the missing person's. Faces are numbered from 1, left to right, as `gallery add "
        "--face N` and the CSV's face column number them; the listing gives each photo's face "
        "count and its largest face (most often the subject).")
    pending.add_argument("--format", choices=["table", "json"], default="table")
    pending.add_argument("--choose", type=int, metavar="PENDING_ID",
                         help="resolve this pending photo (its id in the listing) ...")
    pending.add_argument("--face", type=int, metavar="N",
                         help="... with face N, counted from the left (needs --choose)")
    verb("reindex", "embed every photo with another pack, keeping the others", run_reindex,
         engine=True)


def _analyzer(args: argparse.Namespace):
    from desktop.scan.analyze import pack_analyzer

    return pack_analyzer(args.pack, args.provider, args.workers)


def _print_report(report: ImportReport, as_json: bool = False) -> int:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(f"persons created: {len(report.persons_created)}, updated: "
              f"{len(report.persons_updated)}, photos added: {report.photos_added}, "
              f"awaiting a face choice: {len(report.pending)}, "
              f"duplicates skipped: {len(report.duplicates)}, problems: {len(report.problems)}")
        for problem in report.problems:
            print(f"  ! {problem.where}: {problem.reason}")
        for where, flags in report.flagged:
            print(f"  ~ {where}: kept, low quality ({', '.join(flags)})")
        for waiting in report.pending:
            print(f"  ? {waiting.where}: {waiting.faces} faces; kept until a face is chosen "
                  "(homeward gallery pending)")
        for warning in report.warnings:
            print(f"  ~ {warning.where}: stored, but {warning.reason}")
    return 1 if report.problems else 0


def run_create(args: argparse.Namespace) -> int:
    Gallery.create(args.gallery).close()
    print(f"created gallery {args.gallery}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    gallery = Gallery.open(args.gallery)
    person = None if args.person is not None else PersonFields(
        name=args.name or "", aliases=split_aliases(args.aliases),
        **{k: getattr(args, k) for k in PERSON_OPTIONS})
    pack, analyze = _analyzer(args)
    report = add_photos(gallery, [(p, args.face) for p in args.photos], analyze, pack, args.user,
                        person=person, person_id=args.person, photo_date=args.photo_date)
    target = args.person if args.person is not None else report.persons_created[0]
    print(f"person {target}: {report.photos_added} photo(s) added")
    return _print_report(report)


def run_import(args: argparse.Namespace) -> int:
    gallery = Gallery.open(args.gallery)
    rows, problems = rows_from_folder(args.folder) if args.folder else rows_from_csv(args.csv)
    pack, analyze = _analyzer(args)
    return _print_report(import_rows(gallery, rows, analyze, pack, args.user, problems),
                         args.json)


def run_list(args: argparse.Namespace) -> int:
    persons = Gallery.open(args.gallery).persons()
    if args.json:
        print(json.dumps(persons, indent=2, ensure_ascii=False))
        return 0
    for p in persons:
        print(f"{p['id']:>6}  {p['name']:<32} photos {p['photos']:>3}  faces {p['faces']:>3}"
              f"  {p['case_ref'] or ''}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    gallery = Gallery.open(args.gallery)
    data = {"person": gallery.person(args.person), "photos": gallery.photos(args.person),
            "history": gallery.history(args.person)}
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    for key, value in data["person"].items():
        print(f"{key:>16}: {value}")
    for photo in data["photos"]:
        print(f"  photo {photo['id']}: {photo['original_path']} ({photo['width']}x"
              f"{photo['height']}, packs {', '.join(photo['packs']) or 'none'})")
    for entry in data["history"]:
        print(f"  {entry['at']} {entry['actor']}: {entry['action']}")
    return 0


def run_edit(args: argparse.Namespace) -> int:
    changes: dict[str, object] = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            print(f"error: --set needs FIELD=VALUE, not {item!r}", file=sys.stderr)
            return 2
        changes[name.strip()] = split_aliases(value) if name.strip() == "aliases" else value
    gallery = Gallery.open(args.gallery)
    with gallery.writing() as write:
        diff = write.edit_person(args.person, changes, args.user)
    print(f"person {args.person}: " + (", ".join(diff) + " changed" if diff else "no change"))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    Gallery.open(args.gallery).remove_person(args.person, args.user)
    print(f"person {args.person} removed (recorded in the history)")
    return 0


def run_remove_photo(args: argparse.Namespace) -> int:
    photo = Gallery.open(args.gallery).remove_photo(args.photo, args.user)
    print(f"photo {args.photo} removed from person {photo['person_id']} "
          "(recorded in the history)")
    return 0


def run_pending(args: argparse.Namespace) -> int:
    gallery = Gallery.open(args.gallery)
    if (args.choose is None) != (args.face is None):
        print("error: --choose PENDING_ID and --face N go together", file=sys.stderr)
        return 2
    if args.choose is not None:
        person_id = gallery.pending_photo(args.choose).person_id
        pack, analyze = _analyzer(args)
        photo_id = resolve_pending(gallery, args.choose, args.face, analyze, pack, args.user)
        print(f"person {person_id}: face {args.face} chosen, photo {photo_id} added")
        return 0
    waiting = gallery.pending()
    if args.format == "json":
        print(json.dumps([p.to_dict() for p in waiting], indent=2, ensure_ascii=False))
        return 0
    for p in waiting:
        print(f"{p.id:>6}  person {p.person_id:>6}  {p.person_name:<32} {p.faces} faces "
              f"(largest: {p.largest_face})  {p.original_path}")
    return 0


def run_reindex(args: argparse.Namespace) -> int:
    gallery = Gallery.open(args.gallery)
    pack, analyze = _analyzer(args)
    report = reindex(gallery, analyze, pack)
    print(f"pack {pack.id}: photos embedded: {report.embedded}, already embedded: "
          f"{report.already_embedded}, problems: {len(report.problems)}")
    for problem in report.problems:
        print(f"  ! {problem.where}: {problem.reason}")
    return 1 if report.problems else 0
