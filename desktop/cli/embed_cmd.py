"""`homeward embed PATH...`: faces and embeddings of image files as JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

from desktop.cli.progress import ProgressDisplay
from desktop.engine.engine import EngineOptions
from desktop.engine.pack_store import require_intact, resolve_pack
from desktop.engine.providers import runtime_report
from desktop.errors import EXIT_OK, EXIT_PROBLEMS
from desktop.scan.analyze import analyze_paths
from desktop.scan.inventory import iter_files
from desktop.scan.job import Progress


def register(commands: argparse._SubParsersAction) -> None:
    embed = commands.add_parser("embed", help="detect and embed faces in images (JSON lines)")
    embed.add_argument("paths", nargs="+", type=Path, help="image files or folders")
    embed.add_argument("--pack", help="model pack id or folder (default: the default pack)")
    embed.add_argument("--format", choices=["jsonl"], default="jsonl")
    embed.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    embed.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    embed.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    embed.add_argument("--quiet", action="store_true", help="no progress display")
    embed.set_defaults(handler=run_embed)


def run_embed(args: argparse.Namespace) -> int:
    """Exit 0, or 1 when some files could not be read (each has its line with the error)."""
    pack = resolve_pack(args.pack)
    require_intact(pack)  # before any worker loads it
    report = runtime_report(args.provider)
    print(f"pack {pack.id}; {report.lines()[-1]}", file=sys.stderr)
    walk_errors: list[tuple[Path, str]] = []
    files = list(iter_files(args.paths, walk_errors))  # listed first: the total for the ETA
    images = faces = failed = 0
    hashes = pack.manifest.model_hashes
    display = ProgressDisplay(quiet=args.quiet)
    started = time.perf_counter()
    with open(args.output, "w", encoding="utf-8") if args.output else nullcontext(sys.stdout) as out:
        try:
            for result in analyze_paths(files, pack, EngineOptions(provider=args.provider),
                                        args.workers):
                record = {**result.to_dict(), "pack": pack.id, "model_hashes": hashes}
                out.write(json.dumps(record) + "\n")
                images += 1
                faces += len(result.faces)
                failed += result.error is not None
                rate = images / max(time.perf_counter() - started, 1e-9)
                display(Progress("analysing", images, len(files), faces, rate,
                                 (len(files) - images) / rate))
        finally:
            display.close()
        for path, reason in walk_errors:
            out.write(json.dumps({"path": str(path), "width": 0, "height": 0, "faces": [],
                                  "error": reason, "pack": pack.id}) + "\n")
    unreadable = failed + len(walk_errors)
    print(f"{images} files, {faces} faces, {unreadable} unreadable", file=sys.stderr)
    return EXIT_PROBLEMS if unreadable else EXIT_OK
