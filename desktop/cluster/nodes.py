"""What each node of a cluster has, asked of the node itself, and whether a scan may run on
it: the same Homeward version, the scan's pack installed with the same model hashes, and
every source readable at the same path (sources must be on storage all nodes read)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field

from desktop.cluster.runtime import ClusterError


@dataclass(frozen=True)
class PackOnNode:
    pack_id: str
    model_hashes: dict[str, str] = field(default_factory=dict)  # role -> SHA-256
    problem: str | None = None  # missing, damaged, unreadable


@dataclass(frozen=True)
class NodeFacts:
    node_id: str
    address: str
    cpus: float
    gpus: float
    homeward: str
    python: str
    onnxruntime: str
    providers: tuple[str, ...]
    data_folder: str
    packs: tuple[PackOnNode, ...]
    sources_seen: tuple[bool, ...]  # per source asked about: as the examiner's machine sees it


def source_signature(path: str) -> tuple:
    """What two machines must agree on to be reading the same source: kind, size, time."""
    try:
        stat = os.stat(path)
    except OSError as exc:
        return ("missing", exc.strerror)
    is_folder = os.path.isdir(path)
    return ("folder" if is_folder else "file", None if is_folder else stat.st_size,
            int(stat.st_mtime))


def _facts_here(pack_ids: tuple[str, ...], sources: tuple[tuple[str, tuple], ...]) -> dict:
    """Run on one node (in a Ray task): its versions, packs and view of the sources."""
    import onnxruntime

    import desktop
    from desktop.engine.pack_store import require_intact, resolve_pack
    from desktop.userdirs import data_dir

    packs = []
    for pack_id in pack_ids:
        try:
            pack = resolve_pack(pack_id)
            require_intact(pack)
            packs.append(PackOnNode(pack_id, dict(pack.manifest.model_hashes)))
        except Exception as exc:  # reported per node, never raised: the driver decides
            packs.append(PackOnNode(pack_id, problem=getattr(exc, "message", None) or str(exc)))
    return {"homeward": desktop.__version__, "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
            "providers": tuple(onnxruntime.get_available_providers()),
            "data_folder": str(data_dir()), "packs": tuple(packs),
            "sources_seen": tuple(source_signature(path) == expected
                                  for path, expected in sources)}


def survey(ray, pack_ids: tuple[str, ...] = (), sources: tuple[str, ...] = ()) -> list[NodeFacts]:
    """Every live node's facts, each gathered on that node."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    asked = tuple((path, source_signature(path)) for path in sources)
    remote = ray.remote(num_cpus=0, max_retries=1)(_facts_here)
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    pending = [remote.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        node["NodeID"], soft=False)).remote(pack_ids, asked) for node in nodes]
    facts = []
    for node, found in zip(nodes, ray.get(pending, timeout=120), strict=True):
        resources = node.get("Resources", {})
        facts.append(NodeFacts(node["NodeID"], node.get("NodeManagerAddress", "?"),
                               resources.get("CPU", 0.0), resources.get("GPU", 0.0), **found))
    return facts


def refusals(facts: list[NodeFacts], pack_id: str, model_hashes: dict[str, str],
             sources: tuple[str, ...] = ()) -> list[str]:
    """Why the scan may not run on this cluster, node by node (empty: it may)."""
    import desktop

    problems = []
    for node in facts:
        where = f"node {node.address}"
        if node.homeward != desktop.__version__:
            problems.append(f"{where} runs Homeward {node.homeward}, this machine "
                            f"{desktop.__version__}")
        for pack in node.packs:
            if pack.pack_id != pack_id:
                continue
            if pack.problem:
                problems.append(f"{where}: pack {pack_id}: {pack.problem}")
            elif pack.model_hashes != dict(model_hashes):
                roles = sorted(role for role in set(pack.model_hashes) | set(model_hashes)
                               if pack.model_hashes.get(role) != model_hashes.get(role))
                problems.append(f"{where}: pack {pack_id} has different model files "
                                f"({', '.join(roles)}) from this machine's")
        for path, seen in zip(sources, node.sources_seen, strict=True):
            if not seen:
                problems.append(f"{where} does not see the source {path} as this machine does")
    return problems


def require_ready(ray, pack_id: str, model_hashes: dict[str, str],
                  sources: tuple[str, ...]) -> list[NodeFacts]:
    """The cluster's facts, or a refusal naming every problem, before any work is sent."""
    facts = survey(ray, (pack_id,), sources)
    problems = refusals(facts, pack_id, model_hashes, sources)
    if problems:
        raise ClusterError(
            "This cluster cannot scan the case: " + "; ".join(p.rstrip(".") for p in problems)
            + ".",
            "every node needs the same Homeward version and the same pack (homeward models "
            "import / verify on each), and the sources on storage every node reads at the same "
            "path; `homeward doctor --ray ADDRESS` shows each node")
    return facts

