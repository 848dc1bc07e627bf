"""`homeward doctor`: what runtime, which providers, which packs — the first thing to check."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from desktop.engine.pack_store import default_pack_id
from desktop.engine.providers import installed_ort_distributions, runtime_report
from desktop.userdirs import data_dir


def register(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser("doctor", help="report the inference runtime and model packs")
    doctor.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    doctor.set_defaults(handler=run_doctor)
    demo = commands.add_parser("demo", help="enrol sample faces, scan a sample folder, show hits")
    demo.add_argument("--pack", default="open", help="model pack (default: the embedded open pack)")
    demo.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    demo.add_argument("--keep", type=Path, help="keep the sample folders here")
    demo.set_defaults(handler=run_demo)


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


def run_demo(args: argparse.Namespace) -> int:
    from desktop.demo import run_demo as demo
    from desktop.engine.engine import EngineOptions
    from desktop.engine.pack_store import resolve_pack

    print("Homeward demonstration")
    for line in runtime_report(args.provider).lines():
        print(f"  {line}")
    pack = resolve_pack(args.pack)
    print(f"  model pack: {pack.id} ({pack.manifest.title})")
    options = EngineOptions(provider=args.provider)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=False)
        hits = demo(pack, args.keep, options)
    else:
        with tempfile.TemporaryDirectory(prefix="homeward-demo-") as work:
            hits = demo(pack, Path(work), options)
    return 0 if hits else 1
