"""`homeward doctor`: what runtime, which providers, which packs — the first thing to check."""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

from desktop.engine.pack_store import default_pack_id, installed_packs
from desktop.engine.providers import installed_ort_distributions, runtime_report
from desktop.userdirs import data_dir


def register(commands: argparse._SubParsersAction) -> None:
    doctor = commands.add_parser("doctor", help="report the inference runtime and model packs")
    doctor.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    doctor.add_argument("--ray", metavar="ADDRESS",
                        help="also check a Ray cluster (HOST:PORT, or `local`): each node's "
                        "CPUs, GPUs, versions, and this machine's packs with matching hashes")
    doctor.add_argument("--format", choices=["json", "table"], default="table")
    doctor.set_defaults(handler=run_doctor)
    demo = commands.add_parser("demo", help="enrol sample faces, scan a sample folder, show hits")
    demo.add_argument("--pack", default="open", help="model pack (default: the embedded open pack)")
    demo.add_argument("--provider", choices=["auto", "cpu", "cuda"], default="auto")
    demo.add_argument("--keep", type=Path, help="keep the sample folders here")
    demo.set_defaults(handler=run_demo)


def run_doctor(args: argparse.Namespace) -> int:
    """Exit 0, or 1 when something needs fixing (each problem is named)."""
    report = runtime_report(args.provider)
    distributions = installed_ort_distributions()
    problems = []
    if len(distributions) != 1:
        problems.append(f"{len(distributions)} ONNX Runtime distributions installed "
                        f"({', '.join(distributions) or 'none'}); exactly one must be. "
                        "Reinstall with packaging/setup_env.sh.")
    found = {"runtime": asdict(report), "data_folder": str(data_dir()),
             "default_pack": default_pack_id()}
    if args.ray:
        found["cluster"] = _cluster_facts(args.ray, problems)
    found["problems"] = problems
    if args.format == "json":
        print(json.dumps(found, indent=2))
        return 1 if problems else 0
    for line in report.lines():
        print(line)
    print(f"data folder: {found['data_folder']}")
    print(f"default model pack: {found['default_pack']}")
    for node in found.get("cluster", {}).get("nodes", []):
        packs = ", ".join(f"{p['pack_id']} {'ok' if not p['problem'] else p['problem']}"
                          for p in node["packs"])
        print(f"node {node['address']}: {node['cpus']:g} CPUs, {node['gpus']:g} GPUs, Homeward "
              f"{node['homeward']}, Python {node['python']}, ONNX Runtime {node['onnxruntime']} "
              f"({', '.join(node['providers'])}); packs: {packs or 'none'}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


def _cluster_facts(address: str, problems: list[str]) -> dict:
    """Every node's facts and this machine's installed packs checked on each."""
    from desktop.cluster.nodes import refusals, survey
    from desktop.cluster.runtime import connected

    packs, _ = installed_packs()
    with connected(address) as ray:
        nodes = survey(ray, tuple(pack.id for pack in packs))
    for pack in packs:
        problems.extend(refusals(nodes, pack.id, dict(pack.manifest.model_hashes)))
    return {"address": address, "nodes": [asdict(node) for node in nodes]}


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
