"""`homeward self-test`: the installed program checked end to end, offline; non-zero on failure."""

from __future__ import annotations

import argparse

from desktop import __version__
from desktop.engine.self_test import Check, run_self_test
from desktop.userdirs import data_dir


def register(commands: argparse._SubParsersAction) -> None:
    test = commands.add_parser(
        "self-test", help="check the runtime, every installed pack's hashes, and face analysis")
    test.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    test.set_defaults(handler=run)


def _show(check: Check) -> None:
    print(f"{'ok' if check.ok else 'FAIL':<5} {check.name}: {check.detail}", flush=True)


def run(args: argparse.Namespace) -> int:
    print(f"homeward {__version__} self-test (data folder: {data_dir()})", flush=True)
    report = run_self_test(args.provider, progress=_show)
    if report.ok:
        print(f"self-test passed: {len(report.checks)} checks")
        return 0
    print(f"self-test FAILED: {len(report.failures)} of {len(report.checks)} checks")
    return 1
