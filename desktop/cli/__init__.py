"""The `homeward` command: argument parsing and output only; the work is in the services."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from desktop import __version__
from desktop.errors import Cancelled, HomewardError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    from desktop.cli import (
        case_cmd,
        embed_cmd,
        gallery_cmd,
        gui_cmd,
        lab_cmd,
        models_cmd,
        people_cmd,
        report_cmd,
        review_cmd,
        scan_cmd,
        selftest_cmd,
        system_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="homeward",
        description="Offline face search of seized media against a missing-persons gallery.")
    parser.add_argument("--version", action="version", version=f"homeward {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (system_cmd, selftest_cmd, models_cmd, embed_cmd, gallery_cmd, scan_cmd, case_cmd,
                   people_cmd, lab_cmd, review_cmd, report_cmd, gui_cmd):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    handler: Handler = args.handler
    try:
        return handler(args)
    except Cancelled:
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except HomewardError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.detail:
            print(f"  {exc.detail}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
