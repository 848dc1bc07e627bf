"""`homeward doctor`: what runtime, which providers, which packs — the first thing to check."""

from __future__ import annotations

import argparse

from desktop.engine.pack_store import data_dir, default_pack_id
from desktop.engine.providers import installed_ort_distributions, runtime_report


def register(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser("doctor", help="report the inference runtime and model packs")
    doctor.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    doctor.set_defaults(handler=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    report = runtime_report(args.provider)
    for line in report.lines():
        print(line)
    print(f"data folder: {data_dir()}")
    print(f"default model pack: {default_pack_id()}")
    distributions = installed_ort_distributions()
    if len(distributions) != 1:
        print(f"PROBLEM: {len(distributions)} ONNX Runtime distributions installed "
              f"({', '.join(distributions) or 'none'}); exactly one must be. "
              "Reinstall with packaging/setup_env.sh.")
        return 1
    return 0
