"""The `homeward` command: argument parsing and output only; the work is in the services."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from desktop import __version__
from desktop.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_REFUSED,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    Cancelled,
    HomewardError,
)
from desktop.logfile import FILE_ONLY, LogSetup, log_file

Handler = Callable[[argparse.Namespace], int]
log = logging.getLogger("desktop.cli")

EPILOG = f"""exit codes:
  {EXIT_OK:<4} success
  {EXIT_PROBLEMS:<4} finished, with problems in some items (unreadable or corrupt files in a scan
       or embed, gallery import problems, damaged model pack files, a failed self-test)
  {EXIT_USAGE:<4} usage error: wrong arguments
  {EXIT_REFUSED:<4} refused, or an integrity check failed (a case in use by another writer, the
       wrong gallery, a damaged pack, an audit trail that does not verify, ...)
  {EXIT_UNEXPECTED:<4} unexpected error (a bug): its traceback is in the log file
  {EXIT_INTERRUPTED:<4} interrupted (Ctrl-C); a scan resumes where it stopped when run again

log file: {{log}} (every command logs there; -v also shows details on stderr)"""


def build_parser() -> argparse.ArgumentParser:
    from desktop.cli import (
        case_cmd,
        embed_cmd,
        gallery_cmd,
        gui_cmd,
        hashsets_cmd,
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
        prog="homeward", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Offline face search of seized media against a missing-persons gallery.",
        epilog=EPILOG.format(log=log_file()))
    parser.add_argument("--version", action="version", version=f"homeward {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (system_cmd, selftest_cmd, models_cmd, embed_cmd, gallery_cmd, scan_cmd, case_cmd,
                   people_cmd, lab_cmd, hashsets_cmd, review_cmd, report_cmd, gui_cmd):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code says how it ended (the epilog lists them)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup = LogSetup(log_file(), logging.INFO if args.verbose else logging.WARNING).apply()
    log.info("homeward %s: %s", __version__, " ".join(sys.argv[1:] if argv is None else argv))
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Cancelled as exc:
        return exc.exit_code
    except HomewardError as exc:
        log.info("%s: %s", type(exc).__name__, exc)
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.detail:
            print(f"  {exc.detail}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:
        log.critical("unexpected error in `homeward %s`", args.command, exc_info=exc,
                     extra=FILE_ONLY)
        where = f"its traceback is in {setup.file}" if setup.file else "no log file was written"
        print(f"unexpected error: {type(exc).__name__}: {exc}\n  this is a bug; {where}",
              file=sys.stderr)
        return EXIT_UNEXPECTED
    finally:
        LogSetup.stop()


if __name__ == "__main__":
    sys.exit(main())
