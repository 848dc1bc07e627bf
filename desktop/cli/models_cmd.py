"""`homeward models list|verify|import|install|evaluate|calibrate`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from desktop.engine.calibration import DEFAULT_FMR
from desktop.engine.pack_install import import_pack, install_pack
from desktop.engine.pack_store import (
    catalogue,
    default_pack_id,
    find_installed,
    installed_packs,
    record_calibration,
    resolve_pack,
    verify_pack,
)
from desktop.errors import ModelPackError


def register(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="list, verify, import and install model packs")
    verbs = models.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="known and installed packs")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=run_list)
    verify = verbs.add_parser("verify", help="re-hash installed packs' files")
    verify.add_argument("pack", nargs="?", help="pack id (default: all installed)")
    verify.set_defaults(handler=run_verify)
    imp = verbs.add_parser("import", help="install a pack from a zip or folder (no network)")
    imp.add_argument("path", type=Path)
    imp.add_argument("--id", dest="pack_id", help="install under this id")
    imp.add_argument("--replace", action="store_true", help="replace an installed pack")
    imp.set_defaults(handler=run_import)
    inst = verbs.add_parser(
        "install", help="build `open` locally, or DOWNLOAD a known pack (the only network use)")
    inst.add_argument("pack")
    inst.add_argument("--replace", action="store_true")
    inst.set_defaults(handler=run_install)
    evaluate = verbs.add_parser("evaluate", help="verification accuracy on LFW-format pairs")
    evaluate.add_argument("--pack", help="pack id (default: the default pack)")
    evaluate.add_argument("--pairs", type=Path, required=True, help="pairs.txt (LFW format)")
    evaluate.add_argument("--images", type=Path, help="images root (default: beside pairs)")
    evaluate.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    evaluate.add_argument("--workers", type=int)
    evaluate.set_defaults(handler=run_evaluate)
    calibrate = verbs.add_parser(
        "calibrate", help="choose and record a pack's match threshold for a false-match rate")
    calibrate.add_argument("--pack", help="pack id (default: the default pack)")
    data = calibrate.add_mutually_exclusive_group(required=True)
    data.add_argument("--pairs", type=Path, help="pairs.txt (LFW format), images beside it")
    data.add_argument("--people", type=Path, help="a folder holding a folder of photos per person")
    calibrate.add_argument("--images", type=Path, help="images root for --pairs")
    calibrate.add_argument("--fmr", type=float, default=DEFAULT_FMR,
                           help=f"stated false-match rate (default {DEFAULT_FMR})")
    calibrate.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    calibrate.add_argument("--workers", type=int)
    calibrate.add_argument("--format", choices=["table", "json"], default="table")
    calibrate.set_defaults(handler=run_calibrate)


def run_list(args: argparse.Namespace) -> int:
    packs, broken = installed_packs()
    installed = {pack.id: pack for pack in packs}
    rows = []
    for pack_id, manifest in sorted({**catalogue(), **{p.id: p.manifest for p in packs}}.items()):
        rows.append({"id": pack_id, "title": manifest.title, "installed": pack_id in installed,
                     "path": str(installed[pack_id].root) if pack_id in installed else None,
                     "match_threshold": manifest.match_threshold, "licence": manifest.licence,
                     "calibration": manifest.calibration.id if manifest.calibration else None})
    if args.json:
        print(json.dumps({"default": default_pack_id(), "packs": rows}, indent=2))
    else:
        default = default_pack_id()
        for row in rows:
            mark = "*" if row["id"] == default else " "
            state = "installed" if row["installed"] else "not installed"
            print(f"{mark} {row['id']:<12} {state:<14} {row['title']}")
    for folder, exc in broken:
        print(f"! {folder}: {exc}", file=sys.stderr)
    return 1 if broken else 0


def run_verify(args: argparse.Namespace) -> int:
    # What is installed is checked as it is: resolving `open` would rebuild a stale pack.
    packs = ([find_installed(args.pack) or resolve_pack(args.pack)] if args.pack
             else installed_packs()[0])
    failures = 0
    for pack in packs:
        for check in verify_pack(pack):
            print(f"{pack.id:<12} {check.file:<40} {check.status.upper()} {check.detail}".rstrip())
            failures += not check.ok
    if not packs:
        print("no model packs installed")
    return 1 if failures else 0


def run_import(args: argparse.Namespace) -> int:
    pack = import_pack(args.path, pack_id=args.pack_id, replace=args.replace)
    print(f"installed {pack.id} into {pack.root}")
    return 0


def run_install(args: argparse.Namespace) -> int:
    def progress(done: int, total: int) -> None:
        share = f"{100 * done / total:5.1f}%" if total else f"{done >> 20} MiB"
        print(f"\rdownloading {args.pack}: {share}", end="", file=sys.stderr, flush=True)

    pack = install_pack(args.pack, replace=args.replace, progress=progress)
    print(f"installed {pack.id} into {pack.root}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from desktop.engine.engine import EngineOptions
    from desktop.engine.verification import evaluate_results, pair_images, parse_pairs
    from desktop.scan.analyze import analyze_paths

    pack = resolve_pack(args.pack)
    try:
        pairs = parse_pairs(args.pairs.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelPackError(f"Cannot read {args.pairs}", str(exc)) from exc
    root = args.images or args.pairs.parent
    results = analyze_paths(pair_images(pairs, root), pack,
                            EngineOptions(provider=args.provider), args.workers)
    verdict = evaluate_results(pairs, results, root)
    print(f"pack {pack.id}: accuracy {100 * verdict.accuracy:.2f}% over {verdict.pairs} pairs "
          f"({len(verdict.fold_accuracies)} folds), images without a face: "
          f"{verdict.missing_faces}, best threshold {verdict.global_threshold:.3f}")
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    from desktop.engine.calibration import (
        calibrate,
        embeddings_of,
        folder_photos,
        pairs_photos,
        photo_paths,
    )
    from desktop.engine.engine import EngineOptions
    from desktop.engine.manifest import calibration_to_dict
    from desktop.scan.analyze import analyze_paths

    pack = resolve_pack(args.pack)
    photos = pairs_photos(args.pairs, args.images) if args.pairs else folder_photos(args.people)
    results = analyze_paths(photo_paths(photos), pack, EngineOptions(provider=args.provider),
                            args.workers)
    calibration = calibrate(pack, photos, embeddings_of(photos, results), args.fmr)
    stored = record_calibration(pack, calibration)
    if args.format == "json":
        print(json.dumps({**calibration_to_dict(calibration),
                          "recorded_in": [str(path) for path in stored]}, indent=2))
        return 0
    c = calibration
    rows = [("pack", c.pack_id), ("calibration", c.id),
            ("threshold", f"{c.threshold:.4f} (new cases with this pack use it)"),
            ("stated false-match rate", f"{c.target_fmr:g}"),
            ("measured false-match rate", f"{c.measured_fmr:.4g} of {c.impostor_pairs} impostor pairs"),
            ("measured false-non-match rate", f"{c.measured_fnmr:.4g} of {c.genuine_pairs} genuine pairs"),
            ("held-out false-match rate", "n/a (no folds)" if c.heldout_fmr is None
             else f"{c.heldout_fmr:.4g} (each fold at the threshold chosen on the others)"),
            ("pairs without two faces", f"{c.unscored_pairs} (in neither rate)"),
            ("data set", c.dataset), ("data set SHA-256", c.dataset_sha256),
            ("recorded in", ", ".join(str(path) for path in stored))]
    for name, value in rows:
        print(f"{name:<31} {value}")
    if c.target_fmr * c.impostor_pairs < 10:
        print(f"note: {c.impostor_pairs} impostor pairs allow only "
              f"{int(c.target_fmr * c.impostor_pairs)} false matches at this rate; the "
              "threshold is coarse: calibrate on more photos", file=sys.stderr)
    return 0
